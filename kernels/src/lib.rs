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

    /// Number of elements, `rows · cols`.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the matrix has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
