//! The reference attention: the three unfused ops the model ran per head before the fused
//! kernel, `matmul::naive` (q·kᵀ), `softmax::naive::softmax_causal_inplace` (scale, mask,
//! f64 softmax) and `matmul::naive` (·v), one query row at a time.
//!
//! Row by row is bit-for-bit the model's former whole-block calls: the naive MatMul computes
//! every output element by the same loop whatever the row count, and the softmax works row by
//! row, so a query row `i` with offset `past + i` is exactly row `i` of the block with offset
//! `past`. It needs one score row of scratch (`total`) instead of `rows · total`.

use super::{Attention, Qkv};
use crate::matmul::{naive::matmul, Gemm};
use crate::softmax::naive::softmax_causal_inplace;
use crate::{Result, Rows};
use std::ops::Range;

/// Causal attention of the heads in `heads` (see the module contract), by the unfused ops.
pub fn attention(
    shape: &Attention,
    scale: f32,
    heads: Range<usize>,
    qkv: Qkv<'_>,
    out: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    if !shape.check(&heads, &qkv, out, scratch)? {
        return Ok(());
    }
    let (hd, total) = (shape.head_dim, shape.try_total()?);
    let sc = &mut scratch[..total];
    let scores = Gemm::new(1, hd, total)
        .with_trans(false, true)
        .with_strides(shape.q_stride, shape.kv_stride, total);
    let values = Gemm::new(1, total, hd).with_strides(total, shape.kv_stride, shape.out_stride);
    for h in heads {
        let off = h * hd;
        for i in 0..shape.rows {
            // In range: `check` bounded every row start `i·stride + off` by the buffer length.
            let (qi, oi) = (i * shape.q_stride + off, i * shape.out_stride + off);
            matmul(&scores, 1.0, &qkv.q[qi..], &qkv.k[off..], 0.0, sc, &mut [])?;
            softmax_causal_inplace(Rows::new(1, total), scale, shape.past + i, sc)?;
            matmul(
                &values,
                1.0,
                sc,
                &qkv.v[off..],
                0.0,
                &mut out[oi..],
                &mut [],
            )?;
        }
    }
    Ok(())
}
