//! Reference fused bias add + GELU: the f32 sum of [`crate::add::naive`], then the f64 GELU of
//! [`crate::gelu::naive`], one element at a time (bit-identical to running those two).

use crate::gelu::naive::{gelu_grad_scalar, gelu_scalar};
use crate::gelu::GeluKind;
use crate::{check_rows_eq, Result, Rows};

/// `y[r][j] = gelu_tanh(x[r][j] + bias[j])`.
pub fn bias_gelu(shape: Rows, x: &[f32], bias: &[f32], y: &mut [f32]) -> Result<()> {
    super::check_forward(shape, x, bias)?;
    check_rows_eq("bias_gelu", "y", y.len(), shape)?;
    for (i, (o, &v)) in y.iter_mut().zip(x).enumerate() {
        *o = gelu_scalar(GeluKind::Tanh, (v + bias[i % shape.cols]) as f64) as f32;
    }
    Ok(())
}

/// `x[r][j] = gelu_tanh(x[r][j] + bias[j])`.
pub fn bias_gelu_inplace(shape: Rows, x: &mut [f32], bias: &[f32]) -> Result<()> {
    super::check_forward(shape, x, bias)?;
    for (i, v) in x.iter_mut().enumerate() {
        *v = gelu_scalar(GeluKind::Tanh, (*v + bias[i % shape.cols]) as f64) as f32;
    }
    Ok(())
}

/// `dx[r][j] = dy[r][j] · gelu_tanh'(x[r][j] + bias[j])`.
pub fn bias_gelu_backward(
    shape: Rows,
    x: &[f32],
    bias: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<()> {
    super::check_backward(shape, x, bias, dy, dx)?;
    for (i, (d, (&v, &g))) in dx.iter_mut().zip(x.iter().zip(dy)).enumerate() {
        let pre = (v + bias[i % shape.cols]) as f64;
        *d = (g as f64 * gelu_grad_scalar(GeluKind::Tanh, pre)) as f32;
    }
    Ok(())
}
