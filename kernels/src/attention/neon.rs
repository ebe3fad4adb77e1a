//! Fused attention with NEON (4 lanes; aarch64 only): the kernel of the private `simd` module (scores
//! into a scratch row, exponentials and their sum, weighted sum of the values scaled by
//! `1/Σ`), instantiated here. Accuracy against the unfused reference: `tests/attention.rs`.

instantiate!(attention_wrappers, neon);
