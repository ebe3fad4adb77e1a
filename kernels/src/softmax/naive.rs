//! Reference softmax: row by row, max-subtracted, accumulated in f64.

use crate::{check_rows_eq, Result, Rows};

/// Softmax of `scale · row`, in place: max, then exponentials and their f64 sum, then divide.
fn softmax_row(row: &mut [f32], scale: f32) {
    let max = row
        .iter()
        .map(|&v| (v * scale) as f64)
        .fold(
            f64::NEG_INFINITY,
            |m, v| if v > m || v.is_nan() { v } else { m },
        );
    let mut sum = 0.0f64;
    for v in row.iter() {
        sum += ((*v * scale) as f64 - max).exp();
    }
    for v in row.iter_mut() {
        *v = (((*v * scale) as f64 - max).exp() / sum) as f32;
    }
}

/// `y = softmax(x)` row by row.
pub fn softmax(shape: Rows, x: &[f32], y: &mut [f32]) -> Result<()> {
    check_rows_eq("softmax", "x", x.len(), shape)?;
    check_rows_eq("softmax", "y", y.len(), shape)?;
    if shape.cols == 0 {
        return Ok(());
    }
    y.copy_from_slice(x);
    for yr in y.chunks_mut(shape.cols) {
        softmax_row(yr, 1.0);
    }
    Ok(())
}

/// `x = softmax(x)` row by row.
pub fn softmax_inplace(shape: Rows, x: &mut [f32]) -> Result<()> {
    check_rows_eq("softmax", "x", x.len(), shape)?;
    if shape.cols == 0 {
        return Ok(());
    }
    for xr in x.chunks_mut(shape.cols) {
        softmax_row(xr, 1.0);
    }
    Ok(())
}

/// `y = causal_softmax(scale · x)`: row `r` sees columns `0..=r + offset`, the rest are 0.
pub fn softmax_causal(
    shape: Rows,
    scale: f32,
    offset: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    check_rows_eq("softmax_causal", "x", x.len(), shape)?;
    check_rows_eq("softmax_causal", "y", y.len(), shape)?;
    if shape.cols == 0 {
        return Ok(());
    }
    y.copy_from_slice(x);
    softmax_causal_inplace(shape, scale, offset, y)
}

/// In-place form of [`softmax_causal`].
pub fn softmax_causal_inplace(shape: Rows, scale: f32, offset: usize, x: &mut [f32]) -> Result<()> {
    check_rows_eq("softmax_causal", "x", x.len(), shape)?;
    if shape.cols == 0 {
        return Ok(());
    }
    for (r, xr) in x.chunks_mut(shape.cols).enumerate() {
        // Saturating: an offset near `usize::MAX` shows the whole row instead of wrapping.
        let visible = r.saturating_add(offset).saturating_add(1).min(shape.cols);
        softmax_row(&mut xr[..visible], scale);
        xr[visible..].fill(0.0);
    }
    Ok(())
}

/// `dx = y ⊙ (dy - rowsum(y ⊙ dy))`, with `y` the softmax output.
pub fn softmax_backward(shape: Rows, y: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    check_rows_eq("softmax_backward", "y", y.len(), shape)?;
    check_rows_eq("softmax_backward", "dy", dy.len(), shape)?;
    check_rows_eq("softmax_backward", "dx", dx.len(), shape)?;
    if shape.cols == 0 {
        return Ok(());
    }
    for ((yr, gr), dr) in y
        .chunks(shape.cols)
        .zip(dy.chunks(shape.cols))
        .zip(dx.chunks_mut(shape.cols))
    {
        let dot: f64 = yr.iter().zip(gr).map(|(&a, &b)| a as f64 * b as f64).sum();
        for ((d, &yi), &gi) in dr.iter_mut().zip(yr).zip(gr) {
            *d = (yi as f64 * (gi as f64 - dot)) as f32;
        }
    }
    Ok(())
}
