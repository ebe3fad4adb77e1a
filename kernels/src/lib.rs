//! The harness's own compute kernels.
//!
//! Organised by op (`matmul`, `gelu`, `softmax`, `layernorm`, `add`). Inside an op the module
//! root holds the contract and the naive reference; `tiled`, `avx2`, `avx512` and `neon` sit
//! beside it and compute the same thing faster. [`probe`] holds the FMA and read-bandwidth
//! loops a roofline study times.
//!
//! Invariants: kernels never allocate (outputs and scratch are passed in), do no I/O and know
//! nothing of tables or timing. Every `#[target_feature]` function is reached only through a
//! safe wrapper that has checked the CPU with [`cpu::require`], so no variant can run on a CPU
//! that lacks its features.

/// Instantiates an op's wrappers macro (`add_wrappers!`, `gelu_wrappers!`, …) inside that op's
/// module for one ISA (`avx2`, `avx512`, `neon`). This is the one place that names each ISA's
/// [`cpu::Feature`], vector type (of `simd_math`), `target_feature` string and `target_arch`;
/// the wrappers macro takes them in that order.
macro_rules! instantiate {
    ($wrappers:ident, avx2) => {
        $wrappers!(Avx2, $crate::simd_math::Avx2, "avx2,fma", "x86_64");
    };
    ($wrappers:ident, avx512) => {
        $wrappers!(Avx512, $crate::simd_math::Avx512, "avx512f", "x86_64");
    };
    ($wrappers:ident, neon) => {
        $wrappers!(Neon, $crate::simd_math::Neon, "neon", "aarch64");
    };
}

/// Expands, inside an op's wrappers macro, to one public safe wrapper of an ISA: the function
/// with the given parameters, returning `Result<()>`, that calls [`cpu::require`] for
/// `$feature` first, then runs the `checks` block (the length checks, and an early
/// `return Ok(())` where there is nothing to compute), then, compiled on `$target_arch` only,
/// the `run` block: the `unsafe` call into the op's `imp`, with its `// SAFETY:` comment. The
/// CPU check before any `#[target_feature]` code is thus written once for the wrappers of the
/// element-wise and row ops; off `$target_arch` a wrapper still exists and returns
/// `require`'s [`KernelError::Unsupported`].
macro_rules! isa_wrapper {
    (
        $feature:ident, $target_arch:literal,
        $(#[$attr:meta])*
        pub fn $name:ident($($params:tt)*) checks $checks:block run $run:block
    ) => {
        $(#[$attr])*
        #[cfg_attr(not(target_arch = $target_arch), allow(unused_variables, unused_mut))]
        pub fn $name($($params)*) -> $crate::Result<()> {
            $crate::cpu::require($crate::cpu::Feature::$feature)?;
            $checks
            #[cfg(target_arch = $target_arch)]
            $run
            Ok(())
        }
    };
}

/// Expands, inside an op's ISA module, to its private module `imp` (compiled only on
/// `target_arch`): for each `fn`, an `unsafe` function with the `target_feature` enabled that
/// calls the op's generic kernel `simd::$kernel::<S>` (`S` the ISA's vector type) with the
/// given arguments. The `#[target_feature]` boundary of every op is thus written once; the
/// safe wrappers call these functions after `cpu::require` and their checks.
macro_rules! target_feature_imp {
    (
        simd: $simd:path,
        target_feature: $target_feature:literal,
        target_arch: $target_arch:literal,
        uses: { $($uses:tt)* },
        $(
            $(#[$attr:meta])*
            fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $kernel:ident($($karg:expr),* $(,)?);
        )*
    ) => {
        #[cfg(target_arch = $target_arch)]
        mod imp {
            use super::super::simd;
            $($uses)*
            use $simd as S;

            $(
                /// # Safety
                #[doc = concat!(
                    "The features named in `target_feature` are available; see `simd::",
                    stringify!($kernel),
                    "`."
                )]
                $(#[$attr])*
                #[target_feature(enable = $target_feature)]
                pub(super) unsafe fn $name($($arg: $ty),*) {
                    // SAFETY: the features `S` needs are enabled here; the arguments are as the
                    // caller promised, which is what the generic kernel requires.
                    unsafe { simd::$kernel::<S>($($karg),*) }
                }
            )*
        }
    };
}

pub mod add;
pub mod attention;
pub mod bias_gelu;
pub mod cpu;
mod error;
pub mod gelu;
pub mod layernorm;
pub mod matmul;
pub mod probe;
mod simd_math;
pub mod softmax;

pub use error::{check_len, KernelError, Result};

/// A contiguous row-major matrix shape for the row ops (softmax, layernorm, bias add).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rows {
    pub rows: usize,
    pub cols: usize,
}

impl Rows {
    pub fn new(rows: usize, cols: usize) -> Rows {
        Rows { rows, cols }
    }

    /// Number of elements, `rows · cols`, saturating at `usize::MAX` where the product does
    /// not fit (no buffer is that long, so a length compared with it cannot match). Length
    /// checks use [`Rows::checked_len`] or [`Rows::try_len`] instead, which report the overflow.
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Number of elements, `rows · cols`, or `None` when the product overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        self.rows.checked_mul(self.cols)
    }

    /// Number of elements, `rows · cols`, or a [`KernelError::Shape`] for `op` when the
    /// product overflows `usize`: the form every kernel's length check uses.
    pub fn try_len(&self, op: &'static str) -> Result<usize> {
        self.checked_len().ok_or_else(|| KernelError::Shape {
            op,
            reason: format!(
                "rows = {}, cols = {}: rows·cols overflows usize",
                self.rows, self.cols
            ),
        })
    }

    /// Whether the matrix has no elements.
    pub fn is_empty(&self) -> bool {
        self.rows == 0 || self.cols == 0
    }
}

/// Checks that a buffer of a row op holds exactly `shape.rows · shape.cols` elements; a shape
/// whose element count overflows `usize` is a [`KernelError::Shape`], never a wrapped length.
#[inline]
pub fn check_rows_eq(
    op: &'static str,
    buffer: &'static str,
    got: usize,
    shape: Rows,
) -> Result<()> {
    check_eq(op, buffer, got, shape.try_len(op)?)
}

/// Checks that `got` equals `expected` exactly (outputs of element-wise ops must match).
#[inline]
pub fn check_eq(op: &'static str, buffer: &'static str, got: usize, expected: usize) -> Result<()> {
    error::length_check(got == expected, op, buffer, expected, got)
}
