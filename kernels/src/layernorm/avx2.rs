//! LayerNorm with AVX2 + FMA (8 lanes): the two-pass (shifted mean, then variance of
//! `x - mean`) row kernel of the private `simd` module, f32 lane sums, instantiated here.
//!
//! Measured against the f64 reference [`super::naive`] (`tests/layernorm.rs`,
//! `report_measured_error`): on 1024-column rows of values 0.5 ± 2,
//! `|y - ref| ≤ 2.2e-7·(|gamma|·(1 + |x̂|) + |beta|)` (AVX-512F 2.5u, AVX2 3.6u,
//! u = 2⁻²⁴); a constant row gives exactly `beta`. The checked bounds for the forward and
//! the backward (`dx`, `dgamma`; `dbeta` is bit-identical) are derived in
//! `tests/layernorm.rs`.
#![cfg_attr(
    not(target_arch = "x86_64"),
    allow(unused_variables, unused_imports, unused_mut)
)]

use super::{check_backward, check_forward, Affine, LayerNormGrads, LayerNormOut, Saved};
use crate::cpu::{self, Feature};
use crate::{check_eq, Result, Rows};

/// `y = LayerNorm(x)`, saving each row's mean and reciprocal standard deviation.
pub fn layernorm(shape: Rows, eps: f32, x: &[f32], p: Affine, mut out: LayerNormOut) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_forward("layernorm", shape, x, &p, &out)?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; `check_forward` confirmed every length.
    unsafe {
        imp::forward(shape, eps, x, None, &p, &mut out)
    };
    Ok(())
}

/// `sum = x + residual; y = LayerNorm(sum)`, in one sweep per row.
pub fn add_layernorm(
    shape: Rows,
    eps: f32,
    x: &[f32],
    residual: &[f32],
    sum: &mut [f32],
    p: Affine,
    mut out: LayerNormOut,
) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_forward("add_layernorm", shape, x, &p, &out)?;
    check_eq("add_layernorm", "residual", residual.len(), shape.len())?;
    check_eq("add_layernorm", "sum", sum.len(), shape.len())?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; every length is checked above.
    unsafe {
        imp::forward(shape, eps, x, Some((residual, sum)), &p, &mut out)
    };
    Ok(())
}

/// The LayerNorm backward: writes `dx`, accumulates `dgamma` and `dbeta`.
pub fn layernorm_backward(
    shape: Rows,
    saved: Saved,
    dy: &[f32],
    mut grads: LayerNormGrads,
) -> Result<()> {
    cpu::require(Feature::Avx2)?;
    check_backward(shape, &saved, dy, &grads)?;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `require` confirmed AVX2 and FMA; `check_backward` confirmed every length.
    unsafe {
        imp::backward(shape, &saved, dy, &mut grads)
    };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::super::{simd, Affine, LayerNormGrads, LayerNormOut, Saved};
    use crate::simd_math::Avx2 as S;
    use crate::Rows;

    /// # Safety
    /// AVX2 and FMA is available; see `simd::forward`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward(
        shape: Rows,
        eps: f32,
        x: &[f32],
        add: Option<(&[f32], &mut [f32])>,
        p: &Affine,
        out: &mut LayerNormOut,
    ) {
        // SAFETY: the features `S` needs are enabled here; lengths as the caller promised.
        unsafe { simd::forward::<S>(shape, eps, x, add, p, out) }
    }

    /// # Safety
    /// AVX2 and FMA is available; see `simd::backward`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward(shape: Rows, s: &Saved, dy: &[f32], g: &mut LayerNormGrads) {
        // SAFETY: as for `forward`.
        unsafe { simd::backward::<S>(shape, s, dy, g) }
    }
}
