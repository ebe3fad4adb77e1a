//! The fused bias add + GELU (tanh) of the MLP and its backward (`kernels::bias_gelu`): row
//! ops (the bias runs along the columns) keyed by their element count and split by row
//! groups. The backward reads the pre-bias input and the bias, and leaves the bias gradient
//! (a sum over rows) to the caller.

use super::Problem;
use super::{BiasKernel, Cost, Grad, Input, ModelDims, OpSpec, Run, Tolerance};
use crate::exec;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::{check_eq, Result, Rows};

/// `dx = dy · gelu'(x + bias)` from x, bias and dy, for one row group.
pub type BiasGeluBackwardFn = fn(Rows, &[f32], &[f32], &[f32], &mut [f32]) -> Result<()>;

/// `y = gelu_tanh(x + bias)`, the bias broadcast over rows.
pub struct BiasGelu;
/// `dx = dy · gelu_tanh'(x + bias)`.
pub struct BiasGeluBackward;

/// One fused forward implementation.
pub type BiasGeluKernel = BiasKernel<BiasGelu>;

/// One fused backward implementation.
#[derive(Clone, Copy)]
pub struct BiasGeluBackwardKernel {
    pub run: BiasGeluBackwardFn,
}

impl BiasGeluBackwardKernel {
    /// `dx = dy · gelu_tanh'(x + bias)`, the pre-bias `x` saved from the forward, split by
    /// row groups.
    pub fn call(self, threads: usize, shape: Rows, bias: &[f32], g: Grad<'_>) -> Result<()> {
        check_eq("bias_gelu_backward", "bias", bias.len(), shape.cols)?;
        exec::rows_map(threads, shape, &[g.saved, g.dy], g.dx, |s, _, i, dx| {
            (self.run)(s, i[0], bias, i[1], dx)
        })
    }
}

/// Registers the fused forward and backward of one `kernels::bias_gelu` module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {
        $crate::spec::push_impls!($out, $name, $m, $req, bias_gelu;
            BiasGelu => BiasGeluKernel::new(k::bias_gelu, k::bias_gelu_inplace),
            BiasGeluBackward => BiasGeluBackwardKernel { run: k::bias_gelu_backward },
        )
    };
}
pub(crate) use register;

impl OpSpec for BiasGelu {
    super::bias_op!();
    const NAME: &'static str = "bias_gelu";

    /// `[x, bias]`: x uniform in [-4, 4) (GELU's test range), the bias in [-1, 1).
    const INPUTS: &'static [Input] = &[Input::all(-4.0, 4.0), Input::cols(-1.0, 1.0)];

    /// `x + bias` is the same f32 addition in every implementation and the reference, so
    /// the bound is GELU's alone.
    fn tolerance(_: &Problem) -> Tolerance<'_> {
        super::gelu_tolerance()
    }

    /// GELU's 8 FLOP per element and the add; x, y and the bias row.
    fn cost(shape: Shape) -> Cost {
        super::bias_cost(9.0, shape, 2)
    }

    /// The MLP's hidden activations, tokens × mlp.
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        vec![Shape::Rows(Rows::new(d.tokens, d.mlp))]
    }
}

impl OpSpec for BiasGeluBackward {
    type Kernel = BiasGeluBackwardKernel;
    const NAME: &'static str = "bias_gelu_backward";
    const SHAPE: ShapeKind = ShapeKind::Rows;

    /// `[x, bias, dy]`: x and the bias as for [`BiasGelu`], dy uniform in [-1, 1).
    const INPUTS: &'static [Input] = &[
        Input::all(-4.0, 4.0),
        Input::cols(-1.0, 1.0),
        Input::all(-1.0, 1.0),
    ];

    fn execute(k: BiasGeluBackwardKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, t) = (p.rows(), run.threads);
        super::run_grad(run, p, |ins, g| k.call(t, r, &ins[1], g))
    }

    /// The GELU backward's 12 FLOP per element and the add; x, dy, dx and the bias row.
    fn cost(shape: Shape) -> Cost {
        super::bias_cost(13.0, shape, 3)
    }

    // As for the forward: the sum is exact alike, the bound is GELU's backward's; the
    // forward's shapes.
    super::same_as!(BiasGelu: tolerance, model_shapes);
}
