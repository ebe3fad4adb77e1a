//! LayerNorm over the last axis, its backward, and a fused residual-add + LayerNorm.
//!
//! # Contract
//! * Shapes are [`Rows`](crate::Rows); `x`, `y`, `residual`, `sum`, `dy`, `dx` hold exactly
//!   `rows · cols` elements; `gamma`, `beta`, `dgamma`, `dbeta` hold `cols`; `mean` and `rstd`
//!   hold `rows`. `cols` must be ≥ 1 when `rows` ≥ 1.
//! * Forward: `mean = Σx/cols`, `var = Σ(x-mean)²/cols` (biased, as PyTorch),
//!   `rstd = 1/√(var + eps)`, `y = (x - mean)·rstd·gamma + beta`; `mean` and `rstd` are saved
//!   for the backward. A constant row gives `y = beta` (finite).
//! * Backward: with `x̂ = (x - mean)·rstd` and `g = dy·gamma`,
//!   `dx = rstd·(g - mean(g) - x̂·mean(g·x̂))`; `dgamma += Σ_rows dy·x̂`, `dbeta += Σ_rows dy`
//!   (accumulated, so a caller can sum over micro-batches; zero them first).
//! * Fused: `sum = x + residual`, then `y = LayerNorm(sum)`, in one pass over memory.
//!
//! [`naive`] works in f64 per row: it is the accuracy reference. [`avx2`], [`avx512`] (and
//! `neon` on aarch64) share one vector kernel: two passes (shifted mean, then variance of
//! `x - mean`) and f32 lane sums.

/// Expands, inside one ISA module, to the public safe wrappers of that ISA (the same names and
/// signatures as [`naive`]) and the private `#[target_feature]` functions that instantiate the
/// kernels of `simd` for it. Each wrapper calls `cpu::require` first (through `isa_wrapper!`),
/// so off `target_arch` (where nothing else is compiled) it still exists and returns
/// [`KernelError::Unsupported`].
///
/// [`KernelError::Unsupported`]: crate::KernelError::Unsupported
macro_rules! layernorm_wrappers {
    ($feature:ident, $simd:path, $target_feature:literal, $target_arch:literal) => {
        isa_wrapper! {
            $feature, $target_arch,
            /// `y = LayerNorm(x)`, saving each row's mean and reciprocal standard deviation.
            pub fn layernorm(
                shape: $crate::Rows,
                eps: f32,
                x: &[f32],
                p: super::Affine,
                mut out: super::LayerNormOut,
            ) checks {
                super::check_forward("layernorm", shape, x, &p, &out)?;
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for;
                // `check_forward` confirmed every length.
                unsafe { imp::forward(shape, eps, x, None, &p, &mut out) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `sum = x + residual; y = LayerNorm(sum)`, in one sweep per row.
            pub fn add_layernorm(
                shape: $crate::Rows,
                eps: f32,
                x: &[f32],
                residual: &[f32],
                sum: &mut [f32],
                p: super::Affine,
                mut out: super::LayerNormOut,
            ) checks {
                super::check_forward("add_layernorm", shape, x, &p, &out)?;
                $crate::check_rows_eq("add_layernorm", "residual", residual.len(), shape)?;
                $crate::check_rows_eq("add_layernorm", "sum", sum.len(), shape)?;
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; every
                // length is checked above.
                unsafe { imp::forward(shape, eps, x, Some((residual, sum)), &p, &mut out) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// The LayerNorm backward: writes `dx`, accumulates `dgamma` and `dbeta`.
            pub fn layernorm_backward(
                shape: $crate::Rows,
                saved: super::Saved,
                dy: &[f32],
                mut grads: super::LayerNormGrads,
            ) checks {
                super::check_backward(shape, &saved, dy, &grads)?;
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for;
                // `check_backward` confirmed every length.
                unsafe { imp::backward(shape, &saved, dy, &mut grads) };
            }
        }

        target_feature_imp! {
            simd: $simd,
            target_feature: $target_feature,
            target_arch: $target_arch,
            uses: { use super::super::{Affine, LayerNormGrads, LayerNormOut, Saved}; use $crate::Rows; },
            fn forward(
                shape: Rows,
                eps: f32,
                x: &[f32],
                add: Option<(&[f32], &mut [f32])>,
                p: &Affine,
                out: &mut LayerNormOut,
            ) => forward(shape, eps, x, add, p, out);
            fn backward(shape: Rows, s: &Saved, dy: &[f32], g: &mut LayerNormGrads)
                => backward(shape, s, dy, g);
        }
    };
}

pub mod avx2;
pub mod avx512;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod simd;

/// The learned scale and shift, each `cols` long.
#[derive(Debug, Clone, Copy)]
pub struct Affine<'a> {
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
}

/// The forward outputs: the normalised rows and the saved statistics.
#[derive(Debug)]
pub struct LayerNormOut<'a> {
    pub y: &'a mut [f32],
    pub mean: &'a mut [f32],
    pub rstd: &'a mut [f32],
}

/// What the forward saved, for the backward.
#[derive(Debug, Clone, Copy)]
pub struct Saved<'a> {
    pub x: &'a [f32],
    pub gamma: &'a [f32],
    pub mean: &'a [f32],
    pub rstd: &'a [f32],
}

/// The gradients the backward writes (`dx`) and accumulates (`dgamma`, `dbeta`).
#[derive(Debug)]
pub struct LayerNormGrads<'a> {
    pub dx: &'a mut [f32],
    pub dgamma: &'a mut [f32],
    pub dbeta: &'a mut [f32],
}

use crate::{check_eq, check_rows_eq, KernelError, Result, Rows};

/// Checks every buffer of a forward call against the contract.
pub fn check_forward(
    op: &'static str,
    shape: Rows,
    x: &[f32],
    p: &Affine,
    out: &LayerNormOut,
) -> Result<()> {
    if shape.rows > 0 && shape.cols == 0 {
        return Err(KernelError::Shape {
            op,
            reason: "a row must have at least one column".into(),
        });
    }
    check_rows_eq(op, "x", x.len(), shape)?;
    check_eq(op, "gamma", p.gamma.len(), shape.cols)?;
    check_eq(op, "beta", p.beta.len(), shape.cols)?;
    check_rows_eq(op, "y", out.y.len(), shape)?;
    check_eq(op, "mean", out.mean.len(), shape.rows)?;
    check_eq(op, "rstd", out.rstd.len(), shape.rows)
}

/// Checks every buffer of a backward call against the contract.
pub fn check_backward(shape: Rows, s: &Saved, dy: &[f32], g: &LayerNormGrads) -> Result<()> {
    let op = "layernorm_backward";
    check_rows_eq(op, "x", s.x.len(), shape)?;
    check_eq(op, "gamma", s.gamma.len(), shape.cols)?;
    check_eq(op, "mean", s.mean.len(), shape.rows)?;
    check_eq(op, "rstd", s.rstd.len(), shape.rows)?;
    check_rows_eq(op, "dy", dy.len(), shape)?;
    check_rows_eq(op, "dx", g.dx.len(), shape)?;
    check_eq(op, "dgamma", g.dgamma.len(), shape.cols)?;
    check_eq(op, "dbeta", g.dbeta.len(), shape.cols)
}
