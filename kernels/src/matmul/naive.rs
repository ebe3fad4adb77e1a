//! The reference MatMul: a plain triple loop. Slow, obviously right, the ground truth.

crate::matmul_without_scratch! {
    /// Scratch this kernel needs: none.
    scratch_len;
    /// `C = α·op(A)·op(B) + β·C` by the definition, accumulating each dot product in f32.
    matmul(g, alpha, a, b, beta, c) {
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
}
