//! Element-wise Add and the row-broadcast bias add (`kernels::add`): exact IEEE additions,
//! Add keyed by elements and split into chunks, the bias add by rows.

use super::{elems, rows, Cost, Gen, ModelDims, OpSpec, Run, Tolerance};
use crate::catalog::{PairFn, PairInplaceFn, RowsPairFn, RowsPairInplaceFn};
use crate::dispatch::Dispatcher;
use crate::exec;
use crate::op::{Key, Shape, ShapeKind};
use crate::pool::Buf;
use crate::problem::Problem;
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
#[derive(Clone, Copy)]
pub struct AddBiasKernel {
    pub run: RowsPairFn,
    pub inplace: RowsPairInplaceFn,
}

impl AddBiasKernel {
    pub fn call(
        self,
        threads: usize,
        shape: Rows,
        x: &[f32],
        bias: &[f32],
        out: &mut [f32],
    ) -> Result<()> {
        check_eq("add_bias", "bias", bias.len(), shape.cols)?;
        exec::rows_map(threads, shape, &[x], out, |s, _, i, o| {
            (self.run)(s, i[0], bias, o)
        })
    }

    pub fn call_inplace(
        self,
        threads: usize,
        shape: Rows,
        x: &mut [f32],
        bias: &[f32],
    ) -> Result<()> {
        check_eq("add_bias", "bias", bias.len(), shape.cols)?;
        exec::rows_inplace(threads, shape, x, |s, _, x| (self.inplace)(s, x, bias))
    }
}

/// Registers Add and the bias Add of one module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $crate::catalog::Impl;
        use $crate::spec::add::*;
        use $m as k;
        $out.push(Impl::new::<Add>(
            $name,
            $req,
            AddKernel {
                run: k::add,
                inplace: k::add_inplace,
            },
        ));
        $out.push(Impl::new::<AddBias>(
            $name,
            $req,
            AddBiasKernel {
                run: k::add_bias,
                inplace: k::add_bias_inplace,
            },
        ));
    }};
}
pub(crate) use register;

impl OpSpec for Add {
    type Kernel = AddKernel;
    const NAME: &'static str = "add";
    const SHAPE: ShapeKind = ShapeKind::Elems;
    const INPLACE: bool = true;

    /// `[a, b]`, uniform in [-1, 1).
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        let n = elems(Self::NAME, shape)?;
        Ok(vec![gen.uniform(n, -1.0, 1.0), gen.uniform(n, -1.0, 1.0)])
    }

    fn execute(k: AddKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let t = run.threads;
        super::run_pair(
            run,
            p,
            |a, b| k.call_inplace(t, a, b),
            |a, b, out| k.call(t, a, b, out),
        )
    }

    /// Exact: one IEEE addition per element on both sides.
    fn tolerance(_: &Problem) -> Tolerance<'_> {
        Box::new(|_, _, _| 0.0)
    }

    fn cost(shape: Shape) -> Cost {
        let n = shape.elems();
        Cost::streaming(1.0, n, 3 * n)
    }

    /// The residual adds, tokens × width.
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        vec![Shape::Elems(d.tokens * d.width)]
    }
}

impl OpSpec for AddBias {
    type Kernel = AddBiasKernel;
    const NAME: &'static str = "add_bias";
    const SHAPE: ShapeKind = ShapeKind::Rows;
    const INPLACE: bool = true;

    /// `[x, bias]`, uniform in [-1, 1).
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        let r = rows(Self::NAME, shape)?;
        Ok(vec![
            gen.uniform(r.len(), -1.0, 1.0),
            gen.uniform(r.cols, -1.0, 1.0),
        ])
    }

    fn execute(k: AddBiasKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, t) = (p.rows(), run.threads);
        super::run_pair(
            run,
            p,
            |x, b| k.call_inplace(t, r, x, b),
            |x, b, out| k.call(t, r, x, b, out),
        )
    }

    /// Exact: one IEEE addition per element on both sides.
    fn tolerance(_: &Problem) -> Tolerance<'_> {
        Box::new(|_, _, _| 0.0)
    }

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
}

impl Dispatcher {
    /// `out = a + b`.
    pub fn add(&self, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
        let (k, run) = self.pick::<Add>(Key::elems(a.len()))?;
        k.call(run.threads, a, b, out)
    }

    /// `a + b` into a new buffer from the bound strategy.
    pub fn add_new(&self, a: &[f32], b: &[f32]) -> Result<Buf> {
        let (k, run) = self.pick::<Add>(Key::elems(a.len()))?;
        let mut out = run.alloc(a.len());
        k.call(run.threads, a, b, &mut out)?;
        Ok(out)
    }

    /// `a += b`.
    pub fn add_inplace(&self, a: &mut [f32], b: &[f32]) -> Result<()> {
        let (k, run) = self.pick::<Add>(Key::elems(a.len()))?;
        k.call_inplace(run.threads, a, b)
    }

    /// `out = x + bias`, the bias broadcast over rows.
    pub fn add_bias(&self, shape: Rows, x: &[f32], bias: &[f32], out: &mut [f32]) -> Result<()> {
        let (k, run) = self.pick::<AddBias>(Key::elems(shape.len()))?;
        k.call(run.threads, shape, x, bias, out)
    }

    /// `x + bias` into a new buffer from the bound strategy.
    pub fn add_bias_new(&self, shape: Rows, x: &[f32], bias: &[f32]) -> Result<Buf> {
        let (k, run) = self.pick::<AddBias>(Key::elems(shape.len()))?;
        let mut out = run.alloc(shape.len());
        k.call(run.threads, shape, x, bias, &mut out)?;
        Ok(out)
    }

    /// `x += bias`, the bias broadcast over rows.
    pub fn add_bias_inplace(&self, shape: Rows, x: &mut [f32], bias: &[f32]) -> Result<()> {
        let (k, run) = self.pick::<AddBias>(Key::elems(shape.len()))?;
        k.call_inplace(run.threads, shape, x, bias)
    }
}
