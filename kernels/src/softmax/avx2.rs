//! Softmax with AVX2 + FMA (8 lanes): the three-pass row kernel of the private `simd` module
//! (max; exp and f32 lane sum; scale by the reciprocal), instantiated here.
//!
//! Measured against the f64 reference [`super::naive`] (`tests/softmax.rs`,
//! `report_measured_error`): on 1024-column rows of values in [-10, 10], relative error per
//! element ≤ 1.2e-6 (AVX-512F 19.6u, AVX2 21.2u, u = 2⁻²⁴), mostly the f32 rounding of
//! `x - max` amplified by exp; the exp itself is within 0.61·2⁻²³ relative on [-87.3, 0]. The
//! checked bound is in `tests/softmax.rs`. Rows of large equal values give `1/cols`.
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_variables, unused_imports))]

use crate::cpu::{self, Feature};
use crate::{check_eq, Result, Rows};

/// `y = softmax(x)` row by row.
pub fn softmax(shape: Rows, x: &[f32], y: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("softmax", "x", x.len(), shape.len())?;
    check_eq("softmax", "y", y.len(), shape.len())?;
    if shape.cols == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; `x` and `y` are distinct and hold rows·cols
    // elements, cols ≥ 1.
    unsafe {
        imp::rows(x.as_ptr(), y.as_mut_ptr(), shape, 1.0, None)
    };
    Ok(())
}

/// `x = softmax(x)` row by row.
pub fn softmax_inplace(shape: Rows, x: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("softmax", "x", x.len(), shape.len())?;
    if shape.cols == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; source and destination are the same rows·cols
    // elements (cols ≥ 1), each read before it is written.
    unsafe {
        let p = x.as_mut_ptr();
        imp::rows(p, p, shape, 1.0, None)
    };
    Ok(())
}

/// `y = causal_softmax(scale · x)`: row `r` sees columns `0..=r + offset`, the rest are 0.
pub fn softmax_causal(
    shape: Rows,
    scale: f32,
    offset: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("softmax_causal", "x", x.len(), shape.len())?;
    check_eq("softmax_causal", "y", y.len(), shape.len())?;
    if shape.cols == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `softmax`.
    unsafe {
        imp::rows(x.as_ptr(), y.as_mut_ptr(), shape, scale, Some(offset))
    };
    Ok(())
}

/// In-place form of [`softmax_causal`].
pub fn softmax_causal_inplace(shape: Rows, scale: f32, offset: usize, x: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("softmax_causal", "x", x.len(), shape.len())?;
    if shape.cols == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `softmax_inplace`.
    unsafe {
        let p = x.as_mut_ptr();
        imp::rows(p, p, shape, scale, Some(offset))
    };
    Ok(())
}

/// `dx = y ⊙ (dy - rowsum(y ⊙ dy))`, with `y` the softmax output.
pub fn softmax_backward(shape: Rows, y: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("softmax_backward", "y", y.len(), shape.len())?;
    check_eq("softmax_backward", "dy", dy.len(), shape.len())?;
    check_eq("softmax_backward", "dx", dx.len(), shape.len())?;
    if shape.cols == 0 {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; the three buffers hold rows·cols elements.
    unsafe {
        imp::backward(y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), shape)
    };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::super::simd;
    use crate::simd_math::Avx2 as S;
    use crate::Rows;

    /// # Safety
    /// AVX2 and FMA is available; see `simd::rows`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rows(
        src: *const f32,
        dst: *mut f32,
        shape: Rows,
        scale: f32,
        causal: Option<usize>,
    ) {
        // SAFETY: the features `S` needs are enabled here; the pointers are as the caller
        // promised.
        unsafe { simd::rows::<S>(src, dst, shape.rows, shape.cols, scale, causal) }
    }

    /// # Safety
    /// AVX2 and FMA is available; see `simd::backward`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward(y: *const f32, dy: *const f32, dx: *mut f32, shape: Rows) {
        // SAFETY: as for `rows`.
        unsafe { simd::backward::<S>(y, dy, dx, shape.rows, shape.cols) }
    }
}
