//! Element-wise Add and the row-broadcast bias add (`kernels::add`): exact IEEE additions,
//! Add keyed by elements and split into chunks, the bias add by rows.

use super::signatures::{PairFn, PairInplaceFn};
use super::Problem;
use super::{BiasKernel, Cost, Input, ModelDims, OpSpec, Run, Tolerance};
use crate::exec;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::{check_eq, Result, Rows};

/// `out = a + b`.
pub struct Add;
/// `out = x + bias`, the bias broadcast over rows.
pub struct AddBias;

/// One Add implementation.
#[derive(Clone, Copy)]
pub struct AddKernel {
    pub run: PairFn,
    pub inplace: PairInplaceFn,
}

impl AddKernel {
    pub fn call(self, threads: usize, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
        exec::map2(threads, a, b, out, self.run)
    }

    pub fn call_inplace(self, threads: usize, a: &mut [f32], b: &[f32]) -> Result<()> {
        check_eq("add", "b", b.len(), a.len())?;
        exec::map_inplace(threads, a, |r, a| (self.inplace)(a, &b[r]))
    }
}

/// One bias-add implementation.
pub type AddBiasKernel = BiasKernel<AddBias>;

/// Registers Add and the bias Add of one module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {
        $crate::spec::push_impls!($out, $name, $m, $req, add;
            Add => AddKernel { run: k::add, inplace: k::add_inplace },
            AddBias => AddBiasKernel::new(k::add_bias, k::add_bias_inplace),
        )
    };
}
pub(crate) use register;

impl OpSpec for Add {
    type Kernel = AddKernel;
    const NAME: &'static str = "add";
    const SHAPE: ShapeKind = ShapeKind::Elems;
    const INPLACE: bool = true;
    /// `[a, b]`, uniform in [-1, 1).
    const INPUTS: &'static [Input] = &[Input::all(-1.0, 1.0), Input::all(-1.0, 1.0)];

    fn execute(k: AddKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let t = run.threads;
        super::run_first(
            run,
            p,
            |a, rest| k.call_inplace(t, a, &rest[0]),
            |a, rest, out| k.call(t, a, &rest[0], out),
        )
    }

    /// Exact: one IEEE addition per element on both sides.
    fn tolerance(_: &Problem) -> Tolerance<'_> {
        super::exact()
    }

    fn cost(shape: Shape) -> Cost {
        Cost::elementwise(1.0, shape, 3)
    }

    /// The residual adds, tokens × width.
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        vec![Shape::Elems(d.tokens * d.width)]
    }
}

impl OpSpec for AddBias {
    super::bias_op!();
    const NAME: &'static str = "add_bias";
    /// `[x, bias]`, uniform in [-1, 1).
    const INPUTS: &'static [Input] = &[Input::all(-1.0, 1.0), Input::cols(-1.0, 1.0)];

    /// One add per element; x, y and the bias row.
    fn cost(shape: Shape) -> Cost {
        super::bias_cost(1.0, shape, 2)
    }

    /// The biases of the qkv, projection and MLP-up products.
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        [3 * d.width, d.width, d.mlp]
            .into_iter()
            .map(|cols| Shape::Rows(Rows::new(d.tokens, cols)))
            .collect()
    }

    // Exact, as Add is.
    super::same_as!(Add: tolerance);
}
