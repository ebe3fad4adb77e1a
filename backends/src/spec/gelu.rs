//! GELU forward and backward, tanh and erf forms (`kernels::gelu`): element-wise, keyed by
//! the element count, split into chunks. One generic spec per direction, the form a const
//! parameter, so a kind's table slot and its kernels cannot be crossed.

use super::signatures::{GeluBackwardFn, GeluFn, GeluInplaceFn};
use super::Problem;
use super::{Cost, Grad, Input, ModelDims, OpSpec, Run, Tolerance};
use crate::exec;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::gelu::GeluKind;
use kernels::Result;

/// GELU forward; `ERF` picks the erf form, else the tanh form.
pub struct Gelu<const ERF: bool>;
/// GELU backward; `ERF` as for [`Gelu`].
pub struct GeluBackward<const ERF: bool>;
pub type GeluTanh = Gelu<false>;
pub type GeluErf = Gelu<true>;
pub type GeluTanhBackward = GeluBackward<false>;
pub type GeluErfBackward = GeluBackward<true>;

const fn kind(erf: bool) -> GeluKind {
    if erf {
        GeluKind::Erf
    } else {
        GeluKind::Tanh
    }
}

/// One GELU forward implementation (both forms: the kind is an argument).
#[derive(Clone, Copy)]
pub struct GeluKernel {
    pub run: GeluFn,
    pub inplace: GeluInplaceFn,
}

impl GeluKernel {
    /// `y = gelu(x)`, split into chunks.
    pub fn call(self, threads: usize, kind: GeluKind, x: &[f32], y: &mut [f32]) -> Result<()> {
        exec::map1(threads, x, y, |x, y| (self.run)(kind, x, y))
    }

    /// `x = gelu(x)`, split into chunks.
    pub fn call_inplace(self, threads: usize, kind: GeluKind, x: &mut [f32]) -> Result<()> {
        exec::map_inplace(threads, x, |_, x| (self.inplace)(kind, x))
    }
}

/// One GELU backward implementation.
#[derive(Clone, Copy)]
pub struct GeluBackwardKernel {
    pub run: GeluBackwardFn,
}

impl GeluBackwardKernel {
    /// `dx = dy · gelu'(x)`, `x` saved from the forward, split into chunks.
    pub fn call(self, threads: usize, kind: GeluKind, g: Grad<'_>) -> Result<()> {
        exec::map2(threads, g.saved, g.dy, g.dx, |x, dy, dx| {
            (self.run)(kind, x, dy, dx)
        })
    }
}

/// Registers the GELU forward (both kinds) and backward of one kernel module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {
        $crate::spec::push_impls!($out, $name, $m, $req, gelu;
            GeluTanh => GeluKernel { run: k::gelu, inplace: k::gelu_inplace },
            GeluTanhBackward => GeluBackwardKernel { run: k::gelu_backward },
            GeluErf => GeluKernel { run: k::gelu, inplace: k::gelu_inplace },
            GeluErfBackward => GeluBackwardKernel { run: k::gelu_backward },
        )
    };
}
pub(crate) use register;

impl<const ERF: bool> OpSpec for Gelu<ERF> {
    type Kernel = GeluKernel;
    const NAME: &'static str = if ERF { "gelu_erf" } else { "gelu_tanh" };
    const SHAPE: ShapeKind = ShapeKind::Elems;
    const INPLACE: bool = true;

    /// `[x]`, uniform in [-4, 4).
    const INPUTS: &'static [Input] = &[Input::all(-4.0, 4.0)];

    fn execute(k: GeluKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (t, kind) = (run.threads, kind(ERF));
        super::run_first(
            run,
            p,
            |x, _| k.call_inplace(t, kind, x),
            |x, _, y| k.call(t, kind, x, y),
        )
    }

    fn tolerance(_: &Problem) -> Tolerance<'_> {
        super::gelu_tolerance()
    }

    /// About 8 FLOP per element (the polynomial and the exponential's reduction); x and y.
    fn cost(shape: Shape) -> Cost {
        Cost::elementwise(8.0, shape, 2)
    }

    /// The MLP's activation, tokens × mlp.
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        vec![Shape::Elems(d.tokens * d.mlp)]
    }
}

impl<const ERF: bool> OpSpec for GeluBackward<ERF> {
    type Kernel = GeluBackwardKernel;
    const NAME: &'static str = if ERF {
        "gelu_erf_backward"
    } else {
        "gelu_tanh_backward"
    };
    const SHAPE: ShapeKind = ShapeKind::Elems;

    /// `[x, dy]`: x uniform in [-4, 4), dy in [-1, 1).
    const INPUTS: &'static [Input] = &[Input::all(-4.0, 4.0), Input::all(-1.0, 1.0)];

    fn execute(k: GeluBackwardKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let t = run.threads;
        super::run_grad(run, p, |_, g| k.call(t, kind(ERF), g))
    }

    /// About 12 FLOP per element (the forward's and the product rule's); x, dy and dx.
    fn cost(shape: Shape) -> Cost {
        Cost::elementwise(12.0, shape, 3)
    }

    // The forward's bound and shapes.
    super::same_as!(Gelu<ERF>: tolerance, model_shapes);
}
