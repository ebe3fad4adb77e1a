//! Causal multi-head attention fused into one kernel: scores, scale, causal mask, softmax and
//! the weighted sum of the values, per head, in one pass over that head's keys and values.
//!
//! # Contract
//! * [`Attention`] describes `rows` query rows at positions `past..past + rows` against
//!   `total = past + rows` cached key/value rows, `heads` heads of `head_dim` columns each
//!   (`width = heads · head_dim`); head `h` occupies columns `h·head_dim..(h+1)·head_dim` of
//!   every row. Query rows have stride `q_stride` (the model's `3·width`, inside its fused QKV
//!   buffer), key and value rows `kv_stride`, output rows `out_stride`.
//! * For every head `h` in the given range and query row `i`:
//!   `s_j = q_i·k_j` (j < total), `p = causal_softmax(scale · s)` where row `i` sees keys
//!   `0..=past + i` (the rest have probability exactly 0), and `out_i = Σ_j p_j · v_j` over the
//!   head's columns. Columns of other heads and the bytes between rows are never written.
//! * Buffers hold at least `(rows - 1)·stride + width` elements (`total` rows for `k` and `v`;
//!   0 when there are no rows or no columns), and `scratch` at least `total`: the same for
//!   every form, so that any form can stand behind an [`AttentionFn`]. Every length, stride
//!   and product is checked with checked arithmetic ([`Attention::check`]) before anything is
//!   written: a bad shape is a [`KernelError`], never a panic or an out-of-bounds access.
//!
//! [`naive`] is the reference: exactly the three ops the model dispatched before this kernel
//! existed (`matmul::naive` for `q·kᵀ`, `softmax::naive::softmax_causal_inplace`,
//! `matmul::naive` against `v`), one query row at a time. [`avx2`], [`avx512`] (and `neon` on
//! aarch64) share one vector kernel (the private `simd` module): per query row the scaled
//! scores go to a scratch row of `total` floats, then exponentials and their sum, then the
//! weighted sum of the values scaled by `1/Σ`. That is a two-pass softmax over a score row
//! of at most a context (a few KB, in L1), rather than an online (running-max) softmax: it
//! computes each exponential once with no rescaling of the accumulator, vectorises the
//! exponentials across keys, and rounds like the reference's max-subtracted softmax. An online
//! softmax pays off only when a score row does not fit in cache, which a context of this size
//! never reaches.
//!
//! The fused forms read only the visible keys and values `0..=past + i` of row `i`. The
//! reference multiplies the masked probabilities (exact zeros) by the masked values too, so a
//! NaN or ±∞ in a *masked* value row makes its output NaN there; in the fused forms such a row
//! cannot affect an earlier query row. Everywhere else NaN and ±∞ behave as in the reference: a
//! NaN or +∞ score makes the row's output NaN, and so does a row whose visible scores are all
//! -∞ (∞ - ∞ when the maximum is subtracted).

/// Expands, inside one ISA module, to the public safe wrapper of that ISA (the signature of
/// [`naive::attention`]) and the private `#[target_feature]` function that instantiates the
/// kernel of `simd` for it. The wrapper calls `cpu::require` first, so off `target_arch`
/// (where nothing else is compiled) it still exists and returns [`KernelError::Unsupported`].
///
/// [`KernelError::Unsupported`]: crate::KernelError::Unsupported
macro_rules! attention_wrappers {
    ($feature:ident, $simd:path, $target_feature:literal, $target_arch:literal) => {
        /// Fused causal attention of the heads in `heads` (see the module contract).
        #[cfg_attr(not(target_arch = $target_arch), allow(unused_variables))]
        pub fn attention(
            shape: &super::Attention,
            scale: f32,
            heads: ::std::ops::Range<usize>,
            qkv: super::Qkv<'_>,
            out: &mut [f32],
            scratch: &mut [f32],
        ) -> $crate::Result<()> {
            $crate::cpu::require($crate::cpu::Feature::$feature)?;
            if !shape.check(&heads, &qkv, out, scratch)? {
                return Ok(());
            }
            #[cfg(target_arch = $target_arch)]
            // SAFETY: `require` confirmed the feature this module is compiled for; `check`
            // confirmed that every row of q, k, v and out named by the shape lies inside its
            // buffer, that `scratch` holds `total` elements, that the head range is inside
            // `0..heads`, and that there is at least one row and one column.
            unsafe {
                imp::attention(
                    shape,
                    scale,
                    heads,
                    qkv.q.as_ptr(),
                    qkv.k.as_ptr(),
                    qkv.v.as_ptr(),
                    out.as_mut_ptr(),
                    scratch.as_mut_ptr(),
                )
            };
            Ok(())
        }

        target_feature_imp! {
            simd: $simd,
            target_feature: $target_feature,
            target_arch: $target_arch,
            uses: { use super::super::Attention; },
            // The raw form of the safe wrapper's arguments.
            #[allow(clippy::too_many_arguments)]
            fn attention(
                shape: &Attention,
                scale: f32,
                heads: ::std::ops::Range<usize>,
                q: *const f32,
                k: *const f32,
                v: *const f32,
                out: *mut f32,
                scratch: *mut f32,
            ) => attention(shape, scale, heads, q, k, v, out, scratch);
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

use crate::{check_len, KernelError, Result};
use std::ops::Range;

/// The shape and layout of one fused attention call (see the module contract). Build it with
/// [`Attention::new`] and [`Attention::with_strides`]; [`Attention::check`] validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attention {
    /// Query rows (1 when decoding, the prompt length when prefilling).
    pub rows: usize,
    /// Cached positions before the first query row; `total = past + rows` keys are read.
    pub past: usize,
    /// Heads in the layout (a call may compute a sub-range of them).
    pub heads: usize,
    /// Columns per head.
    pub head_dim: usize,
    /// Row stride of q.
    pub q_stride: usize,
    /// Row stride of the key and value caches.
    pub kv_stride: usize,
    /// Row stride of the output.
    pub out_stride: usize,
}

/// The inputs of one call: the query rows and the key and value caches, laid out as
/// [`Attention`] says.
#[derive(Debug, Clone, Copy)]
pub struct Qkv<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
}

/// The signature every form shares: `(shape, scale, head range, inputs, out, scratch)`.
pub type AttentionFn =
    fn(&Attention, f32, Range<usize>, Qkv<'_>, &mut [f32], &mut [f32]) -> Result<()>;

const OP: &str = "attention";

impl Attention {
    /// `rows` query rows after `past` cached positions, every stride the contiguous
    /// `width = heads·head_dim` (saturating: an overflowing width fails [`Attention::check`]).
    pub fn new(rows: usize, past: usize, heads: usize, head_dim: usize) -> Attention {
        let width = heads.saturating_mul(head_dim);
        Attention {
            rows,
            past,
            heads,
            head_dim,
            q_stride: width,
            kv_stride: width,
            out_stride: width,
        }
    }

    /// Sets explicit row strides (the model's q rows sit inside a `3·width` QKV row).
    pub fn with_strides(mut self, q_stride: usize, kv_stride: usize, out_stride: usize) -> Self {
        self.q_stride = q_stride;
        self.kv_stride = kv_stride;
        self.out_stride = out_stride;
        self
    }

    /// Every head, `0..heads`.
    pub fn all_heads(&self) -> Range<usize> {
        0..self.heads
    }

    /// `heads · head_dim`, or a [`KernelError::Shape`] when it overflows.
    pub fn try_width(&self) -> Result<usize> {
        self.heads.checked_mul(self.head_dim).ok_or_else(|| {
            shape_error(format!(
                "heads·head_dim = {}·{} overflows usize",
                self.heads, self.head_dim
            ))
        })
    }

    /// `past + rows`, the keys and values read, or a [`KernelError::Shape`] on overflow.
    pub fn try_total(&self) -> Result<usize> {
        self.past.checked_add(self.rows).ok_or_else(|| {
            shape_error(format!(
                "past + rows = {} + {} overflows usize",
                self.past, self.rows
            ))
        })
    }

    /// Checks the head range, every stride and every buffer length (checked arithmetic
    /// throughout). `Ok(true)` when there is work (at least one row, column and head in
    /// range), `Ok(false)` when the call has nothing to compute; a passed check means every
    /// element `r·stride + c` (r < rows of that operand, c < width) lies inside its buffer.
    pub fn check(
        &self,
        heads: &Range<usize>,
        qkv: &Qkv<'_>,
        out: &[f32],
        scratch: &[f32],
    ) -> Result<bool> {
        let work = self.check_operands(heads, qkv, out)?;
        check_len(OP, "scratch", scratch.len(), self.try_total()?)?;
        Ok(work)
    }

    /// [`Attention::check`] without the scratch row: for a caller that sizes the scratch
    /// (`total` elements, then bounded by the key buffer's length) after this check.
    pub fn check_operands(&self, heads: &Range<usize>, qkv: &Qkv<'_>, out: &[f32]) -> Result<bool> {
        let width = self.try_width()?;
        let total = self.try_total()?;
        if heads.start > heads.end || heads.end > self.heads {
            return Err(shape_error(format!(
                "head range {}..{} is not inside 0..{}",
                heads.start, heads.end, self.heads
            )));
        }
        let q = Operand::new("q", "q_stride", self.rows, self.q_stride);
        let kv = |name| Operand::new(name, "kv_stride", total, self.kv_stride);
        let o = Operand::new("out", "out_stride", self.rows, self.out_stride);
        q.check(width, qkv.q.len())?;
        kv("k").check(width, qkv.k.len())?;
        kv("v").check(width, qkv.v.len())?;
        o.check(width, out.len())?;
        Ok(self.rows > 0 && self.head_dim > 0 && heads.start < heads.end)
    }
}

fn shape_error(reason: String) -> KernelError {
    KernelError::Shape { op: OP, reason }
}

/// One strided operand: its buffer's name, its stride's name, its rows and its stride.
struct Operand {
    buffer: &'static str,
    stride_name: &'static str,
    rows: usize,
    stride: usize,
}

impl Operand {
    fn new(buffer: &'static str, stride_name: &'static str, rows: usize, stride: usize) -> Self {
        Operand {
            buffer,
            stride_name,
            rows,
            stride,
        }
    }

    /// With more than one row the stride must hold a whole row of `width` columns, and the
    /// buffer must hold the span of every row.
    fn check(&self, width: usize, len: usize) -> Result<()> {
        let (name, stride) = (self.stride_name, self.stride);
        if self.rows > 1 && stride < width {
            return Err(shape_error(format!(
                "{name} = {stride} is shorter than a row of {width}"
            )));
        }
        check_len(OP, self.buffer, len, span(name, self.rows, width, stride)?)
    }
}

/// `(rows - 1)·stride + width` (0 without rows or columns, [`crate::matmul::span`]), or a
/// [`KernelError::Shape`] naming the stride when that overflows `usize`.
fn span(name: &'static str, rows: usize, width: usize, stride: usize) -> Result<usize> {
    crate::matmul::span(rows, width, stride).ok_or_else(|| {
        shape_error(format!(
            "{name} = {stride}: (rows - 1)·{name} + width overflows usize (rows = {rows}, width = {width})"
        ))
    })
}
