//! The `gelu` calls of the dispatcher: each picks the variant the table binds at the call's
//! key ([`Dispatcher::pick`]) and runs its kernel (`crate::spec::gelu`).

use super::Dispatcher;
use crate::op::Key;
use crate::pool::Buf;
use crate::spec::gelu::*;
use crate::spec::{Grad, Run};
use kernels::gelu::GeluKind;
use kernels::Result;

impl Dispatcher {
    /// The bound GELU forward of `kind` for `n` elements, for a call of the in-place form or
    /// not (`inplace`, as the trace records it).
    fn gelu_kernel(&self, kind: GeluKind, n: usize, inplace: bool) -> Result<(GeluKernel, Run)> {
        match kind {
            GeluKind::Tanh => self.pick_form::<GeluTanh>(Key::elems(n), inplace),
            GeluKind::Erf => self.pick_form::<GeluErf>(Key::elems(n), inplace),
        }
    }

    /// `y = gelu(x)`.
    pub fn gelu(&self, kind: GeluKind, x: &[f32], y: &mut [f32]) -> Result<()> {
        let (k, run) = self.gelu_kernel(kind, x.len(), false)?;
        k.call(run.threads, kind, x, y)
    }

    /// `gelu(x)` into a new buffer from the bound strategy.
    pub fn gelu_new(&self, kind: GeluKind, x: &[f32]) -> Result<Buf> {
        let (k, run) = self.gelu_kernel(kind, x.len(), false)?;
        let mut y = run.alloc(x.len());
        k.call(run.threads, kind, x, &mut y)?;
        Ok(y)
    }

    /// `x = gelu(x)`.
    pub fn gelu_inplace(&self, kind: GeluKind, x: &mut [f32]) -> Result<()> {
        let (k, run) = self.gelu_kernel(kind, x.len(), true)?;
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
        k.call(run.threads, kind, Grad { saved: x, dy, dx })
    }
}
