//! Fused bias add + GELU (tanh) with AVX2 + FMA (8 lanes), instantiating the private `simd`
//! kernels: bit-identical to this ISA's bias add followed by its GELU, so its error against
//! [`super::naive`] is the one [`crate::gelu::avx2`] documents.

instantiate!(bias_gelu_wrappers, avx2);
