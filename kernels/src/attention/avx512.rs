//! Fused attention with AVX-512F (16 lanes): the kernel of the private `simd` module (scores
//! into a scratch row, exponentials and their sum, weighted sum of the values scaled by
//! `1/Σ`), instantiated here. Accuracy against the unfused reference: `tests/attention.rs`,
//! which runs it only where AVX-512F exists; elsewhere the same generic code is tested
//! through its AVX2 instantiation and this one is only compiled.

instantiate!(attention_wrappers, avx512);
