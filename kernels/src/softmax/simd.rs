//! The softmax kernels, written once over [`Simd`] and instantiated by `avx2`, `avx512` and
//! `neon`.
//!
//! A row takes three passes: the maximum of `scale·x`; `e = 2^((scale·x - max)·log₂e)` (the
//! difference in one FMA, then [`exp2`]) written to the output while the lanes accumulate `Σe`
//! in f32; then `y = e · (1/Σe)`. Tails use one masked
//! vector per pass. A NaN or +∞ anywhere in a row makes `Σe` NaN, so the whole row is NaN, as
//! in the reference; -∞ gives exactly 0.

use crate::simd_math::{dot_lanes, exp2, Simd};

/// Softmax of `scale · src[..n]` into `dst[..n]`.
///
/// # Safety
/// The CPU supports `S`; `src` is readable and `dst` writable for `n ≥ 1` elements; they are
/// the same pointer or do not overlap.
#[inline(always)]
pub(super) unsafe fn row<S: Simd>(src: *const f32, dst: *mut f32, n: usize, scale: f32) {
    let sc = S::splat(scale);
    let tail = n % S::LANES;
    let body = n - tail;
    let m = S::mask(tail);

    let mut mx = S::splat(f32::NEG_INFINITY);
    let mut i = 0;
    while i < body {
        mx = S::max(mx, S::mul(S::load(src.add(i)), sc));
        i += S::LANES;
    }
    if tail > 0 {
        let v = S::mul(S::load_part(src.add(body), m), sc);
        mx = S::max(mx, S::masked(m, v, S::splat(f32::NEG_INFINITY)));
    }
    let nmx = S::splat(-S::hmax(mx));
    let l2e = S::splat(std::f32::consts::LOG2_E);

    let mut sum = S::splat(0.0);
    i = 0;
    while i < body {
        let e = exp2::<S>(S::mul(S::fma(S::load(src.add(i)), sc, nmx), l2e));
        S::store(dst.add(i), e);
        sum = S::add(sum, e);
        i += S::LANES;
    }
    if tail > 0 {
        let e = exp2::<S>(S::mul(S::fma(S::load_part(src.add(body), m), sc, nmx), l2e));
        S::store_part(dst.add(body), m, e);
        sum = S::add(sum, S::masked(m, e, S::splat(0.0)));
    }
    let inv = S::splat(1.0 / S::hsum(sum));

    i = 0;
    while i < body {
        S::store(dst.add(i), S::mul(S::load(dst.add(i)), inv));
        i += S::LANES;
    }
    if tail > 0 {
        S::store_part(
            dst.add(body),
            m,
            S::mul(S::load_part(dst.add(body), m), inv),
        );
    }
}

/// Softmax of every row of `src` (`rows × cols`, `cols ≥ 1`) into `dst`; with `causal`,
/// row `r` covers columns `0..=r + offset` of `scale·src` and the rest of `dst` is 0.
///
/// # Safety
/// The CPU supports `S`; `src` readable and `dst` writable for `rows·cols` elements, the same
/// pointer or not overlapping.
#[inline(always)]
pub(super) unsafe fn rows<S: Simd>(
    src: *const f32,
    dst: *mut f32,
    rows: usize,
    cols: usize,
    scale: f32,
    causal: Option<usize>,
) {
    for r in 0..rows {
        let (s, d) = (src.add(r * cols), dst.add(r * cols));
        let visible = match causal {
            Some(offset) => (r.saturating_add(offset).saturating_add(1)).min(cols),
            None => cols,
        };
        row::<S>(s, d, visible, scale);
        let zero = S::splat(0.0);
        let mut j = visible;
        while j + S::LANES <= cols {
            S::store(d.add(j), zero);
            j += S::LANES;
        }
        if j < cols {
            S::store_part(d.add(j), S::mask(cols - j), zero);
        }
    }
}

/// `dx = y ⊙ (dy - rowsum(y ⊙ dy))` for `rows × cols` (`cols ≥ 1`), the dot product in f32
/// lanes.
///
/// # Safety
/// The CPU supports `S`; `y`, `dy` readable and `dx` writable for `rows·cols` elements.
#[inline(always)]
pub(super) unsafe fn backward<S: Simd>(
    y: *const f32,
    dy: *const f32,
    dx: *mut f32,
    rows: usize,
    cols: usize,
) {
    let tail = cols % S::LANES;
    let body = cols - tail;
    let m = S::mask(tail);
    for r in 0..rows {
        let (y, dy, dx) = (y.add(r * cols), dy.add(r * cols), dx.add(r * cols));
        let dot = S::splat(S::hsum(dot_lanes::<S>(y, dy, body, tail, m)));
        let mut j = 0;
        while j < body {
            let v = S::mul(S::load(y.add(j)), S::sub(S::load(dy.add(j)), dot));
            S::store(dx.add(j), v);
            j += S::LANES;
        }
        if tail > 0 {
            let g = S::sub(S::load_part(dy.add(body), m), dot);
            S::store_part(dx.add(body), m, S::mul(S::load_part(y.add(body), m), g));
        }
    }
}
