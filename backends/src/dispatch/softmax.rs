//! The `softmax` calls of the dispatcher: each picks the variant the table binds at the call's
//! key ([`Dispatcher::pick`]) and runs its kernel (`crate::spec::softmax`).

use super::Dispatcher;
use crate::op::Key;
use crate::pool::Buf;
use crate::spec::softmax::*;
use crate::spec::Grad;
use kernels::{Result, Rows};

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
        let (k, run) = self.pick_form::<Softmax>(Key::elems(shape.len()), true)?;
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
        k.masked(scale, offset).call(run.threads, shape, x, y)
    }

    /// The fused causal softmax in place.
    pub fn softmax_causal_inplace(
        &self,
        shape: Rows,
        scale: f32,
        offset: usize,
        x: &mut [f32],
    ) -> Result<()> {
        let (k, run) = self.pick_form::<SoftmaxCausal>(Key::elems(shape.len()), true)?;
        k.masked(scale, offset).call_inplace(run.threads, shape, x)
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
        k.call(run.threads, shape, Grad { saved: y, dy, dx })
    }
}
