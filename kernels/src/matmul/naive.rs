//! The reference MatMul: a plain triple loop. Slow, obviously right, the ground truth.

use super::{scale_c, Gemm};
use crate::Result;

/// Scratch this kernel needs: none.
pub fn scratch_len(_g: &Gemm) -> usize {
    0
}

/// `C = α·op(A)·op(B) + β·C` by the definition, accumulating each dot product in f32.
pub fn matmul(
    g: &Gemm,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    _scratch: &mut [f32],
) -> Result<()> {
    g.check(a, b, c)?;
    if g.k == 0 || alpha == 0.0 {
        return scale_c(g, beta, c);
    }
    for i in 0..g.m {
        for j in 0..g.n {
            let mut acc = 0.0f32;
            for p in 0..g.k {
                acc += a[g.a_index(i, p)] * b[g.b_index(p, j)];
            }
            let cij = &mut c[i * g.ldc + j];
            *cij = if beta == 0.0 {
                alpha * acc
            } else {
                alpha * acc + beta * *cij
            };
        }
    }
    Ok(())
}
