//! The `gemm` crate (sarah-ek) as a MatMul kernel, built with its `x86-v4` feature so it uses
//! AVX-512 where the CPU has it (the default feature `gemm-avx512`; without it the crate runs
//! its AVX2+FMA kernels, as on an AVX2-only CPU: [`AVX512_BUILD`]). Threads come from the
//! catalog's wrapper, so the crate itself runs single-threaded here.

/// Whether this build lets `gemm` use AVX-512 (the `gemm-avx512` feature).
pub const AVX512_BUILD: bool = cfg!(feature = "gemm-avx512");

kernels::matmul_without_scratch! {
    /// No scratch: the crate manages its own packing memory.
    scratch_len;
    /// `C = α·op(A)·op(B) + β·C` through `gemm::gemm`.
    matmul(g, alpha, a, b, beta, c) {
        let (rsa, csa) = if g.trans_a { (1, g.lda) } else { (g.lda, 1) };
        let (rsb, csb) = if g.trans_b { (1, g.ldb) } else { (g.ldb, 1) };
        // gemm computes dst = alpha·dst + beta·lhs·rhs, and reads dst only when read_dst is
        // true.
        let read_dst = beta != 0.0;
        // SAFETY: the macro's `check_trivial` (through `g.check`) proved every element the crate
        // addresses (row i·rs + col j·cs inside each matrix's rows×cols) lies within a, b and c;
        // c is a distinct &mut so no aliasing.
        unsafe {
            gemm::gemm(
                g.m,
                g.n,
                g.k,
                c.as_mut_ptr(),
                1,
                g.ldc as isize,
                read_dst,
                a.as_ptr(),
                csa as isize,
                rsa as isize,
                b.as_ptr(),
                csb as isize,
                rsb as isize,
                beta,
                alpha,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        Ok(())
    }
}
