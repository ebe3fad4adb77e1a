//! LayerNorm, the fused residual add + LayerNorm, and the LayerNorm backward
//! (`kernels::layernorm`): row ops keyed by their element count; the forwards split by row
//! groups, the backward stays on one thread (it accumulates parameter gradients over rows).

use super::signatures::{AddLayerNormFn, LayerNormBackwardFn, LayerNormFn};
use super::Problem;
use super::{rows, Cost, Gen, Input, ModelDims, OpSpec, Run, Tolerance};
use crate::aligned::AlignedVec;
use crate::exec;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::layernorm::{Affine, LayerNormGrads, LayerNormOut, Saved};
use kernels::{check_eq, Result, Rows};

/// `y = LayerNorm(x)·γ + β`, saving mean and rstd.
pub struct Layernorm;
/// `sum = x + residual; y = LayerNorm(sum)`.
pub struct AddLayernorm;
/// The LayerNorm backward: `dx`, and `dγ`, `dβ` accumulated.
pub struct LayernormBackward;

/// One LayerNorm forward implementation.
#[derive(Clone, Copy)]
pub struct LayerNormKernel {
    pub run: LayerNormFn,
}

/// One fused residual add + LayerNorm implementation.
#[derive(Clone, Copy)]
pub struct AddLayerNormKernel {
    pub run: AddLayerNormFn,
}

/// A LayerNorm forward implementation (`K`: [`LayerNormKernel`] or [`AddLayerNormKernel`])
/// with the normalisation's parameters of one call bound: ε and the affine γ, β.
#[derive(Clone, Copy)]
pub struct Normed<'a, K> {
    kernel: K,
    eps: f32,
    p: Affine<'a>,
}

impl<'a, K> Normed<'a, K> {
    /// `kernel` with ε = `eps` and γ, β = `p`.
    pub fn new(kernel: K, eps: f32, p: Affine<'a>) -> Self {
        Normed { kernel, eps, p }
    }
}

impl Normed<'_, LayerNormKernel> {
    /// `y = LayerNorm(x)`, saving mean and rstd, split by row groups.
    pub fn call(self, threads: usize, shape: Rows, x: &[f32], out: LayerNormOut) -> Result<()> {
        kernels::layernorm::check_forward("layernorm", shape, x, &self.p, &out)?;
        exec::layernorm_rows(threads, shape, out, &mut [], |part, e, o, _| {
            (self.kernel.run)(part, self.eps, &x[e], self.p, o)
        })
    }
}

impl Normed<'_, AddLayerNormKernel> {
    /// `sum = x + residual; y = LayerNorm(sum)` of the summands `(x, residual)`, split by
    /// row groups.
    pub fn call(
        self,
        threads: usize,
        shape: Rows,
        (x, residual): (&[f32], &[f32]),
        sum: &mut [f32],
        out: LayerNormOut,
    ) -> Result<()> {
        const OP: &str = "add_layernorm";
        kernels::layernorm::check_forward(OP, shape, x, &self.p, &out)?;
        check_eq(OP, "residual", residual.len(), shape.len())?;
        check_eq(OP, "sum", sum.len(), shape.len())?;
        exec::layernorm_rows(threads, shape, out, sum, |part, e, o, s| {
            let (eps, p) = (self.eps, self.p);
            (self.kernel.run)(part, eps, &x[e.clone()], &residual[e], s, p, o)
        })
    }
}

/// One LayerNorm backward implementation.
#[derive(Clone, Copy)]
pub struct LayerNormBackwardKernel {
    pub run: LayerNormBackwardFn,
}

/// Registers LayerNorm, the fused residual-add + LayerNorm and the backward of one module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {
        $crate::spec::push_impls!($out, $name, $m, $req, layernorm;
            Layernorm => LayerNormKernel { run: k::layernorm },
            AddLayernorm => AddLayerNormKernel { run: k::add_layernorm },
            LayernormBackward => LayerNormBackwardKernel { run: k::layernorm_backward },
        )
    };
}
pub(crate) use register;

/// Runs a forward on `p`, whose γ and β are its inputs `affine` and `affine + 1`: `f` gets
/// the inputs, γ and β, and the outputs y, mean and rstd (of `run`'s strategy), returned in
/// that order.
fn forward(
    run: Run,
    p: &Problem,
    affine: usize,
    f: impl FnOnce(&[AlignedVec], Affine, LayerNormOut) -> Result<()>,
) -> Result<Vec<Buf>> {
    let (r, ins) = (p.rows(), &p.inputs);
    let (mut y, mut mean, mut rstd) = (
        run.alloc(ins[0].len()),
        run.alloc(r.rows),
        run.alloc(r.rows),
    );
    let gamma_beta = Affine {
        gamma: &ins[affine],
        beta: &ins[affine + 1],
    };
    let out = LayerNormOut {
        y: &mut y,
        mean: &mut mean,
        rstd: &mut rstd,
    };
    f(ins, gamma_beta, out)?;
    Ok(vec![y, mean, rstd])
}

/// x, y, γ, β, mean and rstd (plus `extra` row-sized streams).
fn forward_floats(shape: Shape, extra: usize) -> usize {
    match shape {
        Shape::Rows(r) => (2 + extra) * r.len() + 2 * r.cols + 2 * r.rows,
        _ => (2 + extra) * shape.elems(),
    }
}

impl OpSpec for Layernorm {
    type Kernel = LayerNormKernel;
    const NAME: &'static str = "layernorm";
    const SHAPE: ShapeKind = ShapeKind::Rows;

    /// `[x, gamma, beta]`: x uniform in [-2, 2), γ in [0.5, 1.5), β in [-0.5, 0.5).
    const INPUTS: &'static [Input] = &[
        Input::all(-2.0, 2.0),
        Input::cols(0.5, 1.5),
        Input::cols(-0.5, 0.5),
    ];

    fn execute(k: LayerNormKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, eps) = (p.rows(), p.eps);
        forward(run, p, 1, |ins, affine, out| {
            Normed::new(k, eps, affine).call(run.threads, r, &ins[0], out)
        })
    }

    fn tolerance(p: &Problem) -> Tolerance<'_> {
        super::row_tolerance(p)
    }

    /// About 8 FLOP per element (two sums, centre, scale, affine).
    fn cost(shape: Shape) -> Cost {
        Cost::streaming(8.0, shape.elems(), forward_floats(shape, 0))
    }

    /// The rows of the residual stream: tokens × width.
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        vec![Shape::Rows(Rows::new(d.tokens, d.width))]
    }
}

/// As [`Layernorm`], of the sum.
impl OpSpec for AddLayernorm {
    type Kernel = AddLayerNormKernel;
    const NAME: &'static str = "add_layernorm";
    const SHAPE: ShapeKind = ShapeKind::Rows;
    /// `[x, residual, gamma, beta]`: [`Layernorm`]'s inputs, the residual drawn like x.
    const INPUTS: &'static [Input] = &[
        Layernorm::INPUTS[0],
        Layernorm::INPUTS[0],
        Layernorm::INPUTS[1],
        Layernorm::INPUTS[2],
    ];

    fn execute(k: AddLayerNormKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, eps) = (p.rows(), p.eps);
        let mut sum = run.alloc(p.inputs[0].len());
        let mut outs = forward(run, p, 2, |ins, affine, out| {
            let summands = (&ins[0][..], &ins[1][..]);
            Normed::new(k, eps, affine).call(run.threads, r, summands, &mut sum, out)
        })?;
        outs.insert(0, sum);
        Ok(outs)
    }

    /// The LayerNorm's 8 FLOP per element and the add; x, residual, sum and y move.
    fn cost(shape: Shape) -> Cost {
        Cost::streaming(9.0, shape.elems(), forward_floats(shape, 2))
    }

    super::same_as!(Layernorm: tolerance, model_shapes);
}

impl OpSpec for LayernormBackward {
    type Kernel = LayerNormBackwardKernel;
    const NAME: &'static str = "layernorm_backward";
    const SHAPE: ShapeKind = ShapeKind::Rows;
    const PARALLEL: bool = false;

    /// `[x, gamma, dy, mean, rstd]`, mean and rstd from the naive forward of x.
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        let r = rows(Self::NAME, shape)?;
        let x = gen.uniform(r.len(), -2.0, 2.0);
        let gamma = gen.uniform(r.cols, 0.5, 1.5);
        let dy = gen.uniform(r.len(), -1.0, 1.0);
        let (mut y, mut mean, mut rstd) =
            (vec![0.0; r.len()], vec![0.0; r.rows], vec![0.0; r.rows]);
        let beta = vec![0.0; r.cols];
        kernels::layernorm::naive::layernorm(
            r,
            1e-5,
            &x,
            Affine {
                gamma: &gamma,
                beta: &beta,
            },
            LayerNormOut {
                y: &mut y,
                mean: &mut mean,
                rstd: &mut rstd,
            },
        )
        .map_err(|e| e.to_string())?;
        Ok(vec![x, gamma, dy, mean, rstd])
    }

    fn execute(k: LayerNormBackwardKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, ins) = (p.rows(), &p.inputs);
        let mut dx = run.alloc(ins[0].len());
        let (mut dgamma, mut dbeta) = (run.alloc(r.cols), run.alloc(r.cols));
        dgamma.fill(0.0);
        dbeta.fill(0.0);
        let saved = Saved {
            x: &ins[0],
            gamma: &ins[1],
            mean: &ins[3],
            rstd: &ins[4],
        };
        let grads = LayerNormGrads {
            dx: &mut dx,
            dgamma: &mut dgamma,
            dbeta: &mut dbeta,
        };
        (k.run)(r, saved, &ins[2], grads)?;
        Ok(vec![dx, dgamma, dbeta])
    }

    /// Sums cancel, so bounds scale with the magnitudes summed, not the result: `dx` by
    /// (cols + 8)·ε·rstd·(|g| + mean|g| + |x̂|·mean|g·x̂|), `dgamma` and `dbeta` (sums over
    /// rows) by (rows + 8)·ε·Σ_r|dy·x̂| and (rows + 8)·ε·Σ_r|dy|.
    fn tolerance(p: &Problem) -> Tolerance<'_> {
        let r = p.rows();
        let eps = f32::EPSILON;
        let (x, gamma, dy, mean, rstd) = (
            &p.inputs[0],
            &p.inputs[1],
            &p.inputs[2],
            &p.inputs[3],
            &p.inputs[4],
        );
        let xhat = move |i: usize| (x[i] - mean[i / r.cols]) * rstd[i / r.cols];
        let g = move |i: usize| dy[i] * gamma[i % r.cols];
        // Per-row means of |g| and |g·x̂|, and per-column sums of |dy·x̂| and |dy|.
        let mut row_g = vec![0.0f32; r.rows];
        let mut row_gx = vec![0.0f32; r.rows];
        let mut col_dyx = vec![0.0f32; r.cols];
        let mut col_dy = vec![0.0f32; r.cols];
        for (i, d) in dy.iter().enumerate() {
            let (row, col) = (i / r.cols, i % r.cols);
            row_g[row] += g(i).abs() / r.cols as f32;
            row_gx[row] += (g(i) * xhat(i)).abs() / r.cols as f32;
            col_dyx[col] += (d * xhat(i)).abs();
            col_dy[col] += d.abs();
        }
        let (cols_f, rows_f) = (r.cols as f32 + 8.0, r.rows as f32 + 8.0);
        Box::new(move |o, i, _| match o {
            0 => {
                let row = i / r.cols;
                cols_f * eps * rstd[row] * (g(i).abs() + row_g[row] + xhat(i).abs() * row_gx[row])
                    + 1e-7
            }
            1 => rows_f * eps * col_dyx[i] + 1e-7,
            _ => rows_f * eps * col_dy[i] + 1e-7,
        })
    }

    /// About 10 FLOP per element; x, dy, dx, γ, dγ, dβ, mean and rstd.
    fn cost(shape: Shape) -> Cost {
        let floats = match shape {
            Shape::Rows(r) => 3 * r.len() + 3 * r.cols + 2 * r.rows,
            _ => 3 * shape.elems(),
        };
        Cost::streaming(10.0, shape.elems(), floats)
    }

    super::same_as!(Layernorm: model_shapes);
}
