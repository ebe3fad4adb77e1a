//! The GELU kernels, written once over [`Simd`] and instantiated by `avx2`, `avx512` and
//! `neon`.
//!
//! * Tanh form: `gelu(x) = x·σ(2u)` with `u = √(2/π)(x + 0.044715x³)`, since
//!   `½(1 + tanh u) = σ(2u)`. Forward (the hot one in a model): `σ(2u) = 1/(1 + 2ʷ)` with
//!   `w = -2u·log₂e` computed directly (the constants carry `log₂e`), [`exp2`] and a refined
//!   reciprocal instead of a division: about 20 vector instructions per vector instead of 30.
//!   Neither side cancels (for x < 0, `1 + 2ʷ` is large and its reciprocal keeps relative
//!   accuracy); `x` is clamped to ±9 inside σ (`|w| ≤ 96`, no overflow, and σ is already
//!   exactly 1 at +9) and the result is 0 below -9, where the exact value is below 1.4e-28.
//!   Backward: `gelu' = σ + x·σ(1-σ)·d(2u)/dx` with `σ(1-σ) = e/(1+e)²`, `σ` through
//!   `e = exp(-|2u|)`.
//! * Erf form: `gelu(x) = x·Φ(x)` with `Φ(x) = ½erfc(|x|/√2)` for x < 0 and `1 - ½erfc(|x|/√2)`
//!   for x ≥ 0. Backward: `Φ(x) + x·φ(x)`.
//! * Elsewhere x is clamped below at -12 (tanh backward) / -14 (erf), where the exact result
//!   is below 1e-37 in magnitude, so `gelu(-∞) = -0` (+0 for the tanh forward); the backward
//!   clamps both sides (`gelu'(±∞) = 1, 0`).
//!   NaN propagates through the clamps (it is always the second operand of min/max).

use super::GeluKind;
use crate::simd_math::{exp2, half_erfc_scaled, sigmoid2, Simd};

/// 2·√(2/π) and 2·√(2/π)·0.044715: `v = 2u = x·(A + B·x²)`.
const A: f32 = (2.0 * super::SQRT_2_OVER_PI) as f32;
const B: f32 = (2.0 * super::SQRT_2_OVER_PI * super::GELU_COEF) as f32;
/// d(2u)/dx = A + 3B·x².
const B3: f32 = (6.0 * super::SQRT_2_OVER_PI * super::GELU_COEF) as f32;
/// 1/√(2π).
const INV_SQRT_2PI: f32 = 0.398_942_3;
const TANH_LO: f32 = -12.0;
/// The tanh forward's clamp of x inside σ; below -9 the result is 0.
const FWD_CLAMP: f32 = 9.0;
/// `-A·log₂e` and `-B·log₂e`: `w = -2u·log₂e = x·(NA2 + NB2·x²)`.
const NA2: f32 = (-2.0 * super::SQRT_2_OVER_PI * std::f64::consts::LOG2_E) as f32;
const NB2: f32 =
    (-2.0 * super::SQRT_2_OVER_PI * super::GELU_COEF * std::f64::consts::LOG2_E) as f32;
const ERF_LO: f32 = -14.0;

#[inline(always)]
pub(crate) unsafe fn tanh_fwd<S: Simd>(x: S::V) -> S::V {
    // NaN stays the second operand of max/min, so it propagates to the result.
    let xc = S::min(S::splat(FWD_CLAMP), S::max(S::splat(-FWD_CLAMP), x));
    let x2 = S::mul(xc, xc);
    let w = S::mul(xc, S::fma(x2, S::splat(NB2), S::splat(NA2)));
    let s = S::recip(S::add(S::splat(1.0), exp2::<S>(w)));
    S::zero_where_lt(x, -FWD_CLAMP, S::mul(x, s))
}

#[inline(always)]
pub(crate) unsafe fn tanh_grad<S: Simd>(x: S::V) -> S::V {
    let xc = S::min(S::splat(-TANH_LO), S::max(S::splat(TANH_LO), x));
    let x2 = S::mul(xc, xc);
    let v = S::mul(xc, S::fma(x2, S::splat(B), S::splat(A)));
    let dv = S::fma(x2, S::splat(B3), S::splat(A));
    let (s, e, r) = sigmoid2::<S>(v);
    S::fma(S::mul(xc, dv), S::mul(e, S::mul(r, r)), s)
}

#[inline(always)]
unsafe fn erf_fwd<S: Simd>(x: S::V) -> S::V {
    let xl = S::max(S::splat(ERF_LO), x);
    let (h, _) = half_erfc_scaled::<S>(S::abs(xl));
    let phi = S::select_sign(xl, h, S::sub(S::splat(1.0), h));
    S::mul(xl, phi)
}

#[inline(always)]
unsafe fn erf_grad<S: Simd>(x: S::V) -> S::V {
    let xc = S::min(S::splat(-ERF_LO), S::max(S::splat(ERF_LO), x));
    let (h, nz2) = half_erfc_scaled::<S>(S::abs(xc));
    let phi = S::select_sign(xc, h, S::sub(S::splat(1.0), h));
    let pdf = S::mul(crate::simd_math::exp::<S>(nz2), S::splat(INV_SQRT_2PI));
    S::fma(xc, pdf, phi)
}

/// Applies `$f` to `n` elements from `$src` into `$dst` (which may be `$src`): full vectors,
/// then one masked vector for the tail.
macro_rules! map1 {
    ($S:ident, $f:ident, $src:expr, $dst:expr, $n:expr) => {{
        let (src, dst, n): (*const f32, *mut f32, usize) = ($src, $dst, $n);
        let mut i = 0;
        while i + $S::LANES <= n {
            $S::store(dst.add(i), $f::<$S>($S::load(src.add(i))));
            i += $S::LANES;
        }
        if i < n {
            let m = $S::mask(n - i);
            $S::store_part(dst.add(i), m, $f::<$S>($S::load_part(src.add(i), m)));
        }
    }};
}

/// Applies `$f` to `x` and multiplies by `dy`: `dx = dy·$f(x)`.
macro_rules! map2 {
    ($S:ident, $f:ident, $x:expr, $dy:expr, $dx:expr, $n:expr) => {{
        let (x, dy, dx, n): (*const f32, *const f32, *mut f32, usize) = ($x, $dy, $dx, $n);
        let mut i = 0;
        while i + $S::LANES <= n {
            let g = $f::<$S>($S::load(x.add(i)));
            $S::store(dx.add(i), $S::mul($S::load(dy.add(i)), g));
            i += $S::LANES;
        }
        if i < n {
            let m = $S::mask(n - i);
            let g = $f::<$S>($S::load_part(x.add(i), m));
            $S::store_part(dx.add(i), m, $S::mul($S::load_part(dy.add(i), m), g));
        }
    }};
}

/// `dst[i] = gelu(src[i])` for `i < n`.
///
/// # Safety
/// The CPU supports `S`; `src` is readable and `dst` writable for `n` elements (they may be
/// the same pointer, but must not otherwise overlap).
#[inline(always)]
pub(super) unsafe fn forward<S: Simd>(kind: GeluKind, src: *const f32, dst: *mut f32, n: usize) {
    match kind {
        GeluKind::Tanh => map1!(S, tanh_fwd, src, dst, n),
        GeluKind::Erf => map1!(S, erf_fwd, src, dst, n),
    }
}

/// `dx[i] = dy[i]·gelu'(x[i])` for `i < n`.
///
/// # Safety
/// The CPU supports `S`; `x` and `dy` are readable and `dx` writable for `n` elements.
#[inline(always)]
pub(super) unsafe fn backward<S: Simd>(
    kind: GeluKind,
    x: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) {
    match kind {
        GeluKind::Tanh => map2!(S, tanh_grad, x, dy, dx, n),
        GeluKind::Erf => map2!(S, erf_grad, x, dy, dx, n),
    }
}
