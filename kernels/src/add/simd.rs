//! The Add kernels, written once over [`Simd`] and instantiated by `avx2`, `avx512` and
//! `neon`: one IEEE addition per element, so the results are bit-identical to the reference.

use crate::simd_math::Simd;

/// `out[i] = a[i] + b[i]` for `i < n`.
///
/// # Safety
/// The CPU supports `S`; `a`, `b` readable and `out` writable for `n` elements; `out` may be
/// `a` (in place) but must not otherwise overlap.
#[inline(always)]
pub(super) unsafe fn add<S: Simd>(a: *const f32, b: *const f32, out: *mut f32, n: usize) {
    let mut i = 0;
    while i + 2 * S::LANES <= n {
        let v0 = S::add(S::load(a.add(i)), S::load(b.add(i)));
        let v1 = S::add(S::load(a.add(i + S::LANES)), S::load(b.add(i + S::LANES)));
        S::store(out.add(i), v0);
        S::store(out.add(i + S::LANES), v1);
        i += 2 * S::LANES;
    }
    while i + S::LANES <= n {
        S::store(out.add(i), S::add(S::load(a.add(i)), S::load(b.add(i))));
        i += S::LANES;
    }
    if i < n {
        let m = S::mask(n - i);
        let v = S::add(S::load_part(a.add(i), m), S::load_part(b.add(i), m));
        S::store_part(out.add(i), m, v);
    }
}

/// `out[r][j] = x[r][j] + bias[j]` for `rows × cols`.
///
/// # Safety
/// The CPU supports `S`; `x` readable and `out` writable for `rows·cols` elements (`out`
/// may be `x`), `bias` readable for `cols`.
#[inline(always)]
pub(super) unsafe fn add_bias<S: Simd>(
    x: *const f32,
    bias: *const f32,
    out: *mut f32,
    rows: usize,
    cols: usize,
) {
    for r in 0..rows {
        add::<S>(x.add(r * cols), bias, out.add(r * cols), cols);
    }
}
