//! Softmax over rows, the fused scale + causal mask + softmax, and the softmax backward
//! (`kernels::softmax`): row ops keyed by their element count and split by row groups (the
//! causal offset follows each group's first row).

use super::signatures::{CausalFn, CausalInplaceFn, RowsFn, RowsInplaceFn, RowsPairFn};
use super::Problem;
use super::{rows, Cost, Gen, Grad, Input, ModelDims, OpSpec, Run, Tolerance};
use crate::exec;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::{Result, Rows};

/// Softmax over the rows.
pub struct Softmax;
/// Scale, causal mask (row r sees columns ≤ r + offset) and softmax, fused.
pub struct SoftmaxCausal;
/// `dx = y ⊙ (dy − rowsum(y ⊙ dy))`.
pub struct SoftmaxBackward;

/// One softmax implementation.
#[derive(Clone, Copy)]
pub struct SoftmaxKernel {
    pub run: RowsFn,
    pub inplace: RowsInplaceFn,
}

impl SoftmaxKernel {
    pub fn call(self, threads: usize, shape: Rows, x: &[f32], y: &mut [f32]) -> Result<()> {
        exec::rows_map(threads, shape, &[x], y, |s, _, i, y| (self.run)(s, i[0], y))
    }

    pub fn call_inplace(self, threads: usize, shape: Rows, x: &mut [f32]) -> Result<()> {
        exec::rows_inplace(threads, shape, x, |s, _, x| (self.inplace)(s, x))
    }
}

/// One fused causal softmax implementation.
#[derive(Clone, Copy)]
pub struct CausalKernel {
    pub run: CausalFn,
    pub inplace: CausalInplaceFn,
}

impl CausalKernel {
    /// This kernel with its mask bound: the `scale`, and row r seeing columns ≤ r + `offset`.
    pub fn masked(self, scale: f32, offset: usize) -> MaskedKernel {
        MaskedKernel {
            kernel: self,
            scale,
            offset,
        }
    }
}

/// A causal softmax implementation with the mask of one call, split like [`SoftmaxKernel`]
/// (the offset follows each row group's first row).
#[derive(Clone, Copy)]
pub struct MaskedKernel {
    kernel: CausalKernel,
    scale: f32,
    offset: usize,
}

impl MaskedKernel {
    /// `y = softmax(mask(scale · x))`, split by row groups.
    pub fn call(self, threads: usize, shape: Rows, x: &[f32], y: &mut [f32]) -> Result<()> {
        exec::rows_map(threads, shape, &[x], y, |s, r0, i, y| {
            (self.kernel.run)(s, self.scale, self.offset + r0, i[0], y)
        })
    }

    /// `x = softmax(mask(scale · x))`, split by row groups.
    pub fn call_inplace(self, threads: usize, shape: Rows, x: &mut [f32]) -> Result<()> {
        exec::rows_inplace(threads, shape, x, |s, r0, x| {
            (self.kernel.inplace)(s, self.scale, self.offset + r0, x)
        })
    }
}

/// One softmax backward implementation.
#[derive(Clone, Copy)]
pub struct SoftmaxBackwardKernel {
    pub run: RowsPairFn,
}

impl SoftmaxBackwardKernel {
    /// `dx = y ⊙ (dy − rowsum(y ⊙ dy))`, `y` saved from the forward, split by row groups.
    pub fn call(self, threads: usize, shape: Rows, g: Grad<'_>) -> Result<()> {
        exec::rows_map(threads, shape, &[g.saved, g.dy], g.dx, |s, _, i, dx| {
            (self.run)(s, i[0], i[1], dx)
        })
    }
}

/// Registers softmax, the fused causal softmax and the softmax backward of one module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {
        $crate::spec::push_impls!($out, $name, $m, $req, softmax;
            Softmax => SoftmaxKernel { run: k::softmax, inplace: k::softmax_inplace },
            SoftmaxCausal => CausalKernel {
                run: k::softmax_causal,
                inplace: k::softmax_causal_inplace,
            },
            SoftmaxBackward => SoftmaxBackwardKernel { run: k::softmax_backward },
        )
    };
}
pub(crate) use register;

impl OpSpec for Softmax {
    type Kernel = SoftmaxKernel;
    const NAME: &'static str = "softmax";
    const SHAPE: ShapeKind = ShapeKind::Rows;
    const INPLACE: bool = true;

    /// `[x]`, uniform in [-4, 4).
    const INPUTS: &'static [Input] = &[Input::all(-4.0, 4.0)];

    fn execute(k: SoftmaxKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, t) = (p.rows(), run.threads);
        super::run_first(
            run,
            p,
            |x, _| k.call_inplace(t, r, x),
            |x, _, y| k.call(t, r, x, y),
        )
    }

    fn tolerance(p: &Problem) -> Tolerance<'_> {
        super::row_tolerance(p)
    }

    /// About 5 FLOP per element (max, exp, sum, scale); x and y.
    fn cost(shape: Shape) -> Cost {
        Cost::elementwise(5.0, shape, 2)
    }

    /// Attention scores at T tokens: T×T and, with the cache one token ahead, T×(T + 1).
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        let t = d.tokens;
        vec![
            Shape::Rows(Rows::new(t, t)),
            Shape::Rows(Rows::new(t, t + 1)),
        ]
    }
}

/// As [`Softmax`], with the problem's `scale` and `offset`.
impl OpSpec for SoftmaxCausal {
    type Kernel = CausalKernel;
    const NAME: &'static str = "softmax_causal";
    const SHAPE: ShapeKind = ShapeKind::Rows;
    const INPLACE: bool = true;
    const INPUTS: &'static [Input] = Softmax::INPUTS;

    fn execute(k: CausalKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, t, m) = (p.rows(), run.threads, k.masked(p.scale, p.offset));
        super::run_first(
            run,
            p,
            |x, _| m.call_inplace(t, r, x),
            |x, _, y| m.call(t, r, x, y),
        )
    }

    super::same_as!(Softmax: tolerance, cost, model_shapes);
}

impl OpSpec for SoftmaxBackward {
    type Kernel = SoftmaxBackwardKernel;
    const NAME: &'static str = "softmax_backward";
    const SHAPE: ShapeKind = ShapeKind::Rows;

    /// `[y, dy]`: y a softmax of values uniform in [-4, 4), dy uniform in [-1, 1).
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        let r = rows(Self::NAME, shape)?;
        let mut y = gen.uniform(r.len(), -4.0, 4.0);
        if r.cols > 0 {
            kernels::softmax::naive::softmax_inplace(r, &mut y).map_err(|e| e.to_string())?;
        }
        Ok(vec![y, gen.uniform(r.len(), -1.0, 1.0)])
    }

    fn execute(k: SoftmaxBackwardKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, t) = (p.rows(), run.threads);
        super::run_grad(run, p, |_, g| k.call(t, r, g))
    }

    /// About 4 FLOP per element (product, sum, difference, product); y, dy and dx.
    fn cost(shape: Shape) -> Cost {
        Cost::elementwise(4.0, shape, 3)
    }

    // A row reduction like the forward: the same bound; the forward's shapes.
    super::same_as!(Softmax: tolerance, model_shapes);
}
