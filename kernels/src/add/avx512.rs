//! Add with AVX-512F (16 lanes), instantiating the private `simd` kernels: bit-identical to
//! [`super::naive`] (one IEEE addition per element; masked tails).

add_wrappers! {
    feature: Avx512,
    simd: crate::simd_math::Avx512,
    target_feature: "avx512f",
    target_arch: "x86_64",
}
