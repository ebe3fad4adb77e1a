//! The fused attention kernel, written once over [`Simd`] and instantiated by `avx2`,
//! `avx512` and `neon`.
//!
//! Heads outermost, so one head's keys and values (`total × head_dim`) stay in cache across
//! the query rows of a prefill. Per query row `i`, with `vis = past + i + 1` visible keys:
//! 1. scores `x_j = scale · (q·k_j)` for `j < vis`, four keys at a time (four independent
//!    lane accumulators over `head_dim`, then one horizontal sum each), into the scratch row,
//!    and their maximum;
//! 2. `e_j = 2^((x_j - max)·log₂e)` in place ([`exp2`]), and `Σe` in f32 lanes;
//! 3. `out = (Σ_j e_j · v_j) · (1/Σe)` over `head_dim` in register blocks of up to four
//!    vectors, two keys per step with separate accumulators (hides the FMA latency).
//!
//! NaN and ±∞ follow the reference as the module contract says: the maximum skips NaN, but a
//! NaN or +∞ score makes its `e` (and so `Σe`) NaN, and an all -∞ row gives `-∞ - (-∞)`.

use super::Attention;
use crate::simd_math::{dot_lanes, exp2, Simd};
use std::ops::Range;

/// Fused attention of the heads in `heads` (see the module contract).
///
/// # Safety
/// The CPU supports `S`; `shape.check` passed for these buffers with work to do (at least one
/// row and head, `head_dim ≥ 1`): `q`, `k`, `v` readable and `out` writable over the spans the
/// check verified, `scratch` writable for `total` elements, `out` and `scratch` overlapping
/// nothing else.
#[allow(clippy::too_many_arguments)] // The raw form of the safe wrapper's arguments.
#[inline(always)]
pub(super) unsafe fn attention<S: Simd>(
    shape: &Attention,
    scale: f32,
    heads: Range<usize>,
    q: *const f32,
    k: *const f32,
    v: *const f32,
    out: *mut f32,
    scratch: *mut f32,
) {
    let hd = shape.head_dim;
    for h in heads {
        let off = h * hd;
        let (k, v) = (k.add(off), v.add(off));
        for i in 0..shape.rows {
            let vis = shape.past + i + 1;
            let qi = q.add(i * shape.q_stride + off);
            let max = scores::<S>(qi, k, shape.kv_stride, hd, vis, scale, scratch);
            let sum = exps::<S>(scratch, vis, max);
            let oi = out.add(i * shape.out_stride + off);
            weighted_sum::<S>(scratch, v, shape.kv_stride, hd, vis, 1.0 / sum, oi);
        }
    }
}

/// `x_j = scale·(q·k_j)` for `j < vis` into `x`; returns their maximum (NaN skipped).
///
/// # Safety
/// `q` readable for `hd ≥ 1` elements, `k` for `vis` rows of `hd` at stride `ks`, `x`
/// writable for `vis`.
#[inline(always)]
unsafe fn scores<S: Simd>(
    q: *const f32,
    k: *const f32,
    ks: usize,
    hd: usize,
    vis: usize,
    scale: f32,
    x: *mut f32,
) -> f32 {
    let tail = hd % S::LANES;
    let body = hd - tail;
    let m = S::mask(tail);
    let mut max = f32::NEG_INFINITY;
    let mut keep = |j: usize, s: f32| {
        let s = s * scale;
        *x.add(j) = s;
        if s > max {
            max = s;
        }
    };
    let mut j = 0;
    while j + 4 <= vis {
        let r = [
            k.add(j * ks),
            k.add((j + 1) * ks),
            k.add((j + 2) * ks),
            k.add((j + 3) * ks),
        ];
        let mut acc = [S::splat(0.0); 4];
        let mut c = 0;
        while c < body {
            let qv = S::load(q.add(c));
            for t in 0..4 {
                acc[t] = S::fma(qv, S::load(r[t].add(c)), acc[t]);
            }
            c += S::LANES;
        }
        if tail > 0 {
            let qv = S::load_part(q.add(body), m);
            for t in 0..4 {
                acc[t] = S::fma(qv, S::load_part(r[t].add(body), m), acc[t]);
            }
        }
        for (t, a) in acc.into_iter().enumerate() {
            keep(j + t, S::hsum(a));
        }
        j += 4;
    }
    while j < vis {
        keep(j, S::hsum(dot_lanes::<S>(q, k.add(j * ks), body, tail, m)));
        j += 1;
    }
    max
}

/// `x_j = 2^((x_j - max)·log₂e)` in place for `j < n`; returns `Σ x_j` (f32 lanes).
///
/// # Safety
/// `x` readable and writable for `n ≥ 1` elements.
#[inline(always)]
unsafe fn exps<S: Simd>(x: *mut f32, n: usize, max: f32) -> f32 {
    let tail = n % S::LANES;
    let body = n - tail;
    let m = S::mask(tail);
    let (mx, l2e) = (S::splat(max), S::splat(std::f32::consts::LOG2_E));
    let mut sum = S::splat(0.0);
    let mut j = 0;
    while j < body {
        let e = exp2::<S>(S::mul(S::sub(S::load(x.add(j)), mx), l2e));
        S::store(x.add(j), e);
        sum = S::add(sum, e);
        j += S::LANES;
    }
    if tail > 0 {
        let e = exp2::<S>(S::mul(S::sub(S::load_part(x.add(body), m), mx), l2e));
        S::store_part(x.add(body), m, e);
        sum = S::add(sum, S::masked(m, e, S::splat(0.0)));
    }
    S::hsum(sum)
}

/// `out[..hd] = (Σ_{j<vis} e_j · v_j[..hd]) · inv`, in register blocks of 4, 2 and 1 vectors
/// and one masked tail.
///
/// # Safety
/// `e` readable for `vis ≥ 1` elements, `v` for `vis` rows of `hd` at stride `vs`, `out`
/// writable for `hd`.
#[inline(always)]
unsafe fn weighted_sum<S: Simd>(
    e: *const f32,
    v: *const f32,
    vs: usize,
    hd: usize,
    vis: usize,
    inv: f32,
    out: *mut f32,
) {
    let inv = S::splat(inv);
    let mut c = 0;
    while hd - c >= 4 * S::LANES {
        block::<S, 4>(e, v.add(c), vs, vis, inv, out.add(c), None);
        c += 4 * S::LANES;
    }
    if hd - c >= 2 * S::LANES {
        block::<S, 2>(e, v.add(c), vs, vis, inv, out.add(c), None);
        c += 2 * S::LANES;
    }
    if hd - c >= S::LANES {
        block::<S, 1>(e, v.add(c), vs, vis, inv, out.add(c), None);
        c += S::LANES;
    }
    if hd > c {
        block::<S, 1>(e, v.add(c), vs, vis, inv, out.add(c), Some(S::mask(hd - c)));
    }
}

/// One block of `NV` vectors of columns (or, with `part`, the masked lanes of one vector):
/// two keys per step into two accumulator sets, added at the end.
///
/// # Safety
/// As [`weighted_sum`], for the `NV·LANES` columns (or the lanes of `part`) at `v` and `out`.
#[inline(always)]
unsafe fn block<S: Simd, const NV: usize>(
    e: *const f32,
    v: *const f32,
    vs: usize,
    vis: usize,
    inv: S::V,
    out: *mut f32,
    part: Option<S::M>,
) {
    let load = |p: *const f32| match part {
        Some(m) => S::load_part(p, m),
        None => S::load(p),
    };
    let mut a = [S::splat(0.0); NV];
    let mut b = [S::splat(0.0); NV];
    let mut j = 0;
    while j + 2 <= vis {
        let (e0, e1) = (S::splat(*e.add(j)), S::splat(*e.add(j + 1)));
        let (r0, r1) = (v.add(j * vs), v.add((j + 1) * vs));
        for t in 0..NV {
            a[t] = S::fma(e0, load(r0.add(t * S::LANES)), a[t]);
            b[t] = S::fma(e1, load(r1.add(t * S::LANES)), b[t]);
        }
        j += 2;
    }
    if j < vis {
        let (e0, r0) = (S::splat(*e.add(j)), v.add(j * vs));
        for (t, a) in a.iter_mut().enumerate() {
            *a = S::fma(e0, load(r0.add(t * S::LANES)), *a);
        }
    }
    for t in 0..NV {
        let y = S::mul(S::add(a[t], b[t]), inv);
        match part {
            Some(m) => S::store_part(out.add(t * S::LANES), m, y),
            None => S::store(out.add(t * S::LANES), y),
        }
    }
}
