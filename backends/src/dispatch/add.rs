//! The `add` calls of the dispatcher: each picks the variant the table binds at the call's
//! key ([`Dispatcher::pick`]) and runs its kernel (`crate::spec::add`).

use super::Dispatcher;
use crate::op::Key;
use crate::pool::Buf;
use crate::spec::add::*;
use kernels::{Result, Rows};

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
        let (k, run) = self.pick_form::<Add>(Key::elems(a.len()), true)?;
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
        let (k, run) = self.pick_form::<AddBias>(Key::elems(shape.len()), true)?;
        k.call_inplace(run.threads, shape, x, bias)
    }
}
