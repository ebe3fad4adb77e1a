//! Reference Add: one element at a time.

use crate::{check_eq, check_rows_eq, Result, Rows};

/// `out = a + b`.
pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
    check_eq("add", "b", b.len(), a.len())?;
    check_eq("add", "out", out.len(), a.len())?;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x + y;
    }
    Ok(())
}

/// `a += b`.
pub fn add_inplace(a: &mut [f32], b: &[f32]) -> Result<()> {
    check_eq("add", "b", b.len(), a.len())?;
    for (x, &y) in a.iter_mut().zip(b) {
        *x += y;
    }
    Ok(())
}

/// `out[r][j] = x[r][j] + bias[j]`.
pub fn add_bias(shape: Rows, x: &[f32], bias: &[f32], out: &mut [f32]) -> Result<()> {
    super::check_bias("add_bias", shape, x, bias)?;
    check_rows_eq("add_bias", "out", out.len(), shape)?;
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        *o = v + bias[i % shape.cols];
    }
    Ok(())
}

/// `x[r][j] += bias[j]`.
pub fn add_bias_inplace(shape: Rows, x: &mut [f32], bias: &[f32]) -> Result<()> {
    super::check_bias("add_bias", shape, x, bias)?;
    for (i, v) in x.iter_mut().enumerate() {
        *v += bias[i % shape.cols];
    }
    Ok(())
}
