//! GELU with AVX2 + FMA (8 lanes): the kernel of the private `simd` module (tanh form as
//! `x·σ(2u)`, erf form as `x·Φ(x)` through a relative-accurate `erfc`), instantiated here.
//!
//! Measured maximum error against the f64 reference [`super::naive`] over x ∈ [-10, 10]
//! step 1e-3 plus ±1e3, ±∞ and NaN, as `|y - ref| / max(1, |ref|)` (absolute below 1,
//! relative above; see `tests/gelu.rs`, `accuracy_on_dense_grid`):
//! * `gelu`, tanh: 1.36e-7 (2.3u, u = 2⁻²⁴); erf: 1.91e-7 (3.2u);
//! * `gelu_backward` (dy = 1), tanh: 1.72e-7 (2.9u); erf: 3.52e-7 (5.9u).
//!
//! (Measured on x86_64 with AVX2 and AVX-512F, identical for both; NEON runs the same
//! arithmetic.) Specials follow the reference: NaN → NaN, `gelu(±∞) = ±∞, 0`,
//! `gelu'(±∞) = 1, 0`.

instantiate!(gelu_wrappers, avx2);
