//! GELU with AVX2 + FMA (8 lanes): the kernel of the private `simd` module (tanh form as
//! `x·σ(2u)`, erf form as `x·Φ(x)` through a relative-accurate `erfc`), instantiated here.
//!
//! Measured maximum error against the f64 reference [`super::naive`] over x ∈ [-10, 10]
//! step 1e-3 plus ±1e3, ±∞ and NaN, as `|y - ref| / max(1, |ref|)` (absolute below 1,
//! relative above; see `tests/gelu.rs`, `accuracy_on_dense_grid`):
//! * `gelu`, tanh: 1.36e-7 (2.3u, u = 2⁻²⁴); erf: 1.91e-7 (3.2u);
//! * `gelu_backward` (dy = 1), tanh: 1.72e-7 (2.9u); erf: 3.52e-7 (5.9u).
//!
//! (Measured on x86_64 with AVX2 and AVX-512F, identical for both; NEON runs the same
//! arithmetic.) Specials follow the reference: NaN → NaN, `gelu(±∞) = ±∞, 0`,
//! `gelu'(±∞) = 1, 0`.
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_variables, unused_imports))]

use super::GeluKind;
use crate::cpu::{self, Feature};
use crate::{check_eq, Result};

/// `y = gelu(x)`.
pub fn gelu(kind: GeluKind, x: &[f32], y: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("gelu", "y", y.len(), x.len())?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; `x` and `y` are distinct buffers of `x.len()`
    // elements each.
    unsafe {
        imp::forward(kind, x.as_ptr(), y.as_mut_ptr(), x.len())
    };
    Ok(())
}

/// `x = gelu(x)`.
pub fn gelu_inplace(kind: GeluKind, x: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; source and destination are the same `x.len()`
    // elements, which the kernel reads before it writes them.
    unsafe {
        let p = x.as_mut_ptr();
        imp::forward(kind, p, p, x.len())
    };
    Ok(())
}

/// `dx = dy · gelu'(x)`.
pub fn gelu_backward(kind: GeluKind, x: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_eq("gelu_backward", "dy", dy.len(), x.len())?;
    check_eq("gelu_backward", "dx", dx.len(), x.len())?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; the three buffers hold `x.len()` elements each.
    unsafe {
        imp::backward(kind, x.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), x.len())
    };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::super::simd;
    use super::GeluKind;
    use crate::simd_math::Avx2 as S;

    /// # Safety
    /// AVX2 and FMA is available; see `simd::forward`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward(kind: GeluKind, src: *const f32, dst: *mut f32, n: usize) {
        // SAFETY: the features `S` needs are enabled here; the pointers are as the caller
        // promised.
        unsafe { simd::forward::<S>(kind, src, dst, n) }
    }

    /// # Safety
    /// AVX2 and FMA is available; see `simd::backward`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward(
        kind: GeluKind,
        x: *const f32,
        dy: *const f32,
        dx: *mut f32,
        n: usize,
    ) {
        // SAFETY: as for `forward`.
        unsafe { simd::backward::<S>(kind, x, dy, dx, n) }
    }
}
