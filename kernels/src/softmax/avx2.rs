//! Softmax with AVX2 + FMA (8 lanes): the three-pass row kernel of the private `simd` module
//! (max; exp and f32 lane sum; scale by the reciprocal), instantiated here.
//!
//! Measured against the f64 reference [`super::naive`] (`tests/softmax.rs`,
//! `report_measured_error`): on 1024-column rows of values in [-10, 10], relative error per
//! element ≤ 1.2e-6 (AVX-512F 19.6u, AVX2 21.2u, u = 2⁻²⁴), mostly the f32 rounding of
//! `x - max` amplified by exp; the exp itself is within 0.61·2⁻²³ relative on [-87.3, 0]. The
//! checked bound is in `tests/softmax.rs`. Rows of large equal values give `1/cols`.

instantiate!(softmax_wrappers, avx2);
