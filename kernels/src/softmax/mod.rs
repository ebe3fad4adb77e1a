//! Softmax over the rows of a contiguous matrix, the fused scale + causal mask + softmax of
//! attention, and the softmax backward.
//!
//! # Contract
//! * Shapes are [`Rows`](crate::Rows); every buffer holds exactly `rows · cols` elements.
//! * `y[r][j] = exp(x[r][j] - max_r) / Σ_j exp(x[r][j] - max_r)`: the row maximum is
//!   subtracted first, so rows of large equal values give `1/cols`, never overflow.
//! * Causal: `y[r][j] = softmax_j(scale · x[r][j])` over `j ≤ r + offset`, and exactly 0 for
//!   the masked `j > r + offset` (`offset` is the number of cached positions before the first
//!   row, 0 for a square block).
//! * Backward: `dx[r][j] = y[r][j] · (dy[r][j] - Σ_j y[r][j]·dy[r][j])`.
//! * NaN anywhere in a row makes that row NaN; a row holding +∞ is NaN (∞ - ∞), as in the
//!   reference.
//!
//! [`naive`] works in f64 per row: it is the accuracy reference. [`avx2`], [`avx512`] (and
//! `neon` on aarch64) share one vector kernel: three passes per row, f32 lane sums.

pub mod avx2;
pub mod avx512;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod simd;
