//! Fused bias add + GELU (tanh) with AVX2 + FMA (8 lanes), instantiating the private `simd`
//! kernels: bit-identical to this ISA's bias add followed by its GELU, so its error against
//! [`super::naive`] is the one [`crate::gelu::avx2`] documents.

bias_gelu_wrappers! {
    feature: Avx2,
    simd: crate::simd_math::Avx2,
    target_feature: "avx2,fma",
    target_arch: "x86_64",
}
