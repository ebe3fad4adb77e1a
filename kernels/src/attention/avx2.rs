//! Fused attention with AVX2 + FMA (8 lanes): the kernel of the private `simd` module (scores
//! into a scratch row, exponentials and their sum, weighted sum of the values scaled by
//! `1/Σ`), instantiated here. Accuracy against the unfused reference: `tests/attention.rs`.

attention_wrappers! {
    feature: Avx2,
    simd: crate::simd_math::Avx2,
    target_feature: "avx2,fma",
    target_arch: "x86_64",
}
