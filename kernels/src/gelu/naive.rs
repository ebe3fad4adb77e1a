//! Reference GELU: one element at a time, in f64.

use super::{GeluKind, GELU_COEF, SQRT_2_OVER_PI};
use crate::{check_eq, Result};

/// `gelu(x)` in f64.
pub fn gelu_scalar(kind: GeluKind, x: f64) -> f64 {
    if x == f64::INFINITY {
        return x;
    }
    if x == f64::NEG_INFINITY {
        return 0.0;
    }
    match kind {
        GeluKind::Tanh => 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_COEF * x * x * x)).tanh()),
        GeluKind::Erf => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
    }
}

/// `gelu'(x)` in f64.
pub fn gelu_grad_scalar(kind: GeluKind, x: f64) -> f64 {
    if x.is_infinite() {
        return if x > 0.0 { 1.0 } else { 0.0 };
    }
    match kind {
        GeluKind::Tanh => {
            let u = SQRT_2_OVER_PI * (x + GELU_COEF * x * x * x);
            let t = u.tanh();
            let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_COEF * x * x);
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
        }
        GeluKind::Erf => {
            let cdf = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            cdf + x * pdf
        }
    }
}

/// `y = gelu(x)`.
pub fn gelu(kind: GeluKind, x: &[f32], y: &mut [f32]) -> Result<()> {
    check_eq("gelu", "y", y.len(), x.len())?;
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = gelu_scalar(kind, xi as f64) as f32;
    }
    Ok(())
}

/// `x = gelu(x)`.
pub fn gelu_inplace(kind: GeluKind, x: &mut [f32]) -> Result<()> {
    for xi in x.iter_mut() {
        *xi = gelu_scalar(kind, *xi as f64) as f32;
    }
    Ok(())
}

/// `dx = dy · gelu'(x)`.
pub fn gelu_backward(kind: GeluKind, x: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    check_eq("gelu_backward", "dy", dy.len(), x.len())?;
    check_eq("gelu_backward", "dx", dx.len(), x.len())?;
    for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
        *d = (g as f64 * gelu_grad_scalar(kind, xi as f64)) as f32;
    }
    Ok(())
}
