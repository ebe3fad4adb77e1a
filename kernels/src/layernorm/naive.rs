//! Reference LayerNorm: two passes per row in f64.

use super::{check_backward, check_forward, Affine, LayerNormGrads, LayerNormOut, Saved};
use crate::{check_rows_eq, Result, Rows};

fn normalise_row(x: &[f32], p: &Affine, eps: f32, y: &mut [f32]) -> (f32, f32) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps as f64).sqrt();
    for (j, (yj, &xj)) in y.iter_mut().zip(x).enumerate() {
        *yj = ((xj as f64 - mean) * rstd * p.gamma[j] as f64 + p.beta[j] as f64) as f32;
    }
    (mean as f32, rstd as f32)
}

/// `y = LayerNorm(x)`, saving each row's mean and reciprocal standard deviation.
pub fn layernorm(shape: Rows, eps: f32, x: &[f32], p: Affine, out: LayerNormOut) -> Result<()> {
    check_forward("layernorm", shape, x, &p, &out)?;
    if shape.is_empty() {
        return Ok(());
    }
    for (r, (xr, yr)) in x
        .chunks(shape.cols)
        .zip(out.y.chunks_mut(shape.cols))
        .enumerate()
    {
        (out.mean[r], out.rstd[r]) = normalise_row(xr, &p, eps, yr);
    }
    Ok(())
}

/// `sum = x + residual; y = LayerNorm(sum)`.
pub fn add_layernorm(
    shape: Rows,
    eps: f32,
    x: &[f32],
    residual: &[f32],
    sum: &mut [f32],
    p: Affine,
    out: LayerNormOut,
) -> Result<()> {
    check_forward("add_layernorm", shape, x, &p, &out)?;
    check_rows_eq("add_layernorm", "residual", residual.len(), shape)?;
    check_rows_eq("add_layernorm", "sum", sum.len(), shape)?;
    for ((s, &a), &b) in sum.iter_mut().zip(x).zip(residual) {
        *s = a + b;
    }
    layernorm(shape, eps, sum, p, out)
}

/// The LayerNorm backward: writes `dx`, accumulates `dgamma` and `dbeta`.
pub fn layernorm_backward(
    shape: Rows,
    saved: Saved,
    dy: &[f32],
    grads: LayerNormGrads,
) -> Result<()> {
    check_backward(shape, &saved, dy, &grads)?;
    if shape.is_empty() {
        return Ok(());
    }
    let n = shape.cols as f64;
    for r in 0..shape.rows {
        let row = r * shape.cols..(r + 1) * shape.cols;
        let (xr, gr) = (&saved.x[row.clone()], &dy[row.clone()]);
        let (mean, rstd) = (saved.mean[r] as f64, saved.rstd[r] as f64);
        let xhat = |j: usize| (xr[j] as f64 - mean) * rstd;
        let g = |j: usize| gr[j] as f64 * saved.gamma[j] as f64;
        let mean_g = (0..shape.cols).map(g).sum::<f64>() / n;
        let mean_gx = (0..shape.cols).map(|j| g(j) * xhat(j)).sum::<f64>() / n;
        let dx = &mut grads.dx[row.clone()];
        for (j, (d, &gj)) in dx.iter_mut().zip(gr).enumerate() {
            *d = (rstd * (g(j) - mean_g - xhat(j) * mean_gx)) as f32;
            grads.dgamma[j] += (gj as f64 * xhat(j)) as f32;
            grads.dbeta[j] += gj;
        }
    }
    Ok(())
}
