//! GELU, in its tanh approximation (`gelu_new` in GPT-2) and its exact erf form, and the
//! backward of each.
//!
//! # Contract
//! * `y[i] = gelu(x[i])`; input and output have exactly the same length (any length, 0 too).
//! * Backward: `dx[i] = dy[i] · gelu'(x[i])`; the three buffers have the same length.
//! * NaN propagates; `gelu(+∞) = +∞`, `gelu(-∞) = 0` (tanh form: -0).
//!
//! [`naive`] computes in f64 per element: it is the accuracy reference. [`avx2`], [`avx512`]
//! (and `neon` on aarch64) share one vector kernel; each states its measured error.

pub mod avx2;
pub mod avx512;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod simd;

/// Which GELU formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeluKind {
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`
    Tanh,
    /// `0.5·x·(1 + erf(x/√2))`
    Erf,
}

impl GeluKind {
    pub fn name(self) -> &'static str {
        match self {
            GeluKind::Tanh => "tanh",
            GeluKind::Erf => "erf",
        }
    }
}

/// √(2/π)
pub const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh approximation.
pub const GELU_COEF: f64 = 0.044_715;
