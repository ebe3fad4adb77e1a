//! The `layernorm` calls of the dispatcher: each picks the variant the table binds at the call's
//! key ([`Dispatcher::pick`]) and runs its kernel (`crate::spec::layernorm`).

use super::Dispatcher;
use crate::op::Key;
use crate::spec::layernorm::*;
use kernels::layernorm::{Affine, LayerNormGrads, LayerNormOut, Saved};
use kernels::{Result, Rows};

impl Dispatcher {
    /// `y = LayerNorm(x)`, saving mean and rstd.
    pub fn layernorm(
        &self,
        shape: Rows,
        eps: f32,
        x: &[f32],
        p: Affine,
        out: LayerNormOut,
    ) -> Result<()> {
        let (k, run) = self.pick::<Layernorm>(Key::elems(shape.len()))?;
        Normed::new(k, eps, p).call(run.threads, shape, x, out)
    }

    /// `sum = x + residual; y = LayerNorm(sum)`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_layernorm(
        &self,
        shape: Rows,
        eps: f32,
        x: &[f32],
        residual: &[f32],
        sum: &mut [f32],
        p: Affine,
        out: LayerNormOut,
    ) -> Result<()> {
        let (k, run) = self.pick::<AddLayernorm>(Key::elems(shape.len()))?;
        Normed::new(k, eps, p).call(run.threads, shape, (x, residual), sum, out)
    }

    /// The LayerNorm backward: writes `dx`, accumulates `dgamma` and `dbeta`.
    pub fn layernorm_backward(
        &self,
        shape: Rows,
        saved: Saved,
        dy: &[f32],
        grads: LayerNormGrads,
    ) -> Result<()> {
        let (k, _) = self.pick::<LayernormBackward>(Key::elems(shape.len()))?;
        (k.run)(shape, saved, dy, grads)
    }
}
