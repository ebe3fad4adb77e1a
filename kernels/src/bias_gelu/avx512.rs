//! Fused bias add + GELU (tanh) with AVX-512F (16 lanes; compiled on every x86_64, chosen only
//! where the CPU has it), instantiating the private `simd` kernels: bit-identical to this
//! ISA's bias add followed by its GELU, so its error against [`super::naive`] is the one
//! [`crate::gelu::avx512`] documents.

bias_gelu_wrappers! {
    feature: Avx512,
    simd: crate::simd_math::Avx512,
    target_feature: "avx512f",
    target_arch: "x86_64",
}
