//! The `matrixmultiply` crate (bluss) as a MatMul kernel. It takes arbitrary row and column
//! strides, so transposes are just swapped strides; it selects AVX-512/AVX2/FMA kernels itself.

kernels::matmul_without_scratch! {
    /// No scratch from the caller: the crate allocates its packing buffers itself, on every call
    /// (which `models/tests/zero_alloc.rs` reports as known allocations).
    scratch_len;
    /// `C = α·op(A)·op(B) + β·C` through `matrixmultiply::sgemm`.
    matmul(g, alpha, a, b, beta, c) {
        let (rsa, csa) = if g.trans_a { (1, g.lda) } else { (g.lda, 1) };
        let (rsb, csb) = if g.trans_b { (1, g.ldb) } else { (g.ldb, 1) };
        // β == 0 must overwrite without reading C (NaN in C must not survive); the crate
        // documents the same rule ("if beta is zero, then C does not need to be initialized").
        // SAFETY: the macro's `check_trivial` (through `g.check`) proved every index the crate
        // forms — i·rs + p·cs for i < rows, p < cols of each matrix — lies inside a, b and c;
        // the pointers come from live slices that do not alias (c is a distinct &mut).
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
}
