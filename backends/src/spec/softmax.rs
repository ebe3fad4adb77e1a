//! Softmax over rows, the fused scale + causal mask + softmax, and the softmax backward
//! (`kernels::softmax`): row ops keyed by their element count and split by row groups (the
//! causal offset follows each group's first row).

use super::{rows, Cost, Gen, ModelDims, OpSpec, Run, Tolerance};
use crate::catalog::{CausalFn, CausalInplaceFn, RowsFn, RowsInplaceFn, RowsPairFn};
use crate::dispatch::Dispatcher;
use crate::exec;
use crate::op::{Key, Shape, ShapeKind};
use crate::pool::Buf;
use crate::problem::Problem;
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
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        self,
        threads: usize,
        shape: Rows,
        scale: f32,
        offset: usize,
        x: &[f32],
        y: &mut [f32],
    ) -> Result<()> {
        exec::rows_map(threads, shape, &[x], y, |s, r0, i, y| {
            (self.run)(s, scale, offset + r0, i[0], y)
        })
    }

    pub fn call_inplace(
        self,
        threads: usize,
        shape: Rows,
        scale: f32,
        offset: usize,
        x: &mut [f32],
    ) -> Result<()> {
        exec::rows_inplace(threads, shape, x, |s, r0, x| {
            (self.inplace)(s, scale, offset + r0, x)
        })
    }
}

/// One softmax backward implementation.
#[derive(Clone, Copy)]
pub struct SoftmaxBackwardKernel {
    pub run: RowsPairFn,
}

impl SoftmaxBackwardKernel {
    pub fn call(
        self,
        threads: usize,
        shape: Rows,
        y: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<()> {
        exec::rows_map(threads, shape, &[y, dy], dx, |s, _, i, dx| {
            (self.run)(s, i[0], i[1], dx)
        })
    }
}

/// Registers softmax, the fused causal softmax and the softmax backward of one module.
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $crate::catalog::Impl;
        use $crate::spec::softmax::*;
        use $m as k;
        $out.push(Impl::new::<Softmax>(
            $name,
            $req,
            SoftmaxKernel {
                run: k::softmax,
                inplace: k::softmax_inplace,
            },
        ));
        $out.push(Impl::new::<SoftmaxCausal>(
            $name,
            $req,
            CausalKernel {
                run: k::softmax_causal,
                inplace: k::softmax_causal_inplace,
            },
        ));
        $out.push(Impl::new::<SoftmaxBackward>(
            $name,
            $req,
            SoftmaxBackwardKernel {
                run: k::softmax_backward,
            },
        ));
    }};
}
pub(crate) use register;

/// Attention scores at T tokens: T×T and, with the cache one token ahead, T×(T + 1).
fn attention_shapes(d: ModelDims) -> Vec<Shape> {
    let t = d.tokens;
    vec![
        Shape::Rows(Rows::new(t, t)),
        Shape::Rows(Rows::new(t, t + 1)),
    ]
}

impl OpSpec for Softmax {
    type Kernel = SoftmaxKernel;
    const NAME: &'static str = "softmax";
    const SHAPE: ShapeKind = ShapeKind::Rows;
    const INPLACE: bool = true;

    /// `[x]`, uniform in [-4, 4).
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        Ok(vec![gen.uniform(rows(Self::NAME, shape)?.len(), -4.0, 4.0)])
    }

    fn execute(k: SoftmaxKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let r = p.rows();
        let x = &mut p.inputs[0];
        if run.inplace() {
            k.call_inplace(run.threads, r, x)?;
            return Ok(vec![]);
        }
        let mut y = run.alloc(x.len());
        k.call(run.threads, r, x, &mut y)?;
        Ok(vec![y])
    }

    fn tolerance(p: &Problem) -> Tolerance<'_> {
        super::row_tolerance(p)
    }

    /// About 5 FLOP per element (max, exp, sum, scale); x and y.
    fn cost(shape: Shape) -> Cost {
        let n = shape.elems();
        Cost::streaming(5.0, n, 2 * n)
    }

    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        attention_shapes(d)
    }
}

impl OpSpec for SoftmaxCausal {
    type Kernel = CausalKernel;
    const NAME: &'static str = "softmax_causal";
    const SHAPE: ShapeKind = ShapeKind::Rows;
    const INPLACE: bool = true;

    /// `[x]`, uniform in [-4, 4); the problem's `scale` and `offset` apply.
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        Ok(vec![gen.uniform(rows(Self::NAME, shape)?.len(), -4.0, 4.0)])
    }

    fn execute(k: CausalKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let (r, scale, offset) = (p.rows(), p.scale, p.offset);
        let x = &mut p.inputs[0];
        if run.inplace() {
            k.call_inplace(run.threads, r, scale, offset, x)?;
            return Ok(vec![]);
        }
        let mut y = run.alloc(x.len());
        k.call(run.threads, r, scale, offset, x, &mut y)?;
        Ok(vec![y])
    }

    fn tolerance(p: &Problem) -> Tolerance<'_> {
        super::row_tolerance(p)
    }

    fn cost(shape: Shape) -> Cost {
        let n = shape.elems();
        Cost::streaming(5.0, n, 2 * n)
    }

    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        attention_shapes(d)
    }
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
        let (r, ins) = (p.rows(), &p.inputs);
        let mut dx = run.alloc(ins[0].len());
        k.call(run.threads, r, &ins[0], &ins[1], &mut dx)?;
        Ok(vec![dx])
    }

    fn tolerance(p: &Problem) -> Tolerance<'_> {
        super::row_tolerance(p)
    }

    /// About 4 FLOP per element (product, sum, difference, product); y, dy and dx.
    fn cost(shape: Shape) -> Cost {
        let n = shape.elems();
        Cost::streaming(4.0, n, 3 * n)
    }

    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        attention_shapes(d)
    }
}

impl Dispatcher {
    /// `y = softmax(x)` over rows.
    pub fn softmax(&self, shape: Rows, x: &[f32], y: &mut [f32]) -> Result<()> {
        let (k, run) = self.pick::<Softmax>(Key::elems(shape.len()))?;
        k.call(run.threads, shape, x, y)
    }

    /// `softmax(x)` into a new buffer from the bound strategy.
    pub fn softmax_new(&self, shape: Rows, x: &[f32]) -> Result<Buf> {
        let (k, run) = self.pick::<Softmax>(Key::elems(shape.len()))?;
        let mut y = run.alloc(x.len());
        k.call(run.threads, shape, x, &mut y)?;
        Ok(y)
    }

    /// `x = softmax(x)` over rows.
    pub fn softmax_inplace(&self, shape: Rows, x: &mut [f32]) -> Result<()> {
        let (k, run) = self.pick::<Softmax>(Key::elems(shape.len()))?;
        k.call_inplace(run.threads, shape, x)
    }

    /// Fused `scale`, causal mask (row r sees columns ≤ r + offset) and softmax, into `y`.
    pub fn softmax_causal(
        &self,
        shape: Rows,
        scale: f32,
        offset: usize,
        x: &[f32],
        y: &mut [f32],
    ) -> Result<()> {
        let (k, run) = self.pick::<SoftmaxCausal>(Key::elems(shape.len()))?;
        k.call(run.threads, shape, scale, offset, x, y)
    }

    /// The fused causal softmax in place.
    pub fn softmax_causal_inplace(
        &self,
        shape: Rows,
        scale: f32,
        offset: usize,
        x: &mut [f32],
    ) -> Result<()> {
        let (k, run) = self.pick::<SoftmaxCausal>(Key::elems(shape.len()))?;
        k.call_inplace(run.threads, shape, scale, offset, x)
    }

    /// `dx = y ⊙ (dy − rowsum(y ⊙ dy))`.
    pub fn softmax_backward(
        &self,
        shape: Rows,
        y: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<()> {
        let (k, run) = self.pick::<SoftmaxBackward>(Key::elems(shape.len()))?;
        k.call(run.threads, shape, y, dy, dx)
    }
}
