//! Running one kernel with a thread count and a memory strategy: the thread splits the op
//! specs (`crate::spec`) call with their typed kernels.
//!
//! Multi-threaded forms split the output into disjoint blocks (rows of C; for m = 1 blocks of
//! k whose partial rows are summed after the join, or columns; chunks of a vector; groups of
//! rows) and run the single-threaded kernel on each block on the fork-join team of that size
//! ([`crate::team`]). Every split is computed from a shape the kernel checks
//! first, so a wrong shape is an error before any thread starts.

use crate::memory::Memory;
use crate::pool::{self, Buf};
use crate::team;
use kernels::attention::{Attention, Qkv};
use kernels::layernorm::LayerNormOut;
use kernels::matmul::Gemm;
use kernels::{check_eq, KernelError, Result, Rows};
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Mutex;

/// Memory for an output or scratch buffer under a strategy (in place falls back to pooled
/// when a fresh buffer is unavoidable, e.g. scratch).
pub fn alloc(memory: Memory, len: usize) -> Buf {
    match memory {
        Memory::Direct => Buf::direct(len),
        Memory::Pooled | Memory::InPlace => pool::take(len),
    }
}

/// Smallest chunk of a vector handed to one thread (elements).
const MIN_CHUNK: usize = 4096;

/// A mutable buffer shared by the parts of a split, each of which touches a disjoint range.
struct Disjoint<'a> {
    ptr: *mut f32,
    len: usize,
    _life: PhantomData<&'a mut [f32]>,
}

// SAFETY: `Disjoint` only hands out sub-slices for ranges that the caller guarantees are
// pairwise disjoint (see `part`), so sending it to other threads cannot create aliasing &mut.
unsafe impl Send for Disjoint<'_> {}
// SAFETY: as above; shared references to `Disjoint` only produce disjoint sub-slices.
unsafe impl Sync for Disjoint<'_> {}

impl<'a> Disjoint<'a> {
    fn new(s: &'a mut [f32]) -> Self {
        Disjoint {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _life: PhantomData,
        }
    }

    /// The sub-slice `range`, clamped to the buffer.
    ///
    /// # Safety
    /// Concurrent callers must pass pairwise disjoint ranges.
    #[allow(clippy::mut_from_ref)]
    unsafe fn part(&self, range: Range<usize>) -> &'a mut [f32] {
        let start = range.start.min(self.len);
        let end = range.end.min(self.len).max(start);
        // SAFETY: start ≤ end ≤ len keeps the slice inside the original buffer, which outlives
        // 'a; disjointness between concurrent callers is the caller's obligation.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }
}

/// Runs `f` on `whole`, or on `threads` parts of it (inner boundaries aligned to `align`) on
/// the team of that size ([`team::team`]) when `split` is true; the first error wins.
/// Neither path allocates.
fn run_parts<F>(threads: usize, whole: Range<usize>, align: usize, split: bool, f: F) -> Result<()>
where
    F: Fn(Range<usize>) -> Result<()> + Sync + Send,
{
    if threads <= 1 || !split {
        return f(whole);
    }
    run_indexed(threads, whole, align, |_, r| f(r))
}

/// [`run_parts`] split in any case, `f` also given the part's index (0 runs on the caller);
/// empty parts are skipped.
fn run_indexed<F>(threads: usize, whole: Range<usize>, align: usize, f: F) -> Result<()>
where
    F: Fn(usize, Range<usize>) -> Result<()> + Sync + Send,
{
    let align = align.max(1);
    let first_error: Mutex<Option<KernelError>> = Mutex::new(None);
    team::team(threads).run(&|i| {
        let r = part(&whole, threads, i, align);
        if r.is_empty() {
            return;
        }
        if let Err(e) = f(i, r) {
            first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Part `i` of `parts` near-equal pieces of `whole`, inner boundaries rounded up to a multiple
/// of `align` from the start (so a part may be empty when `whole` is short).
fn part(whole: &Range<usize>, parts: usize, i: usize, align: usize) -> Range<usize> {
    let cut = |j: usize| {
        if j == 0 {
            whole.start
        } else if j >= parts {
            whole.end
        } else {
            (whole.start + (whole.len() * j / parts).div_ceil(align) * align).min(whole.end)
        }
    };
    cut(i)..cut(i + 1)
}

/// Rows of B per part of a k-split, at least (and the alignment of its inner boundaries):
/// one pass of the AVX2 row stream (`kernels::matmul::avx2`) and more than any per-part
/// overhead.
pub const K_SPLIT_ROWS: usize = 16;

/// The most rows of C split over k (a decoded token, a short prompt): more rows are split
/// by rows, which reads B once per thread but leaves no sum to add.
pub const K_SPLIT_MAX_M: usize = 16;

/// The row split's blocks of C are multiples of this many rows (a micro-tile's rows or more).
pub const ROW_ALIGN: usize = 8;

/// The column split's blocks of C's row are multiples of this many columns (cache lines of
/// C, and whole vectors of B's rows, for both threads).
pub const COL_ALIGN: usize = 64;

/// The single-threaded MatMul that the splits run on each block: `C = α·op(A)·op(B) + β·C`
/// for the block's shape, given β, with α and its own scratch bound (what
/// `spec::matmul::MatMulKernel::single` returns).
pub trait SingleMatmul:
    Fn(&Gemm, f32, &[f32], &[f32], &mut [f32]) -> Result<()> + Sync + Send
{
}

impl<F> SingleMatmul for F where
    F: Fn(&Gemm, f32, &[f32], &[f32], &mut [f32]) -> Result<()> + Sync + Send
{
}

/// How a threaded MatMul shares its work among the threads ([`matmul`]). A table entry may
/// name one per range (the tuner races those that fit the range's shape); without one, or
/// where the named one does not fit a call's shape, [`Split::rule`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Blocks of k, for a few rows (at most [`K_SPLIT_MAX_M`], so the partial blocks stay
    /// small) with B stored k×n: each thread reads a contiguous slab of B's rows, and the
    /// helpers' partial blocks are added into C after the join.
    K,
    /// Blocks of C's rows (and of op(A)); every thread reads all of B.
    Rows,
    /// Blocks of C's columns (and of op(B)), for one row.
    Cols,
}

impl Split {
    /// Every split, in the order [`Split::rule`] prefers them.
    pub const ALL: [Split; 3] = [Split::K, Split::Rows, Split::Cols];

    /// Its name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Split::K => "k",
            Split::Rows => "rows",
            Split::Cols => "cols",
        }
    }

    /// The split named `name` ([`Split::name`]).
    pub fn from_name(name: &str) -> Option<Split> {
        Split::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether this split shares `g` among `threads` threads, each of its parts a multiple
    /// of the split's alignment: k at least 2·[`K_SPLIT_ROWS`] rows a thread for
    /// [`Split::K`] (no part empty); for [`Split::Rows`] two rows a thread and more than
    /// one block of [`ROW_ALIGN`]; for [`Split::Cols`] one row (C's columns are contiguous
    /// only then) and more than one block of [`COL_ALIGN`]. Where all of C would fall in
    /// the first part, the split would only add a team call.
    pub fn fits(self, threads: usize, g: &Gemm) -> bool {
        let shares = |len: usize, align: usize| {
            (0..threads)
                .filter(|&i| !part(&(0..len), threads, i, align).is_empty())
                .count()
                >= 2
        };
        threads >= 2
            && g.m > 0
            && g.n > 0
            && match self {
                Split::K => g.m <= K_SPLIT_MAX_M && !g.trans_b && g.k >= 2 * K_SPLIT_ROWS * threads,
                Split::Rows => g.m >= 2 * threads && shares(g.m, ROW_ALIGN),
                Split::Cols => g.m == 1 && shares(g.n, COL_ALIGN),
            }
    }

    /// The split that fits first in [`Split::ALL`]'s order (k, then rows, then columns);
    /// `None`: the whole product on one thread. The k-split comes first for a few rows: a
    /// column split has every thread read a piece of every row of B, which the prefetchers
    /// follow worse, and a row split of a few rows has every thread read (or pack) all of B
    /// (measured in the model's decode steps and prefill: ARCHITECTURE.md, "Threads").
    pub fn rule(threads: usize, g: &Gemm) -> Option<Split> {
        Split::ALL.into_iter().find(|s| s.fits(threads, g))
    }

    /// `wanted` where it fits `g` on `threads` threads, else [`Split::rule`]'s.
    pub fn resolve(wanted: Option<Split>, threads: usize, g: &Gemm) -> Option<Split> {
        wanted
            .filter(|s| s.fits(threads, g))
            .or_else(|| Split::rule(threads, g))
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A MatMul `C = α·op(A)·op(B) + β·C` over `a`, `b` and `c` with `threads` threads: `single`
/// (a single-threaded call with its own scratch, given β) on the blocks of the split `split`
/// names where it fits the shape, else of [`Split::rule`]'s ([`Split::resolve`]).
///
/// In the k-split each part reads (streams, or packs) a contiguous slab of B's rows: part 0
/// accumulates into C with β, the others write α·A_p·B_p into blocks of a pooled buffer
/// that are added into C after the join.
#[allow(clippy::too_many_arguments)]
pub fn matmul<F: SingleMatmul>(
    threads: usize,
    split: Option<Split>,
    g: &Gemm,
    beta: f32,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    single: F,
) -> Result<()> {
    g.check(a, b, c)?;
    let call = MatmulCall {
        g,
        beta,
        a,
        b,
        single,
    };
    match Split::resolve(split, threads, g) {
        None => call.whole(c),
        Some(Split::K) => call.by_k(threads, c),
        Some(Split::Rows) => call.by_blocks(threads, Dim::Rows, c),
        Some(Split::Cols) => call.by_blocks(threads, Dim::Cols, c),
    }
}

/// The dimension of C a split of [`matmul`] cuts into blocks.
#[derive(Clone, Copy)]
enum Dim {
    Rows,
    Cols,
}

/// One checked call of [`matmul`] but for its C: the shape, β, A, B and the single-threaded
/// kernel. Its methods are the splits, each given C and the thread count.
struct MatmulCall<'a, F> {
    g: &'a Gemm,
    beta: f32,
    a: &'a [f32],
    b: &'a [f32],
    single: F,
}

impl<F: SingleMatmul> MatmulCall<'_, F> {
    /// The whole product on this thread.
    fn whole(&self, c: &mut [f32]) -> Result<()> {
        (self.single)(self.g, self.beta, self.a, self.b, c)
    }

    /// Blocks of C along `dim`: of its rows (and of op(A)), or with m = 1 of its columns
    /// (and of op(B)).
    fn by_blocks(&self, threads: usize, dim: Dim, c: &mut [f32]) -> Result<()> {
        let (g, a, b) = (self.g, self.a, self.b);
        let (len, align) = match dim {
            Dim::Rows => (g.m, ROW_ALIGN),
            Dim::Cols => (g.n, COL_ALIGN),
        };
        let shared = Disjoint::new(c);
        run_parts(threads, 0..len, align, true, |r| {
            let (sub, a_p, b_p, c_r) = match dim {
                Dim::Rows => (
                    Gemm { m: r.len(), ..*g },
                    &a[g.a_index(r.start, 0).min(a.len())..],
                    b,
                    r.start * g.ldc..r.end * g.ldc,
                ),
                Dim::Cols => (
                    Gemm { n: r.len(), ..*g },
                    a,
                    &b[g.b_index(0, r.start).min(b.len())..],
                    r,
                ),
            };
            // SAFETY: row blocks of C are disjoint ([start·ldc, end·ldc) for disjoint row
            // ranges), and with m = 1 so are its column ranges [start, end).
            let c_part = unsafe { shared.part(c_r) };
            (self.single)(&sub, self.beta, a_p, b_p, c_part)
        })
    }

    /// The k-split for m ≤ [`K_SPLIT_MAX_M`] with B stored k×n (threads ≥ 2,
    /// k ≥ 2·[`K_SPLIT_ROWS`]·threads, so no part is empty).
    fn by_k(&self, threads: usize, c: &mut [f32]) -> Result<()> {
        let (g, a, b, single) = (self.g, self.a, self.b, &self.single);
        // Helper i − 1's m×n block (row stride n) starts on its own cache line, so no two
        // threads write one line.
        let (m, n) = (g.m, g.n);
        let overflow = || KernelError::Shape {
            op: "matmul",
            reason: format!("{} partial {m}×{n} blocks overflow", threads - 1),
        };
        let stride = m.checked_mul(n).ok_or_else(overflow)?.div_ceil(16) * 16;
        let len = stride.checked_mul(threads - 1).ok_or_else(overflow)?;
        let mut partials = pool::take(len);
        {
            let shared_c = Disjoint::new(c);
            let shared_p = Disjoint::new(&mut partials);
            run_indexed(threads, 0..g.k, K_SPLIT_ROWS, |i, ks| {
                let sub = Gemm { k: ks.len(), ..*g };
                let a_p = &a[g.a_index(0, ks.start).min(a.len())..];
                let b_p = &b[g.b_index(ks.start, 0).min(b.len())..];
                if i == 0 {
                    // SAFETY: part 0 alone writes C.
                    single(&sub, self.beta, a_p, b_p, unsafe {
                        shared_c.part(0..usize::MAX)
                    })
                } else {
                    // SAFETY: part i ≥ 1 alone writes partial block i − 1.
                    let block =
                        unsafe { shared_p.part((i - 1) * stride..(i - 1) * stride + m * n) };
                    single(&Gemm { ldc: n, ..sub }, 0.0, a_p, b_p, block)
                }
            })?;
        }
        for block in partials.chunks(stride).take(threads - 1) {
            for (r, rows) in block[..m * n].chunks_exact(n).enumerate() {
                for (x, &y) in c[r * g.ldc..r * g.ldc + n].iter_mut().zip(rows) {
                    *x += y;
                }
            }
        }
        Ok(())
    }
}

/// An MLP of a few rows in one team call: `out = act(x·W1)·W2` for `m` rows of `x` (m×c),
/// W1 c×h and W2 h×c (row-major, unpadded), split by the h hidden columns. Part i computes
/// its hidden columns J_i into a pooled m×|J_i| block (`up`, a single-threaded product with
/// β = 0), applies `act` to them (given the block's shape and the columns' range, e.g. for
/// their bias), and multiplies them by W2's rows J_i (`down`, given β): part 0 into `out`,
/// each helper into a partial m×c block added into `out` after the join. One fork-join for
/// the two products instead of one each, and the activation runs in parallel; each thread
/// reads a contiguous slab of W2 as the k-split does, and a column block of W1. Every
/// length is checked before any thread starts; `threads` ≤ 1 runs one part.
#[allow(clippy::too_many_arguments)]
pub fn mlp_split<U, A, D>(
    threads: usize,
    m: usize,
    (c, h): (usize, usize),
    x: &[f32],
    (w1, w2): (&[f32], &[f32]),
    out: &mut [f32],
    up: U,
    act: A,
    down: D,
) -> Result<()>
where
    U: Fn(&Gemm, &[f32], &[f32], &mut [f32]) -> Result<()> + Sync + Send,
    A: Fn(Rows, Range<usize>, &mut [f32]) -> Result<()> + Sync + Send,
    D: SingleMatmul,
{
    let overflow = || KernelError::Shape {
        op: "mlp",
        reason: format!("{m} rows of {c} with {h} hidden columns overflow"),
    };
    let len = |a: usize, b: usize| a.checked_mul(b).ok_or_else(overflow);
    check_eq("mlp", "x", x.len(), len(m, c)?)?;
    check_eq("mlp", "w1", w1.len(), len(c, h)?)?;
    check_eq("mlp", "w2", w2.len(), len(h, c)?)?;
    check_eq("mlp", "out", out.len(), len(m, c)?)?;
    if m == 0 || c == 0 {
        return Ok(());
    }
    // At least 16 hidden columns per part (whole vectors), so a part is never a sliver.
    let parts = threads.clamp(1, h.div_ceil(16).max(1));
    let whole = 0..h;
    let hidden_at = |i: usize| part(&whole, parts, i, 16).start * m;
    let mut hidden = pool::take(len(m, h)?);
    let stride = len(m, c)?.div_ceil(16) * 16;
    let mut partials = pool::take(len(stride, parts - 1)?);
    {
        let (o, hs, ps) = (
            Disjoint::new(out),
            Disjoint::new(&mut hidden),
            Disjoint::new(&mut partials),
        );
        run_indexed(parts, whole.clone(), 16, |i, cols| {
            let n = cols.len();
            // SAFETY: part i alone uses hidden block i (m·|J_i| elements from m·J_i.start:
            // the blocks tile m·h), its partial block (helpers) or `out` (part 0 only).
            let (hid, dst) = unsafe {
                let start = hidden_at(i);
                let hid = hs.part(start..start + m * n);
                let dst = match i {
                    0 => o.part(0..m * c),
                    _ => ps.part((i - 1) * stride..(i - 1) * stride + m * c),
                };
                (hid, dst)
            };
            up(
                &Gemm::new(m, c, n).with_strides(c, h, n),
                x,
                &w1[cols.start..],
                hid,
            )?;
            act(Rows::new(m, n), cols.clone(), hid)?;
            down(
                &Gemm::new(m, n, c).with_strides(n, c, c),
                0.0,
                hid,
                &w2[cols.start * c..],
                dst,
            )
        })?;
    }
    // A part left empty by the rounding wrote no partial block.
    for i in (1..parts).filter(|&i| !part(&whole, parts, i, 16).is_empty()) {
        let block = &partials[(i - 1) * stride..(i - 1) * stride + m * c];
        for (y, &p) in out.iter_mut().zip(block) {
            *y += p;
        }
    }
    Ok(())
}

/// Work (rows·total·width, [`crate::Key::attention`]) below which attention stays on one
/// thread: about 4 FLOP per unit, so 2¹⁵ units are a few microseconds, where a fork-join
/// would cost about as much as it saves.
pub const ATTENTION_SPLIT_MIN: u64 = 1 << 15;

/// Causal attention with `threads` threads, split by heads: `single(heads, qkv, out, scratch)`
/// computes the heads in its range, writing only their columns of `out`, with a scratch row
/// of `total` elements (by `memory`). Part 0 writes the caller's `out`; each helper writes a
/// copy of its own (`out` can only be split by rows, and its heads interleave in every
/// row), whose head columns are copied into `out` after the join: `rows·width` floats, small
/// against the `rows·total·width` of the products. The operands are checked before anything
/// is allocated or any thread starts; below [`ATTENTION_SPLIT_MIN`] one thread runs it all.
pub fn attention<F>(
    threads: usize,
    shape: &Attention,
    qkv: Qkv<'_>,
    out: &mut [f32],
    memory: Memory,
    single: F,
) -> Result<()>
where
    F: Fn(Range<usize>, Qkv<'_>, &mut [f32], &mut [f32]) -> Result<()> + Sync + Send,
{
    // Once checked, `total` rows of keys fit in `qkv.k`, so the scratch is bounded.
    let work = shape.check_operands(&shape.all_heads(), &qkv, out)?;
    let total = shape.try_total()?;
    let parts = threads.min(shape.heads);
    if !work || parts <= 1 || crate::Key::attention(shape).size < ATTENTION_SPLIT_MIN {
        let mut scratch = alloc(memory, total);
        return single(shape.all_heads(), qkv, out, &mut scratch);
    }
    let len = out.len();
    let overflow = || KernelError::Shape {
        op: "attention",
        reason: format!("{parts} parts of {len} output and {total} scratch elements overflow"),
    };
    let mut scratch = alloc(memory, parts.checked_mul(total).ok_or_else(overflow)?);
    let mut copies = alloc(memory, (parts - 1).checked_mul(len).ok_or_else(overflow)?);
    let heads = shape.all_heads();
    {
        let (o, s, cp) = (
            Disjoint::new(out),
            Disjoint::new(&mut scratch),
            Disjoint::new(&mut copies),
        );
        run_indexed(parts, heads.clone(), 1, |i, hs| {
            // SAFETY: part i alone uses scratch row i, and copy i − 1 (helpers) or `out`
            // (part 0, the only part that touches it during the run).
            let (dst, scr) = unsafe {
                let dst = match i {
                    0 => o.part(0..len),
                    _ => cp.part((i - 1) * len..i * len),
                };
                (dst, s.part(i * total..(i + 1) * total))
            };
            single(hs, qkv, dst, scr)
        })?;
    }
    let hd = shape.head_dim;
    for i in 1..parts {
        let hs = part(&heads, parts, i, 1);
        let copy = &copies[(i - 1) * len..i * len];
        for r in 0..shape.rows {
            let cols = r * shape.out_stride + hs.start * hd..r * shape.out_stride + hs.end * hd;
            out[cols.clone()].copy_from_slice(&copy[cols]);
        }
    }
    Ok(())
}

/// Whether a vector of `n` elements is worth splitting.
fn split_vector(n: usize) -> bool {
    n >= 2 * MIN_CHUNK
}

/// Whether the rows of `shape` are worth splitting.
fn split_rows(shape: Rows) -> bool {
    shape.rows >= 2 && shape.len() >= 2 * MIN_CHUNK
}

fn elems(r: &Range<usize>, cols: usize) -> Range<usize> {
    r.start * cols..r.end * cols
}

/// An element-wise op on `x` into `y` (same length), split into chunks.
pub fn map1<F>(threads: usize, x: &[f32], y: &mut [f32], f: F) -> Result<()>
where
    F: Fn(&[f32], &mut [f32]) -> Result<()> + Sync + Send,
{
    check_eq("elementwise", "output", y.len(), x.len())?;
    let out = Disjoint::new(y);
    run_parts(threads, 0..x.len(), MIN_CHUNK, split_vector(x.len()), |r| {
        // SAFETY: the parts are disjoint ranges.
        f(&x[r.clone()], unsafe { out.part(r) })
    })
}

/// An element-wise op of `a` and `b` into `y` (all the same length), split into chunks.
pub fn map2<F>(threads: usize, a: &[f32], b: &[f32], y: &mut [f32], f: F) -> Result<()>
where
    F: Fn(&[f32], &[f32], &mut [f32]) -> Result<()> + Sync + Send,
{
    check_eq("elementwise", "second input", b.len(), a.len())?;
    check_eq("elementwise", "output", y.len(), a.len())?;
    let out = Disjoint::new(y);
    run_parts(threads, 0..a.len(), MIN_CHUNK, split_vector(a.len()), |r| {
        // SAFETY: the parts are disjoint ranges.
        f(&a[r.clone()], &b[r.clone()], unsafe { out.part(r) })
    })
}

/// An in-place element-wise op on `x`, split into chunks.
pub fn map_inplace<F>(threads: usize, x: &mut [f32], f: F) -> Result<()>
where
    F: Fn(Range<usize>, &mut [f32]) -> Result<()> + Sync + Send,
{
    let n = x.len();
    let out = Disjoint::new(x);
    run_parts(threads, 0..n, MIN_CHUNK, split_vector(n), |r| {
        // SAFETY: the parts are disjoint ranges.
        f(r.clone(), unsafe { out.part(r) })
    })
}

/// A row op reading `inputs` (each rows×cols) and writing `y` (rows×cols), split by rows.
/// `f` gets the part's shape, its first row index, the inputs' rows and the output rows.
pub fn rows_map<F>(
    threads: usize,
    shape: Rows,
    inputs: &[&[f32]],
    y: &mut [f32],
    f: F,
) -> Result<()>
where
    F: Fn(Rows, usize, &[&[f32]], &mut [f32]) -> Result<()> + Sync + Send,
{
    for x in inputs {
        check_eq("rows", "input", x.len(), shape.len())?;
    }
    check_eq("rows", "output", y.len(), shape.len())?;
    let out = Disjoint::new(y);
    run_parts(threads, 0..shape.rows, 1, split_rows(shape), |r| {
        let e = elems(&r, shape.cols);
        let ins: [&[f32]; 3] =
            std::array::from_fn(|i| inputs.get(i).map_or(&[][..], |x| &x[e.clone()]));
        // SAFETY: the parts are disjoint row ranges, hence disjoint element ranges.
        f(
            Rows::new(r.len(), shape.cols),
            r.start,
            &ins[..inputs.len()],
            unsafe { out.part(e) },
        )
    })
}

/// Runs a kernel's in-place row form on row groups of `x`.
pub fn rows_inplace<F>(threads: usize, shape: Rows, x: &mut [f32], f: F) -> Result<()>
where
    F: Fn(Rows, usize, &mut [f32]) -> Result<()> + Sync + Send,
{
    check_eq("rows", "x", x.len(), shape.len())?;
    let out = Disjoint::new(x);
    run_parts(threads, 0..shape.rows, 1, split_rows(shape), |r| {
        // SAFETY: the parts are disjoint row ranges.
        f(Rows::new(r.len(), shape.cols), r.start, unsafe {
            out.part(elems(&r, shape.cols))
        })
    })
}

/// Splits a LayerNorm forward's outputs by row groups: `f` gets the group's shape, its
/// element range, its rows of y, mean and rstd, and its part of `extra` (split like y; empty
/// when `extra` is). The caller has checked every length against `shape`.
pub(crate) fn layernorm_rows<F>(
    threads: usize,
    shape: Rows,
    out: LayerNormOut,
    extra: &mut [f32],
    f: F,
) -> Result<()>
where
    F: Fn(Rows, Range<usize>, LayerNormOut, &mut [f32]) -> Result<()> + Sync + Send,
{
    let (y, mean, rstd) = (
        Disjoint::new(out.y),
        Disjoint::new(out.mean),
        Disjoint::new(out.rstd),
    );
    let extra = Disjoint::new(extra);
    run_parts(threads, 0..shape.rows, 1, split_rows(shape), |r| {
        let e = elems(&r, shape.cols);
        let part = Rows::new(r.len(), shape.cols);
        // SAFETY: the parts are disjoint row ranges; y and `extra` are split by their
        // elements, mean and rstd by their rows (an empty `extra` yields empty parts).
        let (o, x) = unsafe {
            (
                LayerNormOut {
                    y: y.part(e.clone()),
                    mean: mean.part(r.clone()),
                    rstd: rstd.part(r.clone()),
                },
                extra.part(e.clone()),
            )
        };
        f(part, e, o, x)
    })
}

/// The error for a variant handed to a problem or call of another op (a bug in the caller,
/// reported, not panicked). Typed kernels make it unreachable inside this crate.
pub fn mismatch(op: &'static str) -> KernelError {
    KernelError::Shape {
        op,
        reason: "the bound variant implements another op".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{matmul, part, Split, K_SPLIT_MAX_M, K_SPLIT_ROWS};
    use kernels::matmul::{naive, Gemm};
    use std::sync::Mutex;

    /// Which splits fit which shapes, and the rule's order: the k-split for a few rows with
    /// B stored k×n and k deep enough, rows for two or more a thread, columns for one row;
    /// nothing on one thread or for an empty C. A named split that does not fit falls back
    /// to the rule.
    #[test]
    fn splits_fit_their_shapes_and_fall_back_to_the_rule() {
        let fits = |t: usize, g: Gemm| -> Vec<Split> {
            Split::ALL.into_iter().filter(|s| s.fits(t, &g)).collect()
        };
        let deep = 2 * K_SPLIT_ROWS * 2;
        assert_eq!(fits(2, Gemm::new(1, deep, 200)), [Split::K, Split::Cols]);
        assert_eq!(fits(2, Gemm::new(1, deep - 1, 200)), [Split::Cols]);
        assert_eq!(
            fits(2, Gemm::new(1, deep, 200).with_trans(false, true)),
            [Split::Cols]
        );
        // One block of columns (64) or of rows (8) is one part: no split but k's.
        assert_eq!(fits(2, Gemm::new(1, deep, 64)), [Split::K]);
        assert_eq!(fits(2, Gemm::new(8, deep, 64)), [Split::K]);
        assert_eq!(fits(2, Gemm::new(9, deep, 64)), [Split::K, Split::Rows]);
        assert_eq!(
            fits(2, Gemm::new(K_SPLIT_MAX_M + 1, deep, 64)),
            [Split::Rows]
        );
        assert_eq!(fits(2, Gemm::new(1, 8, 65)), [Split::Cols]);
        assert!(fits(3, Gemm::new(5, 8, 64)).is_empty());
        assert!(fits(1, Gemm::new(64, 64, 64)).is_empty());
        assert!(fits(2, Gemm::new(0, 64, 64)).is_empty());
        assert!(fits(2, Gemm::new(1, 64, 0)).is_empty());
        let g = Gemm::new(1, deep, 200);
        assert_eq!(Split::rule(2, &g), Some(Split::K));
        assert_eq!(Split::resolve(Some(Split::Cols), 2, &g), Some(Split::Cols));
        assert_eq!(Split::resolve(Some(Split::Rows), 2, &g), Some(Split::K));
        assert_eq!(Split::resolve(Some(Split::Rows), 1, &g), None);
        for s in Split::ALL {
            assert_eq!(Split::from_name(s.name()), Some(s));
        }
        assert_eq!(Split::from_name("diagonal"), None);
    }

    /// Each named split runs as named where it fits (the blocks the single-threaded kernel is
    /// given show which dimension was cut) and the rule's where not, and every split agrees
    /// with one call within the MatMul tolerance, on shapes with awkward remainders.
    #[test]
    fn named_splits_cut_their_dimension_and_agree_with_one_call() {
        for (m, k, n) in [
            (1, 67, 131),
            (1, 200, 1),
            (6, 97, 33),
            (16, 64, 70),
            (40, 30, 50),
        ] {
            let g = Gemm::new(m, k, n);
            let f = |i: usize| ((i * 7919) % 23) as f32 / 11.0 - 1.0;
            let a: Vec<f32> = (0..g.a_len()).map(f).collect();
            let b: Vec<f32> = (0..g.b_len()).map(|i| f(i + 3)).collect();
            let c0: Vec<f32> = (0..g.c_len()).map(|i| f(i + 9)).collect();
            let mut want = c0.clone();
            naive::matmul(&g, 1.5, &a, &b, 0.5, &mut want, &mut []).unwrap();
            for threads in [2, 3] {
                for wanted in [None, Some(Split::K), Some(Split::Rows), Some(Split::Cols)] {
                    let seen: Mutex<Vec<(usize, usize, usize)>> = Mutex::new(Vec::new());
                    let single = |s: &Gemm, beta: f32, a: &[f32], b: &[f32], c: &mut [f32]| {
                        seen.lock().unwrap().push((s.m, s.k, s.n));
                        naive::matmul(s, 1.5, a, b, beta, c, &mut [])
                    };
                    let mut got = c0.clone();
                    matmul(threads, wanted, &g, 0.5, &a, &b, &mut got, single).unwrap();
                    let ran = Split::resolve(wanted, threads, &g);
                    let seen = seen.into_inner().unwrap();
                    let cut = |x: &(usize, usize, usize)| match ran {
                        None => *x == (m, k, n),
                        Some(Split::K) => x.0 == m && x.1 < k && x.2 == n,
                        Some(Split::Rows) => x.0 < m && x.1 == k && x.2 == n,
                        Some(Split::Cols) => x.0 == m && x.1 == k && x.2 < n,
                    };
                    let parts = if ran.is_some() { 2..=threads } else { 1..=1 };
                    assert!(
                        parts.contains(&seen.len()) && seen.iter().all(cut),
                        "{g:?} t{threads} {wanted:?} ran {ran:?} as {seen:?}"
                    );
                    if let Some(w) = wanted.filter(|w| w.fits(threads, &g)) {
                        assert_eq!(ran, Some(w));
                    }
                    for (i, (&x, &y)) in got.iter().zip(&want).enumerate() {
                        let (r, j) = (i / n, i % n);
                        let terms: f32 = (0..k)
                            .map(|p| (1.5 * a[g.a_index(r, p)] * b[g.b_index(p, j)]).abs())
                            .sum::<f32>()
                            + (0.5 * c0[i]).abs();
                        let tol = 2.0 * (k as f32 + 2.0) * f32::EPSILON * terms;
                        assert!((x - y).abs() <= tol, "{g:?} t{threads} {wanted:?}: C[{i}]");
                    }
                }
            }
        }
    }

    /// The k-split of a few rows against one single-threaded call: 1, 3 and the most rows
    /// split, α, β (β = 0 over NaN in C, which must not be read), a transposed A and C with
    /// padded strides, k just at and past the split's threshold, n of 1, odd and over a
    /// cache line. Both sum the k products of each element
    /// in f32, in another order, so they agree within 2·(k + 2)·ε·Σ|terms| (as the catalog's
    /// MatMul tolerance).
    #[test]
    fn k_split_of_a_few_rows_matches_one_call() {
        let single = |g: &Gemm, beta: f32, a: &[f32], b: &[f32], c: &mut [f32]| {
            naive::matmul(g, 0.75, a, b, beta, c, &mut [])
        };
        for threads in [2, 3, 4] {
            let min_k = 2 * K_SPLIT_ROWS * threads;
            for (m, k) in [
                (1, min_k - 1),
                (1, min_k),
                (3, min_k + 7),
                (K_SPLIT_MAX_M, 1000),
            ] {
                for n in [1, 17, 64, 300] {
                    for (trans_a, beta) in [(false, 0.0), (true, 0.5)] {
                        let g = Gemm::new(m, k, n).with_trans(trans_a, false);
                        let g = if trans_a {
                            g.with_strides(m + 3, n, n + 5)
                        } else {
                            g
                        };
                        let f = |i: usize| ((i * 7919) % 23) as f32 / 11.0 - 1.0;
                        let a: Vec<f32> = (0..g.a_len()).map(f).collect();
                        let b: Vec<f32> = (0..g.b_len()).map(|i| f(i + 5)).collect();
                        let c0: Vec<f32> = (0..g.c_len())
                            .map(|j| if beta == 0.0 { f32::NAN } else { f(j) })
                            .collect();
                        let mut want = c0.clone();
                        single(&g, beta, &a, &b, &mut want).unwrap();
                        let mut got = c0.clone();
                        matmul(threads, None, &g, beta, &a, &b, &mut got, single).unwrap();
                        for i in 0..m {
                            for j in 0..n {
                                let at = i * g.ldc + j;
                                let terms: f32 = (0..k)
                                    .map(|p| (0.75 * a[g.a_index(i, p)] * b[g.b_index(p, j)]).abs())
                                    .sum::<f32>()
                                    + if beta == 0.0 {
                                        0.0
                                    } else {
                                        (beta * c0[at]).abs()
                                    };
                                let tol = 2.0 * (k as f32 + 2.0) * f32::EPSILON * terms;
                                assert!(
                                    (got[at] - want[at]).abs() <= tol,
                                    "t{threads} {g:?} β={beta}: C[{i}][{j}] = {}, one call {}",
                                    got[at],
                                    want[at]
                                );
                            }
                        }
                        // C's padding between rows is not written.
                        for at in (0..g.c_len()).filter(|at| at % g.ldc >= n) {
                            assert_eq!(got[at].to_bits(), c0[at].to_bits(), "{g:?} padding");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn parts_tile_the_range_with_aligned_inner_boundaries() {
        for (start, len) in [(0, 0), (0, 1), (3, 7), (0, 4096), (5, 10_000), (0, 97)] {
            for parts in 1..=5 {
                for align in [1, 8, 64, 4096] {
                    let whole = start..start + len;
                    let mut next = whole.start;
                    for i in 0..parts {
                        let r = part(&whole, parts, i, align);
                        assert_eq!(r.start, next, "{whole:?} {parts} {align} part {i}");
                        assert!(r.start <= r.end && r.end <= whole.end);
                        if i > 0 && r.start < whole.end {
                            assert_eq!((r.start - whole.start) % align, 0);
                        }
                        next = r.end;
                    }
                    assert_eq!(next, whole.end);
                }
            }
        }
    }
}
