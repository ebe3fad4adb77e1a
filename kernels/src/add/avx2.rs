//! Add with AVX2 + FMA (8 lanes), instantiating the private `simd` kernels: bit-identical to
//! [`super::naive`] (one IEEE addition per element; masked tails).
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_variables, unused_imports))]

use crate::cpu::{self, Feature};
use crate::{check_eq, Result, Rows};

/// `out = a + b`.
pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("add", "b", b.len(), a.len())?;
    check_eq("add", "out", out.len(), a.len())?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; the three buffers hold `a.len()` elements and
    // `out` is a distinct `&mut`.
    unsafe {
        imp::add(a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), a.len())
    };
    Ok(())
}

/// `a += b`.
pub fn add_inplace(a: &mut [f32], b: &[f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("add", "b", b.len(), a.len())?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; `a` (read and written in place) and `b` hold
    // `a.len()` elements.
    unsafe {
        let p = a.as_mut_ptr();
        imp::add(p, b.as_ptr(), p, a.len())
    };
    Ok(())
}

/// `out[r][j] = x[r][j] + bias[j]`.
pub fn add_bias(shape: Rows, x: &[f32], bias: &[f32], out: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("add_bias", "x", x.len(), shape.len())?;
    check_eq("add_bias", "bias", bias.len(), shape.cols)?;
    check_eq("add_bias", "out", out.len(), shape.len())?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; `x`, `out` hold rows·cols and `bias` cols
    // elements.
    unsafe {
        imp::add_bias(x.as_ptr(), bias.as_ptr(), out.as_mut_ptr(), shape)
    };
    Ok(())
}

/// `x[r][j] += bias[j]`.
pub fn add_bias_inplace(shape: Rows, x: &mut [f32], bias: &[f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("add_bias", "x", x.len(), shape.len())?;
    check_eq("add_bias", "bias", bias.len(), shape.cols)?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `add_bias`, with `x` read and written in place.
    unsafe {
        let p = x.as_mut_ptr();
        imp::add_bias(p, bias.as_ptr(), p, shape)
    };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::super::simd;
    use crate::simd_math::Avx2 as S;
    use crate::Rows;

    /// # Safety
    /// AVX2 and FMA is available; see `simd::add`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn add(a: *const f32, b: *const f32, out: *mut f32, n: usize) {
        // SAFETY: the features `S` needs are enabled here; the pointers are as the caller
        // promised.
        unsafe { simd::add::<S>(a, b, out, n) }
    }

    /// # Safety
    /// AVX2 and FMA is available; see `simd::add_bias`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn add_bias(x: *const f32, bias: *const f32, out: *mut f32, shape: Rows) {
        // SAFETY: as for `add`.
        unsafe { simd::add_bias::<S>(x, bias, out, shape.rows, shape.cols) }
    }
}
