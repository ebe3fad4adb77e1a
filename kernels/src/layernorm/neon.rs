//! LayerNorm with NEON (4 lanes; aarch64 only): the two-pass (shifted mean, then variance of
//! `x - mean`) row kernel of the private `simd` module, f32 lane sums, instantiated here.
//!
//! Measured against the f64 reference [`super::naive`] (`tests/layernorm.rs`,
//! `report_measured_error`): on 1024-column rows of values 0.5 ± 2,
//! `|y - ref| ≤ 2.2e-7·(|gamma|·(1 + |x̂|) + |beta|)` (AVX-512F 2.5u, AVX2 3.6u,
//! u = 2⁻²⁴); a constant row gives exactly `beta`. The checked bounds for the forward and
//! the backward (`dx`, `dgamma`; `dbeta` is bit-identical) are derived in
//! `tests/layernorm.rs`.

instantiate!(layernorm_wrappers, neon);
