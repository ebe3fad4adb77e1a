//! Element-wise Add, out of place and in place, and the row-broadcast bias add (M×N + N).
//!
//! # Contract
//! * `out[i] = a[i] + b[i]`: `a`, `b` and `out` have exactly the same length (0 too).
//! * Bias: `out[r][j] = x[r][j] + bias[j]` for a [`Rows`](crate::Rows) shape; `bias` holds
//!   exactly `cols` elements.
//! * IEEE addition element by element, so every variant is bit-identical to [`naive`].

/// Expands, inside one ISA module, to the safe wrappers of a row-broadcast bias op,
/// `out[r][j] = f(x[r][j] + bias[j])`, out of place (`$name`, writing the buffer `$out`) and
/// in place (`$inplace`): the bias add here and the fused bias + GELU of
/// [`crate::bias_gelu`], whose wrappers differ only in their names, the input check (`$check`,
/// on the parameters named in the first line) and the `imp` function they call,
/// `$kernel(x, bias, out, shape)`.
macro_rules! bias_op_wrappers {
    (
        $feature:ident, $target_arch:literal,
        $(#[$doc:meta])*
        fn $name:ident($shape:ident, $x:ident, $bias:ident, $out:ident);
        $(#[$doc_inplace:meta])*
        fn $inplace:ident;
        check: $check:expr;
        kernel: $kernel:ident
    ) => {
        isa_wrapper! {
            $feature, $target_arch,
            $(#[$doc])*
            pub fn $name($shape: $crate::Rows, $x: &[f32], $bias: &[f32], $out: &mut [f32]) checks {
                $check?;
                $crate::check_rows_eq(stringify!($name), stringify!($out), $out.len(), $shape)?;
                if $shape.is_empty() {
                    // Nothing to compute; returning here also spares a loop over empty rows.
                    return Ok(());
                }
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; `x` and
                // the output hold rows·cols elements and `bias` cols (checked above); the
                // output is a distinct `&mut`.
                unsafe { imp::$kernel($x.as_ptr(), $bias.as_ptr(), $out.as_mut_ptr(), $shape) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            $(#[$doc_inplace])*
            pub fn $inplace($shape: $crate::Rows, $x: &mut [f32], $bias: &[f32]) checks {
                $check?;
                if $shape.is_empty() {
                    return Ok(());
                }
            } run {
                // SAFETY: as in the out-of-place form, with `x` read and written in place
                // (each vector is loaded before the same lanes are stored).
                unsafe {
                    let p = $x.as_mut_ptr();
                    imp::$kernel(p, $bias.as_ptr(), p, $shape)
                };
            }
        }
    };
}
pub(crate) use bias_op_wrappers;

/// Expands, inside one ISA module, to the public safe wrappers of that ISA (the same names and
/// signatures as [`naive`]) and the private `#[target_feature]` functions that instantiate the
/// kernels of `simd` for it. Each wrapper calls `cpu::require` first (through `isa_wrapper!`),
/// so off `target_arch` (where nothing else is compiled) it still exists and returns
/// [`KernelError::Unsupported`].
///
/// [`KernelError::Unsupported`]: crate::KernelError::Unsupported
macro_rules! add_wrappers {
    ($feature:ident, $simd:path, $target_feature:literal, $target_arch:literal) => {
        isa_wrapper! {
            $feature, $target_arch,
            /// `out = a + b`.
            pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) checks {
                $crate::check_eq("add", "b", b.len(), a.len())?;
                $crate::check_eq("add", "out", out.len(), a.len())?;
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; the three
                // buffers hold `a.len()` elements and `out` is a distinct `&mut`.
                unsafe { imp::add(a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), a.len()) };
            }
        }

        isa_wrapper! {
            $feature, $target_arch,
            /// `a += b`.
            pub fn add_inplace(a: &mut [f32], b: &[f32]) checks {
                $crate::check_eq("add", "b", b.len(), a.len())?;
            } run {
                // SAFETY: `require` confirmed the feature this module is compiled for; `a` (read
                // and written in place) and `b` hold `a.len()` elements.
                unsafe {
                    let p = a.as_mut_ptr();
                    imp::add(p, b.as_ptr(), p, a.len())
                };
            }
        }

        bias_op_wrappers! {
            $feature, $target_arch,
            /// `out[r][j] = x[r][j] + bias[j]`.
            fn add_bias(shape, x, bias, out);
            /// `x[r][j] += bias[j]`.
            fn add_bias_inplace;
            check: super::check_bias("add_bias", shape, x, bias);
            kernel: add_bias
        }

        target_feature_imp! {
            simd: $simd,
            target_feature: $target_feature,
            target_arch: $target_arch,
            uses: { use $crate::Rows; },
            fn add(a: *const f32, b: *const f32, out: *mut f32, n: usize) => add(a, b, out, n);
            fn add_bias(x: *const f32, bias: *const f32, out: *mut f32, shape: Rows)
                => bias_rows(x, bias, out, shape.rows, shape.cols, simd::AddBias);
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

use crate::{check_eq, check_rows_eq, Result, Rows};

/// The input checks of a row-broadcast bias op (the bias add here, the fused bias + GELU of
/// [`crate::bias_gelu`]): `x` holds rows·cols elements (an overflowing product is an error)
/// and `bias` cols.
pub(crate) fn check_bias(op: &'static str, shape: Rows, x: &[f32], bias: &[f32]) -> Result<()> {
    check_rows_eq(op, "x", x.len(), shape)?;
    check_eq(op, "bias", bias.len(), shape.cols)
}
