//! Softmax over the rows of a contiguous matrix, the fused scale + causal mask + softmax of
//! attention, and the softmax backward.
//!
//! # Contract
//! * Shapes are [`Rows`](crate::Rows); every buffer holds exactly `rows · cols` elements.
//! * `y[r][j] = exp(x[r][j] - max_r) / Σ_j exp(x[r][j] - max_r)`: the row maximum is
//!   subtracted first, so rows of large equal values give `1/cols`, never overflow.
//! * Causal: `y[r][j] = softmax_j(scale · x[r][j])` over `j ≤ r + offset`, and exactly 0 for
//!   the masked `j > r + offset` (`offset` is the number of cached positions before the first
//!   row, 0 for a square block).
//! * Backward: `dx[r][j] = y[r][j] · (dy[r][j] - Σ_j y[r][j]·dy[r][j])`.
//! * NaN anywhere in a row makes that row NaN; a row holding +∞ is NaN (∞ - ∞), as in the
//!   reference.
//!
//! [`naive`] works in f64 per row: it is the accuracy reference. [`avx2`], [`avx512`] (and
//! `neon` on aarch64) share one vector kernel: three passes per row, f32 lane sums.

/// Expands, inside one ISA module, to the public safe wrappers of that ISA (the same names and
/// signatures as [`naive`]) and the private `#[target_feature]` functions that instantiate the
/// kernels of `simd` for it. Each wrapper calls `cpu::require` first (through `isa_wrapper!`),
/// so off `target_arch` (where nothing else is compiled) it still exists and returns
/// [`KernelError::Unsupported`].
///
/// [`KernelError::Unsupported`]: crate::KernelError::Unsupported
macro_rules! softmax_wrappers {
    ($feature:ident, $simd:path, $target_feature:literal, $target_arch:literal) => {
        isa_wrapper! {
            $feature, $target_arch,
            /// `y = softmax(x)` row by row.
            pub fn softmax(shape: $crate::Rows, x: &[f32], y: &mut [f32]) checks {
                $crate::check_rows_eq("softmax", "x", x.len(), shape)?;
                $crate::check_rows_eq("softmax", "y", y.len(), shape)?;
                if shape.cols == 0 {
                    return Ok(());
                }
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; `x` and
                // `y` are distinct and hold rows·cols elements, cols ≥ 1.
                unsafe { imp::rows(x.as_ptr(), y.as_mut_ptr(), shape, 1.0, None) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `x = softmax(x)` row by row.
            pub fn softmax_inplace(shape: $crate::Rows, x: &mut [f32]) checks {
                $crate::check_rows_eq("softmax", "x", x.len(), shape)?;
                if shape.cols == 0 {
                    return Ok(());
                }
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; `x` holds
                // rows·cols elements (cols ≥ 1), each read before it is written.
                unsafe { rows_inplace(x, shape, 1.0, None) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `y = causal_softmax(scale · x)`: row `r` sees columns `0..=r + offset`, the rest
            /// are 0.
            pub fn softmax_causal(
                shape: $crate::Rows,
                scale: f32,
                offset: usize,
                x: &[f32],
                y: &mut [f32],
            ) checks {
                $crate::check_rows_eq("softmax_causal", "x", x.len(), shape)?;
                $crate::check_rows_eq("softmax_causal", "y", y.len(), shape)?;
                if shape.cols == 0 {
                    return Ok(());
                }
            } run {
                // SAFETY: as in `softmax`.
                unsafe { imp::rows(x.as_ptr(), y.as_mut_ptr(), shape, scale, Some(offset)) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// In-place form of [`softmax_causal`].
            pub fn softmax_causal_inplace(
                shape: $crate::Rows,
                scale: f32,
                offset: usize,
                x: &mut [f32],
            ) checks {
                $crate::check_rows_eq("softmax_causal", "x", x.len(), shape)?;
                if shape.cols == 0 {
                    return Ok(());
                }
            } run {
                // SAFETY: as in `softmax_inplace`.
                unsafe { rows_inplace(x, shape, scale, Some(offset)) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `dx = y ⊙ (dy - rowsum(y ⊙ dy))`, with `y` the softmax output.
            pub fn softmax_backward(shape: $crate::Rows, y: &[f32], dy: &[f32], dx: &mut [f32])
            checks {
                $crate::check_rows_eq("softmax_backward", "y", y.len(), shape)?;
                $crate::check_rows_eq("softmax_backward", "dy", dy.len(), shape)?;
                $crate::check_rows_eq("softmax_backward", "dx", dx.len(), shape)?;
                if shape.cols == 0 {
                    return Ok(());
                }
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; the
                // three buffers hold rows·cols elements.
                unsafe { imp::backward(y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), shape) };
            }
        }

        /// `imp::rows` with `x` as both source and destination: the in-place wrappers' one
        /// call of the kernel, where the aliasing is argued once.
        ///
        /// # Safety
        /// The feature this module is compiled for is available; `x` holds `shape.rows ·
        /// shape.cols` elements with `shape.cols ≥ 1`.
        #[cfg(target_arch = $target_arch)]
        unsafe fn rows_inplace(
            x: &mut [f32],
            shape: $crate::Rows,
            scale: f32,
            causal: Option<usize>,
        ) {
            let p = x.as_mut_ptr();
            // SAFETY: as the caller promised; the kernel reads each element before it writes it,
            // so source and destination may be the same buffer.
            unsafe { imp::rows(p, p, shape, scale, causal) }
        }

        target_feature_imp! {
            simd: $simd,
            target_feature: $target_feature,
            target_arch: $target_arch,
            uses: { use $crate::Rows; },
            fn rows(src: *const f32, dst: *mut f32, shape: Rows, scale: f32, causal: Option<usize>)
                => rows(src, dst, shape.rows, shape.cols, scale, causal);
            fn backward(y: *const f32, dy: *const f32, dx: *mut f32, shape: Rows)
                => backward(y, dy, dx, shape.rows, shape.cols);
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
