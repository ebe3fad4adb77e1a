//! The `matrixmultiply` crate (bluss) as a MatMul kernel. It takes arbitrary row and column
//! strides, so transposes are just swapped strides; it selects AVX-512/AVX2/FMA kernels itself.

use kernels::matmul::{check_trivial, Gemm};
use kernels::Result;

/// No scratch from the caller: the crate allocates its packing buffers itself, on every call
/// (which `models/tests/zero_alloc.rs` reports as known allocations).
pub fn scratch_len(_g: &Gemm) -> usize {
    0
}

/// `C = α·op(A)·op(B) + β·C` through `matrixmultiply::sgemm`.
pub fn matmul(
    g: &Gemm,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    _scratch: &mut [f32],
) -> Result<()> {
    if check_trivial(g, alpha, a, b, beta, c)? {
        return Ok(());
    }
    let (rsa, csa) = if g.trans_a { (1, g.lda) } else { (g.lda, 1) };
    let (rsb, csb) = if g.trans_b { (1, g.ldb) } else { (g.ldb, 1) };
    // β == 0 must overwrite without reading C (NaN in C must not survive); the crate
    // documents the same rule ("if beta is zero, then C does not need to be initialized").
    // SAFETY: `check_trivial` (through `g.check`) proved every index the crate forms — i·rs + p·cs
    // for i < rows, p < cols of each matrix — lies inside a, b and c; the pointers come from live
    // slices that do not alias (c is a distinct &mut).
    unsafe {
        matrixmultiply::sgemm(
            g.m,
            g.k,
            g.n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            g.ldc as isize,
            1,
        );
    }
    Ok(())
}
