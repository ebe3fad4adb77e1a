//! BLIS-style SGEMM with AVX2 + FMA: the design of [`super::avx512`] on 16 ymm registers.
//!
//! # Design
//! * **Micro-kernel**: an `MR`×`NR` = 6×16 tile of C in 12 ymm accumulators (6 rows × 2
//!   vectors of 8 lanes); each k step loads two vectors of a packed B row, broadcasts 6
//!   elements of a packed A column and issues 12 FMAs. Two B vectors and one broadcast bring
//!   the total to 15 of the 16 ymm registers; 12 independent accumulators cover the FMA
//!   latency (4 cycles × 2 pipes needs ≥ 8).
//! * **Cache blocking** is chosen at run time by [`super::blocking::model`] from the caches
//!   (on Zen 3 and Zen 4: `kc` = 256, so the reused B micro-panel, 16 KiB, and the streaming
//!   A micro-panel, 6 KiB, share the L1; `mc` = 192 / 384, the packed A block in 3 of the 8
//!   L2 ways; `nc` = 3840, the packed B block in the core's share of L3), or given by a tuner
//!   through [`matmul_with`]. [`HAND_TUNED`] keeps the earlier constants (256, 144, 1536).
//!   The C tile is prefetched into L1 at the start of each packed micro-kernel: from the
//!   second KC block on C returns from L3 or DRAM, and waiting on it cost ≈ 10 % at 1024³ and
//!   2048³ on Zen 4 (measured with and without, interleaved).
//! * **Packing**: A into `MR`-row micro-panels (`[p][r]`), B into `NR`-column micro-panels
//!   (`[p][j]`), zero-padded at the right edge; transposes and strides are absorbed here. Edge
//!   rows use a micro-kernel instantiated for fewer rows; edge columns are stored through
//!   `_mm256_maskstore_ps` (and read through `_mm256_maskload_ps` when β ≠ 0).
//! * **α and β** are applied once when a tile is stored; `β == 0` stores without reading C.
//! * **Without packing**: when B is not transposed and m is small (for m ≥ 2, with B within
//!   half the L2: `blocking::direct_b_max`) or the problem tiny, the
//!   micro-kernel reads A and B in place (masked loads only on the last column strip); m == 1
//!   sweeps B in column windows of up to 12 accumulators that start at cache-line
//!   boundaries (`driver::row_windows`) while B fits in half the L2, and beyond it, with β = 0,
//!   streams B row by row into C's row (`driver::stream_row`). m == 1 with B transposed is a
//!   set of dot products.
//! * **Driver**: the loops around the micro-kernels (the five blocked loops, packing, edge
//!   tiles, the unpacked row blocks and the dot products) and the checks before them are the
//!   generic driver's (`driver.rs`), and the register tile's body is the one both x86
//!   kernels share (`tile.rs`, compiled here for AVX2); this file holds the micro-kernels
//!   (the `MicroKernel` implementation `imp::Avx2`: which tiles run where, the lane masks),
//!   the constants and the public functions.
//!
//! Every intrinsic is compiled into `#[target_feature(enable = "avx2,fma")]` code: the entry
//! point `sgemm_wrappers!` generates here (the generic driver is inlined into it) and the
//! micro-kernels it calls, reached only through [`matmul`] and [`matmul_with`], which check
//! the CPU first.

use super::blocking::{BlockingParams, RowSweep};

/// Rows of the default micro-tile.
pub const MR: usize = 6;
/// ymm vectors per row of the default micro-tile.
const NV: usize = 2;
/// Columns of the default micro-tile.
pub const NR: usize = 8 * NV;
/// Rows of the second micro-tile: 3×24, 9 accumulators in 3 rows of 3 ymm vectors, three B
/// vectors and one broadcast (13 of the 16 registers: 4×24 would need all 16 and spilled,
/// running at 41 % of the FMA peak on a Zen 4), one broadcast per 3 FMAs against the
/// default's 2; the tuner may choose it.
pub const MR_WIDE: usize = 3;
/// ymm vectors per row of the second micro-tile.
const NV_WIDE: usize = 3;
/// Columns of the second micro-tile.
pub const NR_WIDE: usize = 8 * NV_WIDE;
/// The micro-tiles (`mr`, `nr`) this kernel has, the default first.
pub const TILES: &[(usize, usize)] = &[(MR, NR), (MR_WIDE, NR_WIDE)];

/// The blocking chosen by hand before the model existed (`kc` = 256, `mc` = 144,
/// `nc` = 1536, picked on a Zen 4): a fixed reference point for comparisons and tuners.
pub const HAND_TUNED: BlockingParams = BlockingParams {
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 24 * MR,
    nc: 96 * NR,
    row: ROW,
    rows: super::blocking::STREAM_ROWS,
    few: super::blocking::FewRows::ByLevel,
    window: super::blocking::WINDOW,
};

/// The default one-row sweep: by where B fits, as AVX-512's (column windows while B fits
/// [`WINDOW_SHARE`]'s part of the L2, the row stream beyond, prefetching a pass ahead beyond
/// the last level cache). With windows that start at cache-line boundaries
/// (`driver::row_windows`), the windows read a warm B in L2 faster than the stream on a
/// Zen 4 (AVX2, one thread, medians of 9 interleaved rounds: 1×512×128 49 against 22
/// GFLOP/s, 1×128×256 49 against 37, 1×256×512 51 against 44, 1×1024×256 44 against 32),
/// and decoded the small preset's tokens 1.19× faster [1.14–1.29] (`models bench`, avx2 t1,
/// KV cache, 8 rounds against the stream, the order alternating). Beyond L2 by level was as
/// fast as the plain stream or faster (1×1024×1024 37.4 against 37.1, 1×2048×2048 25.1
/// against 24.1, 1×4096×4096 12.0 against 11.7). (On an AVX2 Zen 3 the stream had read B
/// 1.1–1.6× faster in L2 than the earlier, unaligned windows; the tuner compares the sweeps
/// per range.)
const ROW: RowSweep = RowSweep::ByLevel;
/// [`RowSweep::ByLevel`] sweeps windows while B fits half the core's share of the L2
/// (`blocking::window_b_max`): the medium preset's decode, whose 0.75–1 MiB matrices come
/// from L3 at each call, ran 0.67× [0.45–1.97] as fast with windows as with the stream
/// (same runs as above).
const WINDOW_SHARE: usize = 2;

/// Problems no larger than this in every dimension skip packing when B is not transposed.
const TINY: usize = 32;
/// With B not transposed, up to this many rows may skip packing (`BlockingParams::few`):
/// read in place, B in L1-sized shared strips, 20×256×512 ran 83 against 69 GFLOP/s packed
/// and 35×1024×256 91 against 85, but 64×256×768 91 against 95 and 24×256×1024 68 against
/// 77 (B's 4 KiB rows share L1 sets). Zen 4, B warm, one run each, so beyond [`FEW_M`] a
/// table chooses (the tuner races the ways per range).
const DIRECT_M: usize = 64;
/// ... and up to this many by default (`FewRows::ByLevel`).
const FEW_M: usize = 12;
/// Rows per block of the unpacked path.
#[cfg(target_arch = "x86_64")]
const DR: usize = 6;

super::driver::sgemm_wrappers! {
    feature: Avx2,
    name: "AVX2 and FMA",
    target_feature: "avx2,fma",
    kernels: [imp::Avx2 => (MR, NR), imp::Avx2Wide => (MR_WIDE, NR_WIDE)],
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::*;
    use crate::matmul::driver::{MicroKernel, Operands, UnpackedKernel};
    use crate::matmul::tile::{by_rows, isa_tile, TileVector};
    use crate::simd_math;
    use std::arch::x86_64::*;

    /// Lane masks (sign bit set = lane active) for a tile row of `V` vectors of which the
    /// first `cols` lanes are valid.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn row_masks<const V: usize>(cols: usize) -> [__m256i; V] {
        let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        std::array::from_fn(|v| {
            let left = cols.saturating_sub(8 * v).min(8) as i32;
            _mm256_cmpgt_epi32(_mm256_set1_epi32(left), iota)
        })
    }

    /// AVX2 tiles use `EDGE` only for strips narrower than the tile, so never with every lane
    /// valid: their stores stay masked without a test.
    impl TileVector for simd_math::Avx2 {
        #[inline(always)]
        fn all_lanes<const V: usize>(_: &[__m256i; V]) -> bool {
            false
        }
    }

    isa_tile!(simd_math::Avx2, "avx2,fma");

    /// AVX2's unpacked path, the same for both tiles: [`Avx2`] serves as the `Unpacked` of
    /// each.
    impl UnpackedKernel for Avx2 {
        type Lanes = simd_math::Avx2;
        const DR: usize = DR;

        #[inline(always)]
        unsafe fn direct_tile<const R: usize, const V: usize>(k: usize, o: Operands, cols: usize) {
            // SAFETY: the contract of `direct_tile` is `tile`'s for an unpacked tile whose
            // valid columns are the first `cols` ≤ 8·V lanes (all of them without `EDGE`).
            unsafe {
                let masks = row_masks::<V>(cols);
                if cols == 8 * V {
                    tile::<R, V, false, false, 0, 0>(k, o, masks)
                } else {
                    tile::<R, V, false, true, 0, 0>(k, o, masks)
                }
            }
        }

        #[inline(always)]
        unsafe fn lane_range(lo: usize, hi: usize) -> __m256i {
            // SAFETY: AVX2 is available (contract).
            unsafe { _mm256_andnot_si256(row_masks::<1>(lo)[0], row_masks::<1>(hi)[0]) }
        }
    }

    /// Expands to the micro-kernel struct `$name` of the `$mr`×`$nr` tile (`$nv` ymm vectors
    /// a row) and its packed full and edge tiles, with AVX2's unpacked path; `$r` lists the
    /// row counts 1..`$mr` of its edge tiles. AVX2's two tiles differ only in these
    /// constants.
    macro_rules! avx2_kernel {
        ($(#[$doc:meta])* $name:ident: $mr:ident, $nv:ident, $nr:ident; $($r:literal)*) => {
            $(#[$doc])*
            pub(super) struct $name;

            impl MicroKernel<$mr, $nr> for $name {
                type Unpacked = Avx2;

                #[inline(always)]
                unsafe fn full(kc: usize, o: Operands) {
                    // SAFETY: the contract of `full` is `tile`'s for a packed full tile
                    // without `EDGE` (whose masks are then ignored).
                    unsafe {
                        let unused = [_mm256_setzero_si256(); $nv];
                        tile::<$mr, $nv, true, false, $mr, $nr>(kc, o, unused)
                    }
                }

                #[inline(always)]
                unsafe fn edge(rows: usize, cols: usize, kc: usize, o: Operands) {
                    // SAFETY: the contract of `edge` is `tile`'s for a packed tile of `rows`
                    // rows whose valid columns are the first `cols` lanes (the masks); edge
                    // tiles have rows ≤ `$mr`, so the arms for the listed rows (1..`$mr`)
                    // cover those with fewer. The lane masks are made here, where a tile
                    // needs them: kept live across the loops they would take registers a
                    // full tile needs.
                    unsafe {
                        let unused = [_mm256_setzero_si256(); $nv]; // Ignored without EDGE.
                        match (rows == $mr, cols == $nr) {
                            (true, true) => Self::full(kc, o),
                            (true, false) => {
                                tile::<$mr, $nv, true, true, $mr, $nr>(kc, o, row_masks::<$nv>(cols))
                            }
                            (false, true) => by_rows!(rows, $nv, false, $mr, $nr, kc, o,
                                unused; $($r)*),
                            (false, false) => by_rows!(rows, $nv, true, $mr, $nr, kc, o,
                                row_masks::<$nv>(cols); $($r)*),
                        }
                    }
                }
            }
        };
    }

    avx2_kernel! {
        /// The micro-kernels of the 6×16 tile for the driver, and AVX2's unpacked path.
        Avx2: MR, NV, NR; 1 2 3 4 5
    }

    avx2_kernel! {
        /// The micro-kernels of the 3×24 tile for the driver (the unpacked path is
        /// [`Avx2`]'s: it does not depend on the packed tile).
        Avx2Wide: MR_WIDE, NV_WIDE, NR_WIDE; 1 2
    }
}
