//! The Add kernels, written once over [`Simd`] and instantiated by `avx2`, `avx512` and
//! `neon`: one IEEE addition per element, so the results are bit-identical to the reference.

pub(super) use crate::simd_math::bias_rows;
use crate::simd_math::{BiasRow, Simd};

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

/// The bias add's row kernel for [`bias_rows`]: `out[j] = x[j] + bias[j]` by [`add`].
#[derive(Clone, Copy)]
pub(super) struct AddBias;

impl BiasRow for AddBias {
    #[inline(always)]
    unsafe fn row<S: Simd>(self, x: *const f32, bias: *const f32, out: *mut f32, n: usize) {
        add::<S>(x, bias, out, n);
    }
}
