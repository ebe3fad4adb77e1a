//! Fused causal attention (`kernels::attention`): scores, scale, causal softmax and the
//! weighted sum of the values, per head, in one call. Keyed like MatMul (the bucket of its
//! query rows, then rows·total·width) and split over threads by heads ([`exec::attention`]).

use super::Problem;
use super::{Cost, Gen, ModelDims, OpSpec, Run, Tolerance};
use crate::exec;
use crate::memory::Memory;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::attention::{Attention, AttentionFn, Qkv};
use kernels::Result;

/// The attention op.
pub struct CausalAttention;

/// One attention implementation.
#[derive(Clone, Copy)]
pub struct AttentionKernel {
    pub run: AttentionFn,
}

impl AttentionKernel {
    /// Every head of `shape` with `threads` threads (split by heads), scratch by `memory`.
    pub fn call(
        self,
        threads: usize,
        memory: Memory,
        shape: &Attention,
        scale: f32,
        qkv: Qkv<'_>,
        out: &mut [f32],
    ) -> Result<()> {
        exec::attention(
            threads,
            shape,
            qkv,
            out,
            memory,
            |heads, qkv, out, scratch| (self.run)(shape, scale, heads, qkv, out, scratch),
        )
    }
}

/// Registers the attention kernel of one module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {
        $crate::spec::push_impls!($out, $name, $m, $req, attention;
            CausalAttention => AttentionKernel { run: k::attention },
        )
    };
}
pub(crate) use register;

/// The attention shape of a problem, or why it has another.
fn shape_of(shape: Shape) -> std::result::Result<Attention, String> {
    match shape {
        Shape::Attention(a) => Ok(a),
        _ => Err(super::misfit(CausalAttention::NAME, shape)),
    }
}

/// Elements of `rows` rows of `width` at row stride `stride` (0 without rows or columns),
/// saturating: an overflowing shape fails the kernel's own check.
fn span(rows: usize, stride: usize, width: usize) -> usize {
    if rows == 0 || width == 0 {
        return 0;
    }
    (rows - 1).saturating_mul(stride).saturating_add(width)
}

/// Unit roundoff of f32.
const U: f64 = f32::EPSILON as f64 / 2.0;

impl OpSpec for CausalAttention {
    type Kernel = AttentionKernel;
    const NAME: &'static str = "attention";
    const SHAPE: ShapeKind = ShapeKind::Attention;

    /// `[q, k, v]`, uniform in [-1, 1), laid out with the shape's strides (the model's: q
    /// inside its QKV rows).
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        let a = shape_of(shape)?;
        let width = a.try_width().map_err(|e| e.to_string())?;
        let total = a.try_total().map_err(|e| e.to_string())?;
        Ok(vec![
            gen.uniform(span(a.rows, a.q_stride, width), -1.0, 1.0),
            gen.uniform(span(total, a.kv_stride, width), -1.0, 1.0),
            gen.uniform(span(total, a.kv_stride, width), -1.0, 1.0),
        ])
    }

    /// The output is contiguous (`out_stride = width`), so that no unwritten gap between
    /// rows takes part in the comparison.
    fn execute(k: AttentionKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let Shape::Attention(a) = p.shape else {
            return Err(super::wrong_shape(Self::NAME, p.shape));
        };
        let width = a.try_width()?;
        let a = Attention {
            out_stride: width,
            ..a
        };
        let ins = &p.inputs;
        let mut out = run.alloc(span(a.rows, width, width));
        let qkv = Qkv {
            q: &ins[0],
            k: &ins[1],
            v: &ins[2],
        };
        k.call(run.threads, run.memory, &a, p.scale, qkv, &mut out)?;
        Ok(vec![out])
    }

    /// The a-priori bound derived in `kernels/tests/attention.rs`, with each column's
    /// probability-weighted Σ P_j·|v_jc| bounded by max_j |v_jc| (the weights sum to 1):
    /// `|out − ref| ≤ 1.01·(max_j |v_jc|·(4δ + 4u·D + (2·vis + total + 12)·u) + 2⁻¹²⁶·Σ_j |v_jc|)`
    /// for query row i with `vis` visible keys, δ the largest score difference two f32 dot
    /// products of `head_dim` terms can have, D the row's largest |score − max|.
    fn tolerance(p: &Problem) -> Tolerance<'_> {
        let Shape::Attention(a) = p.shape else {
            return Box::new(|_, _, _| 0.0);
        };
        let (q, k, v) = (&p.inputs[0], &p.inputs[1], &p.inputs[2]);
        let (hd, width, total) = (a.head_dim, a.heads * a.head_dim, a.past + a.rows);
        let sc = p.scale as f64;
        let gamma = |m: usize| m as f64 * U / (1.0 - m as f64 * U);
        // rel[i·heads + h]: the relative bound of query row i, head h.
        let rel: Vec<f64> = (0..a.rows * a.heads)
            .map(|ih| {
                let (i, h) = (ih / a.heads, ih % a.heads);
                let vis = a.past + i + 1;
                let qi = &q[i * a.q_stride + h * hd..][..hd];
                let (mut delta, mut xs) = (0.0f64, Vec::with_capacity(vis));
                for j in 0..vis {
                    let kj = &k[j * a.kv_stride + h * hd..][..hd];
                    let (dot, abs) = qi.iter().zip(kj).fold((0.0, 0.0), |(d, s), (&x, &y)| {
                        let t = x as f64 * y as f64;
                        (d + t, s + t.abs())
                    });
                    let x = sc * dot;
                    delta = delta.max(sc * 2.0 * gamma(hd) * abs + 2.0 * U * x.abs());
                    xs.push(x);
                }
                let mx = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let d = xs.iter().map(|x| (x - mx).abs()).fold(0.0, f64::max);
                4.0 * delta + 4.0 * U * d + (2 * vis + total + 12) as f64 * U
            })
            .collect();
        Box::new(move |_, idx, _| {
            let (i, col) = (idx / width.max(1), idx % width.max(1));
            if i >= a.rows || hd == 0 {
                return 0.0;
            }
            let vis = a.past + i + 1;
            let (max, sum) = (0..vis).fold((0.0f64, 0.0f64), |(m, s), j| {
                let x = (v[j * a.kv_stride + col] as f64).abs();
                (m.max(x), s + x)
            });
            let r = rel[i * a.heads + col / hd];
            (1.01 * (max * r + 2f64.powi(-126) * sum)) as f32
        })
    }

    /// Per head and visible key, a dot product and a weighted sum of `head_dim` terms
    /// (4·head_dim FLOP) and the softmax (about 5); q, k, v and the output read or written
    /// once. Rated by bytes: a decoded token reads the whole cache for about 0.5 FLOP a byte.
    fn cost(shape: Shape) -> Cost {
        let Shape::Attention(a) = shape else {
            return Cost::streaming(0.0, 0, shape.elems());
        };
        let (rows, past, width) = (a.rows as f64, a.past as f64, (a.heads * a.head_dim) as f64);
        let visible = rows * past + rows * (rows + 1.0) / 2.0;
        let total = past + rows;
        Cost {
            flops: visible * a.heads as f64 * (4.0 * a.head_dim as f64 + 5.0),
            bytes: 4.0 * width * (2.0 * rows + 2.0 * total),
            flop_bound: false,
        }
    }

    /// A prompt of T tokens from an empty cache and one token decoded after T − 1 cached,
    /// laid out as the model runs them (q inside the `3·width` QKV rows).
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        let (t, c) = (d.tokens.max(1), d.width);
        let hd = c / d.heads.max(1);
        let at = |rows, past| {
            Shape::Attention(Attention::new(rows, past, d.heads, hd).with_strides(3 * c, c, c))
        };
        let mut out = vec![at(t, 0)];
        if t > 1 {
            out.push(at(1, t - 1));
        }
        out
    }
}
