//! GELU forward and backward, tanh and erf forms (`kernels::gelu`): element-wise, keyed by
//! the element count, split into chunks. One generic spec per direction, the form a const
//! parameter, so a kind's table slot and its kernels cannot be crossed.

use super::{elems, Cost, Gen, ModelDims, OpSpec, Run, Tolerance};
use crate::catalog::{GeluBackwardFn, GeluFn, GeluInplaceFn};
use crate::dispatch::Dispatcher;
use crate::exec;
use crate::op::{Key, Shape, ShapeKind};
use crate::pool::Buf;
use crate::problem::Problem;
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
    /// `dx = dy · gelu'(x)`, split into chunks.
    pub fn call(
        self,
        threads: usize,
        kind: GeluKind,
        x: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<()> {
        exec::map2(threads, x, dy, dx, |x, dy, dx| (self.run)(kind, x, dy, dx))
    }
}

/// Registers the GELU forward (both kinds) and backward of one kernel module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $crate::catalog::Impl;
        use $crate::spec::gelu::*;
        use $m as k;
        let fwd = GeluKernel {
            run: k::gelu,
            inplace: k::gelu_inplace,
        };
        let bwd = GeluBackwardKernel {
            run: k::gelu_backward,
        };
        $out.push(Impl::new::<GeluTanh>($name, $req, fwd));
        $out.push(Impl::new::<GeluTanhBackward>($name, $req, bwd));
        $out.push(Impl::new::<GeluErf>($name, $req, fwd));
        $out.push(Impl::new::<GeluErfBackward>($name, $req, bwd));
    }};
}
pub(crate) use register;

impl<const ERF: bool> OpSpec for Gelu<ERF> {
    type Kernel = GeluKernel;
    const NAME: &'static str = if ERF { "gelu_erf" } else { "gelu_tanh" };
    const SHAPE: ShapeKind = ShapeKind::Elems;
    const INPLACE: bool = true;

    /// `[x]`, uniform in [-4, 4).
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        Ok(vec![gen.uniform(elems(Self::NAME, shape)?, -4.0, 4.0)])
    }

    fn execute(k: GeluKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let x = &mut p.inputs[0];
        if run.inplace() {
            k.call_inplace(run.threads, kind(ERF), x)?;
            return Ok(vec![]);
        }
        let mut y = run.alloc(x.len());
        k.call(run.threads, kind(ERF), x, &mut y)?;
        Ok(vec![y])
    }

    fn tolerance(_: &Problem) -> Tolerance<'_> {
        super::gelu_tolerance()
    }

    /// About 8 FLOP per element (the polynomial and the exponential's reduction); x and y.
    fn cost(shape: Shape) -> Cost {
        let n = shape.elems();
        Cost::streaming(8.0, n, 2 * n)
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
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        let n = elems(Self::NAME, shape)?;
        Ok(vec![gen.uniform(n, -4.0, 4.0), gen.uniform(n, -1.0, 1.0)])
    }

    fn execute(k: GeluBackwardKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let ins = &p.inputs;
        let mut dx = run.alloc(ins[0].len());
        k.call(run.threads, kind(ERF), &ins[0], &ins[1], &mut dx)?;
        Ok(vec![dx])
    }

    fn tolerance(_: &Problem) -> Tolerance<'_> {
        super::gelu_tolerance()
    }

    /// About 12 FLOP per element (the forward's and the product rule's); x, dy and dx.
    fn cost(shape: Shape) -> Cost {
        let n = shape.elems();
        Cost::streaming(12.0, n, 3 * n)
    }

    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        vec![Shape::Elems(d.tokens * d.mlp)]
    }
}

impl Dispatcher {
    /// The bound GELU forward of `kind` for `n` elements.
    fn gelu_kernel(&self, kind: GeluKind, n: usize) -> Result<(GeluKernel, Run)> {
        match kind {
            GeluKind::Tanh => self.pick::<GeluTanh>(Key::elems(n)),
            GeluKind::Erf => self.pick::<GeluErf>(Key::elems(n)),
        }
    }

    /// `y = gelu(x)`.
    pub fn gelu(&self, kind: GeluKind, x: &[f32], y: &mut [f32]) -> Result<()> {
        let (k, run) = self.gelu_kernel(kind, x.len())?;
        k.call(run.threads, kind, x, y)
    }

    /// `gelu(x)` into a new buffer from the bound strategy.
    pub fn gelu_new(&self, kind: GeluKind, x: &[f32]) -> Result<Buf> {
        let (k, run) = self.gelu_kernel(kind, x.len())?;
        let mut y = run.alloc(x.len());
        k.call(run.threads, kind, x, &mut y)?;
        Ok(y)
    }

    /// `x = gelu(x)`.
    pub fn gelu_inplace(&self, kind: GeluKind, x: &mut [f32]) -> Result<()> {
        let (k, run) = self.gelu_kernel(kind, x.len())?;
        k.call_inplace(run.threads, kind, x)
    }

    /// `dx = dy · gelu'(x)`.
    pub fn gelu_backward(
        &self,
        kind: GeluKind,
        x: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<()> {
        let key = Key::elems(x.len());
        let (k, run) = match kind {
            GeluKind::Tanh => self.pick::<GeluTanhBackward>(key)?,
            GeluKind::Erf => self.pick::<GeluErfBackward>(key)?,
        };
        k.call(run.threads, kind, x, dy, dx)
    }
}
