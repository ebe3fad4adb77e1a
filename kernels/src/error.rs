//! The one error type kernels return: a wrong shape or buffer length, invalid explicit
//! blocking parameters, or a missing CPU feature.

use crate::cpu::Feature;

/// Why a kernel refused to run. Kernels check before they touch memory, so an error means
/// nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// A buffer is shorter (or, for outputs of exact size, longer) than the shape requires.
    #[error("{op}: buffer `{buffer}` has {got} elements, the shape needs {expected}")]
    Length {
        op: &'static str,
        buffer: &'static str,
        expected: usize,
        got: usize,
    },
    /// The shape itself is invalid (a stride shorter than a row, zero columns for a row op...).
    #[error("{op}: invalid shape: {reason}")]
    Shape { op: &'static str, reason: String },
    /// Explicit blocking parameters a kernel cannot use (a micro-tile it does not have, a
    /// block size of zero, not a multiple of the micro-tile, or beyond the bounds).
    #[error("{op}: invalid blocking parameters: {reason}")]
    Blocking { op: &'static str, reason: String },
    /// The kernel needs a CPU feature that this machine lacks or that `KERNELS_DISABLE` masks.
    #[error("needs {feature}, which is unavailable: {reason}")]
    Unsupported { feature: Feature, reason: String },
}

/// `Result` with [`KernelError`].
pub type Result<T> = std::result::Result<T, KernelError>;

/// Checks that `buffer` holds at least `expected` elements.
#[inline]
pub fn check_len(
    op: &'static str,
    buffer: &'static str,
    got: usize,
    expected: usize,
) -> Result<()> {
    length_check(got >= expected, op, buffer, expected, got)
}

/// `Ok` when `ok`, else the [`KernelError::Length`] of `buffer`: the one place that error is
/// built for [`check_len`] and [`crate::check_eq`], which differ only in the comparison.
#[inline]
pub(crate) fn length_check(
    ok: bool,
    op: &'static str,
    buffer: &'static str,
    expected: usize,
    got: usize,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(KernelError::Length {
            op,
            buffer,
            expected,
            got,
        })
    }
}
