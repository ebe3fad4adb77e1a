//! Add with NEON (4 lanes; aarch64 only), instantiating the private `simd` kernels: bit-identical to
//! [`super::naive`] (one IEEE addition per element; masked tails).

add_wrappers! {
    feature: Neon,
    simd: crate::simd_math::Neon,
    target_feature: "neon",
    target_arch: "aarch64",
}
