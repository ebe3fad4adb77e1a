//! The harness's own compute kernels.
//!
//! Organised by op (`matmul`, `gelu`, `softmax`, `layernorm`, `add`). Inside an op the module
//! root holds the contract and the naive reference; `tiled`, `avx2`, `avx512` and `neon` sit
//! beside it and compute the same thing faster. [`probe`] holds the FMA and read-bandwidth
//! loops a roofline study times.
//!
//! Invariants: kernels never allocate (outputs and scratch are passed in), do no I/O and know
//! nothing of tables or timing. Every `#[target_feature]` function is reached only through a
//! safe wrapper that has checked the CPU with [`cpu::require`], so no variant can run on a CPU
//! that lacks its features.

pub mod add;
pub mod attention;
pub mod bias_gelu;
pub mod cpu;
mod error;
pub mod gelu;
pub mod layernorm;
pub mod matmul;
pub mod probe;
mod simd_math;
pub mod softmax;

pub use error::{check_len, KernelError, Result};

/// A contiguous row-major matrix shape for the row ops (softmax, layernorm, bias add).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rows {
    pub rows: usize,
    pub cols: usize,
}

impl Rows {
    pub fn new(rows: usize, cols: usize) -> Rows {
        Rows { rows, cols }
    }

    /// Number of elements, `rows · cols`, saturating at `usize::MAX` where the product does
    /// not fit (no buffer is that long, so a length compared with it cannot match). Length
    /// checks use [`Rows::checked_len`] or [`Rows::try_len`] instead, which report the overflow.
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Number of elements, `rows · cols`, or `None` when the product overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.rows.checked_mul(self.cols)
    }

    /// Number of elements, `rows · cols`, or a [`KernelError::Shape`] for `op` when the
    /// product overflows `usize`: the form every kernel's length check uses.
    pub fn try_len(&self, op: &'static str) -> Result<usize> {
        self.checked_len().ok_or_else(|| KernelError::Shape {
            op,
            reason: format!(
                "rows = {}, cols = {}: rows·cols overflows usize",
                self.rows, self.cols
            ),
        })
    }

    /// Whether the matrix has no elements.
    pub fn is_empty(&self) -> bool {
        self.rows == 0 || self.cols == 0
    }
}

/// Checks that a buffer of a row op holds exactly `shape.rows · shape.cols` elements; a shape
/// whose element count overflows `usize` is a [`KernelError::Shape`], never a wrapped length.
#[inline]
pub fn check_rows_eq(
    op: &'static str,
    buffer: &'static str,
    got: usize,
    shape: Rows,
) -> Result<()> {
    check_eq(op, buffer, got, shape.try_len(op)?)
}

/// Checks that `got` equals `expected` exactly (outputs of element-wise ops must match).
#[inline]
pub fn check_eq(op: &'static str, buffer: &'static str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        Err(KernelError::Length {
            op,
            buffer,
            expected,
            got,
        })
    } else {
        Ok(())
    }
}
