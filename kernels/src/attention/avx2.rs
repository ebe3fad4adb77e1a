//! Fused attention with AVX2 + FMA (8 lanes): the kernel of the private `simd` module (scores
//! into a scratch row, exponentials and their sum, weighted sum of the values scaled by
//! `1/Σ`), instantiated here. Accuracy against the unfused reference: `tests/attention.rs`.

instantiate!(attention_wrappers, avx2);
