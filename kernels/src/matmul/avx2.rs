//! BLIS-style SGEMM with AVX2 + FMA: the design of [`super::avx512`] on 16 ymm registers.
//!
//! # Design
//! * **Micro-kernel**: an `MR`×`NR` = 6×16 tile of C in 12 ymm accumulators (6 rows × 2
//!   vectors of 8 lanes); each k step loads two vectors of a packed B row, broadcasts 6
//!   elements of a packed A column and issues 12 FMAs. Two B vectors and one broadcast bring
//!   the total to 15 of the 16 ymm registers; 12 independent accumulators cover the FMA
//!   latency (4 cycles × 2 pipes needs ≥ 8).
//! * **Cache blocking** is chosen at run time by [`blocking::model`] from the machine's caches
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
//! * **Without packing**: when B is not transposed and m is small or the problem tiny, the
//!   micro-kernel reads A and B in place (masked loads only on the last column strip); m == 1
//!   uses 1×64 tiles (8 accumulators). m == 1 with B transposed is a set of dot products.
//!
//! Every intrinsic lives in `#[target_feature(enable = "avx2,fma")]` functions that are private
//! and reached only through [`matmul`] and [`matmul_with`], which check the CPU first.

use super::blocking::{self, Blocking, BlockingParams, Body};
use super::Gemm;
use crate::cpu::{self, Feature};
use crate::Result;
use std::sync::OnceLock;

/// Rows of the default micro-tile.
pub const MR: usize = 6;
/// ymm vectors per row of the default micro-tile.
const NV: usize = 2;
/// Columns of the default micro-tile.
pub const NR: usize = 8 * NV;
/// The micro-tiles (`mr`, `nr`) this kernel has, the default first.
pub const TILES: &[(usize, usize)] = &[(MR, NR)];

/// The blocking chosen by hand before the model existed (`kc` = 256, `mc` = 144,
/// `nc` = 1536, picked on a Zen 4): a fixed reference point for comparisons and tuners.
pub const HAND_TUNED: BlockingParams = BlockingParams {
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 24 * MR,
    nc: 96 * NR,
};

/// Problems no larger than this in every dimension skip packing when B is not transposed.
const TINY: usize = 32;
/// With B not transposed, up to this many rows skip packing.
const DIRECT_M: usize = 12;
/// Rows per block of the unpacked path.
#[cfg(target_arch = "x86_64")]
const DR: usize = 6;

const _: () = assert!(blocking::valid_const(&HAND_TUNED, TILES));

/// The blocking used by [`matmul`] and [`scratch_len`]: the [`blocking::model`]'s choice for
/// this machine's caches ([`cpu::caches`]), computed once, so both always agree.
fn default_blocking() -> &'static Blocking {
    static DEFAULT: OnceLock<Blocking> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let p = blocking::model(cpu::caches(), MR, NR);
        // The model's output always passes the check (its tests say so); the hand-tuned
        // values are a guard, not a path expected to run.
        Blocking::new(p, TILES, TINY, DIRECT_M)
            .unwrap_or(Blocking::trusted(HAND_TUNED, TINY, DIRECT_M))
    })
}

/// The blocking [`matmul`] uses on this machine: the model's choice from its caches.
pub fn default_params() -> BlockingParams {
    *default_blocking().params()
}

/// Scratch [`matmul`] needs: a packed A block (≤ `mc`×`kc`) and a packed B block
/// (≤ `kc`×`nc`) plus 16 floats of alignment slack, when the problem is packed at all; 0 when
/// it takes an unpacked path. At most [`default_params`]`().max_scratch_len()`.
pub fn scratch_len(g: &Gemm) -> usize {
    default_blocking().scratch_len(g)
}

/// Scratch [`matmul_with`] needs with `params`; [`crate::KernelError::Blocking`] when this
/// kernel cannot use them (see [`BlockingParams::check`]).
pub fn scratch_len_with(params: &BlockingParams, g: &Gemm) -> Result<usize> {
    Ok(Blocking::new(*params, TILES, TINY, DIRECT_M)?.scratch_len(g))
}

/// `C = α·op(A)·op(B) + β·C` with AVX2, FMA and the machine's default blocking;
/// [`crate::KernelError::Unsupported`] when the CPU lacks them (or they are masked).
pub fn matmul(
    g: &Gemm,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    run(default_blocking(), g, alpha, a, b, beta, c, scratch)
}

/// [`matmul`] with explicit blocking `params` (for a tuner); `scratch` must hold
/// [`scratch_len_with`]`(params, g)` elements. Parameters this kernel cannot use are a
/// [`crate::KernelError::Blocking`], checked before anything is written.
#[allow(clippy::too_many_arguments)]
pub fn matmul_with(
    params: &BlockingParams,
    g: &Gemm,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    let blk = Blocking::new(*params, TILES, TINY, DIRECT_M)?;
    run(&blk, g, alpha, a, b, beta, c, scratch)
}

#[allow(clippy::too_many_arguments)]
fn run(
    blk: &Blocking,
    g: &Gemm,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    let body: Option<Body> = Some(imp::run);
    #[cfg(not(target_arch = "x86_64"))]
    let body: Option<Body> = None;
    // SAFETY: `imp::run` needs AVX2 and FMA, a checked shape, `scratch_len` elements of
    // scratch for `blk`, a nonzero problem and a blocking checked against `TILES`: exactly
    // what `run_checked` establishes before calling it (`blk` was built by `Blocking::new`).
    unsafe { blk.run_checked(Feature::Avx2, body, g, alpha, a, b, beta, c, scratch) }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::*;
    use crate::matmul::blocking::Plan;
    use crate::matmul::pack::{pack_a, pack_b};
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

    /// Where a micro-kernel finds its operands.
    #[derive(Clone, Copy)]
    struct Operands {
        /// Element (r, p) of the A tile is at `a + r·a_rs + p·a_ps`.
        a: *const f32,
        a_rs: usize,
        a_ps: usize,
        /// Row p of the B tile starts at `b + p·b_ps`.
        b: *const f32,
        b_ps: usize,
        /// Element (r, j) of the C tile is at `c + r·ldc + j`.
        c: *mut f32,
        ldc: usize,
    }

    /// The micro-kernel: an `R`×(8·`V`) tile of `C = α·A·B + β·C` over depth `k`. With `EDGE`,
    /// only the lanes set in `masks` are valid columns (B is read and C written through them);
    /// without it all 8·V columns are.
    ///
    /// With `PACKED`, A is a packed micro-panel (`a_rs` = 1, `a_ps` = `PA`, the packing's
    /// micro-tile rows) and B a packed, zero-padded micro-panel (`b_ps` = `PB`, its columns)
    /// whose full width may be read even on an edge; otherwise the strides are taken from `o`
    /// (and `PA`, `PB` are unused).
    ///
    /// # Safety
    /// AVX2 and FMA must be available. For r < R, p < k and every valid column j, the A
    /// element (r, p), the B element (p, j) and the C element (r, j) must be in bounds of their
    /// buffers (for `PACKED`, B must hold all 8·V lanes of each row), and C must not alias A
    /// or B.
    #[target_feature(enable = "avx2,fma")]
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
        o: Operands,
        masks: [__m256i; V],
        alpha: f32,
        beta: f32,
    ) {
        let (a_rs, a_ps) = if PACKED { (1, PA) } else { (o.a_rs, o.a_ps) };
        let b_ps = if PACKED { PB } else { o.b_ps };
        if PACKED {
            // Bring the C tile into L1 now, so that its loads (β ≠ 0) and stores after the k
            // loop do not wait on memory: C is the one operand not packed, and from the second
            // KC block on it comes back from L3 or DRAM for every tile.
            for r in 0..R {
                let row = o.c.wrapping_add(r * o.ldc) as *const i8;
                for v in 0..V {
                    _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(32 * v));
                }
                // The last element too: a row that does not start on a line spans one more.
                _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(32 * V - 4));
            }
        }
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        let mut a = o.a;
        let mut b = o.b;
        for _ in 0..k {
            let mut bv = [_mm256_setzero_ps(); V];
            for v in 0..V {
                // SAFETY: row p of the B tile, vector v: in bounds for the lanes that are
                // loaded (all of them unless `EDGE` on an unpacked B), per the contract.
                bv[v] = unsafe {
                    if PACKED || !EDGE {
                        _mm256_loadu_ps(b.add(8 * v))
                    } else {
                        _mm256_maskload_ps(b.add(8 * v), masks[v])
                    }
                };
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                // SAFETY: A element (r, p) is in bounds per the contract.
                let ar = _mm256_set1_ps(unsafe { *a.add(r * a_rs) });
                for v in 0..V {
                    acc_r[v] = _mm256_fmadd_ps(ar, bv[v], acc_r[v]);
                }
            }
            // One step of p; past the last step the pointers are never dereferenced.
            a = a.wrapping_add(a_ps);
            b = b.wrapping_add(b_ps);
        }
        let av = _mm256_set1_ps(alpha);
        let bv = _mm256_set1_ps(beta);
        for (r, acc_r) in acc.iter().enumerate() {
            let row = o.c.wrapping_add(r * o.ldc);
            for v in 0..V {
                let x = _mm256_mul_ps(av, acc_r[v]);
                let p = row.wrapping_add(8 * v);
                // SAFETY: C element (r, j) is in bounds for every lane written (all lanes
                // unless `EDGE`, else the masked ones), per the contract; β == 0 never reads C.
                unsafe {
                    if !EDGE {
                        let y = if beta == 0.0 {
                            x
                        } else {
                            _mm256_fmadd_ps(bv, _mm256_loadu_ps(p), x)
                        };
                        _mm256_storeu_ps(p, y);
                    } else {
                        let y = if beta == 0.0 {
                            x
                        } else {
                            _mm256_fmadd_ps(bv, _mm256_maskload_ps(p, masks[v]), x)
                        };
                        _mm256_maskstore_ps(p, masks[v], y);
                    }
                }
            }
        }
    }

    /// Dispatches a packed tile of `rows` rows to the instantiation for that count.
    macro_rules! by_rows {
        ($rows:expr, $v:expr, $edge:literal, $pa:expr, $pb:expr, $k:expr, $o:expr, $masks:expr,
         $al:expr, $be:expr; $($r:literal)*) => {
            match $rows {
                $($r => tile::<$r, $v, true, $edge, $pa, $pb>($k, $o, $masks, $al, $be),)*
                _ => unreachable!("tile rows out of range"),
            }
        };
    }

    /// Entry point after the checks.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `blk` must have been checked against [`TILES`];
    /// `g.check(a, b, c)` must have passed, `scratch` must hold `blk.scratch_len(g)`
    /// elements, and m, n, k must be nonzero.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run(
        blk: &Blocking,
        g: &Gemm,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
        scratch: &mut [f32],
    ) {
        // SAFETY (for the three calls): same preconditions as this function; the micro-tile
        // is one of `TILES` (checked), and `packed` is written for it.
        unsafe {
            match blk.plan(g) {
                Plan::Trivial => {}
                Plan::Direct => direct(g, alpha, a, b, beta, c),
                Plan::Dots => dots(g, alpha, a, b, beta, c),
                Plan::Packed => match (blk.params().mr, blk.params().nr) {
                    (6, 16) => packed::<6, 2, 16>(blk, g, alpha, a, b, beta, c, scratch),
                    _ => unreachable!("micro-tile not in TILES"),
                },
            }
        }
    }

    /// Unpacked path for B not transposed: blocks of up to `DR` rows, each sweeping the
    /// columns with a tile as wide as the row count allows.
    ///
    /// # Safety
    /// As [`run`], and `!g.trans_b`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn direct(g: &Gemm, alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
        debug_assert!(!g.trans_b);
        let (a_rs, a_ps) = if g.trans_a { (1, g.lda) } else { (g.lda, 1) };
        let mut i = 0;
        while i < g.m {
            let rows = (g.m - i).min(DR);
            // SAFETY: rows i..i+rows < m; the sweep stays inside the checked buffers.
            unsafe {
                match rows {
                    1 => direct_rows::<1, 8>(g, i, a_rs, a_ps, alpha, a, b, beta, c),
                    2 => direct_rows::<2, 4>(g, i, a_rs, a_ps, alpha, a, b, beta, c),
                    3 => direct_rows::<3, 3>(g, i, a_rs, a_ps, alpha, a, b, beta, c),
                    4 => direct_rows::<4, 2>(g, i, a_rs, a_ps, alpha, a, b, beta, c),
                    5 => direct_rows::<5, 2>(g, i, a_rs, a_ps, alpha, a, b, beta, c),
                    6 => direct_rows::<6, 2>(g, i, a_rs, a_ps, alpha, a, b, beta, c),
                    _ => unreachable!("DR is 6"),
                }
            }
            i += rows;
        }
    }

    /// Rows i..i+R of C, all columns, A and B read in place.
    ///
    /// # Safety
    /// As [`direct`], and i + R ≤ m.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn direct_rows<const R: usize, const V: usize>(
        g: &Gemm,
        i: usize,
        a_rs: usize,
        a_ps: usize,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
    ) {
        let w = 8 * V;
        let mut j = 0;
        while j < g.n {
            let cols = (g.n - j).min(w);
            let o = Operands {
                a: a.as_ptr().wrapping_add(g.a_index(i, 0)),
                a_rs,
                a_ps,
                b: b.as_ptr().wrapping_add(j),
                b_ps: g.ldb,
                c: c.as_mut_ptr().wrapping_add(i * g.ldc + j),
                ldc: g.ldc,
            };
            // SAFETY: AVX2 and FMA are enabled. A element (r, p) is op(A)[i+r][p] with
            // i+r < m, p < k, at `g.a_index(i+r, p)` < `g.a_len()` ≤ a.len(). B columns read
            // are op(B)[p][j+l] for l < cols (all w lanes unless on the edge, then the masks),
            // at p·ldb + j + l < `g.b_len()`. C lanes (i+r, j+l) are at (i+r)·ldc + j + l <
            // `g.c_len()`. `c` is a distinct `&mut`.
            unsafe {
                if cols == w {
                    tile::<R, V, false, false, 0, 0>(g.k, o, row_masks::<V>(cols), alpha, beta)
                } else {
                    tile::<R, V, false, true, 0, 0>(g.k, o, row_masks::<V>(cols), alpha, beta)
                }
            };
            j += w;
        }
    }

    /// Horizontal sum of the 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }

    /// m == 1 with B transposed (stored n×k): each C element is a dot product of the A row
    /// with a B row; 8 B rows at a time, 8 lanes per step, masked tail over k.
    ///
    /// # Safety
    /// As [`run`], with m == 1, `g.trans_b`, and A's k elements contiguous.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots(g: &Gemm, alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32]) {
        const J: usize = 8;
        let k = g.k;
        let a = &a[..k];
        let kv = k - k % 8;
        let tail = row_masks::<1>(k % 8)[0];
        let mut j = 0;
        while j < g.n {
            let cols = (g.n - j).min(J);
            let mut acc = [_mm256_setzero_ps(); J];
            // Row pointers; rows past n repeat the last valid row (computed, never stored).
            let rows: [*const f32; J] =
                std::array::from_fn(|t| b.as_ptr().wrapping_add((j + t.min(cols - 1)) * g.ldb));
            let mut p = 0;
            while p < kv {
                // SAFETY: p + 8 ≤ k: in bounds of `a` (len k) and of each B row (row j+t
                // spans (j+t)·ldb .. (j+t)·ldb + k ≤ `g.b_len()`).
                unsafe {
                    let av = _mm256_loadu_ps(a.as_ptr().add(p));
                    for t in 0..J {
                        acc[t] = _mm256_fmadd_ps(av, _mm256_loadu_ps(rows[t].add(p)), acc[t]);
                    }
                }
                p += 8;
            }
            if kv < k {
                // SAFETY: lanes l < k % 8 read elements p + l < k, in bounds as above.
                unsafe {
                    let av = _mm256_maskload_ps(a.as_ptr().add(p), tail);
                    for t in 0..J {
                        let bt = _mm256_maskload_ps(rows[t].add(p), tail);
                        acc[t] = _mm256_fmadd_ps(av, bt, acc[t]);
                    }
                }
            }
            for t in 0..cols {
                let s = hsum(acc[t]);
                let cij = &mut c[j + t];
                *cij = if beta == 0.0 {
                    alpha * s
                } else {
                    alpha * s + beta * *cij
                };
            }
            j += J;
        }
    }

    /// The five blocked loops over packed blocks, for the micro-tile `MR`×`NR` (`NR` = 8·`NV`)
    /// with the block sizes of `blk`.
    ///
    /// # Safety
    /// As [`run`], and `blk`'s micro-tile is `MR`×`NR`.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed<const MR: usize, const NV: usize, const NR: usize>(
        blk: &Blocking,
        g: &Gemm,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
        scratch: &mut [f32],
    ) {
        const { assert!(NR == 8 * NV && MR <= 6) };
        let p = blk.params();
        debug_assert_eq!((p.mr, p.nr), (MR, NR));
        let (a_size, b_size) = blk.pack_sizes(g);
        // Align the packed blocks to 64 bytes (scratch has 16 floats of slack for this).
        let off = scratch.as_ptr().align_offset(64).min(16);
        let (pa, pb) = scratch[off..off + a_size + b_size].split_at_mut(a_size);
        let c_ptr = c.as_mut_ptr();
        for jc in (0..g.n).step_by(p.nc) {
            let nc = (g.n - jc).min(p.nc);
            for pc in (0..g.k).step_by(p.kc) {
                let kc = (g.k - pc).min(p.kc);
                let beta = if pc == 0 { beta } else { 1.0 };
                pack_b::<NR>(g, b, pc, kc, jc, nc, pb);
                for ic in (0..g.m).step_by(p.mc) {
                    let mc = (g.m - ic).min(p.mc);
                    pack_a::<MR>(g, a, ic, mc, pc, kc, pa);
                    for jr in (0..nc).step_by(NR) {
                        let cols = (nc - jr).min(NR);
                        let b_tile = pb[jr * kc..].as_ptr();
                        for ir in (0..mc).step_by(MR) {
                            let rows = (mc - ir).min(MR);
                            let o = Operands {
                                a: pa[ir * kc..].as_ptr(),
                                a_rs: 1,
                                a_ps: MR,
                                b: b_tile,
                                b_ps: NR,
                                c: c_ptr.wrapping_add((ic + ir) * g.ldc + jc + jr),
                                ldc: g.ldc,
                            };
                            // SAFETY: AVX2 and FMA are enabled. The A panel at ir·kc holds
                            // kc·MR packed elements (rows ≥ `rows` are not read); the B panel
                            // at jr·kc holds kc·NR (zero-padded) elements; both lie in `pa`/`pb`
                            // (sized by `pack_sizes` for this blocking, whose micro-tile is
                            // MR×NR). C element (r, l) for r < rows and l < cols is
                            // (ic+ir+r, jc+jr+l) of the m×n C, in bounds by `g.check`; scratch
                            // and C are distinct buffers. Edge tiles have rows < MR ≤ 6, so
                            // the arms for 1..=5 rows cover them (those with rows ≥ MR are
                            // never taken).
                            // The lane masks are made where a tile needs them: kept live
                            // across the loop they would take registers a full tile needs.
                            unsafe {
                                let unused = [_mm256_setzero_si256(); NV]; // Ignored without EDGE.
                                match (rows == MR, cols == NR) {
                                    (true, true) => tile::<MR, NV, true, false, MR, NR>(
                                        kc, o, unused, alpha, beta,
                                    ),
                                    (true, false) => tile::<MR, NV, true, true, MR, NR>(
                                        kc,
                                        o,
                                        row_masks::<NV>(cols),
                                        alpha,
                                        beta,
                                    ),
                                    (false, true) => by_rows!(rows, NV, false, MR, NR, kc, o,
                                        unused, alpha, beta; 1 2 3 4 5),
                                    (false, false) => by_rows!(rows, NV, true, MR, NR, kc, o,
                                        row_masks::<NV>(cols), alpha, beta; 1 2 3 4 5),
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
