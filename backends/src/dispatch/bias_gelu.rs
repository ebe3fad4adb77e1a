//! The `bias_gelu` calls of the dispatcher: each picks the variant the table binds at the call's
//! key ([`Dispatcher::pick`]) and runs its kernel (`crate::spec::bias_gelu`).

use super::Dispatcher;
use crate::op::Key;
use crate::spec::bias_gelu::*;
use crate::spec::Grad;
use kernels::{Result, Rows};

impl Dispatcher {
    /// `y = gelu_tanh(x + bias)`, the bias broadcast over rows.
    pub fn bias_gelu(&self, shape: Rows, x: &[f32], bias: &[f32], y: &mut [f32]) -> Result<()> {
        let (k, run) = self.pick::<BiasGelu>(Key::elems(shape.len()))?;
        k.call(run.threads, shape, x, bias, y)
    }

    /// `x = gelu_tanh(x + bias)`.
    pub fn bias_gelu_inplace(&self, shape: Rows, x: &mut [f32], bias: &[f32]) -> Result<()> {
        let (k, run) = self.pick_form::<BiasGelu>(Key::elems(shape.len()), true)?;
        k.call_inplace(run.threads, shape, x, bias)
    }

    /// `dx = dy · gelu_tanh'(x + bias)` from the pre-bias `x`; the bias gradient is the
    /// caller's column sum of `dx`.
    pub fn bias_gelu_backward(
        &self,
        shape: Rows,
        x: &[f32],
        bias: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<()> {
        let (k, run) = self.pick::<BiasGeluBackward>(Key::elems(shape.len()))?;
        k.call(run.threads, shape, bias, Grad { saved: x, dy, dx })
    }
}
