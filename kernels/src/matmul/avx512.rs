//! BLIS-style SGEMM with AVX-512F.
//!
//! # Design
//! * **Micro-kernel**: an `MR`×`NR` = 6×64 tile of C lives in 24 zmm accumulators (6 rows ×
//!   4 vectors of 16 lanes); each step of the k loop loads four vectors of a packed B row,
//!   broadcasts 6 elements of a packed A column and issues 24 FMAs. That leaves 8 zmm
//!   registers for the B vectors and the broadcast, 24 independent chains cover the FMA
//!   latency, and there is one broadcast per 4 FMAs: the earlier 14×32 tile (one broadcast
//!   per 2 FMAs) ran about 5 % slower at 512³ on Zen 4, whose broadcasts compete with the
//!   FMAs. Edge panels use tiles instantiated for fewer rows or vectors.
//! * **Cache blocking** is chosen at run time by [`super::blocking::model`] from the caches,
//!   or given by a tuner through [`matmul_with`]. The B micro-panel of this wide tile
//!   (kc × 64 floats) cannot stay in a 32 KiB L1 at a useful depth, so the model keeps it in
//!   one L2 way: on Zen 4 `kc` = 512 (each C tile loaded and stored once for k ≤ 512),
//!   `mc` = 192 (the packed A block, 384 KiB, in 3 of the 8 L2 ways), `nc` from the core's
//!   share of L3 (1920 on a Zen 4 CCD, capped at 4096). [`HAND_TUNED`] keeps the constants
//!   tuned on that Zen 4 before the model (512, 168, 1536; measured FMA peak ~117 GFLOP/s
//!   there, a zmm FMA executing as two 256-bit halves; 111–113 GFLOP/s at n = 256…512 and
//!   ~107 at 2048; kc = 192, 256 and 384 within 1 % at 512³ and 5 % slower at 2048³). The C
//!   tile is prefetched into L1 at the start of each packed micro-kernel (≈ +3 % at 2048³).
//! * **Packing**: A into `MR`-row micro-panels (`[p][r]`), B into `NR`-column micro-panels
//!   (`[p][j]`), zero-padded at the right edge; transposes and strides are absorbed here, so the
//!   micro-kernel only ever sees unit strides. Edge rows use a micro-kernel instantiated for
//!   fewer rows; edge columns are stored through masks.
//! * **α and β** are applied once when a tile is stored; `β == 0` stores without reading C.
//!   Later KC blocks accumulate with β = 1.
//! * **Without packing**: when B is not transposed and m is small (decode, m == 1, and small
//!   batches whose B fits half the L2: `blocking::direct_b_max`) or the whole problem is
//!   tiny, the same micro-kernel reads A and B in place with
//!   masked loads at the right edge. m == 1 sweeps B in column windows of up to 12 vectors
//!   (one accumulator each, balanced so none is a latency-bound sliver, the first shifted so
//!   that every B load is 64-byte aligned: split loads cost ≈ 20 % on Zen 4;
//!   `driver::row_windows`) while B fits in L2, and streams B row by row beyond.
//!   m == 1 with B transposed is a set of dot products (8 columns at a time).
//! * **Driver**: the loops around the micro-kernels (the five blocked loops, packing, edge
//!   tiles, the unpacked row blocks and the dot products) and the checks before them are the
//!   generic driver's (`driver.rs`), tested at this tile with a portable micro-kernel, and
//!   the register tile's body is the one both x86 kernels share (`tile.rs`, compiled here for
//!   AVX-512); this file holds the micro-kernels (the `MicroKernel` implementation
//!   `imp::Avx512`: which tiles run where, the masks), the constants
//!   and the public functions.
//!
//! Every intrinsic is compiled into `#[target_feature(enable = "avx512f")]` code: the entry
//! point `sgemm_wrappers!` generates here (the generic driver is inlined into it) and the
//! micro-kernels it calls, reached only through [`matmul`] and [`matmul_with`], which check
//! the CPU first.

use super::blocking::{BlockingParams, RowSweep};

/// Rows of the default micro-tile.
pub const MR: usize = 6;
/// zmm vectors per row of the default micro-tile.
const NV: usize = 4;
/// Columns of the default micro-tile.
pub const NR: usize = 16 * NV;
/// Rows of the second micro-tile: 12×32, 24 accumulators in 12 rows of 2 zmm vectors, one
/// broadcast per 2 FMAs and half the B panel per step of the default's; the tuner may choose it
/// (a packed A micro-panel of 12 rows, B panels of 32 columns).
pub const MR_TALL: usize = 12;
/// zmm vectors per row of the second micro-tile.
const NV_TALL: usize = 2;
/// Columns of the second micro-tile.
pub const NR_TALL: usize = 16 * NV_TALL;
/// The micro-tiles (`mr`, `nr`) this kernel has, the default first.
pub const TILES: &[(usize, usize)] = &[(MR, NR), (MR_TALL, NR_TALL)];

/// The blocking hand-tuned on a Zen 4 before the model existed (`kc` = 512, `mc` = 168,
/// `nc` = 1536; see the module docs): a fixed reference point for comparisons and tuners.
pub const HAND_TUNED: BlockingParams = BlockingParams {
    mr: MR,
    nr: NR,
    kc: 512,
    mc: 28 * MR,
    nc: 24 * NR,
    row: ROW,
    rows: super::blocking::STREAM_ROWS,
    few: super::blocking::FewRows::ByLevel,
    window: super::blocking::WINDOW,
};

/// The default one-row sweep: the column windows (`driver::row_windows`, aligned to cache
/// lines) while B fits in the core's share of the L2, the row stream beyond: on a Zen 4 the
/// windows ran the medium model's decode steps (every B ≤ 1 MiB, served from L3 inside the
/// model) 1.1–1.2× faster than the stream (`models bench`, two interleaved rounds of both
/// builds), and the stream read a 4 MiB B 1.1× and a 64 MiB one 2× faster
/// (`blocking::window_b_max`); beyond the last level cache the stream prefetches a pass
/// ahead (`blocking::stream_b_max`).
const ROW: RowSweep = RowSweep::ByLevel;
/// [`RowSweep::ByLevel`] sweeps windows while B fits the core's whole share of the L2
/// (`blocking::window_b_max`).
const WINDOW_SHARE: usize = 1;

/// Problems no larger than this in every dimension skip packing when B is not transposed.
const TINY: usize = 32;
/// With B not transposed, up to this many rows may skip packing (`BlockingParams::few`; B is
/// then read once per `DR`-row block, from cache). With the 32-register tiles, reading A and
/// B in place beat packing up to the small-m bucket's 64 rows: Zen 4, one thread, B warm,
/// 20×256×768 114 against 84 GFLOP/s, 35×256×768 111 against 96, 64×256×768 113 against
/// 104 (`matmul_speed --blocking --params avx512:few=unpacked --params avx512:few=packed`;
/// `gemm` 112 at 35×256×768).
const DIRECT_M: usize = 64;
/// ... all of them by default (`FewRows::ByLevel`).
const FEW_M: usize = DIRECT_M;
/// Rows per block of the unpacked path.
#[cfg(target_arch = "x86_64")]
const DR: usize = 8;

super::driver::sgemm_wrappers! {
    feature: Avx512,
    name: "AVX-512F",
    target_feature: "avx512f",
    kernels: [imp::Avx512 => (MR, NR), imp::Avx512Tall => (MR_TALL, NR_TALL)],
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::*;
    use crate::matmul::driver::{
        direct_blocks, direct_rows, wide_direct_vectors, MicroKernel, Operands, RowBlock,
        UnpackedKernel,
    };
    use crate::matmul::tile::{by_rows, isa_tile, TileVector};
    use crate::simd_math;
    use std::arch::x86_64::*;

    /// Mask with the low `n` (≤ 16) lanes set.
    #[inline(always)]
    fn lane_mask(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// Masks for a tile row of `V` vectors of which the first `cols` lanes are valid.
    #[inline(always)]
    fn row_masks<const V: usize>(cols: usize) -> [__mmask16; V] {
        let mut m = [0; V];
        for (v, mv) in m.iter_mut().enumerate() {
            *mv = lane_mask(cols.saturating_sub(16 * v));
        }
        m
    }

    /// AVX-512's unpacked path runs every strip, full ones too, through one `EDGE` tile
    /// (`direct_tile`): its masks are tested, and a full strip stores C unmasked.
    impl TileVector for simd_math::Avx512 {
        #[inline(always)]
        fn all_lanes<const V: usize>(masks: &[__mmask16; V]) -> bool {
            masks.iter().all(|&m| m == 0xffff)
        }
    }

    isa_tile!(simd_math::Avx512, "avx512f");

    /// The micro-kernels of the 6×64 tile for the driver, and AVX-512's unpacked path.
    pub(super) struct Avx512;

    impl MicroKernel<MR, NR> for Avx512 {
        type Unpacked = Self;

        #[inline(always)]
        unsafe fn full(kc: usize, o: Operands) {
            // SAFETY: the contract of `full` is `tile`'s for a packed MR×NR tile with every
            // lane valid (no `EDGE`, all-ones masks).
            unsafe { tile::<MR, NV, true, false, MR, NR>(kc, o, [0xffff; NV]) }
        }

        #[inline(always)]
        unsafe fn edge(rows: usize, cols: usize, kc: usize, o: Operands) {
            // SAFETY: the contract of `edge` is `tile`'s for a packed tile of `rows` rows
            // whose valid columns are the first `cols` lanes (the masks). A last panel
            // narrower than NR uses a tile of just enough vectors (same packed layout, less
            // work); rows ≤ MR = 6, and the one 6-row tile of 4 vectors is taken before the
            // `by_rows` arms (1..=5 rows for 4 vectors).
            unsafe {
                let m = row_masks::<NV>(cols);
                let nv = cols.div_ceil(16).min(NV);
                if rows == MR && nv == NV {
                    tile::<MR, NV, true, true, MR, NR>(kc, o, m)
                } else {
                    match nv {
                        1 => {
                            by_rows!(rows, 1, true, MR, NR, kc, o, [m[0]]; 1 2 3 4 5 6)
                        }
                        2 => {
                            by_rows!(rows, 2, true, MR, NR, kc, o, [m[0], m[1]]; 1 2 3 4 5 6)
                        }
                        3 => {
                            by_rows!(rows, 3, true, MR, NR, kc, o, [m[0], m[1], m[2]]; 1 2 3 4 5 6)
                        }
                        _ => by_rows!(rows, 4, true, MR, NR, kc, o, m; 1 2 3 4 5),
                    }
                }
            }
        }
    }

    /// AVX-512's unpacked path, the same for both tiles: [`Avx512`] serves as the `Unpacked`
    /// of each.
    impl UnpackedKernel for Avx512 {
        type Lanes = simd_math::Avx512;
        const DR: usize = DR;

        /// Tiles as wide as 32 registers allow ([`wide_direct_vectors`]).
        #[inline(always)]
        unsafe fn direct_block(rows: usize, block: RowBlock<'_>) {
            // SAFETY: this method's contract is `direct_rows`'s for `rows` rows.
            unsafe { direct_blocks!(Self, rows, block, wide_direct_vectors) }
        }

        /// Each block with its widest tile instead: sharing 3-vector strips (the 8-row
        /// tile's width) ran 12×1024×256 at 98 against 114 GFLOP/s and 20×256×512 at 104
        /// against 111 (Zen 4, B warm, two interleaved runs).
        const SHARE_STRIPS: bool = false;

        #[inline(always)]
        unsafe fn direct_tile<const R: usize, const V: usize>(k: usize, o: Operands, cols: usize) {
            // SAFETY: the contract of `direct_tile` is `tile`'s for an unpacked tile whose
            // valid columns are the first `cols` ≤ 16·V lanes (the masks).
            unsafe { tile::<R, V, false, true, 0, 0>(k, o, row_masks::<V>(cols)) }
        }

        #[inline(always)]
        unsafe fn lane_range(lo: usize, hi: usize) -> __mmask16 {
            lane_mask(hi) & !lane_mask(lo)
        }
    }

    /// The micro-kernels of the 12×32 tile for the driver: its packed full and edge tiles
    /// (the unpacked path is [`Avx512`]'s: it does not depend on the packed tile).
    pub(super) struct Avx512Tall;

    impl MicroKernel<MR_TALL, NR_TALL> for Avx512Tall {
        type Unpacked = Avx512;

        #[inline(always)]
        unsafe fn full(kc: usize, o: Operands) {
            // SAFETY: the contract of `full` is `tile`'s for a packed 12×32 tile with every
            // lane valid (no `EDGE`, all-ones masks).
            unsafe {
                tile::<MR_TALL, NV_TALL, true, false, MR_TALL, NR_TALL>(kc, o, [0xffff; NV_TALL])
            }
        }

        #[inline(always)]
        unsafe fn edge(rows: usize, cols: usize, kc: usize, o: Operands) {
            // SAFETY: as the 6×64 tile's `edge`: rows ≤ MR_TALL = 12, valid columns the first
            // `cols` lanes; a panel of at most 16 columns runs one vector, and the 12-row tile
            // of 2 vectors is taken before the `by_rows` arms (1..=11 rows for 2 vectors).
            unsafe {
                let m = row_masks::<NV_TALL>(cols);
                if cols <= 16 {
                    by_rows!(rows, 1, true, MR_TALL, NR_TALL, kc, o, [m[0]];
                        1 2 3 4 5 6 7 8 9 10 11 12)
                } else if rows == MR_TALL {
                    tile::<MR_TALL, NV_TALL, true, true, MR_TALL, NR_TALL>(kc, o, m)
                } else {
                    by_rows!(rows, 2, true, MR_TALL, NR_TALL, kc, o, m;
                        1 2 3 4 5 6 7 8 9 10 11)
                }
            }
        }
    }
}
