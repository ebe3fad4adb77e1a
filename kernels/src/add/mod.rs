//! Element-wise Add, out of place and in place, and the row-broadcast bias add (M×N + N).
//!
//! # Contract
//! * `out[i] = a[i] + b[i]`: `a`, `b` and `out` have exactly the same length (0 too).
//! * Bias: `out[r][j] = x[r][j] + bias[j]` for a [`Rows`](crate::Rows) shape; `bias` holds
//!   exactly `cols` elements.
//! * IEEE addition element by element, so every variant is bit-identical to [`naive`].

pub mod avx2;
pub mod avx512;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod simd;
