//! The BLIS-style SGEMM driver, written once for every micro-kernel (in the manner of the
//! `matrixmultiply` crate's `GemmKernel`): an ISA module ([`super::avx2`], [`super::avx512`])
//! implements [`MicroKernel`] for its tile, keeps its constants (`MR`, `NR`, `TILES`,
//! `HAND_TUNED`, `TINY`, `DIRECT_M`, `FEW_M`, `DR`, `ROW`, `WINDOW_SHARE`) and invokes
//! [`sgemm_wrappers`], which expands to its `#[target_feature]` entry point and its public
//! functions; this module holds everything else.
//!
//! * **Safe side** ([`Sgemm`], every target): the default blocking (from
//!   [`blocking::model`], once per kernel), scratch sizes, and the checks before any write —
//!   blocking parameters, CPU feature, operand and scratch lengths, empty and zero-work
//!   products, the restatement of a matrix-vector product as a vector-matrix one — then the
//!   kernel's entry point ([`Body`]).
//! * **Unsafe side** ([`run`], instantiated by that entry point for its [`MicroKernel`]): the
//!   plan ([`blocking::Plan`]), the five blocked loops over A and B packed into scratch
//!   ([`super::pack`]) with full and edge micro-tiles, the unpacked path for small m (row
//!   blocks sweeping the columns, A and B read in place; one row in line-aligned column
//!   windows or as a row stream) and the m = 1 dot products with B transposed (over
//!   `crate::simd_math::Simd`).
//!   These functions are `#[inline(always)]`, so the driver is compiled inside the ISA's
//!   `#[target_feature]` entry point, with its features, and the micro-kernels inline into
//!   its loops as they did when each ISA wrote its own (the element-wise ops instantiate
//!   their generic kernels the same way, see `crate::simd_math`).
//!
//! The unit tests (`driver/tests.rs`) run this driver with a portable scalar micro-kernel at
//! the AVX2 and AVX-512 tiles and an odd one, so the packing, edges and loops of the AVX-512
//! instantiation are tested on machines without AVX-512.

use super::blocking::{self, Blocking, BlockingParams};
use super::{as_row_problem, finish_trivial, Gemm, Product};
use crate::cpu::{self, Feature};
use crate::{check_len, Result};
use std::sync::OnceLock;

/// A kernel's `#[target_feature]` entry point: [`run`] instantiated for its micro-kernel,
/// reached only through [`Sgemm`]'s checks.
pub(super) type Body = unsafe fn(&Blocking, Product<'_>, &mut [f32]);

impl Product<'_> {
    /// The same product with C reborrowed, for a callee that takes its own [`Product`] while
    /// this one is still used.
    #[inline(always)]
    pub(super) fn reborrow(&mut self) -> Product<'_> {
        Product {
            c: &mut *self.c,
            ..*self
        }
    }
}

/// The constants of one SGEMM kernel, on every target.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spec {
    /// The CPU feature the entry point needs; `None` for portable code (the tests' kernel).
    pub feature: Option<Feature>,
    /// The micro-tiles (`mr`, `nr`) the entry point has, the default first.
    pub tiles: &'static [(usize, usize)],
    /// The guard blocking, used should the model's output ever fail the check.
    pub hand_tuned: BlockingParams,
    /// Problems no larger than this in every dimension skip packing when B is not transposed.
    pub tiny: usize,
    /// With B not transposed, up to this many rows may skip packing (`BlockingParams::few`).
    pub direct_m: usize,
    /// ... and up to this many (at most `direct_m`) do by default ([`blocking::FewRows::ByLevel`]).
    pub few_m: usize,
    /// The one-row sweep of the default parameters (measured per ISA; a tuner may choose
    /// the other through `matmul_with`).
    pub row: blocking::RowSweep,
    /// [`blocking::RowSweep::ByLevel`] sweeps column windows while B fits in this fraction
    /// (1/`window_share`) of the core's share of the L2 (measured per ISA).
    pub window_share: usize,
}

/// One SGEMM kernel as its public functions see it on every target: its [`Spec`], its entry
/// point and its default blocking (computed on first use, so `scratch_len` and `matmul`
/// always agree). A kernel module keeps one in a `static` (see [`sgemm_wrappers`]).
pub(super) struct Sgemm {
    spec: Spec,
    /// One entry point per micro-tile (`mr`, `nr`, entry), in the order of `spec.tiles`;
    /// empty on targets without the ISA, where `spec.feature` is never available.
    bodies: &'static [(usize, usize, Body)],
    default: OnceLock<Blocking>,
}

impl Sgemm {
    /// A kernel from its constants and entry points, one per micro-tile of `spec.tiles` in
    /// that order (or none off its target); `spec.hand_tuned` must pass the check for
    /// `spec.tiles` (asserted: in a `static` initialiser a failure is a compile error).
    ///
    /// # Safety
    /// Each body must be sound whenever what [`Sgemm::matmul`] establishes before calling it
    /// holds: `spec.feature` available (on this CPU, not masked), `g.check(a, b, c)` passed
    /// for the shape it receives, `scratch` holding `blk.scratch_len(g)` elements, m, n,
    /// k ≥ 1 and `blk` checked against `spec.tiles` with the body's own tile.
    pub(super) const unsafe fn new(spec: Spec, bodies: &'static [(usize, usize, Body)]) -> Sgemm {
        assert!(blocking::valid_const(&spec.hand_tuned, spec.tiles));
        assert!(spec.feature.is_some() || !bodies.is_empty());
        assert!(bodies.is_empty() || bodies.len() == spec.tiles.len());
        let mut i = 0;
        while i < bodies.len() {
            assert!(bodies[i].0 == spec.tiles[i].0 && bodies[i].1 == spec.tiles[i].1);
            i += 1;
        }
        Sgemm {
            spec,
            bodies,
            default: OnceLock::new(),
        }
    }

    /// The default parameters for the micro-tile `mr`×`nr` on this machine (the model's
    /// blocking for that tile, the kernel's one-row sweep), or `None` when the kernel does not
    /// have that tile.
    pub(super) fn params_for(&self, mr: usize, nr: usize) -> Option<BlockingParams> {
        let s = &self.spec;
        s.tiles
            .contains(&(mr, nr))
            .then(|| blocking::model(cpu::caches(), mr, nr, s.row))
            .filter(|p| p.check(s.tiles).is_ok())
    }

    /// The default blocking: the [`blocking::model`]'s choice for this machine's caches
    /// ([`cpu::caches`]) and the default micro-tile, computed once.
    fn default_blocking(&self) -> &Blocking {
        let s = &self.spec;
        self.default.get_or_init(|| {
            let (mr, nr) = s.tiles[0];
            let p = blocking::model(cpu::caches(), mr, nr, s.row);
            // The model's output always passes the check (its tests say so); the hand-tuned
            // values are a guard, not a path expected to run.
            self.limits(
                Blocking::new(p, s.tiles, s.tiny, s.direct_m).unwrap_or(Blocking::trusted(
                    s.hand_tuned,
                    s.tiny,
                    s.direct_m,
                )),
            )
        })
    }

    /// `b` with this kernel's own defaults for a few rows and the one-row sweep by level.
    fn limits(&self, b: Blocking) -> Blocking {
        b.with_few_m(self.spec.few_m)
            .with_window_share(self.spec.window_share)
    }

    /// How a one-row product of shape `g` reads B with `p` on this machine: `p.row`, with
    /// [`blocking::RowSweep::ByLevel`] resolved by where B fits, as this kernel resolves it.
    pub(super) fn sweep_for(&self, p: &BlockingParams, g: &Gemm) -> blocking::RowSweep {
        let s = &self.spec;
        self.limits(Blocking::trusted(*p, s.tiny, s.direct_m))
            .sweep_for(g)
    }

    /// The blocking for explicit `params` ([`crate::KernelError::Blocking`] when they fail
    /// [`BlockingParams::check`] for the kernel's tiles), or the default one.
    fn blocking(&self, params: Option<&BlockingParams>) -> Result<Blocking> {
        let s = &self.spec;
        match params {
            Some(p) => Blocking::new(*p, s.tiles, s.tiny, s.direct_m).map(|b| self.limits(b)),
            None => Ok(*self.default_blocking()),
        }
    }

    /// The default blocking's parameters.
    pub(super) fn default_params(&self) -> BlockingParams {
        *self.default_blocking().params()
    }

    /// Scratch [`Sgemm::matmul`] needs for `g` with the default blocking.
    pub(super) fn default_scratch_len(&self, g: &Gemm) -> usize {
        self.default_blocking().scratch_len(g)
    }

    /// Scratch [`Sgemm::matmul`] needs for `g` with `params` (the default blocking for
    /// `None`).
    pub(super) fn scratch_len(&self, params: Option<&BlockingParams>, g: &Gemm) -> Result<usize> {
        Ok(self.blocking(params)?.scratch_len(g))
    }

    /// `C = α·op(A)·op(B) + β·C` with blocking `params` (the default for `None`), after
    /// every check the entry point needs, in this order: the blocking, the feature (else
    /// [`crate::KernelError::Unsupported`]), operand and scratch lengths. Empty and zero-work
    /// products are finished here, and a matrix-vector product is restated as a
    /// vector-matrix one (the A and B buffers swap; checked again, so the entry's soundness
    /// needs nothing about the restatement).
    pub(super) fn matmul(
        &self,
        params: Option<&BlockingParams>,
        p: Product<'_>,
        scratch: &mut [f32],
    ) -> Result<()> {
        let blk = self.blocking(params)?;
        if let Some(feature) = self.spec.feature {
            cpu::require(feature)?;
        }
        p.g.check(p.a, p.b, p.c)?;
        check_len("matmul", "scratch", scratch.len(), blk.scratch_len(&p.g))?;
        if finish_trivial(&p.g, p.alpha, p.beta, p.c)? {
            return Ok(());
        }
        let p = match as_row_problem(&p.g) {
            Some(g) => Product {
                g,
                a: p.b,
                b: p.a,
                ..p
            },
            None => p,
        };
        p.g.check(p.a, p.b, p.c)?;
        let (mr, nr) = (blk.params().mr, blk.params().nr);
        let Some(&(_, _, body)) = self.bodies.iter().find(|b| (b.0, b.1) == (mr, nr)) else {
            unreachable!(
                "{:?} reported available without an entry point for its checked tile {mr}×{nr}",
                self.spec.feature
            )
        };
        // SAFETY: the feature is available (`cpu::require`); `blk` was checked against the
        // kernel's micro-tiles when it was built (`Blocking::new`, or the hand-tuned guard
        // that `Sgemm::new` checked), and `body` is the entry point of its tile; `g.check` confirmed, with checked arithmetic (no length
        // wrapped), that every index the (restated) shape implies is inside `a`, `b` and `c`;
        // the scratch length was checked against the original shape, whose plan and scratch
        // are those of its restatement (`scratch_len` restates too); `finish_trivial`
        // returned for m, n or k = 0. That is all `body` needs, per the contract of
        // `Sgemm::new`.
        unsafe { body(&blk, p, scratch) };
        Ok(())
    }
}

/// Expands, inside an x86_64 SGEMM module, to its `static SGEMM` (an [`Sgemm`] from the
/// module's `TILES`, `HAND_TUNED`, `TINY`, `DIRECT_M`, `FEW_M`), its `#[target_feature]` entry points
/// (the generic driver [`run`] instantiated for each of `kernels`, the module's
/// [`MicroKernel`]s, one per tile of `TILES` in that order) and its public functions, the same
/// for every ISA: `default_params`, `params_for`, `scratch_len`, `scratch_len_with`, `matmul`,
/// `matmul_with`. Off x86_64 the functions
/// still exist; `matmul` returns [`crate::KernelError::Unsupported`].
macro_rules! sgemm_wrappers {
    (
        feature: $feature:ident,
        name: $name:literal,
        target_feature: $target_feature:literal,
        kernels: [$($kernel:ty => ($mr:expr, $nr:expr)),+ $(,)?] $(,)?
    ) => {
        /// An entry point: the generic driver compiled for this ISA and the micro-kernel `K`
        /// of the `MR_`×`NR_` tile.
        ///
        /// # Safety
        /// The feature must be available; `blk` must have been checked against [`TILES`] and
        /// have the tile `MR_`×`NR_`; `p.g.check(p.a, p.b, p.c)` must have passed, `scratch`
        /// must hold `blk.scratch_len(p.g)` elements, and m, n, k must be nonzero.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $target_feature)]
        unsafe fn entry<
            K: $crate::matmul::driver::MicroKernel<MR_, NR_>,
            const MR_: usize,
            const NR_: usize,
        >(
            blk: &$crate::matmul::blocking::Blocking,
            p: $crate::matmul::Product<'_>,
            scratch: &mut [f32],
        ) {
            // SAFETY: the preconditions of `driver::run` are this function's; the feature
            // enabled here is what the module's micro-kernels and vector need.
            unsafe { $crate::matmul::driver::run::<K, MR_, NR_>(blk, p, scratch) }
        }

        /// This kernel as the generic driver runs it.
        // SAFETY: `entry` needs the feature, a checked shape, `scratch_len` elements of scratch
        // for its blocking, a nonzero problem and a blocking checked against `TILES`: exactly
        // what `Sgemm::matmul` establishes before calling it.
        static SGEMM: $crate::matmul::driver::Sgemm = unsafe {
            $crate::matmul::driver::Sgemm::new(
                $crate::matmul::driver::Spec {
                    feature: Some($crate::cpu::Feature::$feature),
                    tiles: TILES,
                    hand_tuned: HAND_TUNED,
                    tiny: TINY,
                    direct_m: DIRECT_M,
                    few_m: FEW_M,
                    row: ROW,
                    window_share: WINDOW_SHARE,
                },
                BODIES,
            )
        };
        #[cfg(target_arch = "x86_64")]
        const BODIES: &[(usize, usize, $crate::matmul::driver::Body)] =
            &[$(($mr, $nr, entry::<$kernel, { $mr }, { $nr }>)),+];
        #[cfg(not(target_arch = "x86_64"))]
        const BODIES: &[(usize, usize, $crate::matmul::driver::Body)] = &[];

        /// The blocking [`matmul`] uses on this machine: the model's choice from its caches.
        pub fn default_params() -> $crate::matmul::BlockingParams {
            SGEMM.default_params()
        }

        /// The default parameters of the micro-tile `mr`×`nr` on this machine (the model's
        /// blocking for that tile), for [`matmul_with`]; `None` when this kernel lacks the
        /// tile (see [`TILES`]).
        pub fn params_for(mr: usize, nr: usize) -> Option<$crate::matmul::BlockingParams> {
            SGEMM.params_for(mr, nr)
        }

        /// How a one-row product of shape `g` reads B with `params` on this machine
        /// (`params.row`, with [`crate::matmul::RowSweep::ByLevel`] resolved by where B fits,
        /// as this kernel resolves it): for a tuner, which searches only what a call runs.
        pub fn sweep_for(
            params: &$crate::matmul::BlockingParams,
            g: &$crate::matmul::Gemm,
        ) -> $crate::matmul::RowSweep {
            SGEMM.sweep_for(params, g)
        }

        /// Scratch [`matmul`] needs: a packed A block (≤ `mc`×`kc`) and a packed B block
        /// (≤ `kc`×`nc`) plus 16 floats of alignment slack, when the problem is packed at all;
        /// 0 when it takes an unpacked path. At most [`default_params`]`().max_scratch_len()`.
        pub fn scratch_len(g: &$crate::matmul::Gemm) -> usize {
            SGEMM.default_scratch_len(g)
        }

        /// Scratch [`matmul_with`] needs with `params`; [`crate::KernelError::Blocking`] when
        /// this kernel cannot use them (see [`crate::matmul::BlockingParams::check`]).
        pub fn scratch_len_with(
            params: &$crate::matmul::BlockingParams,
            g: &$crate::matmul::Gemm,
        ) -> $crate::Result<usize> {
            SGEMM.scratch_len(Some(params), g)
        }

        #[doc = concat!("`C = α·op(A)·op(B) + β·C` with ", $name, " and the machine's default")]
        #[doc = concat!("blocking; [`crate::KernelError::Unsupported`] when the CPU lacks ", $name)]
        /// (or `KERNELS_DISABLE` masks it).
        pub fn matmul(
            g: &$crate::matmul::Gemm,
            alpha: f32,
            a: &[f32],
            b: &[f32],
            beta: f32,
            c: &mut [f32],
            scratch: &mut [f32],
        ) -> $crate::Result<()> {
            let p = $crate::matmul::Product { g: *g, alpha, a, b, beta, c };
            SGEMM.matmul(None, p, scratch)
        }

        /// [`matmul`] of the product `p` with explicit blocking `params` (for a tuner; its
        /// signature is [`crate::matmul::MatMulWithFn`]); `scratch` must hold
        /// [`scratch_len_with`]`(params, &p.g)` elements. Parameters this kernel cannot use are
        /// a [`crate::KernelError::Blocking`], checked before anything is written.
        pub fn matmul_with(
            params: &$crate::matmul::BlockingParams,
            p: $crate::matmul::Product<'_>,
            scratch: &mut [f32],
        ) -> $crate::Result<()> {
            SGEMM.matmul(Some(params), p, scratch)
        }
    };
}
pub(super) use sgemm_wrappers;

#[cfg(any(target_arch = "x86_64", test))]
pub(super) use imp::*;

#[cfg(any(target_arch = "x86_64", test))]
mod imp {
    use crate::matmul::alias;
    use crate::matmul::blocking::{
        Blocking, FewRows, Plan, RowSweep, MAX_STREAM_ROWS, MAX_WINDOW, SLAB_ROWS,
    };
    use crate::matmul::pack::{pack_a, pack_b};
    use crate::matmul::Gemm;
    use crate::simd_math::Simd;

    use super::Product;

    /// Rows i.. of C for the unpacked path ([`direct_rows`], [`UnpackedKernel::direct_row`],
    /// [`stream_row`]): the product, the first row and A's row and depth strides (A element
    /// (r, p) at `(i + r)·a_rs + p·a_ps`), and how a single row reads B (the blocking's
    /// resolved sweep, its stream's rows per pass and its column window; blocks of more rows
    /// ignore them).
    pub(in crate::matmul) struct RowBlock<'a> {
        pub p: Product<'a>,
        pub i: usize,
        pub a_rs: usize,
        pub a_ps: usize,
        pub one: OneRow,
    }

    /// How a single row reads B, from the blocking: its sweep ([`RowSweep::ByLevel`]
    /// resolved), the rows of B per pass of the row stream (`BlockingParams::rows`, 1..=8)
    /// and the most vectors per column window (`BlockingParams::window`, 1..=16).
    #[derive(Debug, Clone, Copy)]
    pub(in crate::matmul) struct OneRow {
        pub sweep: RowSweep,
        pub stream_rows: usize,
        pub window: usize,
    }

    impl RowBlock<'_> {
        /// The operands of a tile of this block's rows from column `col` of B and C, A from
        /// its first column (`col` may wrap below 0 for a column window whose masks leave out
        /// the lanes before column 0: the pointers are made with wrapping arithmetic).
        #[inline(always)]
        fn operands(&mut self, col: usize) -> Operands {
            let g = self.p.g;
            Operands {
                a: self.p.a.as_ptr().wrapping_add(g.a_index(self.i, 0)),
                a_rs: self.a_rs,
                a_ps: self.a_ps,
                b: self.p.b.as_ptr().wrapping_add(col),
                b_ps: g.ldb,
                c: self
                    .p
                    .c
                    .as_mut_ptr()
                    .wrapping_add(self.i * g.ldc)
                    .wrapping_add(col),
                ldc: g.ldc,
                alpha: self.p.alpha,
                beta: self.p.beta,
            }
        }

        /// The same block with C reborrowed, for a callee that takes its own [`RowBlock`].
        #[inline(always)]
        fn reborrow(&mut self) -> RowBlock<'_> {
            RowBlock {
                p: self.p.reborrow(),
                ..*self
            }
        }
    }

    /// Where a micro-kernel finds its operands, and the scalars it applies when it stores C.
    #[derive(Clone, Copy)]
    pub(in crate::matmul) struct Operands {
        /// Element (r, p) of the A tile is at `a + r·a_rs + p·a_ps`.
        pub a: *const f32,
        pub a_rs: usize,
        pub a_ps: usize,
        /// Row p of the B tile starts at `b + p·b_ps`.
        pub b: *const f32,
        pub b_ps: usize,
        /// Element (r, j) of the C tile is at `c + r·ldc + j`.
        pub c: *mut f32,
        pub ldc: usize,
        /// The tile stores `α·A·B + β·C` (β == 0 never reads C).
        pub alpha: f32,
        pub beta: f32,
    }

    /// One ISA's micro-kernels for the `MR`×`NR` micro-tile, as [`run`] calls them. Each
    /// computes a tile of `C = α·A·B + β·C` over a depth `k`, applying α and β (`o.alpha`,
    /// `o.beta`) once when it stores (β == 0 never reads C).
    ///
    /// # Safety
    /// The methods may execute the ISA's instructions: an implementation is instantiated
    /// only inside the `#[target_feature]` entry point of an [`super::Sgemm`] that requires
    /// that ISA's feature. Each method's contract is its own.
    pub(in crate::matmul) trait MicroKernel<const MR: usize, const NR: usize>:
        Sized
    {
        /// The ISA's unpacked path and dot products, which do not depend on the packed tile:
        /// one implementation serves all of an ISA's micro-tiles.
        type Unpacked: UnpackedKernel;

        /// The packed micro-kernel on a full `MR`×`NR` tile: A is a packed micro-panel
        /// (element (r, p) at `o.a + p·MR + r`), B a packed micro-panel (element (p, j) at
        /// `o.b + p·NR + j`); `o.a_rs`, `o.a_ps`, `o.b_ps` are 1, `MR`, `NR`.
        ///
        /// # Safety
        /// The ISA is available; the panels hold `kc·MR` and `kc·NR` elements, the `MR`×`NR`
        /// elements of C at `o.c + r·o.ldc + j` are in bounds, and C does not alias them.
        unsafe fn full(kc: usize, o: Operands);

        /// [`MicroKernel::full`] on an edge tile: only rows < `rows` ≤ `MR` and columns <
        /// `cols` ≤ `NR` of C are valid (read and written), one of them short. The packed B
        /// panel is still `NR` wide (zero-padded), so it may be read in full; packed A rows
        /// ≥ `rows` are unset and must not be used.
        ///
        /// # Safety
        /// As [`MicroKernel::full`], for the valid rows and columns of C only.
        unsafe fn edge(rows: usize, cols: usize, kc: usize, o: Operands);
    }

    /// One ISA's kernels for the paths that read A and B in place ([`direct`], [`dots`]),
    /// shared by all of its micro-tiles ([`MicroKernel::Unpacked`]).
    ///
    /// # Safety
    /// As [`MicroKernel`]: instantiated only inside an entry point that requires the ISA.
    pub(in crate::matmul) trait UnpackedKernel: Sized {
        /// The vector for the dot products of m = 1 with B transposed ([`dots`]).
        type Lanes: Simd;
        /// Rows per block of the unpacked path, in 1..=8.
        const DR: usize;

        /// The unpacked micro-kernel: an `R`×(`V`·LANES) tile (LANES those of
        /// [`UnpackedKernel::Lanes`], `V` as [`UnpackedKernel::direct_block`] chooses for `R`
        /// rows) of which columns < `cols`
        /// are valid, with A element (r, p) at `o.a + r·o.a_rs + p·o.a_ps` and B element
        /// (p, j) at `o.b + p·o.b_ps + j`, read in place. `R` is in 1..=`DR`.
        ///
        /// # Safety
        /// The ISA is available; for r < R, p < k and j < cols the A element (r, p), the B
        /// element (p, j) and the C element (r, j) are in bounds of their buffers, and C
        /// does not alias A or B.
        unsafe fn direct_tile<const R: usize, const V: usize>(k: usize, o: Operands, cols: usize);

        /// Whether several row blocks share strips of B ([`shared_strips`]) rather than
        /// each sweeping all of B with its widest tile. Sharing reads each strip from L1
        /// for every block after the first; the AVX2 tiles are narrow enough for that to
        /// pay (Zen 4, B warm, 12×1024×256 76–78 → 84–87 GFLOP/s, 10×256×768 75–83 →
        /// 84–86, two interleaved runs).
        const SHARE_STRIPS: bool = true;

        /// Rows `r.i..r.i + rows` of C (`rows` in 1..=`DR`), all columns: one row through
        /// [`UnpackedKernel::direct_row`], more through [`direct_rows`] with the tile width of
        /// 16 vector registers ([`direct_vectors`]); an ISA with more registers overrides it.
        ///
        /// # Safety
        /// As [`direct_rows`] with `R` = `rows`.
        #[inline(always)]
        unsafe fn direct_block(rows: usize, block: RowBlock<'_>) {
            // SAFETY: this method's contract is `direct_rows`'s for `rows` rows.
            unsafe { direct_blocks!(Self, rows, block, direct_vectors) }
        }

        /// The lanes `lo..hi` (0 ≤ `lo` < `hi` ≤ LANES) of one vector as a mask for
        /// [`Simd::load_part`] and [`Simd::store_part`]: the first and last vectors of a
        /// column window ([`row_windows`]).
        ///
        /// # Safety
        /// The ISA is available.
        unsafe fn lane_range(lo: usize, hi: usize) -> <Self::Lanes as Simd>::M;

        /// One row i of C, all columns, A and B read in place, as `r.one.sweep` says: the
        /// row stream ([`stream_row`], only with β = 0) or column windows ([`row_windows`]).
        ///
        /// # Safety
        /// As [`direct_rows`] with `R` = 1.
        #[inline(always)]
        unsafe fn direct_row(mut r: RowBlock<'_>) {
            // SAFETY: this method's contract is `row_windows`'s, which covers the stream's.
            unsafe {
                if !stream_if::<Self::Lanes>(&mut r) {
                    row_windows::<Self>(r)
                }
            }
        }
    }

    /// The driver for the micro-kernel `K`, after [`super::Sgemm`]'s checks: the plan of the
    /// (canonical) shape, then the packed loops, the unpacked path or the dot products.
    ///
    /// # Safety
    /// `K`'s ISA must be available; `blk` must have been checked against the kernel's tiles,
    /// `p.g.check(p.a, p.b, p.c)` must have passed, `scratch` must hold
    /// `blk.scratch_len(p.g)` elements, and m, n, k must be nonzero.
    #[inline(always)]
    pub(in crate::matmul) unsafe fn run<
        K: MicroKernel<MR, NR>,
        const MR: usize,
        const NR: usize,
    >(
        blk: &Blocking,
        p: Product<'_>,
        scratch: &mut [f32],
    ) {
        const { assert!(MR >= 1 && NR >= 1) };
        // SAFETY (for the three calls): same preconditions as this function; the packed
        // loops get the blocking of their micro-tile (checked just before).
        unsafe {
            match blk.plan(&p.g) {
                Plan::Trivial => {}
                Plan::Direct => direct::<K::Unpacked>(
                    OneRow {
                        sweep: blk.sweep_for(&p.g),
                        stream_rows: blk.params().rows,
                        window: blk.params().window,
                    },
                    blk.few_for(&p.g) == FewRows::Slabs,
                    p,
                ),
                Plan::Dots => dots::<<K::Unpacked as UnpackedKernel>::Lanes>(p),
                Plan::Packed => {
                    let t = blk.params();
                    if (t.mr, t.nr) != (MR, NR) {
                        unreachable!("micro-tile {}×{} not in the kernel's tiles", t.mr, t.nr);
                    }
                    packed::<K, MR, NR>(blk, p, scratch)
                }
            }
        }
    }

    /// Unpacked path for B not transposed: blocks of up to `U::DR` rows, each sweeping the
    /// columns with a tile as wide as the row count allows (one row through
    /// [`UnpackedKernel::direct_row`] with the blocking's `sweep` and its stream's `rows`
    /// per pass). With `slabs` and more than one row, the product runs slab by slab of
    /// [`SLAB_ROWS`] rows of B ([`FewRows::Slabs`]).
    ///
    /// # Safety
    /// As [`run`], and `!g.trans_b`.
    #[inline(always)]
    unsafe fn direct<U: UnpackedKernel>(one: OneRow, slabs: bool, p: Product<'_>) {
        const { assert!(U::DR >= 1 && U::DR <= 8) };
        let g = p.g;
        debug_assert!(!g.trans_b);
        // SAFETY (both): this function's contract.
        if slabs && g.m >= 2 && g.k > SLAB_ROWS {
            unsafe { direct_slabs::<U>(one, p) }
        } else {
            unsafe { row_blocks::<U>(one, p) }
        }
    }

    /// The row blocks of [`direct`], all of k at once. (Not recursive through
    /// [`direct_slabs`]: every function here must inline into the ISA's entry point, which
    /// alone enables the ISA's features.)
    ///
    /// # Safety
    /// As [`direct`].
    #[inline(always)]
    unsafe fn row_blocks<U: UnpackedKernel>(one: OneRow, mut p: Product<'_>) {
        let g = p.g;
        let (a_rs, a_ps) = if g.trans_a { (1, g.lda) } else { (g.lda, 1) };
        // As few blocks as DR allows, their rows as even as possible (10 rows with DR = 8:
        // 5 + 5, not 8 + 2, whose 2-row block reads all of B for a fifth of the work).
        let blocks = g.m.div_ceil(U::DR);
        let (base, extra) = (g.m / blocks.max(1), g.m % blocks.max(1));
        if blocks >= 2 && U::SHARE_STRIPS {
            // SAFETY: this function's contract; the blocks are as below.
            unsafe { shared_strips::<U>((a_rs, a_ps), (blocks, base, extra), p) };
            return;
        }
        let mut i = 0;
        for b in 0..blocks {
            let rows = base + usize::from(b < extra);
            let block = RowBlock {
                p: p.reborrow(),
                i,
                a_rs,
                a_ps,
                one,
            };
            // SAFETY: rows i..i+rows ≤ m (the blocks' rows sum to m), 1 ≤ rows ≤ DR
            // (⌈m / blocks⌉ ≤ DR); the sweep stays inside the checked buffers.
            unsafe { U::direct_block(rows, block) }
            i += rows;
        }
    }

    /// [`row_blocks`] for more than one block: strips of B of [`STRIP_V`] vectors, each `kb`
    /// rows deep (half the L1 data cache's worth of floats), and for each
    /// strip every block in turn, so that the blocks share the strip from L1 instead of
    /// each reading all of B from L2 (as `gemm` reads its in-place operand). The sum over k
    /// is split every `kb` rows, as the packed path's `kc` blocks split it. `(blocks, base,
    /// extra)`: block b has `base + (b < extra)` rows.
    ///
    /// # Safety
    /// As [`direct`]; `blocks·base + extra` = m, `base + 1` ≤ DR.
    #[inline(always)]
    unsafe fn shared_strips<U: UnpackedKernel>(
        (a_rs, a_ps): (usize, usize),
        (blocks, base, extra): (usize, usize, usize),
        p: Product<'_>,
    ) {
        let g = p.g;
        let w = STRIP_V * <U::Lanes as Simd>::LANES;
        let l1_floats = crate::cpu::caches().l1d.size / std::mem::size_of::<f32>();
        let kb = (l1_floats / 2 / w.max(1)).clamp(16, g.k.max(16));
        let (a, b, c) = (p.a.as_ptr(), p.b.as_ptr(), p.c.as_mut_ptr());
        let mut p0 = 0;
        while p0 < g.k {
            let kk = (g.k - p0).min(kb);
            let beta = if p0 == 0 { p.beta } else { 1.0 };
            let mut j = 0;
            while j < g.n {
                let cols = (g.n - j).min(w);
                let mut i = 0;
                for blk in 0..blocks {
                    let rows = base + usize::from(blk < extra);
                    let o = Operands {
                        a: a.wrapping_add(g.a_index(i, p0)),
                        a_rs,
                        a_ps,
                        b: b.wrapping_add(p0 * g.ldb + j),
                        b_ps: g.ldb,
                        c: c.wrapping_add(i * g.ldc + j),
                        ldc: g.ldc,
                        alpha: p.alpha,
                        beta,
                    };
                    macro_rules! strip {
                        ($($r:literal)*) => {
                            match rows {
                                $($r => U::direct_tile::<$r, STRIP_V>(kk, o, cols),)*
                                _ => unreachable!("DR is at most 8"),
                            }
                        };
                    }
                    // SAFETY: the ISA is available (per `run`). A element (r, q) of the tile
                    // is op(A)[i+r][p0+q] with i+r < m and p0+q < k, at `g.a_index` <
                    // `g.a_len()` ≤ a.len(); B elements read are op(B)[p0+q][j+l] for
                    // l < cols, at (p0+q)·ldb + j + l < `g.b_len()`; C elements (i+r, j+l)
                    // are at (i+r)·ldc + j + l < `g.c_len()`; C is a distinct `&mut`.
                    // rows ≤ base + 1 ≤ DR and cols ≤ STRIP_V·LANES.
                    unsafe { strip!(1 2 3 4 5 6 7 8) };
                    i += rows;
                }
                j += w;
            }
            p0 += kk;
        }
    }

    /// [`direct`] slab by slab: for each [`SLAB_ROWS`] rows of B (and the matching columns
    /// of A), first ask for the next slab's rows to be brought into L2, row by row, then run
    /// the unpacked path over this slab into all of C (the first slab with β, the others
    /// adding to C). B is read once, a slab at a time, from wherever it lives, while the
    /// slab in L2 feeds the tiles; C (a few rows) stays in L1. The sum over k is split at
    /// the slab boundaries, as the packed path's `kc` blocks split it.
    ///
    /// # Safety
    /// As [`direct`].
    #[inline(always)]
    unsafe fn direct_slabs<U: UnpackedKernel>(one: OneRow, p: Product<'_>) {
        let g = p.g;
        let a_ps = if g.trans_a { g.lda } else { 1 };
        let mut p0 = 0;
        while p0 < g.k {
            let rows = (g.k - p0).min(SLAB_ROWS);
            let next = p0 + rows..(p0 + 2 * SLAB_ROWS).min(g.k);
            for q in next {
                // Row q < k of B starts at q·ldb, and its columns < n are in bounds.
                let row = p.b[q * g.ldb..q * g.ldb + g.n].as_ptr();
                let mut j = 0;
                while j < g.n {
                    // SAFETY: the ISA is available (per `run`); j < n keeps the address in
                    // B's row, and a prefetch reads nothing into the program.
                    unsafe { <U::Lanes as Simd>::prefetch_l2(row.wrapping_add(j)) };
                    j += LINE_FLOATS;
                }
            }
            // A's columns p0.. start at p0·a_ps, B's rows p0.. at p0·ldb; both are below
            // their checked lengths since p0 < k. C is reborrowed for this slab.
            let slab = Product {
                g: Gemm { k: rows, ..g },
                alpha: p.alpha,
                a: &p.a[p0 * a_ps..],
                b: &p.b[p0 * g.ldb..],
                beta: if p0 == 0 { p.beta } else { 1.0 },
                c: &mut *p.c,
            };
            // SAFETY: the slab is a checked shape of its own: the sub-slices hold its A
            // (m rows of `rows` columns at the same strides) and B (`rows` rows of n), and C
            // is unchanged.
            unsafe { row_blocks::<U>(one, slab) };
            p0 += rows;
        }
    }

    /// Vectors per row of the unpacked tile of `rows` rows with 16 vector registers (AVX2,
    /// and the default of [`UnpackedKernel::direct_block`]): R·V accumulators, V B vectors
    /// and one broadcast fit up to 6 rows (AVX2's `DR`); one row takes its B vectors as
    /// memory operands.
    pub(in crate::matmul) const fn direct_vectors(rows: usize) -> usize {
        match rows {
            1 => 8,
            2 => 4,
            3 => 3,
            _ => 2,
        }
    }

    /// Vectors per row of the unpacked tile of `rows` rows with 32 vector registers
    /// (AVX-512, whose FMAs also take A's broadcast element as a memory operand): R·V
    /// accumulators and V B vectors within 30 registers, at most 8 vectors. A wider tile
    /// reads more of each row of B per step down its columns and A fewer times per product.
    pub(in crate::matmul) const fn wide_direct_vectors(rows: usize) -> usize {
        match rows {
            1 | 2 => 8,
            3 => 7,
            4 => 6,
            5 => 5,
            6 => 4,
            _ => 3,
        }
    }

    /// Rows `i..i + rows` of C (`rows` in 1..=8) through [`direct_rows`] with the tile
    /// width `vectors(R)` for R rows, or one row through the kernel's `direct_row`.
    macro_rules! direct_blocks {
        ($U:ty, $rows:expr, $block:expr, $vectors:ident) => {
            match $rows {
                1 => <$U>::direct_row($block),
                2 => direct_rows::<$U, 2, { $vectors(2) }>($block),
                3 => direct_rows::<$U, 3, { $vectors(3) }>($block),
                4 => direct_rows::<$U, 4, { $vectors(4) }>($block),
                5 => direct_rows::<$U, 5, { $vectors(5) }>($block),
                6 => direct_rows::<$U, 6, { $vectors(6) }>($block),
                7 => direct_rows::<$U, 7, { $vectors(7) }>($block),
                8 => direct_rows::<$U, 8, { $vectors(8) }>($block),
                _ => unreachable!("DR is at most 8"),
            }
        };
    }
    pub(in crate::matmul) use direct_blocks;

    /// Vectors per row of the tiles of the strips that several row blocks share
    /// ([`shared_strips`]): one width for blocks of up to `DR` rows, the 16-register tile's
    /// for AVX2's 6 ([`direct_vectors`]).
    pub(in crate::matmul) const STRIP_V: usize = direct_vectors(6);

    /// Rows i..i+R of C, all columns, A and B read in place: tiles of `V`·LANES columns,
    /// the last one short.
    ///
    /// # Safety
    /// As [`direct`], and i + R ≤ m, R ≤ `U::DR`.
    #[inline(always)]
    pub(in crate::matmul) unsafe fn direct_rows<
        U: UnpackedKernel,
        const R: usize,
        const V: usize,
    >(
        mut r: RowBlock<'_>,
    ) {
        let g = r.p.g;
        let w = V * <U::Lanes as Simd>::LANES;
        let mut j = 0;
        while j < g.n {
            let cols = (g.n - j).min(w);
            let o = r.operands(j);
            // SAFETY: the ISA is available (per `run`). A element (r, p) is op(A)[i+r][p]
            // with i+r < m, p < k, at `g.a_index(i+r, p)` < `g.a_len()` ≤ a.len(). B elements
            // read are op(B)[p][j+l] for l < cols, at p·ldb + j + l < `g.b_len()`. C elements
            // (i+r, j+l) are at (i+r)·ldc + j + l < `g.c_len()`. `c` is a distinct `&mut`.
            unsafe { U::direct_tile::<R, V>(g.k, o, cols) };
            j += w;
        }
    }

    /// f32 elements per 64-byte cache line.
    const LINE_FLOATS: usize = 16;

    /// One row i of C, all columns, A and B read in place, in **column windows**: each
    /// window holds a few vectors of C's row in registers (one accumulator each) and walks
    /// down all of B's rows, reading that many vectors of each; C is written once. A window
    /// holds at most `r.one.window` vectors (`BlockingParams::window`), rounded down to
    /// whole cache lines (at least one), and the windows share the row's lines as evenly as
    /// possible, so that none is a latency-bound sliver. When every row of B starts at the
    /// same place in its cache line (`ldb` a multiple of 16 floats), the windows start at
    /// line boundaries: the first is shifted left over the columns before B's first line
    /// boundary, which its masks leave out. Then every window reads whole lines of each
    /// row and no load splits a line. Measured on a Zen 4, one thread, B warm in L2, AVX2:
    /// 1×512×128 112 against 86–90 GB/s, 1×256×512 104 against 76–88 (B at 0 against 16–48
    /// bytes past a line boundary, unshifted windows of 8 vectors).
    ///
    /// # Safety
    /// As [`direct_rows`] with `R` = 1.
    #[inline(always)]
    pub(in crate::matmul) unsafe fn row_windows<U: UnpackedKernel>(mut r: RowBlock<'_>) {
        let l = <U::Lanes as Simd>::LANES;
        // (The tests' odd lane counts give windows that are not whole vectors of lines; the
        // lanes each reads and writes are exact all the same.)
        const { assert!(<U::Lanes as Simd>::LANES <= LINE_FLOATS) };
        let g = r.p.g;
        // Columns of B's rows before their first line boundary (0 when the rows differ).
        let skip = if g.ldb.is_multiple_of(LINE_FLOATS) {
            (r.p.b.as_ptr() as usize / 4) % LINE_FLOATS
        } else {
            0
        };
        // No overflow: n ≤ c.len() < isize::MAX once the shape is checked, and skip < 16.
        let lines = (g.n + skip).div_ceil(LINE_FLOATS);
        let per_window = (r.one.window / (LINE_FLOATS / l)).max(1);
        let windows = lines.div_ceil(per_window);
        // Lane `x` of the shifted row is column x − skip.
        let mut start = 0;
        for w in 0..windows {
            let span = LINE_FLOATS * (lines / windows + usize::from(w < lines % windows));
            let end = (start + span).min(g.n + skip);
            // The first window leaves out its vectors wholly before column 0.
            let first = if w == 0 { skip } else { 0 };
            let from = start + first / l * l;
            let (lo, hi) = (first % l, end - from);
            let nv = hi.div_ceil(l);
            debug_assert!(lo < hi && from + lo >= skip && end <= g.n + skip && nv <= MAX_WINDOW);
            let col = from.wrapping_sub(skip);
            let o = r.operands(col);
            // The masks of the first and the last vector: lanes lo.. and ..hi − (nv − 1)·l.
            let (head, tail) = (lo > 0, !hi.is_multiple_of(l));
            // SAFETY: the ISA is available (per `run`); the lanes are within one vector.
            let (hm, tm) = unsafe {
                if nv == 1 {
                    (U::lane_range(lo, hi), U::lane_range(0, l))
                } else {
                    (U::lane_range(lo, l), U::lane_range(0, hi - (nv - 1) * l))
                }
            };
            // SAFETY: the ISA is available (per `run`). Lane x of this window is column
            // col + x; the lanes read and written are lo ≤ x < hi, i.e. columns
            // from + lo − skip ≥ 0 up to end − skip − 1 ≤ n − 1 (the masks leave out the
            // rest of the first and last vectors, whose lanes are then neither read nor
            // written; the pointers before the buffers' starts, made with `wrapping_sub`, are
            // never dereferenced there). So every B element read (p·ldb + column <
            // `g.b_len()`) and C element written (i·ldc + column < `g.c_len()`) is in bounds.
            // A element (0, p) is op(A)[i][p], i < m, p < k, at `g.a_index(i, p)` <
            // `g.a_len()`. `c` is a distinct `&mut`. One vector takes both masks as `hm`.
            unsafe {
                macro_rules! win {
                    ($($v:literal)*) => {
                        match (nv, head || (nv == 1 && tail), tail && nv > 1) {
                            $(($v, false, false) => row_window::<U::Lanes, $v, false, false>(g.k, o, hm, tm),
                              ($v, true, false) => row_window::<U::Lanes, $v, true, false>(g.k, o, hm, tm),
                              ($v, false, true) => row_window::<U::Lanes, $v, false, true>(g.k, o, hm, tm),
                              ($v, true, true) => row_window::<U::Lanes, $v, true, true>(g.k, o, hm, tm),)*
                            _ => unreachable!("windows hold 1..=MAX_WINDOW vectors"),
                        }
                    };
                }
                win!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
            }
            start += span;
        }
    }

    /// One column window of [`row_windows`]: `C[0, lanes] = α·Σ_p A[0, p]·B[p, lanes] +
    /// β·C[0, lanes]` over `V` vectors, one accumulator each, B's rows `o.b_ps` apart. With
    /// `HEAD` the first vector reads and writes only the lanes of `hm`, with `TAIL` the last
    /// only those of `tm` (`TAIL` needs `V` ≥ 2); the others read and write all their lanes.
    /// (Software prefetching of rows ahead, into L1 or L2, measured slower with AVX-512 on a
    /// Zen 4 for B beyond L2, and decided nothing against the noise in a later try, so there
    /// is none.)
    ///
    /// # Safety
    /// `S`'s ISA is available; for p < k, the valid lanes x of the window (as the masks
    /// say) of B's row p at `o.b + p·o.b_ps + x` and of C at `o.c + x` are in bounds, A
    /// element p at `o.a + p·o.a_ps` is, and C does not alias A or B.
    #[inline(always)]
    unsafe fn row_window<S: Simd, const V: usize, const HEAD: bool, const TAIL: bool>(
        k: usize,
        o: Operands,
        hm: S::M,
        tm: S::M,
    ) {
        let l = S::LANES;
        // SAFETY (all blocks): as the contract says; the masked vectors touch only their
        // masks' lanes.
        let mut acc = [unsafe { S::splat(0.0) }; V];
        let (mut a, mut b) = (o.a, o.b);
        for _ in 0..k {
            unsafe {
                let ar = S::splat(*a);
                for (v, acc) in acc.iter_mut().enumerate() {
                    let p = b.wrapping_add(v * l);
                    let x = if HEAD && v == 0 {
                        S::load_part(p, hm)
                    } else if TAIL && v == V - 1 {
                        S::load_part(p, tm)
                    } else {
                        S::load(p)
                    };
                    *acc = S::fma(ar, x, *acc);
                }
            }
            a = a.wrapping_add(o.a_ps);
            b = b.wrapping_add(o.b_ps);
        }
        unsafe {
            let (alpha, beta) = (S::splat(o.alpha), S::splat(o.beta));
            for (v, acc) in acc.iter().enumerate() {
                let p = o.c.wrapping_add(v * l);
                let x = S::mul(alpha, *acc);
                let mask = if HEAD && v == 0 {
                    Some(hm)
                } else if TAIL && v == V - 1 {
                    Some(tm)
                } else {
                    None
                };
                // β == 0 never reads C.
                match (mask, o.beta == 0.0) {
                    (None, true) => S::store(p, x),
                    (None, false) => S::store(p, S::fma(beta, S::load(p), x)),
                    (Some(m), true) => S::store_part(p, m, x),
                    (Some(m), false) => S::store_part(p, m, S::fma(beta, S::load_part(p, m), x)),
                }
            }
        }
    }

    /// Runs the row stream for `r` when its sweep is one ([`RowSweep::Stream`], or
    /// [`RowSweep::StreamAhead`] with its prefetch) and β = 0, and says whether it did; the
    /// caller sweeps column windows otherwise.
    ///
    /// # Safety
    /// As [`stream_row`], except that β may be nonzero (nothing is done then).
    #[inline(always)]
    pub(in crate::matmul) unsafe fn stream_if<S: Simd>(r: &mut RowBlock<'_>) -> bool {
        let ahead = match r.one.sweep {
            RowSweep::Stream => false,
            RowSweep::StreamAhead => true,
            _ => return false,
        };
        if r.p.beta != 0.0 {
            return false;
        }
        let r = r.reborrow();
        // SAFETY: β = 0 (checked); the rest is this function's contract.
        unsafe {
            if ahead {
                stream_row::<S, true>(r)
            } else {
                stream_row::<S, false>(r)
            }
        }
        true
    }

    /// One row i of C with β = 0 (`r.p.beta` must be 0), B read in place **row by row**: C's row is the
    /// accumulator, and each pass adds `r.one.stream_rows` rows of B (`BlockingParams::rows`),
    /// each read start to end.
    /// A column window ([`row_windows`]) walks B down its columns instead, touching every
    /// row (often a page of its own) for a few cache lines, which the prefetchers do not
    /// follow once B has left L2; measured on an AVX2 Zen 3, this form read B 1.1–1.6×
    /// faster in L2 and 2–2.7× faster from DRAM. Each C element still sums p = 0, 1, …, k−1
    /// in order with one FMA each, then is scaled by α, so the result is bit-identical to
    /// the window form's.
    ///
    /// With `AHEAD` ([`RowSweep::StreamAhead`]), each pass also prefetches the next pass's
    /// rows into L2.
    ///
    /// # Safety
    /// `S`'s ISA is available; `!g.trans_b`, i < m, and `g.check(a, b, c)` has passed.
    #[inline(always)]
    pub(in crate::matmul) unsafe fn stream_row<S: Simd, const AHEAD: bool>(r: RowBlock<'_>) {
        let (g, i, alpha) = (r.p.g, r.i, r.p.alpha);
        debug_assert!(!g.trans_b && i < g.m && r.p.beta == 0.0);
        let per = r.one.stream_rows.clamp(1, MAX_STREAM_ROWS);
        let ab = (r.p.a, r.p.b, i * r.a_rs, r.a_ps);
        let row = &mut r.p.c[i * g.ldc..i * g.ldc + g.n];
        let b_addr = r.p.b.as_ptr() as usize;
        // C's row near B's rows (mod 4 KiB) stalls the passes' loads behind its stores
        // (`alias`): with more than one pass, accumulate clear of them and copy once.
        let residue = (g.k > per)
            .then(|| {
                alias::accumulator_residue(row.as_ptr() as usize, b_addr, g.ldb.wrapping_mul(4))
            })
            .flatten();
        if let Some(residue) = residue {
            let mut acc = alias::Accumulator::new();
            let (a, b, a0, a_ps) = ab;
            let mut j = 0;
            while j < g.n {
                // Columns j.. of C, B's columns from j (j < n ≤ ldb ≤ b.len()).
                let cols = (g.n - j).min(alias::ACC_COLS);
                let b_j = &b[j..];
                let acc = acc.row(cols, b_j.as_ptr() as usize, residue);
                let g_j = Gemm { n: cols, ..g };
                // SAFETY: this function's contract for the product of A with B's columns
                // j..j + cols (in bounds: (k−1)·ldb + j + cols ≤ b.len()); `acc` is a
                // distinct, zeroed `cols`-element row.
                unsafe { stream_passes::<S, AHEAD>(&g_j, (a, b_j, a0, a_ps), per, acc) };
                for (c, &x) in row[j..j + cols].iter_mut().zip(acc.iter()) {
                    *c = alpha * x;
                }
                j += cols;
            }
            return;
        }
        row.fill(0.0);
        // SAFETY: this function's contract; `row` is C's row i.
        unsafe { stream_passes::<S, AHEAD>(&g, ab, per, row) };
        if alpha != 1.0 {
            for x in row.iter_mut() {
                *x *= alpha;
            }
        }
    }

    /// The passes of [`stream_row`] into `row` (C's row i, or an n-element accumulator in
    /// its place), zeroed by the caller: `row = Σ_p A(i, p) · B(p, ·)`, unscaled, `per`
    /// (1..=[`MAX_STREAM_ROWS`]) rows of B a pass. `ab` is (A, B, the offset of A's row i,
    /// A's step along p).
    ///
    /// # Safety
    /// As [`stream_row`], with `row` n elements long.
    #[inline(always)]
    unsafe fn stream_passes<S: Simd, const AHEAD: bool>(
        g: &Gemm,
        (a, b, a0, a_ps): (&[f32], &[f32], usize, usize),
        per: usize,
        row: &mut [f32],
    ) {
        let mut p = 0;
        while p < g.k {
            let rows = (g.k - p).min(per);
            macro_rules! pass {
                ($($r:literal)*) => {
                    match rows {
                        $($r => stream_pass::<S, $r, AHEAD>(g, a0, a_ps, p, a, b, row),)*
                        _ => unreachable!("a pass adds 1..=MAX_STREAM_ROWS rows"),
                    }
                };
            }
            // SAFETY: p + rows ≤ k; the rest is this function's contract.
            unsafe { pass!(1 2 3 4 5 6 7 8) }
            p += rows;
        }
    }

    /// `row += Σ_{r<R} A(i, p+r) · B(p+r, ·)`, one FMA per row and element, in row order;
    /// A element (i, q) is at `a0 + q·a_ps`.
    ///
    /// # Safety
    /// As [`stream_row`], with p + R ≤ k and `row` C's row i (n elements).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn stream_pass<S: Simd, const R: usize, const AHEAD: bool>(
        g: &Gemm,
        a0: usize,
        a_ps: usize,
        p: usize,
        a: &[f32],
        b: &[f32],
        row: &mut [f32],
    ) {
        let l = S::LANES;
        let n = row.len();
        let (b0, ldb) = (b.as_ptr().wrapping_add(p * g.ldb), g.ldb);
        // The columns before B's row p reaches a vector boundary go first, as one masked
        // vector, so that the loads of the loops below do not straddle two cache lines (all
        // rows' when ldb keeps the alignment, as it does for n a multiple of the lanes). A
        // weight matrix from the allocator is often 16 bytes past a 64-byte boundary: a
        // 1×1024×1024 product streamed B 1.15× faster aligned (Zen 4, AVX-512).
        let head = ((l - (b0 as usize / 4) % l) % l).min(n);
        let full = n - (n - head) % l;
        // SAFETY: the ISA is available (contract); head, (n - head) % l < l.
        let (head_mask, tail, av) = unsafe {
            (
                S::mask(head % l),
                S::mask((n - head) % l),
                std::array::from_fn::<_, R, _>(|r| S::splat(a[a0 + (p + r) * a_ps])),
            )
        };
        // With `AHEAD`: the next pass's rows (none past B's last row), one pass ahead.
        let ahead = if AHEAD {
            (g.k - p).saturating_sub(R).min(R)
        } else {
            0
        };
        let c = row.as_mut_ptr();
        let mut j = head;
        // SAFETY (all loops): B element (p+r, j+t) for t < l is at (p+r)·ldb + j + t <
        // `g.b_len()` ≤ b.len() since p+r < k and j + t < n (head and tail masked to n);
        // C's row has n elements and is a distinct `&mut`.
        unsafe {
            if head > 0 {
                let mut x = S::load_part(c, head_mask);
                for (r, &ar) in av.iter().enumerate() {
                    x = S::fma(ar, S::load_part(b0.add(r * ldb), head_mask), x);
                }
                S::store_part(c, head_mask, x);
            }
            while j + 4 * l <= full {
                for u in 0..4 {
                    let q = j + u * l;
                    if AHEAD && (u * l) % LINE_FLOATS == 0 {
                        // Once per 64 bytes of each row: B element (p+R+r, q) with
                        // p+R+r < k, in bounds like the loads below (a hint in any case).
                        for r in 0..ahead {
                            S::prefetch_l2(b0.wrapping_add((R + r) * ldb + q));
                        }
                    }
                    let mut x = S::load(c.add(q));
                    for (r, &ar) in av.iter().enumerate() {
                        x = S::fma(ar, S::load(b0.add(r * ldb + q)), x);
                    }
                    S::store(c.add(q), x);
                }
                j += 4 * l;
            }
            while j < full {
                let mut x = S::load(c.add(j));
                for (r, &ar) in av.iter().enumerate() {
                    x = S::fma(ar, S::load(b0.add(r * ldb + j)), x);
                }
                S::store(c.add(j), x);
                j += l;
            }
            if full < n {
                let mut x = S::load_part(c.add(full), tail);
                for (r, &ar) in av.iter().enumerate() {
                    x = S::fma(ar, S::load_part(b0.add(r * ldb + full), tail), x);
                }
                S::store_part(c.add(full), tail, x);
            }
        }
    }

    /// m == 1 with B transposed (stored n×k): each C element is a dot product of the A row
    /// with a B row; 8 B rows at a time, `S::LANES` lanes per step, masked tail over k.
    ///
    /// # Safety
    /// As [`run`], with m == 1, `g.trans_b`, and A's k elements contiguous; `S`'s ISA
    /// available.
    #[inline(always)]
    pub(in crate::matmul) unsafe fn dots<S: Simd>(p: Product<'_>) {
        const J: usize = 8;
        let (g, alpha, b, beta, c) = (p.g, p.alpha, p.b, p.beta, p.c);
        let k = g.k;
        let a = &p.a[..k];
        let kv = k - k % S::LANES;
        // SAFETY: `S`'s ISA is available (per the contract); k % LANES < LANES.
        let tail = unsafe { S::mask(k % S::LANES) };
        let mut j = 0;
        while j < g.n {
            let cols = (g.n - j).min(J);
            // SAFETY: as above.
            let mut acc = [unsafe { S::splat(0.0) }; J];
            // Row pointers; rows past n repeat the last valid row (computed, never stored).
            let rows: [*const f32; J] =
                std::array::from_fn(|t| b.as_ptr().wrapping_add((j + t.min(cols - 1)) * g.ldb));
            let mut p = 0;
            while p < kv {
                // SAFETY: p + LANES ≤ k: in bounds of `a` (len k) and of each B row (row j+t
                // spans (j+t)·ldb .. (j+t)·ldb + k ≤ `g.b_len()`).
                unsafe {
                    let av = S::load(a.as_ptr().add(p));
                    for t in 0..J {
                        acc[t] = S::fma(av, S::load(rows[t].add(p)), acc[t]);
                    }
                }
                p += S::LANES;
            }
            if kv < k {
                // SAFETY: lanes l < k % LANES read elements p + l < k, in bounds as above.
                unsafe {
                    let av = S::load_part(a.as_ptr().add(p), tail);
                    for t in 0..J {
                        let bt = S::load_part(rows[t].add(p), tail);
                        acc[t] = S::fma(av, bt, acc[t]);
                    }
                }
            }
            for t in 0..cols {
                // SAFETY: as above.
                let s = unsafe { S::hsum(acc[t]) };
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

    /// The five blocked loops over packed blocks (`jc` → `pc` → `ic` → `jr` → `ir`, see
    /// [`crate::matmul::blocking`]) with the block sizes of `blk`: B and A packed into
    /// `scratch`, full tiles through [`MicroKernel::full`], the last row and column panels
    /// through [`MicroKernel::edge`]. Later KC blocks accumulate with β = 1.
    ///
    /// # Safety
    /// As [`run`], and `blk`'s micro-tile is `MR`×`NR`.
    #[inline(always)]
    unsafe fn packed<K: MicroKernel<MR, NR>, const MR: usize, const NR: usize>(
        blk: &Blocking,
        prod: Product<'_>,
        scratch: &mut [f32],
    ) {
        let (g, a, b, c) = (&prod.g, prod.a, prod.b, prod.c);
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
                let beta = if pc == 0 { prod.beta } else { 1.0 };
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
                                alpha: prod.alpha,
                                beta,
                            };
                            // SAFETY: the ISA is available (per `run`). The A panel at ir·kc
                            // holds kc·MR packed elements (rows ≥ `rows` are not read); the
                            // B panel at jr·kc holds kc·NR (zero-padded) elements; both lie in
                            // `pa`/`pb` (sized by `pack_sizes` for this blocking, whose
                            // micro-tile is MR×NR). C element (r, l) for r < rows and
                            // l < cols is (ic+ir+r, jc+jr+l) of the m×n C, in bounds by
                            // `g.check`; scratch and C are distinct buffers.
                            unsafe {
                                if rows == MR && cols == NR {
                                    K::full(kc, o)
                                } else {
                                    K::edge(rows, cols, kc, o)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
