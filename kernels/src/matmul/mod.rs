//! MatMul: `C = α·op(A)·op(B) + β·C` in f32, row-major, with strides and transposes.
//!
//! # Contract
//! * `op(A)` is m×k and `op(B)` is k×n; `C` is m×n. Any of m, k, n may be 0.
//! * `A` is stored m×k with row stride `lda` (≥ k), or k×m (≥ m) when `trans_a`; likewise `B`
//!   is k×n (`ldb` ≥ n) or n×k (`ldb` ≥ k) when `trans_b`; `C` is m×n with `ldc` ≥ n.
//! * A buffer must hold at least `(rows - 1)·ld + cols` elements (0 if it has no rows or
//!   columns); elements between rows are never read (A, B) or written (C). That length is
//!   computed with checked arithmetic: a shape whose length overflows `usize` is a
//!   [`KernelError::Shape`] naming the stride, never a wrapped length.
//! * When `β == 0`, C is overwritten without being read (as in BLAS: NaN in C does not
//!   propagate); otherwise it is scaled by β and accumulated into. When k == 0, C = β·C.
//! * Every kernel has the signature [`MatMulFn`] and takes a `scratch` buffer of at least its
//!   module's `scratch_len(&gemm)` elements, so kernels never allocate.
//!
//! [`naive`] is the reference: a triple loop with f32 accumulation that is easy to trust.
//!
//! The BLIS-style [`avx2`] and [`avx512`] kernels take their cache blocking from
//! [`blocking::model`] at run time (from [`crate::cpu::caches`]); their `matmul_with` and
//! `scratch_len_with` take explicit [`BlockingParams`] instead, for a tuner. Both are one
//! generic driver (`driver.rs`: checks, packed loops, edges, unpacked and dot-product paths)
//! around each ISA's micro-kernels, whose register tile is written once for both (`tile.rs`).

#[cfg(any(target_arch = "x86_64", test))]
mod alias;
pub mod avx2;
pub mod avx512;
pub mod blocking;
mod driver;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(any(target_arch = "x86_64", test))]
mod pack;
#[cfg(target_arch = "x86_64")]
mod tile;
pub mod tiled;

pub use blocking::{BlockingParams, FewRows, RowSweep};

use crate::{check_len, KernelError, Result};

/// The shape and layout of one MatMul. Build it with [`Gemm::new`] and the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// A is stored k×m and used transposed.
    pub trans_a: bool,
    /// B is stored n×k and used transposed.
    pub trans_b: bool,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
}

/// The signature every MatMul kernel shares: `(shape, α, A, B, β, C, scratch)`.
pub type MatMulFn = fn(&Gemm, f32, &[f32], &[f32], f32, &mut [f32], &mut [f32]) -> Result<()>;

/// One product `C = α·op(A)·op(B) + β·C`: its shape, scalars and operands (the arguments of
/// [`MatMulFn`] before the scratch) as one value. The SIMD kernels' `matmul_with` takes it,
/// and their driver passes it from its checks down through the entry point to its loops
/// (which all take the same six arguments). The shape is held by value: a `&Gemm` field would
/// carry no no-alias guarantee, so stores through C would force its fields to be reloaded in
/// the loops (the m = 1 dot products ran 13 % slower that way).
pub struct Product<'a> {
    pub g: Gemm,
    pub alpha: f32,
    pub a: &'a [f32],
    pub b: &'a [f32],
    pub beta: f32,
    pub c: &'a mut [f32],
}

/// The signature of the SIMD kernels' `matmul_with`: explicit [`BlockingParams`], the
/// [`Product`] and the scratch.
pub type MatMulWithFn = fn(&BlockingParams, Product<'_>, &mut [f32]) -> Result<()>;

impl Gemm {
    /// A contiguous m×k by k×n product, no transposes.
    pub fn new(m: usize, k: usize, n: usize) -> Gemm {
        Gemm {
            m,
            k,
            n,
            trans_a: false,
            trans_b: false,
            lda: k,
            ldb: n,
            ldc: n,
        }
    }

    /// Sets the transposes and resets the strides to the contiguous ones for that layout.
    pub fn with_trans(mut self, trans_a: bool, trans_b: bool) -> Gemm {
        self.trans_a = trans_a;
        self.trans_b = trans_b;
        self.lda = if trans_a { self.m } else { self.k };
        self.ldb = if trans_b { self.k } else { self.n };
        self.ldc = self.n;
        self
    }

    /// Sets explicit row strides (for sub-matrices of larger buffers).
    pub fn with_strides(mut self, lda: usize, ldb: usize, ldc: usize) -> Gemm {
        self.lda = lda;
        self.ldb = ldb;
        self.ldc = ldc;
        self
    }

    /// Stored (rows, cols) of A.
    pub fn a_dims(&self) -> (usize, usize) {
        if self.trans_a {
            (self.k, self.m)
        } else {
            (self.m, self.k)
        }
    }

    /// Stored (rows, cols) of B.
    pub fn b_dims(&self) -> (usize, usize) {
        if self.trans_b {
            (self.n, self.k)
        } else {
            (self.k, self.n)
        }
    }

    /// Minimum length of A's buffer, saturating at `usize::MAX` when it does not fit (no
    /// buffer is that long, so a length check made with it still fails). [`Gemm::check`]
    /// uses [`Gemm::try_a_len`], which reports the overflow.
    pub fn a_len(&self) -> usize {
        self.try_a_len().unwrap_or(usize::MAX)
    }

    /// Minimum length of B's buffer, saturating as [`Gemm::a_len`] does.
    pub fn b_len(&self) -> usize {
        self.try_b_len().unwrap_or(usize::MAX)
    }

    /// Minimum length of C's buffer, saturating as [`Gemm::a_len`] does.
    pub fn c_len(&self) -> usize {
        self.try_c_len().unwrap_or(usize::MAX)
    }

    /// Minimum length of A's buffer, or a [`KernelError::Shape`] naming `lda` when
    /// `(rows - 1)·lda + cols` overflows `usize`.
    pub fn try_a_len(&self) -> Result<usize> {
        let (r, c) = self.a_dims();
        checked_span("lda", r, c, self.lda)
    }

    /// Minimum length of B's buffer, or a [`KernelError::Shape`] naming `ldb` on overflow.
    pub fn try_b_len(&self) -> Result<usize> {
        let (r, c) = self.b_dims();
        checked_span("ldb", r, c, self.ldb)
    }

    /// Minimum length of C's buffer, or a [`KernelError::Shape`] naming `ldc` on overflow.
    pub fn try_c_len(&self) -> Result<usize> {
        checked_span("ldc", self.m, self.n, self.ldc)
    }

    /// Floating-point operations of the product (2·m·k·n), for GFLOP/s figures.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }

    /// Index of `op(A)[i][p]` in A's buffer. For `i < m`, `p < k` of a shape that passed
    /// [`Gemm::check`] it is below `a.len()` and cannot overflow; for other arguments it wraps
    /// (it never panics), so it is no substitute for the check.
    #[inline(always)]
    pub fn a_index(&self, i: usize, p: usize) -> usize {
        op_index(self.trans_a, self.lda, i, p)
    }

    /// Index of `op(B)[p][j]` in B's buffer; in range and exact for a checked shape, as
    /// [`Gemm::a_index`].
    #[inline(always)]
    pub fn b_index(&self, p: usize, j: usize) -> usize {
        op_index(self.trans_b, self.ldb, p, j)
    }

    /// Checks strides and buffer lengths; every kernel calls this before touching memory.
    /// The lengths are computed with checked arithmetic, so a passed check means that every
    /// element `r·ld + j` (r < rows, j < cols) of each operand lies inside its buffer: no
    /// such offset overflows, and a dimension of an operand with elements is at most its
    /// buffer's length (below `isize::MAX`).
    pub fn check(&self, a: &[f32], b: &[f32], c: &[f32]) -> Result<()> {
        let (ar, ac) = self.a_dims();
        let (br, bc) = self.b_dims();
        check_stride("lda", ar, ac, self.lda)?;
        check_stride("ldb", br, bc, self.ldb)?;
        check_stride("ldc", self.m, self.n, self.ldc)?;
        let (a_len, b_len, c_len) = (self.try_a_len()?, self.try_b_len()?, self.try_c_len()?);
        check_len("matmul", "a", a.len(), a_len)?;
        check_len("matmul", "b", b.len(), b_len)?;
        check_len("matmul", "c", c.len(), c_len)
    }

    /// The part of [`Gemm::check`] about C alone: `ldc` and C's length.
    fn check_c(&self, c: &[f32]) -> Result<()> {
        check_stride("ldc", self.m, self.n, self.ldc)?;
        check_len("matmul", "c", c.len(), self.try_c_len()?)
    }
}

/// A row stride `ld` must be at least the row length when there is more than one row (with
/// one row it addresses nothing and may be anything).
fn check_stride(name: &'static str, rows: usize, cols: usize, ld: usize) -> Result<()> {
    if rows > 1 && ld < cols {
        return Err(KernelError::Shape {
            op: "matmul",
            reason: format!("{name} = {ld} is shorter than a row of {cols}"),
        });
    }
    Ok(())
}

/// Index of element (`r`, `c`) of `op(X)` in X's buffer of leading dimension `ld` (X stored
/// transposed when `trans`), with wrapping arithmetic: the one rule behind [`Gemm::a_index`]
/// and [`Gemm::b_index`].
#[inline(always)]
fn op_index(trans: bool, ld: usize, r: usize, c: usize) -> usize {
    if trans {
        c.wrapping_mul(ld).wrapping_add(r)
    } else {
        r.wrapping_mul(ld).wrapping_add(c)
    }
}

/// The matrix-vector product `C = op(A)·b` (n == 1, m > 1, contiguous C) restated as the
/// vector-matrix product `Cᵀ = bᵀ·op(A)ᵀ` (m == 1), which the SIMD kernels handle without
/// packing. The restated shape reads the same buffers at the same offsets: op(A') = op(B)ᵀ
/// uses B's buffer with `trans_a' = !trans_b`, `lda' = ldb`, and op(B') = op(A)ᵀ uses A's
/// buffer with `trans_b' = !trans_a`, `ldb' = lda`; C's m elements are contiguous either way.
/// `None` when the shape is not of that form.
#[allow(dead_code)] // Unused on targets without SIMD kernels.
fn as_row_problem(g: &Gemm) -> Option<Gemm> {
    (g.n == 1 && g.m > 1 && g.ldc == 1).then_some(Gemm {
        m: 1,
        k: g.k,
        n: g.m,
        trans_a: !g.trans_b,
        trans_b: !g.trans_a,
        lda: g.ldb,
        ldb: g.lda,
        ldc: g.m,
    })
}

/// Elements spanned by a rows×cols matrix with row stride `ld`, `(rows - 1)·ld + cols` (0
/// without rows or columns), or `None` when that overflows `usize`. The strided operands of
/// fused attention are measured with it too.
pub(crate) fn span(rows: usize, cols: usize, ld: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(ld)?.checked_add(cols)
}

/// [`span`] of a matrix with row stride `name` = `ld`, or a [`KernelError::Shape`] naming
/// the stride when it overflows `usize`.
fn checked_span(name: &'static str, rows: usize, cols: usize, ld: usize) -> Result<usize> {
    span(rows, cols, ld).ok_or_else(|| KernelError::Shape {
        op: "matmul",
        reason: format!(
            "{name} = {ld}: (rows - 1)·{name} + cols overflows usize \
             (rows = {rows}, cols = {cols})"
        ),
    })
}

/// Expands, inside a MatMul module, to its `scratch_len` (the body given) and its `matmul` of
/// the [`MatMulFn`] signature. `matmul` makes every check first, in this order: the CPU
/// feature named by `require` (if any, else [`KernelError::Unsupported`]), the layout
/// ([`Gemm::check`]), that `scratch` holds `scratch_len(g)` elements, and then it finishes the
/// products with nothing to multiply ([`finish_trivial`]). Only then does it run `$body`, so
/// the body, written once per module with no signature or checks around it, sees a layout
/// checked against the buffers, enough scratch, and m, n, k ≥ 1 and α ≠ 0.
///
/// ```ignore
/// kernels::matmul_kernel! {
///     require: Neon;
///     /// Scratch: one packed block of B.
///     scratch_len(g) { g.k.min(KC) * g.n.min(NC) }
///     /// `C = α·op(A)·op(B) + β·C` with NEON.
///     matmul(g, alpha, a, b, beta, c, scratch) {
///         /* the product, for a checked, nonzero problem */
///         Ok(())
///     }
/// }
/// ```
#[macro_export]
macro_rules! matmul_kernel {
    (
        $(require: $feature:ident;)?
        $(#[$scratch_doc:meta])*
        scratch_len($sg:ident) $scratch_len:block
        $(#[$doc:meta])*
        matmul(
            $g:ident, $alpha:ident, $a:ident, $b:ident, $beta:ident, $c:ident, $scratch:ident
        ) $body:block
    ) => {
        $(#[$scratch_doc])*
        pub fn scratch_len($sg: &$crate::matmul::Gemm) -> usize $scratch_len

        $(#[$doc])*
        pub fn matmul(
            $g: &$crate::matmul::Gemm,
            $alpha: f32,
            $a: &[f32],
            $b: &[f32],
            $beta: f32,
            $c: &mut [f32],
            $scratch: &mut [f32],
        ) -> $crate::Result<()> {
            $($crate::cpu::require($crate::cpu::Feature::$feature)?;)?
            $g.check($a, $b, $c)?;
            $crate::check_len("matmul", "scratch", $scratch.len(), scratch_len($g))?;
            if $crate::matmul::finish_trivial($g, $alpha, $beta, $c)? {
                return Ok(());
            }
            $body
        }
    };
}

/// [`matmul_kernel!`] for a module that takes no scratch from the caller (the reference, or
/// an adapter of a library that packs in memory of its own): its `scratch_len` is always 0,
/// so `matmul` checks the layout and finishes the trivial products ([`check_trivial`]) before
/// `$body`.
///
/// ```ignore
/// kernels::matmul_without_scratch! {
///     /// No scratch: the library packs into its own buffers.
///     scratch_len;
///     /// `C = α·op(A)·op(B) + β·C` through the library.
///     matmul(g, alpha, a, b, beta, c) {
///         /* the product, for a checked, nonzero problem */
///         Ok(())
///     }
/// }
/// ```
#[macro_export]
macro_rules! matmul_without_scratch {
    (
        $(#[$scratch_doc:meta])*
        scratch_len;
        $(#[$doc:meta])*
        matmul($g:ident, $alpha:ident, $a:ident, $b:ident, $beta:ident, $c:ident) $body:block
    ) => {
        $crate::matmul_kernel! {
            $(#[$scratch_doc])*
            scratch_len(_g) {
                0
            }
            $(#[$doc])*
            matmul($g, $alpha, $a, $b, $beta, $c, _scratch) $body
        }
    };
}

/// Checks the layout (as [`Gemm::check`]) and finishes the products with nothing to
/// multiply: an empty C, or k == 0 or α == 0 (then `C = β·C`). Returns `true` when the
/// product is done, so an adapter or kernel only handles real work after it.
pub fn check_trivial(
    g: &Gemm,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) -> Result<bool> {
    g.check(a, b, c)?;
    finish_trivial(g, alpha, beta, c)
}

/// The second half of [`check_trivial`], for kernels that check more (scratch) between the
/// layout check and any write: finishes an empty product or one with k == 0 or α == 0
/// (`C = β·C`) and returns `Ok(true)`, else leaves C alone and returns `Ok(false)`. Meant
/// for a `g` already checked against `c`; C's layout is checked again (as in [`scale_c`]),
/// so it returns an error, never panics or writes, when it was not.
pub fn finish_trivial(g: &Gemm, alpha: f32, beta: f32, c: &mut [f32]) -> Result<bool> {
    if g.m == 0 || g.n == 0 {
        return Ok(true);
    }
    if g.k == 0 || alpha == 0.0 {
        scale_c(g, beta, c)?;
        return Ok(true);
    }
    Ok(false)
}

/// Applies `C = β·C` to the m×n block (the whole product when k == 0 or α == 0), after
/// checking `ldc` and C's length (an error writes nothing).
pub fn scale_c(g: &Gemm, beta: f32, c: &mut [f32]) -> Result<()> {
    g.check_c(c)?;
    if g.n == 0 {
        // C has no elements (and `ldc` may point past an empty buffer).
        return Ok(());
    }
    for i in 0..g.m {
        // In range: the check above proved (m - 1)·ldc + n ≤ c.len().
        let row = &mut c[i * g.ldc..i * g.ldc + g.n];
        if beta == 0.0 {
            row.fill(0.0);
        } else if beta != 1.0 {
            row.iter_mut().for_each(|x| *x *= beta);
        }
    }
    Ok(())
}
