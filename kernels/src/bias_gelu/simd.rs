//! The fused bias add + GELU kernels, written once over [`Simd`] and instantiated by `avx2`,
//! `avx512` and `neon`. Each vector is `x + bias` (one IEEE addition, as the bias add does)
//! fed to the GELU module's vector tanh form, so the result is bit-identical to that ISA's
//! bias add followed by its GELU, with one pass over memory instead of two.

use crate::gelu::simd::{tanh_fwd, tanh_grad};
pub(super) use crate::simd_math::bias_rows;
use crate::simd_math::{BiasRow, Simd};

/// The forward row kernel for [`bias_rows`]: `y[i] = gelu(x[i] + b[i])` for `i < n`, full
/// vectors, then one masked vector.
#[derive(Clone, Copy)]
pub(super) struct Forward;

impl BiasRow for Forward {
    #[inline(always)]
    unsafe fn row<S: Simd>(self, x: *const f32, b: *const f32, y: *mut f32, n: usize) {
        let mut i = 0;
        while i + S::LANES <= n {
            let v = S::add(S::load(x.add(i)), S::load(b.add(i)));
            S::store(y.add(i), tanh_fwd::<S>(v));
            i += S::LANES;
        }
        if i < n {
            let m = S::mask(n - i);
            let v = S::add(S::load_part(x.add(i), m), S::load_part(b.add(i), m));
            S::store_part(y.add(i), m, tanh_fwd::<S>(v));
        }
    }
}

/// `dx[i] = dy[i]·gelu'(x[i] + b[i])` for `i < n`.
///
/// # Safety
/// The CPU supports `S`; `x`, `b`, `dy` readable and `dx` writable for `n` elements.
#[inline(always)]
unsafe fn row_backward<S: Simd>(
    x: *const f32,
    b: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) {
    let mut i = 0;
    while i + S::LANES <= n {
        let g = tanh_grad::<S>(S::add(S::load(x.add(i)), S::load(b.add(i))));
        S::store(dx.add(i), S::mul(S::load(dy.add(i)), g));
        i += S::LANES;
    }
    if i < n {
        let m = S::mask(n - i);
        let g = tanh_grad::<S>(S::add(S::load_part(x.add(i), m), S::load_part(b.add(i), m)));
        S::store_part(dx.add(i), m, S::mul(S::load_part(dy.add(i), m), g));
    }
}

/// `dx[r][j] = dy[r][j]·gelu'(x[r][j] + bias[j])` for `rows × cols`.
///
/// # Safety
/// The CPU supports `S`; `x` and `dy` readable and `dx` writable for `rows·cols` elements,
/// `bias` readable for `cols`.
#[inline(always)]
pub(super) unsafe fn backward<S: Simd>(
    x: *const f32,
    bias: *const f32,
    dy: *const f32,
    dx: *mut f32,
    rows: usize,
    cols: usize,
) {
    for r in 0..rows {
        let o = r * cols;
        row_backward::<S>(x.add(o), bias, dy.add(o), dx.add(o), cols);
    }
}
