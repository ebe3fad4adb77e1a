//! The fused bias add + GELU (tanh form) of a transformer's MLP, and its backward.
//!
//! # Contract
//! * Forward: `y[r][j] = gelu_tanh(x[r][j] + bias[j])` for a [`Rows`](crate::Rows) shape;
//!   `x` and `y` hold exactly `rows·cols` elements, `bias` exactly `cols` (0 too). The sum
//!   is one IEEE f32 addition, exactly as [`add::naive::add_bias`](crate::add::naive::add_bias)
//!   computes it, so the fused op equals the unfused "bias add, then GELU" of the same
//!   implementation: [`naive`] bit for bit against the naive pair, the vector forms bit for bit
//!   against their own unfused pair (tested).
//! * Backward: `dx[r][j] = dy[r][j] · gelu_tanh'(x[r][j] + bias[j])` from the
//!   *pre-bias* input `x` (what the forward read) and the same bias. The bias gradient
//!   (`Σ_r dx[r][j]`) stays with the caller: it is a reduction over rows, which the row split
//!   of the threaded runner cannot share, and the caller already sums the columns for the
//!   weights' gradient pass.
//! * NaN and infinities pass through as in the unfused form: `x + bias` follows IEEE
//!   (`∞ + -∞ = NaN`), then GELU's rules apply (`gelu(+∞) = +∞`, `gelu(-∞) = 0`, NaN → NaN).
//!
//! [`naive`] is the reference (f32 sum, then the f64 GELU of [`crate::gelu::naive`]);
//! [`avx2`], [`avx512`] (and `neon` on aarch64) instantiate one vector kernel (`simd.rs`)
//! over the shared vector layer, reusing the GELU module's vector tanh form, so their error
//! is the GELU kernels' documented error (see [`crate::gelu::avx2`]).

/// Expands, inside one ISA module, to the public safe wrappers of that ISA (the same names and
/// signatures as [`naive`]) and the private `#[target_feature]` functions that instantiate the
/// kernels of `simd` for it. Each wrapper calls `cpu::require` first (through `isa_wrapper!`),
/// so off `target_arch` (where nothing else is compiled) it still exists and returns
/// [`KernelError::Unsupported`].
///
/// [`KernelError::Unsupported`]: crate::KernelError::Unsupported
macro_rules! bias_gelu_wrappers {
    ($feature:ident, $simd:path, $target_feature:literal, $target_arch:literal) => {
        $crate::add::bias_op_wrappers! {
            $feature, $target_arch,
            /// `y[r][j] = gelu_tanh(x[r][j] + bias[j])`.
            fn bias_gelu(shape, x, bias, y);
            /// `x[r][j] = gelu_tanh(x[r][j] + bias[j])`.
            fn bias_gelu_inplace;
            check: super::check_forward(shape, x, bias);
            kernel: forward
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `dx[r][j] = dy[r][j] · gelu_tanh'(x[r][j] + bias[j])`.
            pub fn bias_gelu_backward(
                shape: $crate::Rows,
                x: &[f32],
                bias: &[f32],
                dy: &[f32],
                dx: &mut [f32],
            ) checks {
                super::check_backward(shape, x, bias, dy, dx)?;
                if shape.is_empty() {
                    return Ok(());
                }
            } run {
                // SAFETY: `require` confirmed the feature; `x`, `dy` and `dx` hold rows·cols
                // elements and `bias` cols (checked above); `dx` is a distinct `&mut`.
                unsafe {
                    let dx = dx.as_mut_ptr();
                    imp::backward(x.as_ptr(), bias.as_ptr(), dy.as_ptr(), dx, shape)
                };
            }
        }

        target_feature_imp! {
            simd: $simd,
            target_feature: $target_feature,
            target_arch: $target_arch,
            uses: { use $crate::Rows; },
            fn forward(x: *const f32, bias: *const f32, y: *mut f32, s: Rows)
                => bias_rows(x, bias, y, s.rows, s.cols, simd::Forward);
            fn backward(x: *const f32, bias: *const f32, dy: *const f32, dx: *mut f32, s: Rows)
                => backward(x, bias, dy, dx, s.rows, s.cols);
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
#[cfg(test)]
mod tests;

use crate::{check_rows_eq, Result, Rows};

/// The forward's input checks, shared by every implementation: `x` is rows·cols (an
/// overflowing product is an error), `bias` is cols.
fn check_forward(shape: Rows, x: &[f32], bias: &[f32]) -> Result<()> {
    crate::add::check_bias("bias_gelu", shape, x, bias)
}

/// The backward's checks: `x`, `dy` and `dx` are rows·cols, `bias` is cols.
fn check_backward(shape: Rows, x: &[f32], bias: &[f32], dy: &[f32], dx: &[f32]) -> Result<()> {
    const OP: &str = "bias_gelu_backward";
    crate::add::check_bias(OP, shape, x, bias)?;
    check_rows_eq(OP, "dy", dy.len(), shape)?;
    check_rows_eq(OP, "dx", dx.len(), shape)
}
