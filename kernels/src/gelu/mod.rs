//! GELU, in its tanh approximation (`gelu_new` in GPT-2) and its exact erf form, and the
//! backward of each.
//!
//! # Contract
//! * `y[i] = gelu(x[i])`; input and output have exactly the same length (any length, 0 too).
//! * Backward: `dx[i] = dy[i] · gelu'(x[i])`; the three buffers have the same length.
//! * NaN propagates; `gelu(+∞) = +∞`, `gelu(-∞) = 0` (tanh form: -0).
//!
//! [`naive`] computes in f64 per element: it is the accuracy reference. [`avx2`], [`avx512`]
//! (and `neon` on aarch64) share one vector kernel; each states its measured error.

/// Expands, inside one ISA module, to the public safe wrappers of that ISA (the same names and
/// signatures as [`naive`]) and the private `#[target_feature]` functions that instantiate the
/// kernels of `simd` for it. Each wrapper calls `cpu::require` first (through `isa_wrapper!`),
/// so off `target_arch` (where nothing else is compiled) it still exists and returns
/// [`KernelError::Unsupported`].
///
/// [`KernelError::Unsupported`]: crate::KernelError::Unsupported
macro_rules! gelu_wrappers {
    ($feature:ident, $simd:path, $target_feature:literal, $target_arch:literal) => {
        isa_wrapper! {
            $feature, $target_arch,
            /// `y = gelu(x)`.
            pub fn gelu(kind: super::GeluKind, x: &[f32], y: &mut [f32]) checks {
                $crate::check_eq("gelu", "y", y.len(), x.len())?;
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; `x` and
                // `y` are distinct buffers of `x.len()` elements each.
                unsafe { imp::forward(kind, x.as_ptr(), y.as_mut_ptr(), x.len()) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `x = gelu(x)`.
            pub fn gelu_inplace(kind: super::GeluKind, x: &mut [f32]) checks {} run {
                // SAFETY: `require` confirmed the feature this module is compiled for; source
                // and destination are the same `x.len()` elements, which the kernel reads before
                // it writes them.
                unsafe {
                    let p = x.as_mut_ptr();
                    imp::forward(kind, p, p, x.len())
                };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `dx = dy · gelu'(x)`.
            pub fn gelu_backward(kind: super::GeluKind, x: &[f32], dy: &[f32], dx: &mut [f32])
            checks {
                $crate::check_eq("gelu_backward", "dy", dy.len(), x.len())?;
                $crate::check_eq("gelu_backward", "dx", dx.len(), x.len())?;
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; the three
                // buffers hold `x.len()` elements each.
                unsafe {
                    let dx = dx.as_mut_ptr();
                    imp::backward(kind, x.as_ptr(), dy.as_ptr(), dx, x.len())
                };
            }
        }

        target_feature_imp! {
            simd: $simd,
            target_feature: $target_feature,
            target_arch: $target_arch,
            uses: { use super::super::GeluKind; },
            fn forward(kind: GeluKind, src: *const f32, dst: *mut f32, n: usize)
                => forward(kind, src, dst, n);
            fn backward(kind: GeluKind, x: *const f32, dy: *const f32, dx: *mut f32, n: usize)
                => backward(kind, x, dy, dx, n);
        }
    };
}

pub mod avx2;
pub mod avx512;
pub mod naive;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) mod simd;

/// Which GELU formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeluKind {
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`
    Tanh,
    /// `0.5·x·(1 + erf(x/√2))`
    Erf,
}

impl GeluKind {
    pub fn name(self) -> &'static str {
        match self {
            GeluKind::Tanh => "tanh",
            GeluKind::Erf => "erf",
        }
    }
}

/// √(2/π)
pub const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh approximation.
pub const GELU_COEF: f64 = 0.044_715;
