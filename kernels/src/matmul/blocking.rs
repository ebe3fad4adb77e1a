//! What the BLIS-style SIMD kernels ([`super::avx2`], [`super::avx512`]) share besides
//! packing and the driver (`driver.rs`): their cache blocking ([`BlockingParams`], chosen at run time by [`model`] from
//! the machine's caches, or given explicitly by a tuner), the plan chosen for a shape and the
//! scratch it needs. The plan and the scratch depend on the shape and the blocking only, so
//! the scratch a caller allocates with a kernel's `scratch_len` (or `scratch_len_with` for
//! explicit parameters) always matches what the kernel then uses.
//!
//! # The blocking model
//!
//! [`model`] derives the block sizes from the cache hierarchy ([`crate::cpu::caches`]) in the
//! manner of Low, Igual, Smith and Quintana-Ortí, "Analytical Modeling Is Enough for
//! High-Performance BLIS" (ACM TOMS 43(2), 2016). The loops are BLIS's: `jc` (`nc` columns:
//! pack a `kc`×`nc` block of B) → `pc` (`kc`) → `ic` (`mc` rows: pack an `mc`×`kc` block of
//! A) → `jr` (one `kc`×`nr` sliver of packed B) → `ir` (one `mr`×`kc` sliver of packed A) →
//! micro-kernel. Sizes are counted in cache *ways*: `x` contiguous bytes occupy
//! ⌈x / V⌉ ways of every set of a cache whose way holds V = size / ways bytes, so blocks
//! budgeted in ways cannot evict one another through conflicts. With S = 4 bytes per f32,
//! W the ways a core may use (a shared cache's ways divided by its `shared_by`):
//!
//! * **kc (L1).** B's sliver (`kc`×`nr`) is reused by every A sliver of the block (loop
//!   `ir`) and A's sliver (`mr`×`kc`) streams past it, so both should sit in L1: kc is the
//!   largest value with ⌈mr·kc·S / V₁⌉ + ⌈nr·kc·S / V₁⌉ ≤ W₁ − 2, i.e. kc = max over
//!   a = 1 … W₁ − 3 of min(a·V₁ / (mr·S), (W₁ − 2 − a)·V₁ / (nr·S)). Two ways are left: one
//!   for the C micro-tile's lines, one for the next A sliver streaming in (Low et al. leave
//!   one; the C tile is now prefetched at the start of each micro-kernel, so it is in L1
//!   while the slivers are).
//! * **Wide micro-tiles.** When that kc is below 256 (with 6×64 on a 32 KiB 8-way L1 it is
//!   80), the C tile's load and store, once per kc steps, would no longer be small next to
//!   the kc steps of FMAs (the AVX-512 kernel's hand tuning on Zen 4 found kc = 192 5 %
//!   slower than 512 at 2048³). B's sliver then lives in L2 and is re-read from it for
//!   each A sliver (the L2 bandwidth allows it: (mr + nr)·S bytes per mr·nr FMAs), taking
//!   one L2 way: kc = V₂ / (nr·S). On Zen 4 this gives the hand-tuned kc = 512.
//! * **mc (L2).** A's block is reused by every B sliver (loop `jr`) and belongs in L2,
//!   beside B's sliver (⌈kc·nr·S / V₂⌉ ways, b) and one way for C and the B block streaming
//!   in from L3: Low et al. give A's block all of the W₂ − 1 − b ways left. Here it gets half
//!   of them, a = ⌊(W₂ − 1 − b) / 2⌋ ≥ 1, and mc = ⌊a·V₂ / (kc·S)⌋ rounded down to a
//!   multiple of mr. Refined by measurement: on Zen 4 (AVX2, kc = 256) the full share
//!   (mc = 768, A's block ¾ of the L2) measured 0.96 and 0.99 of the hand-tuned mc = 144 at
//!   512³ and 1024³, while mc = 288 … 384 measured 1.02–1.04 (medians of 11 interleaved
//!   rounds, noise ≈ ±3 %); the L2 also holds the lines prefetched for C and those of the
//!   next B sliver and block on their way in.
//! * **nc (L3).** B's block is reused by every A block (loop `ic`) and belongs in the core's
//!   share of the L3, less one way for the rest: nc = ⌊(L3 per core)·(W₃ − 1)/W₃ / (kc·S)⌋.
//!   Without an L3, B's block gets the L2 ways A's block left, ⌊(W₂ − 1 − b) − a⌋ ≥ 1.
//! * **Bounds.** kc is rounded down to a multiple of 16 and kept in 128 ..= 1024; mc is kept
//!   in mr ..= [`MAX_MC`]; nc is capped at 4096 (A is packed ⌈n/nc⌉ times: beyond that the
//!   saving is below measurement noise while the scratch grows) and kept ≥ 4·nr; all are
//!   multiples of the micro-tile, so the result always passes [`BlockingParams::check`].
//!
//! The unit tests below give the model's output for Zen 3, Zen 4, Skylake-X and an Arm core
//! with a shared 4 MiB L2, computed by hand. The SIMD kernels compute their default blocking
//! once (a `OnceLock` each), so `scratch_len` and `matmul` always use the same one.

use super::Gemm;
use crate::cpu::{self, Caches};
use crate::{KernelError, Result};

/// How a problem is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// m, n or k is 0: only `C = β·C` (or nothing).
    Trivial,
    /// m == 1 with B transposed and A contiguous: dot products.
    Dots,
    /// B not transposed and a small problem: the micro-kernel reads A and B in place.
    Direct,
    /// Pack A and B and run the blocked loops.
    Packed,
}

/// How the unpacked one-row path (a decoded token: m = 1, B not transposed, β = 0) reads B.
/// Which is faster depends on the machine and on where B lives, so it is a kernel parameter
/// the tuner chooses, not a constant: on an AVX2 Zen 3 the stream read B 1.1–1.6× faster in
/// L2 and 2–2.7× from DRAM, while on a Zen 4 with AVX-512 the windows made the medium
/// model's decode steps 1.1–1.2× faster (its weights in L3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowSweep {
    /// B row by row into C's row, a few rows per pass (`driver::stream_row`): contiguous
    /// streams, but C's row is read and written once per pass.
    Stream,
    /// Column windows of a few vectors swept down all of B, one accumulator per vector
    /// (`driver::direct_rows`, or the ISA's own sweep): C written once, B walked down its
    /// columns, one short run of every row per window.
    Windows,
    /// By where B fits: [`RowSweep::Windows`] while B fits in the core's share of the L2
    /// ([`window_b_max`]), [`RowSweep::Stream`] while it fits in the core's share of the last
    /// level cache, [`RowSweep::StreamAhead`] beyond it, where B comes from DRAM
    /// ([`stream_b_max`] gives the measurements).
    ByLevel,
    /// [`RowSweep::Stream`], each pass also asking for the next pass's rows to be brought
    /// into L2 (software prefetch, one pass ahead). It pays where B comes from L3 or DRAM at
    /// each call, as a model's weights do between decode steps, and costs where B is warm in
    /// L2. Measured on a Zen 4, AVX-512, one thread, interleaved medians of 21: B rotated over
    /// 16 MiB (cold) 1×128×384 4.9 against 6.4 µs, 1×1024×256 21.9 against 26.4 µs,
    /// 1×4096×4096 2.86 against 3.32 ms; B warm 1×256×1024 19.7 against 15.3 µs. So it is a
    /// tuned choice (a `--preset` run times MatMul with the weights cold), and the default
    /// only for a B larger than the last level cache ([`RowSweep::ByLevel`]).
    StreamAhead,
}

impl RowSweep {
    /// Every sweep, in a fixed order.
    pub const ALL: [RowSweep; 4] = [
        RowSweep::Stream,
        RowSweep::Windows,
        RowSweep::ByLevel,
        RowSweep::StreamAhead,
    ];

    /// The ways of reading B a tuner compares ([`RowSweep::ByLevel`] only picks one of them
    /// by B's size).
    pub const CONCRETE: [RowSweep; 3] =
        [RowSweep::Stream, RowSweep::Windows, RowSweep::StreamAhead];

    /// The name in tables and reports: `stream`, `windows`, `by_level` or `stream_ahead`.
    pub fn name(self) -> &'static str {
        match self {
            RowSweep::Stream => "stream",
            RowSweep::Windows => "windows",
            RowSweep::ByLevel => "by_level",
            RowSweep::StreamAhead => "stream_ahead",
        }
    }

    /// Parses [`RowSweep::name`].
    pub fn from_name(name: &str) -> Option<RowSweep> {
        RowSweep::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// The parameters of a BLIS-style SGEMM: the micro-tile (`mr`×`nr`, registers), the packed
/// blocks (`kc` deep; `mc` rows of A, `nc` columns of B), the one-row sweep (`row`) and the
/// rows of B per pass of its row stream (`rows`), and whether a few rows are packed (`few`).
/// A kernel accepts a value only when
/// [`BlockingParams::check`] passes for its micro-tiles: `mr`×`nr` one of them, `kc` in
/// 1..=[`MAX_KC`], `mc` a nonzero multiple of `mr` up to [`MAX_MC`], `nc` a nonzero multiple
/// of `nr` up to [`MAX_NC`], `rows` in 1..=[`MAX_STREAM_ROWS`] (every sweep is valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockingParams {
    /// Rows of the micro-tile.
    pub mr: usize,
    /// Columns of the micro-tile.
    pub nr: usize,
    /// Depth of the packed blocks (the k extent of one pass of the micro-kernel).
    pub kc: usize,
    /// Rows of the packed A block.
    pub mc: usize,
    /// Columns of the packed B block.
    pub nc: usize,
    /// How a one-row product reads B.
    pub row: RowSweep,
    /// Rows of B each pass of the row stream adds into C's row ([`RowSweep::Stream`] and
    /// [`RowSweep::StreamAhead`]; the windows ignore it): more rows mean fewer passes over
    /// C's row but more streams of B in flight at once.
    pub rows: usize,
    /// Whether a few rows are computed unpacked or packed.
    pub few: FewRows,
    /// Most vectors (one accumulator each) per column window of the one-row path
    /// ([`RowSweep::Windows`]; the stream ignores it): each window reads that many vectors
    /// of every row of B. Windows start at cache-line boundaries, so a kernel whose vector
    /// is narrower than a line (AVX2: two per line) rounds this down to whole lines (at
    /// least one); a window wider than the kernel's registers hold (AVX2: 15) spills and is
    /// slow but correct.
    pub window: usize,
}

/// Largest accepted `kc`.
pub const MAX_KC: usize = 4096;
/// Largest accepted `mc`.
pub const MAX_MC: usize = 4096;
/// Largest accepted `nc`.
pub const MAX_NC: usize = 8192;
/// Largest accepted `rows`.
pub const MAX_STREAM_ROWS: usize = 8;
/// The default `rows`: eight contiguous streams keep the FMA chain of each C vector eight
/// deep and stay within what the hardware prefetchers follow at once. Fewer rows per pass
/// were faster on some shapes and slower on others (Zen 4, one thread, B warm, 4 against 8
/// rows: AVX-512 1×1024×1024 48.4 against 51.8 µs, 1×2048×2048 306 against 272 µs), so the
/// tuner tries them per range.
pub const STREAM_ROWS: usize = 8;
/// Largest accepted `window`.
pub const MAX_WINDOW: usize = 16;
/// The default `window`, for both x86 kernels: 12 vectors. On a Zen 4, one thread, B warm
/// in L2, medians of 9 interleaved rounds: AVX2 (six cache lines a row; the edge masks and
/// a broadcast take three of the other four registers) 12 against 8 and 4 vectors,
/// 1×256×512 50.5, 48.2 and 33.4 GFLOP/s, 1×1024×256 44.4, 43.7 and 40.2; AVX-512 (twelve
/// lines) within 1 % of 16 and 8 vectors on the decode shapes, and 1.1× 8 at 1×512×128.
pub const WINDOW: usize = 12;

/// How a few rows (m from 2 up to the kernel's unpacked limit, B not transposed) are
/// computed: unpacked (A and B read in place, row blocks sweeping B's columns:
/// `driver::direct_rows`), unpacked in slabs of B's rows with the next slab prefetched, or
/// packed (A and B copied into the micro-kernel's panels first). Packing reads B once, row
/// by row, but costs a copy of all of B per call, which a few rows of work cannot amortise;
/// the unpacked sweep walks B down its columns, which the prefetchers follow only while B
/// sits in L2; the slabs walk [`SLAB_ROWS`] rows of B at a time while asking for the next
/// slab, row by row, to be brought into L2. Which wins depends on the machine and on where B
/// lives, so it is a kernel parameter the tuner chooses per range. Measured on a Zen 4, one
/// thread, AVX-512, 10×256×768, medians of 5–7 interleaved rounds per run, three runs: B
/// warm, unpacked 98–104 GFLOP/s, slabs 80–96, packed 68–70; B cold (each call reading the
/// next of copies spanning 16 MiB), slabs 38–64, packed 31–35, unpacked 28–31
/// (`matmul_speed --blocking [--cold 16] --params avx512:few=…`; the cold runs swing with
/// the shared host's memory traffic). With AVX2 cold, slabs and packed were level (32
/// against 37, 29 against 27 GFLOP/s at 10×256×768 and 10×1024×256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FewRows {
    /// Unpacked while B has at most [`direct_b_max`] elements (half the core's share of the
    /// L2), else in slabs: beyond the L2, B comes from the next level at each call.
    ByLevel,
    /// Always unpacked, all of k at once.
    Unpacked,
    /// Always unpacked in slabs of [`SLAB_ROWS`] rows of B, each prefetching the next.
    Slabs,
    /// Always packed.
    Packed,
}

/// Rows of B per slab of [`FewRows::Slabs`]: the slab being read and the one being
/// prefetched stay within L2 for the widths the models use (32 rows of 768 columns: 96 KiB
/// each), and the slab's work covers the next slab's fetch. Measured on a Zen 4, B cold
/// (copies over 16 MiB), AVX-512 10×1024×256, one run: 16 rows 47, 32 rows 59, 64 rows
/// 41 GFLOP/s (10×256×768: 54, 64, 40).
pub const SLAB_ROWS: usize = 32;

impl FewRows {
    /// Every choice, in a fixed order.
    pub const ALL: [FewRows; 4] = [
        FewRows::ByLevel,
        FewRows::Unpacked,
        FewRows::Slabs,
        FewRows::Packed,
    ];

    /// The ways a tuner compares ([`FewRows::ByLevel`] only picks one of them by B's size).
    pub const CONCRETE: [FewRows; 3] = [FewRows::Unpacked, FewRows::Slabs, FewRows::Packed];

    /// The name in tables and reports: `by_level`, `unpacked`, `slabs` or `packed`.
    pub fn name(self) -> &'static str {
        match self {
            FewRows::ByLevel => "by_level",
            FewRows::Unpacked => "unpacked",
            FewRows::Slabs => "slabs",
            FewRows::Packed => "packed",
        }
    }

    /// Parses [`FewRows::name`].
    pub fn from_name(name: &str) -> Option<FewRows> {
        FewRows::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl BlockingParams {
    /// The parameters with these fields, in their order, the default [`STREAM_ROWS`],
    /// [`FewRows::ByLevel`] and [`WINDOW`] (for the model and its tests).
    fn new(mr: usize, nr: usize, kc: usize, mc: usize, nc: usize, row: RowSweep) -> Self {
        BlockingParams {
            mr,
            nr,
            kc,
            mc,
            nc,
            row,
            rows: STREAM_ROWS,
            few: FewRows::ByLevel,
            window: WINDOW,
        }
    }

    /// `Ok` when these parameters are valid for a kernel whose micro-tiles are `tiles`
    /// (`(mr, nr)` pairs), else a [`KernelError::Blocking`] saying which rule failed.
    pub fn check(&self, tiles: &[(usize, usize)]) -> Result<()> {
        let fail = |reason: String| {
            Err(KernelError::Blocking {
                op: "matmul",
                reason,
            })
        };
        let p = self;
        if !tiles.contains(&(p.mr, p.nr)) {
            return fail(format!(
                "micro-tile {}×{} is not one of this kernel's ({})",
                p.mr,
                p.nr,
                tiles
                    .iter()
                    .map(|(m, n)| format!("{m}×{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !(1..=MAX_KC).contains(&p.kc) {
            return fail(format!("kc = {} is outside 1..={MAX_KC}", p.kc));
        }
        if p.mc == 0 || !p.mc.is_multiple_of(p.mr) || p.mc > MAX_MC {
            return fail(format!(
                "mc = {} is not a nonzero multiple of mr = {} up to {MAX_MC}",
                p.mc, p.mr
            ));
        }
        if p.nc == 0 || !p.nc.is_multiple_of(p.nr) || p.nc > MAX_NC {
            return fail(format!(
                "nc = {} is not a nonzero multiple of nr = {} up to {MAX_NC}",
                p.nc, p.nr
            ));
        }
        if !(1..=MAX_STREAM_ROWS).contains(&p.rows) {
            return fail(format!(
                "rows = {} (per pass of the row stream) is outside 1..={MAX_STREAM_ROWS}",
                p.rows
            ));
        }
        if !(1..=MAX_WINDOW).contains(&p.window) {
            return fail(format!(
                "window = {} (vectors per column window) is outside 1..={MAX_WINDOW}",
                p.window
            ));
        }
        Ok(())
    }

    /// How a few rows of shape `g` are computed with these parameters on this machine:
    /// `few`, with [`FewRows::ByLevel`] resolved by B's size as the kernels resolve it (for a
    /// tuner, which searches only what a call would run; whether the kernel computes `g` as
    /// a few rows at all depends on its limits, which its scratch request shows).
    pub fn few_for(&self, g: &Gemm) -> FewRows {
        Blocking::trusted(*self, 0, usize::MAX).few_for(g)
    }

    /// The most scratch (in f32) a kernel asks for with these parameters, whatever the shape:
    /// `16 + ⌈mc·kc⌉₁₆ + kc·nc` (16 floats of alignment slack, the packed A block rounded to
    /// whole cache lines, the packed B block); saturating, so any value gives an answer.
    pub fn max_scratch_len(&self) -> usize {
        let a = self.mc.saturating_mul(self.kc).saturating_add(15) / 16 * 16;
        16usize
            .saturating_add(a)
            .saturating_add(self.kc.saturating_mul(self.nc))
    }
}

/// [`BlockingParams::check`] as a `const fn` (true when it would pass), for compile-time
/// assertions about a kernel's constant parameters.
pub(super) const fn valid_const(p: &BlockingParams, tiles: &[(usize, usize)]) -> bool {
    let mut i = 0;
    let mut tile = false;
    while i < tiles.len() {
        tile |= tiles[i].0 == p.mr && tiles[i].1 == p.nr;
        i += 1;
    }
    tile && p.mr > 0
        && p.nr > 0
        && p.kc >= 1
        && p.kc <= MAX_KC
        && p.mc > 0
        && p.mc.is_multiple_of(p.mr)
        && p.mc <= MAX_MC
        && p.nc > 0
        && p.nc.is_multiple_of(p.nr)
        && p.nc <= MAX_NC
        && p.rows >= 1
        && p.rows <= MAX_STREAM_ROWS
        && p.window >= 1
        && p.window <= MAX_WINDOW
}

/// A kernel's run-time blocking: parameters that passed [`BlockingParams::check`] for it
/// (only [`Blocking::new`] builds one) and its unpacked-path thresholds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Blocking {
    p: BlockingParams,
    /// Problems no larger than this in every dimension skip packing when B is not transposed.
    tiny: usize,
    /// With B not transposed, up to this many rows skip packing.
    direct_m: usize,
    /// ... of which up to this many skip it by default ([`FewRows::ByLevel`]).
    few_m: usize,
    /// ... and, for more than one row, only while B has at most this many elements
    /// ([`direct_b_max`]).
    direct_b: usize,
    /// Bytes of B up to which [`RowSweep::ByLevel`] sweeps windows: the core's share of its
    /// L2 ([`window_b_max`]).
    window_b: usize,
    /// Bytes of B up to which [`RowSweep::ByLevel`] streams without prefetching: the core's
    /// share of the last level cache ([`stream_b_max`]).
    stream_b: usize,
}

/// The most bytes of B that [`RowSweep::ByLevel`] reads with column windows: the core's
/// share of its L2. A window walks every row of B (a page of its own at these widths) for a
/// few lines; that is fastest while B fits the L2, and the row stream is fastest once B is
/// larger, whether B then sits in L3 or DRAM. Measured on a Zen 4 (1 MiB L2, 32 MiB L3),
/// AVX-512, one thread, B warm and 64-byte aligned, windows against stream: 1×256×1024
/// (1 MiB) 11.3 against 11.9 µs, 1×1024×1024 (4 MiB) 59.9 against 52.7 µs, 1×2048×2048
/// (16 MiB) 649 against 326 µs, 1×4096×4096 (64 MiB, DRAM) 6.6 against 3.2 ms.
/// A kernel may take a smaller share ([`Blocking::with_window_share`]): inside a model, B
/// comes from L3 at each call, and AVX2's narrower windows (six lines of each row, against
/// AVX-512's twelve) lost to the stream there for the medium preset's 0.75–1 MiB matrices
/// while they won for the small preset's (up to 256 KiB).
pub(super) fn window_b_max(c: &Caches) -> usize {
    c.l2.per_core()
}

/// The most bytes of B that [`RowSweep::ByLevel`] streams without software prefetch: the
/// core's share of the last level cache (the L3, else the L2). Beyond it B comes from DRAM,
/// where the hardware prefetchers, which stop at each page, keep too few lines in flight
/// for one core. Measured on a Zen 4, one thread, medians of 11–15 interleaved rounds, with
/// AVX-512, asking for the next pass's rows ([`RowSweep::StreamAhead`]) read 1×4096×4096
/// (64 MiB) in 1.85 against 2.46 ms and in 2.59 against 2.82 ms (two runs), 1×1024×1024
/// rotated over 160 MiB in 152 against 190 µs; from L3 the plain stream stayed as fast or
/// faster: 1×1024×1024 (4 MiB) 53 against 67 µs, 1×2048×2048 (16 MiB) 276 against 290 µs.
/// (The AVX2 kernel, whose default was then the plain stream, gained nothing from the
/// prefetch in the same runs: 2.78 against 2.54 ms and 2.31 against 2.42 ms at
/// 1×4096×4096; by level it was level with the plain stream there later, 12.0 against 11.7
/// GFLOP/s.)
pub(super) fn stream_b_max(c: &Caches) -> usize {
    c.l3.as_ref().unwrap_or(&c.l2).per_core()
}

/// The most elements of B the unpacked path reads for m ≥ 2: half the core's share of the
/// L2. Its row blocks sweep B in column windows of one or two cache lines per row of B, a
/// page-strided walk the prefetchers do not follow once B has left L2; packing reads B
/// once, row by row. Measured on an AVX2 Zen 3 (512 KiB L2) for a 10-row prefill, weights
/// cold: 10×256×768 in 651 µs unpacked against 187 µs packed, 10×1024×256 in 481 against
/// 252; with B warm in L2, packed was as fast or faster (105 against 125 µs). One row keeps
/// the unpacked path at any size: it streams B row by row (`driver::stream_row`).
pub(super) fn direct_b_max(c: &Caches) -> usize {
    c.l2.size / c.l2.shared_by.max(1) / 2 / S
}
/// The shape actually computed: a matrix-vector product becomes a vector-matrix one
/// (see [`super::as_row_problem`]); every other shape is itself.
pub(super) fn canonical(g: &Gemm) -> Gemm {
    super::as_row_problem(g).unwrap_or(*g)
}

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

impl Blocking {
    /// A kernel's blocking: `p` checked against the kernel's micro-tiles `tiles`.
    pub(super) fn new(
        p: BlockingParams,
        tiles: &[(usize, usize)],
        tiny: usize,
        direct_m: usize,
    ) -> Result<Blocking> {
        p.check(tiles)?;
        Ok(Blocking::trusted(p, tiny, direct_m))
    }

    /// A blocking from parameters known to be valid at compile time (asserted with
    /// [`valid_const`] by `driver::Sgemm::new`): the guard value of a kernel's default.
    pub(super) fn trusted(p: BlockingParams, tiny: usize, direct_m: usize) -> Blocking {
        Blocking {
            p,
            tiny,
            direct_m,
            few_m: direct_m,
            direct_b: direct_b_max(cpu::caches()),
            window_b: window_b_max(cpu::caches()),
            stream_b: stream_b_max(cpu::caches()),
        }
    }

    /// The sweep a one-row product of `g` reads B with: the parameters' own, with
    /// [`RowSweep::ByLevel`] resolved by where B fits.
    pub(super) fn sweep_for(&self, g: &Gemm) -> RowSweep {
        let bytes = g.k.saturating_mul(g.n).saturating_mul(S);
        match self.p.row {
            RowSweep::ByLevel if bytes <= self.window_b => RowSweep::Windows,
            RowSweep::ByLevel if bytes <= self.stream_b => RowSweep::Stream,
            RowSweep::ByLevel => RowSweep::StreamAhead,
            r => r,
        }
    }

    /// The (checked) parameters.
    pub(super) fn params(&self) -> &BlockingParams {
        &self.p
    }

    /// This blocking with [`RowSweep::ByLevel`] sweeping windows only while B fits in
    /// `1/share` of the core's share of the L2 (`share` ≥ 1; see [`window_b_max`]).
    pub(super) fn with_window_share(self, share: usize) -> Blocking {
        Blocking {
            window_b: self.window_b / share.max(1),
            ..self
        }
    }

    /// This blocking with up to `few_m` rows (at most `direct_m`) computed in place by
    /// default.
    pub(super) fn with_few_m(self, few_m: usize) -> Blocking {
        Blocking {
            few_m: few_m.min(self.direct_m),
            ..self
        }
    }

    /// How a few rows of `g` are computed: `few`, with [`FewRows::ByLevel`] resolved by the
    /// rows (packed beyond `few_m`) and B's size.
    pub(super) fn few_for(&self, g: &Gemm) -> FewRows {
        match self.p.few {
            FewRows::ByLevel if g.m > self.few_m => FewRows::Packed,
            FewRows::ByLevel if g.k.saturating_mul(g.n) <= self.direct_b => FewRows::Unpacked,
            FewRows::ByLevel => FewRows::Slabs,
            f => f,
        }
    }

    /// The plan for a canonical shape.
    pub(super) fn plan(&self, g: &Gemm) -> Plan {
        let tiny = g.m <= self.tiny && g.n <= self.tiny && g.k <= self.tiny;
        if g.m == 0 || g.n == 0 || g.k == 0 {
            Plan::Trivial
        } else if !g.trans_b
            && (tiny || (g.m <= self.direct_m && (g.m == 1 || self.few_for(g) != FewRows::Packed)))
        {
            Plan::Direct
        } else if g.m == 1 && g.trans_b && (!g.trans_a || g.lda == 1) {
            Plan::Dots
        } else {
            Plan::Packed
        }
    }

    /// Sizes (in f32) of the packed A block and packed B block for a canonical shape; the A
    /// block is rounded to whole cache lines so the B block starts 64-byte aligned too.
    /// Dimensions are clamped to the block sizes before rounding up to whole micro-tiles
    /// (the same result, as `mc` and `nc` are multiples of `mr` and `nr`), so no shape makes
    /// the rounding overflow; the sizes are at most `mc·kc` (rounded to 16) and `kc·nc`,
    /// which the bounds of [`BlockingParams::check`] keep far from overflowing
    /// ([`MAX_MC`]·[`MAX_KC`] + [`MAX_KC`]·[`MAX_NC`] < 2³²).
    pub(super) fn pack_sizes(&self, g: &Gemm) -> (usize, usize) {
        let p = &self.p;
        let kc = g.k.min(p.kc);
        let mc = round_up(g.m.min(p.mc), p.mr);
        let nc = round_up(g.n.min(p.nc), p.nr);
        (round_up(mc * kc, 16), kc * nc)
    }

    /// Scratch for `g`: the packed A and B blocks plus 16 floats of alignment slack when the
    /// problem is packed, else 0.
    pub(super) fn scratch_len(&self, g: &Gemm) -> usize {
        let g = &canonical(g);
        match self.plan(g) {
            Plan::Packed => {
                let (a, b) = self.pack_sizes(g);
                16 + a + b
            }
            _ => 0,
        }
    }
}

/// Bytes per element (f32).
const S: usize = 4;
/// `kc` is a multiple of this (whole 64-byte lines of packed B rows, an even trip count).
const KC_STEP: usize = 16;
/// The least `kc` the model returns.
const KC_MIN: usize = 128;
/// The least `kc` for which keeping B's micro-panel in L1 is worth it (see the model).
const KC_L1_MIN: usize = 256;
/// The largest `kc` the model returns.
const KC_CAP: usize = 1024;
/// The largest `nc` the model returns.
const NC_CAP: usize = 4096;

/// Ways of `level` one core may use: its ways divided among the cores sharing it, at least 1.
fn core_ways(level: &cpu::CacheLevel) -> usize {
    (level.ways / level.shared_by.max(1)).max(1)
}

/// The blocking model (see the module docs) for an `mr`×`nr` micro-tile on the caches `c`,
/// with the one-row sweep `row` (which no cache model decides: the kernel's default, then
/// the tuner's measurement) and the default column window [`WINDOW`]. Pure: the same caches
/// give the same parameters, and they always pass [`BlockingParams::check`] for `(mr, nr)`
/// when 1 ≤ mr ≤ [`MAX_MC`] and 1 ≤ nr ≤ [`MAX_NC`].
pub fn model(c: &Caches, mr: usize, nr: usize, row: RowSweep) -> BlockingParams {
    let (mr, nr) = (mr.clamp(1, MAX_MC), nr.clamp(1, MAX_NC));
    let (l1, l2) = (&c.l1d, &c.l2);

    // kc (L1): the A and B slivers in W1 − 2 ways, split between them at the best way count.
    let (v1, w1) = (l1.way_bytes(), core_ways(l1));
    let budget1 = w1.saturating_sub(2).max(2);
    let kc_l1 = (1..budget1)
        .map(|wa| {
            (wa.saturating_mul(v1) / (mr * S)).min((budget1 - wa).saturating_mul(v1) / (nr * S))
        })
        .max()
        .unwrap_or(0);
    // Too shallow for a wide tile: B's sliver lives in L2 instead, one way of it.
    let (v2, w2) = (l2.way_bytes(), core_ways(l2));
    let kc = if kc_l1 >= KC_L1_MIN {
        kc_l1
    } else {
        (v2 / (nr * S)).max(kc_l1)
    };
    let kc = (kc.min(KC_CAP) / KC_STEP * KC_STEP).max(KC_MIN);

    // mc (L2): A's block in half the ways left after B's sliver and one way.
    let b_ways = l2.ways_for(kc * nr * S);
    let left = w2.saturating_sub(1 + b_ways);
    let a_ways = (left / 2).max(1);
    let mc = (a_ways.saturating_mul(v2) / (kc * S) / mr * mr).clamp(mr, MAX_MC / mr * mr);

    // nc (L3): B's block in the core's share of the L3 less one way; without an L3, in the L2
    // ways A's block left.
    let nc_bytes = match &c.l3 {
        Some(l3) => {
            let w3 = l3.ways.max(1);
            l3.per_core() / w3 * (w3 - 1).max(1)
        }
        None => left.saturating_sub(a_ways).max(1).saturating_mul(v2),
    };
    let nc = ((nc_bytes / (kc * S)).min(NC_CAP) / nr * nr)
        .max(4 * nr)
        .min(MAX_NC / nr * nr);
    BlockingParams::new(mr, nr, kc, mc, nc, row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CacheLevel;

    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;

    fn caches(l1: CacheLevel, l2: CacheLevel, l3: Option<CacheLevel>) -> Caches {
        Caches { l1d: l1, l2, l3 }
    }

    fn zen3_caches() -> Caches {
        caches(
            CacheLevel::new(32 * KIB, 8, 64, 1),
            CacheLevel::new(512 * KIB, 8, 64, 1),
            Some(CacheLevel::new(32 * MIB, 16, 64, 8)),
        )
    }

    fn zen4_caches() -> Caches {
        caches(
            CacheLevel::new(32 * KIB, 8, 64, 1),
            CacheLevel::new(MIB, 8, 64, 1),
            Some(CacheLevel::new(32 * MIB, 16, 64, 8)),
        )
    }

    /// An 18-core Skylake-X: 1.375 MiB of 11-way L3 per core.
    fn skylake_x_caches() -> Caches {
        caches(
            CacheLevel::new(32 * KIB, 8, 64, 1),
            CacheLevel::new(MIB, 16, 64, 1),
            Some(CacheLevel::new(18 * 1408 * KIB, 11, 64, 18)),
        )
    }

    /// An Arm cluster: 64 KiB 4-way L1d, 4 MiB 16-way L2 shared by 4 cores, no L3.
    fn arm_4mib_l2() -> Caches {
        caches(
            CacheLevel::new(64 * KIB, 4, 64, 1),
            CacheLevel::new(4 * MIB, 16, 64, 4),
            None,
        )
    }

    fn p(mr: usize, nr: usize, kc: usize, mc: usize, nc: usize) -> BlockingParams {
        BlockingParams::new(mr, nr, kc, mc, nc, RowSweep::Stream)
    }

    /// `ByLevel` reads B with the windows while it fits in the core's share of the L2
    /// (1 MiB on Zen 4 and Skylake-X, 512 KiB on Zen 3, a quarter of the Arm cluster's shared
    /// 4 MiB), streams it while it fits in the core's share of the last level (4 MiB of a
    /// Zen 3 or Zen 4 CCX's 32 MiB, 1.375 MiB on Skylake-X, the Arm cluster's L2 share), and
    /// streams with prefetch beyond; the other sweeps stay as given.
    #[test]
    fn by_level_sweeps_by_the_level_b_fits_in() {
        assert_eq!(window_b_max(&zen4_caches()), 1 << 20);
        assert_eq!(window_b_max(&skylake_x_caches()), 1 << 20);
        assert_eq!(window_b_max(&zen3_caches()), 512 << 10);
        assert_eq!(window_b_max(&arm_4mib_l2()), 1 << 20);
        assert_eq!(stream_b_max(&zen4_caches()), 4 << 20);
        assert_eq!(stream_b_max(&zen3_caches()), 4 << 20);
        assert_eq!(stream_b_max(&skylake_x_caches()), 1408 << 10);
        assert_eq!(stream_b_max(&arm_4mib_l2()), 1 << 20);
        let at = |row, c: &Caches| Blocking {
            p: BlockingParams {
                row,
                ..p(6, 64, 512, 192, 1920)
            },
            tiny: 0,
            direct_m: 16,
            few_m: 16,
            direct_b: direct_b_max(c),
            window_b: window_b_max(c),
            stream_b: stream_b_max(c),
        };
        let sweeps = |row, c: &Caches| {
            let b = at(row, c);
            // 1 MiB (the medium preset's MLP), one row more, 4 MiB, one row more, 64 MiB.
            [
                (256, 1024),
                (257, 1024),
                (1024, 1024),
                (1025, 1024),
                (4096, 4096),
            ]
            .map(|(k, n)| b.sweep_for(&Gemm::new(1, k, n)))
        };
        // Of the five sizes, how many take the windows, and how many the windows or the
        // stream (the rest take the prefetching stream).
        for (cpu, c, windows, streamed) in [
            ("Zen 4", zen4_caches(), 1, 3),
            ("Zen 3", zen3_caches(), 0, 3),
            ("Skylake-X", skylake_x_caches(), 1, 2),
            ("Arm", arm_4mib_l2(), 1, 1),
        ] {
            let want: [RowSweep; 5] = std::array::from_fn(|i| match i {
                i if i < windows => RowSweep::Windows,
                i if i < streamed => RowSweep::Stream,
                _ => RowSweep::StreamAhead,
            });
            assert_eq!(sweeps(RowSweep::ByLevel, &c), want, "{cpu}");
        }
        for r in RowSweep::CONCRETE {
            assert_eq!(sweeps(r, &zen4_caches()), [r; 5]);
            assert_eq!(at(r, &zen4_caches()).sweep_for(&Gemm::new(1, 16, 16)), r);
        }
    }

    #[test]
    fn unpacked_path_limit_from_the_l2() {
        assert_eq!(direct_b_max(&zen3_caches()), 65536);
        assert_eq!(direct_b_max(&zen4_caches()), 131072);
        assert_eq!(direct_b_max(&skylake_x_caches()), 131072);
        assert_eq!(direct_b_max(&arm_4mib_l2()), 131072);
        let blk = Blocking {
            p: p(6, 16, 256, 192, 3840),
            tiny: 0,
            direct_m: 12,
            few_m: 12,
            direct_b: direct_b_max(&zen3_caches()),
            window_b: window_b_max(&zen3_caches()),
            stream_b: stream_b_max(&zen3_caches()),
        };
        let plan = |m, k, n| blk.plan(&Gemm::new(m, k, n));
        assert_eq!(
            plan(10, 256, 256),
            Plan::Direct,
            "B 256 KiB: in half the L2"
        );
        assert_eq!(blk.few_for(&Gemm::new(10, 256, 256)), FewRows::Unpacked);
        assert_eq!(plan(10, 256, 768), Plan::Direct, "B 768 KiB: beyond the L2");
        assert_eq!(blk.few_for(&Gemm::new(10, 256, 768)), FewRows::Slabs);
        assert_eq!(blk.few_for(&Gemm::new(2, 1024, 256)), FewRows::Slabs);
        assert_eq!(
            plan(1, 4096, 4096),
            Plan::Direct,
            "one row streams B at any size"
        );
        assert_eq!(plan(13, 64, 64), Plan::Packed, "more rows than direct_m");
        // Beyond `few_m` rows the default packs; a table may still ask for the rows in place
        // up to `direct_m`.
        let narrow = blk.with_few_m(8);
        assert_eq!(narrow.plan(&Gemm::new(8, 256, 256)), Plan::Direct);
        assert_eq!(narrow.plan(&Gemm::new(9, 256, 256)), Plan::Packed);
        let asked = Blocking {
            p: BlockingParams {
                few: FewRows::Unpacked,
                ..narrow.p
            },
            ..narrow
        };
        assert_eq!(asked.plan(&Gemm::new(9, 256, 256)), Plan::Direct);
        assert_eq!(blk.with_few_m(99).few_m, 12, "never beyond direct_m");
        // A table's choice overrides the sizes.
        for (few, want) in [
            (FewRows::Packed, Plan::Packed),
            (FewRows::Unpacked, Plan::Direct),
            (FewRows::Slabs, Plan::Direct),
        ] {
            let b = Blocking {
                p: BlockingParams { few, ..blk.p },
                ..blk
            };
            assert_eq!(b.plan(&Gemm::new(10, 256, 256)), want, "{few:?}");
            assert_eq!(b.plan(&Gemm::new(10, 256, 768)), want, "{few:?}");
            assert_eq!(b.few_for(&Gemm::new(10, 256, 768)), few);
            assert_eq!(b.plan(&Gemm::new(1, 256, 768)), Plan::Direct, "{few:?}");
        }
    }

    /// The model's blocking on each machine above and the fallback hierarchy, for the tiles
    /// in use, computed by hand (S = 4 bytes; V = bytes per way; ⌊⌋ are the roundings).
    #[test]
    fn hand_computed_blockings() {
        // (machine, its caches, the mr×nr tile, the expected kc, mc, nc)
        let cases = [
            // V1 = 4 KiB, 6 ways for the slivers: 2 for A (⌊2·4096/24⌋ = 341), 4 for B
            // (⌊4·4096/64⌋ = 256) → kc = 256. V2 = 64 KiB: B's sliver (16 KiB) 1 way, A gets
            // ⌊(8 − 1 − 1)/2⌋ = 3 ways = 192 KiB → mc = 196608/1024 = 192. L3: 4 MiB per
            // core, 15/16 of it = 3840 KiB → nc = 3840.
            ("Zen 3", zen3_caches(), (6, 16), (256, 192, 3840)),
            // The L1 allows kc = 80 (1 way of A, 5 of B: ⌊5·4096/256⌋) < 256, so B's sliver
            // takes one L2 way: kc = 65536/256 = 256; A 3 ways → mc = 192; nc = 3840 (60·64).
            ("Zen 3", zen3_caches(), (6, 64), (256, 192, 3840)),
            // kc from one L2 way of 128 KiB: 131072/256 = 512 (the hand-tuned value); B's
            // sliver 128 KiB = 1 way, A 3 ways = 384 KiB → mc = 393216/2048 = 192; nc =
            // 3840 KiB / 2 KiB = 1920.
            ("Zen 4", zen4_caches(), (6, 64), (512, 192, 1920)),
            // kc = 256 as on Zen 3 (same L1); A 3 ways of 128 KiB → mc = 384; nc = 3840.
            ("Zen 4", zen4_caches(), (6, 16), (256, 384, 3840)),
            // kc = 256; V2 = 64 KiB, 16 ways: B 1, A ⌊14/2⌋ = 7 ways = 448 KiB → 448 rows,
            // ⌊448/6⌋·6 = 444. L3: 1408 KiB per core, 10/11 of it = 1280 KiB → nc = 1280.
            ("Skylake-X", skylake_x_caches(), (6, 16), (256, 444, 1280)),
            // kc = 65536/256 = 256; same mc; nc = 1280 (20·64).
            ("Skylake-X", skylake_x_caches(), (6, 64), (256, 444, 1280)),
            // V1 = 16 KiB, 4 ways → 2 for the slivers, 1 each: min(16384/32, 16384/48) = 341
            // → kc = 336. L2 per core: 16/4 = 4 ways of 256 KiB; B's sliver 1 way, A
            // ⌊(4 − 2)/2⌋ = 1 way → mc = ⌊262144/1344⌋ = 195 → 192; no L3: B's block in the
            // one way left → nc = 195 → 192.
            ("Arm, no L3", arm_4mib_l2(), (8, 12), (336, 192, 192)),
            // kc = min(16384/24, 16384/64) = 256; mc = 262144/1024 = 256 → 252; nc = 256.
            ("Arm, no L3", arm_4mib_l2(), (6, 16), (256, 252, 256)),
            // Zen 3's L1 and L2; L3 8 MiB/4 cores: 2 MiB · 15/16 / 1 KiB = 1920.
            ("fallback", cpu::FALLBACK_CACHES, (6, 16), (256, 192, 1920)),
        ];
        for (machine, c, (mr, nr), (kc, mc, nc)) in cases {
            let want = p(mr, nr, kc, mc, nc);
            let got = model(&c, mr, nr, RowSweep::Stream);
            assert_eq!(got, want, "{machine}, {mr}×{nr}");
        }
    }

    #[test]
    fn output_is_always_valid() {
        let sizes = [
            1,
            1000,
            4 * KIB,
            32 * KIB,
            48 * KIB,
            512 * KIB,
            2 * MIB,
            64 * MIB,
            1 << 32,
        ];
        let counts = [1, 2, 3, 4, 8, 11, 12, 16, 20, 256];
        let tiles = [
            (1, 1),
            (6, 16),
            (6, 64),
            (14, 32),
            (8, 48),
            (4096, 8192),
            (100, 3),
        ];
        for &s1 in &sizes {
            for &w in &counts {
                for &sh in &counts[..6] {
                    for &s2 in &sizes {
                        let l3 = [None, Some(CacheLevel::new(s2 * 4, w, 64, sh))];
                        for l3 in l3 {
                            let c = caches(
                                CacheLevel::new(s1, w, 64, 1),
                                CacheLevel::new(s2, w, 64, sh),
                                l3,
                            );
                            for &(mr, nr) in &tiles {
                                let b = model(&c, mr, nr, RowSweep::Stream);
                                assert_eq!(b.check(&[(mr, nr)]), Ok(()), "{c:?} {mr}×{nr}: {b:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn check_refuses_bad_params() {
        let tiles = [(6, 16)];
        assert!(p(6, 16, 256, 144, 1536).check(&tiles).is_ok());
        for rows in 1..=MAX_STREAM_ROWS {
            let q = BlockingParams {
                rows,
                ..p(6, 16, 256, 144, 1536)
            };
            assert!(q.check(&tiles).is_ok() && valid_const(&q, &tiles), "{q:?}");
        }
        for bad in [
            p(6, 64, 256, 144, 1536),
            p(6, 16, 0, 144, 1536),
            p(6, 16, MAX_KC + 1, 144, 1536),
            p(6, 16, 256, 0, 1536),
            p(6, 16, 256, 145, 1536),
            p(6, 16, 256, MAX_MC + 6, 1536),
            p(6, 16, 256, 144, 0),
            p(6, 16, 256, 144, 1537),
            p(6, 16, 256, 144, MAX_NC + 16),
            BlockingParams {
                rows: 0,
                ..p(6, 16, 256, 144, 1536)
            },
            BlockingParams {
                rows: MAX_STREAM_ROWS + 1,
                ..p(6, 16, 256, 144, 1536)
            },
        ] {
            assert!(
                matches!(bad.check(&tiles), Err(KernelError::Blocking { .. })),
                "{bad:?}"
            );
            assert!(!valid_const(&bad, &tiles), "{bad:?}");
        }
        assert_eq!(
            p(6, 16, usize::MAX, usize::MAX, 1).max_scratch_len(),
            usize::MAX
        );
    }
}
