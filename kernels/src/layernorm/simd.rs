//! The LayerNorm kernels, written once over [`Simd`] and instantiated by `avx2`, `avx512` and
//! `neon`.
//!
//! Forward, per row, two-pass with a shift by the row's first element x₀:
//! `μ = Σ(x - x₀)/n`, then `var = Σ((x - x₀) - μ)²/n`, both summed in f32 lanes;
//! `rstd = 1/√(var + eps)`; `y = ((x - x₀) - μ)·rstd·gamma + beta`; the saved mean is
//! `x₀ + μ`. Deviations are never taken from the f32-rounded mean, so rows with
//! |mean| ≫ std keep their accuracy, and a constant row gives exactly `beta`. The fused form writes
//! `sum = x + residual` in the first pass. Backward, two passes per row: `Σg`, `Σg·x̂` (and
//! the `dgamma`, `dbeta` updates), then `dx`.

use super::{Affine, LayerNormGrads, LayerNormOut, Saved};
use crate::simd_math::Simd;
use crate::Rows;

/// `(x₀, Σ(x - x₀)/n)` for `x[..n]`; with `b`, for `x + b`, which is written to `sum`.
///
/// # Safety
/// The CPU supports `S`; `n ≥ 1`; `x` (and `b`) readable, `sum` writable for `n` elements.
#[inline(always)]
unsafe fn mean<S: Simd>(x: *const f32, b: Option<(*const f32, *mut f32)>, n: usize) -> (f32, f32) {
    let tail = n % S::LANES;
    let body = n - tail;
    let m = S::mask(tail);
    let zero = S::splat(0.0);
    let mut acc = zero;
    let x0 = match b {
        Some((b, _)) => *x + *b,
        None => *x,
    };
    let shift = S::splat(x0);
    let mut j = 0;
    match b {
        None => {
            while j < body {
                acc = S::add(acc, S::sub(S::load(x.add(j)), shift));
                j += S::LANES;
            }
            if tail > 0 {
                let d = S::sub(S::load_part(x.add(body), m), shift);
                acc = S::add(acc, S::masked(m, d, zero));
            }
        }
        Some((b, s)) => {
            while j < body {
                let v = S::add(S::load(x.add(j)), S::load(b.add(j)));
                S::store(s.add(j), v);
                acc = S::add(acc, S::sub(v, shift));
                j += S::LANES;
            }
            if tail > 0 {
                let v = S::add(S::load_part(x.add(body), m), S::load_part(b.add(body), m));
                S::store_part(s.add(body), m, v);
                acc = S::add(acc, S::masked(m, S::sub(v, shift), zero));
            }
        }
    }
    (x0, S::hsum(acc) / n as f32)
}

/// Variance pass and normalisation of one row; returns `rstd`.
///
/// # Safety
/// The CPU supports `S`; `n ≥ 1`; `x`, `gamma`, `beta` readable, `y` writable for `n`
/// elements.
#[inline(always)]
unsafe fn normalise<S: Simd>(
    x: *const f32,
    n: usize,
    (x0, mu): (f32, f32),
    eps: f32,
    p: (*const f32, *const f32),
    y: *mut f32,
) -> f32 {
    let (gamma, beta) = p;
    let tail = n % S::LANES;
    let body = n - tail;
    let m = S::mask(tail);
    let zero = S::splat(0.0);
    let (sv, mv) = (S::splat(x0), S::splat(mu));
    let mut acc = zero;
    let mut j = 0;
    while j < body {
        let d = S::sub(S::sub(S::load(x.add(j)), sv), mv);
        acc = S::fma(d, d, acc);
        j += S::LANES;
    }
    if tail > 0 {
        let d = S::sub(S::sub(S::load_part(x.add(body), m), sv), mv);
        let d = S::masked(m, d, zero);
        acc = S::fma(d, d, acc);
    }
    let rstd = 1.0 / (S::hsum(acc) / n as f32 + eps).sqrt();
    let rv = S::splat(rstd);
    j = 0;
    while j < body {
        let xh = S::mul(S::sub(S::sub(S::load(x.add(j)), sv), mv), rv);
        let v = S::fma(xh, S::load(gamma.add(j)), S::load(beta.add(j)));
        S::store(y.add(j), v);
        j += S::LANES;
    }
    if tail > 0 {
        let xh = S::mul(S::sub(S::sub(S::load_part(x.add(body), m), sv), mv), rv);
        let v = S::fma(
            xh,
            S::load_part(gamma.add(body), m),
            S::load_part(beta.add(body), m),
        );
        S::store_part(y.add(body), m, v);
    }
    rstd
}

/// LayerNorm of every row of `x`; with `residual`, of `x + residual`, stored in `sum`.
///
/// # Safety
/// The CPU supports `S`; every buffer has the length `layernorm::check_forward` demands
/// (and `residual`, `sum` hold `rows·cols`).
#[inline(always)]
pub(super) unsafe fn forward<S: Simd>(
    shape: Rows,
    eps: f32,
    x: &[f32],
    add: Option<(&[f32], &mut [f32])>,
    p: &Affine,
    out: &mut LayerNormOut,
) {
    let n = shape.cols;
    let gb = (p.gamma.as_ptr(), p.beta.as_ptr());
    let (res, sum) = match add {
        Some((r, s)) => (r.as_ptr(), s.as_mut_ptr()),
        None => (std::ptr::null(), std::ptr::null_mut()),
    };
    for r in 0..shape.rows {
        let off = r * n;
        let xr = x.as_ptr().add(off);
        let y = out.y.as_mut_ptr().add(off);
        let (mean, src) = if res.is_null() {
            (mean::<S>(xr, None, n), xr)
        } else {
            let s = sum.add(off);
            (mean::<S>(xr, Some((res.add(off), s)), n), s as *const f32)
        };
        out.mean[r] = mean.0 + mean.1;
        out.rstd[r] = normalise::<S>(src, n, mean, eps, gb, y);
    }
}

/// The LayerNorm backward over every row.
///
/// # Safety
/// The CPU supports `S`; every buffer has the length `layernorm::check_backward` demands.
#[inline(always)]
pub(super) unsafe fn backward<S: Simd>(shape: Rows, s: &Saved, dy: &[f32], g: &mut LayerNormGrads) {
    let n = shape.cols;
    let tail = n % S::LANES;
    let body = n - tail;
    let m = S::mask(tail);
    let zero = S::splat(0.0);
    let gamma = s.gamma.as_ptr();
    let dgamma = g.dgamma.as_mut_ptr();
    let dbeta = g.dbeta.as_mut_ptr();
    for r in 0..shape.rows {
        let off = r * n;
        let (x, dy, dx) = (
            s.x.as_ptr().add(off),
            dy.as_ptr().add(off),
            g.dx.as_mut_ptr().add(off),
        );
        let mv = S::splat(s.mean[r]);
        let rv = S::splat(s.rstd[r]);
        let (mut sg, mut sgx) = (zero, zero);
        let mut j = 0;
        while j < body {
            let xh = S::mul(S::sub(S::load(x.add(j)), mv), rv);
            let d = S::load(dy.add(j));
            let gj = S::mul(d, S::load(gamma.add(j)));
            sg = S::add(sg, gj);
            sgx = S::fma(gj, xh, sgx);
            // Both accumulators are loaded before either is stored: `dgamma` and `dbeta` often
            // sit at the same offset within their pages, and a load issued after a store to
            // the other one can be held back as if they overlapped (4 KiB aliasing), which made
            // this loop 3× slower in some processes and not in others.
            let (dg, db) = (S::load(dgamma.add(j)), S::load(dbeta.add(j)));
            S::store(dgamma.add(j), S::fma(d, xh, dg));
            S::store(dbeta.add(j), S::add(db, d));
            j += S::LANES;
        }
        if tail > 0 {
            let xh = S::mul(S::sub(S::load_part(x.add(body), m), mv), rv);
            let d = S::load_part(dy.add(body), m);
            let gj = S::mul(d, S::load_part(gamma.add(body), m));
            sg = S::add(sg, S::masked(m, gj, zero));
            sgx = S::add(sgx, S::masked(m, S::mul(gj, xh), zero));
            let (dg, db) = (
                S::load_part(dgamma.add(body), m),
                S::load_part(dbeta.add(body), m),
            );
            S::store_part(dgamma.add(body), m, S::fma(d, xh, dg));
            S::store_part(dbeta.add(body), m, S::add(db, d));
        }
        let inv_n = 1.0 / n as f32;
        let mg = S::splat(S::hsum(sg) * inv_n);
        let mgx = S::splat(S::hsum(sgx) * inv_n);
        j = 0;
        while j < body {
            let xh = S::mul(S::sub(S::load(x.add(j)), mv), rv);
            let gj = S::mul(S::load(dy.add(j)), S::load(gamma.add(j)));
            let v = S::mul(rv, S::fnma(xh, mgx, S::sub(gj, mg)));
            S::store(dx.add(j), v);
            j += S::LANES;
        }
        if tail > 0 {
            let xh = S::mul(S::sub(S::load_part(x.add(body), m), mv), rv);
            let gj = S::mul(
                S::load_part(dy.add(body), m),
                S::load_part(gamma.add(body), m),
            );
            let v = S::mul(rv, S::fnma(xh, mgx, S::sub(gj, mg)));
            S::store_part(dx.add(body), m, v);
        }
    }
}
