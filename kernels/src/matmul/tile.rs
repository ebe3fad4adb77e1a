//! The register-tile micro-kernel of the x86 SGEMM kernels ([`super::avx2`],
//! [`super::avx512`]), written once over the vector layer (`crate::simd_math::Simd`):
//! [`isa_tile!`] expands, inside an ISA module, to that module's `tile`, compiled for its
//! vector and features; the module's `MicroKernel` methods decide which tiles they run (tile
//! sizes, edge handling, masks), through [`by_rows!`] for the rows of an edge.
//!
//! A macro rather than a generic function: `tile` must carry its ISA's `#[target_feature]`
//! and be an `#[inline]` function of its own, as each ISA wrote it before, to compile to the
//! same machine code (an `#[inline(always)]` generic body called from such a function did
//! not: the registers and spills of both entry points came out differently).

use crate::simd_math::Simd;

/// The vector of a register tile: the `Simd` layer, and whether an `EDGE` tile may find that
/// its masks select every lane.
pub(super) trait TileVector: Simd {
    /// Whether `masks` select every lane of their vectors, so that an `EDGE` tile may store C
    /// unmasked. A kernel that runs full strips through its `EDGE` tile tests this at run
    /// time; one that instantiates `EDGE` for short strips only answers `false` and stores
    /// every `EDGE` tile through its masks.
    fn all_lanes<const V: usize>(masks: &[Self::M; V]) -> bool;
}

/// Expands, inside an ISA module, to its micro-kernel `tile::<R, V, PACKED, EDGE, PA, PB>`
/// for the vector `$s` (a [`TileVector`]), compiled with `$target_feature`:
///
/// An `R`×(LANES·`V`) tile of `C = α·A·B + β·C` (α and β from `o`) over depth `k`, where the
/// valid columns of each vector are given by `masks`. Without `EDGE` all LANES·V columns are
/// valid (and `masks` are not used to store C); with `EDGE` C is stored through `masks`,
/// unless [`TileVector::all_lanes`] finds them full.
///
/// With `PACKED`, A is a packed micro-panel (`a_rs` = 1, `a_ps` = `PA`, the packing's
/// micro-tile rows) and B a packed, zero-padded micro-panel (`b_ps` = `PB`, its columns) whose
/// full width may be read even on an edge; otherwise the strides are taken from `o` (and `PA`,
/// `PB` are unused), and an `EDGE` tile reads B through `masks`. A packed tile first brings
/// its C tile into L1.
macro_rules! isa_tile {
    ($s:ty, $target_feature:literal) => {
        /// The micro-kernel of this ISA (see `crate::matmul::tile::isa_tile!`).
        ///
        /// # Safety
        /// The ISA must be available. For r < R, p < k and every valid column j (every lane
        /// set in `masks` with `EDGE`, every column without), the A element (r, p), the B
        /// element (p, j) and the C element (r, j) must be in bounds of their buffers (for
        /// `PACKED`, B must hold all LANES·V lanes of each row), and C must not alias A or B.
        #[target_feature(enable = $target_feature)]
        #[inline]
        unsafe fn tile<
            const R: usize,
            const V: usize,
            const PACKED: bool,
            const EDGE: bool,
            const PA: usize,
            const PB: usize,
        >(
            k: usize,
            o: $crate::matmul::driver::Operands,
            masks: [<$s as $crate::simd_math::Simd>::M; V],
        ) {
            use ::std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            use $crate::matmul::tile::TileVector;
            use $crate::simd_math::Simd;
            type S = $s;

            let (a_rs, a_ps) = if PACKED { (1, PA) } else { (o.a_rs, o.a_ps) };
            let b_ps = if PACKED { PB } else { o.b_ps };
            if PACKED {
                // Bring the C tile into L1 now, so that its loads (β ≠ 0) and stores after
                // the k loop do not wait on memory: C is the one operand not packed, and from
                // the second KC block on it comes back from L3 or DRAM for every tile.
                let bytes = ::std::mem::size_of::<<S as Simd>::V>();
                for r in 0..R {
                    let row = o.c.wrapping_add(r * o.ldc) as *const i8;
                    for v in 0..V {
                        _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(bytes * v));
                    }
                    // The last element too: a row that does not start on a line spans one
                    // more.
                    _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(bytes * V - 4));
                }
            }
            let mut acc = [[S::splat(0.0); V]; R];
            let mut a = o.a;
            let mut b = o.b;
            for _ in 0..k {
                let mut bv = [S::splat(0.0); V];
                for v in 0..V {
                    // SAFETY: row p of the B tile, vector v: in bounds for the lanes that are
                    // loaded (all of them unless `EDGE` on an unpacked B, else the masked
                    // ones), per the contract.
                    bv[v] = unsafe {
                        if PACKED || !EDGE {
                            S::load(b.add(S::LANES * v))
                        } else {
                            S::load_part(b.add(S::LANES * v), masks[v])
                        }
                    };
                }
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    // SAFETY: A element (r, p) is in bounds per the contract.
                    let ar = S::splat(unsafe { *a.add(r * a_rs) });
                    for v in 0..V {
                        acc_r[v] = S::fma(ar, bv[v], acc_r[v]);
                    }
                }
                // The pointers advance by one step of p; after the last step they may point
                // one step past the tile but are never dereferenced there (`wrapping_add`).
                a = a.wrapping_add(a_ps);
                b = b.wrapping_add(b_ps);
            }
            let (alpha, beta) = (o.alpha, o.beta);
            let av = S::splat(alpha);
            let bv = S::splat(beta);
            let full = !EDGE || S::all_lanes(&masks);
            for (r, acc_r) in acc.iter().enumerate() {
                let row = o.c.wrapping_add(r * o.ldc);
                for v in 0..V {
                    let x = S::mul(av, acc_r[v]);
                    let p = row.wrapping_add(S::LANES * v);
                    // SAFETY: C element (r, j) is in bounds for every lane written (all lanes
                    // when `full`, else the masked ones), per the contract; β == 0 never reads
                    // C.
                    unsafe {
                        if full {
                            let y = if beta == 0.0 {
                                x
                            } else {
                                S::fma(bv, S::load(p), x)
                            };
                            S::store(p, y);
                        } else {
                            let y = if beta == 0.0 {
                                x
                            } else {
                                S::fma(bv, S::load_part(p, masks[v]), x)
                            };
                            S::store_part(p, masks[v], y);
                        }
                    }
                }
            }
        }
    };
}
pub(super) use isa_tile;

/// Dispatches a packed tile of `$rows` rows, one of the counts listed, to the ISA module's
/// `tile` instantiated for that count (`$v` vectors per row, `$edge`, packed panels of `$pa`
/// rows and `$pb` columns).
macro_rules! by_rows {
    ($rows:expr, $v:expr, $edge:literal, $pa:expr, $pb:expr, $k:expr, $o:expr,
     $masks:expr; $($r:literal)*) => {
        match $rows {
            $($r => tile::<$r, $v, true, $edge, $pa, $pb>($k, $o, $masks),)*
            _ => unreachable!("tile rows out of range"),
        }
    };
}
pub(super) use by_rows;
