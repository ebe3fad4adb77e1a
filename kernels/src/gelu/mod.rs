//! GELU, in its tanh approximation (`gelu_new` in GPT-2) and its exact erf form, and the
//! backward of each.
//!
//! # Contract
//! * `y[i] = gelu(x[i])`; input and output have exactly the same length (any length, 0 too).
//! * Backward: `dx[i] = dy[i] · gelu'(x[i])`; the three buffers have the same length.
//! * NaN propagates; `gelu(+∞) = +∞`, `gelu(-∞) = 0` (tanh form: -0).
//!
//! [`naive`] computes in f64 per element: it is the accuracy reference.

pub mod naive;

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
