//! Add with AVX2 + FMA (8 lanes), instantiating the private `simd` kernels: bit-identical to
//! [`super::naive`] (one IEEE addition per element; masked tails).

add_wrappers! {
    feature: Avx2,
    simd: crate::simd_math::Avx2,
    target_feature: "avx2,fma",
    target_arch: "x86_64",
}
