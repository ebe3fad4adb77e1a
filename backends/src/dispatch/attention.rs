//! The `attention` calls of the dispatcher: each picks the variant the table binds at the call's
//! key ([`Dispatcher::pick`]) and runs its kernel (`crate::spec::attention`).

use super::Dispatcher;
use crate::op::Key;
use crate::spec::attention::*;
use kernels::attention::{Attention, Qkv};
use kernels::Result;

impl Dispatcher {
    /// Fused causal attention of every head of `shape` into `out` (see
    /// `kernels::attention`), by the variant bound at the shape's key.
    pub fn attention(
        &self,
        shape: &Attention,
        scale: f32,
        qkv: Qkv<'_>,
        out: &mut [f32],
    ) -> Result<()> {
        let (k, run) = self.pick::<CausalAttention>(Key::attention(shape))?;
        k.call(run.threads, run.memory, shape, scale, qkv, out)
    }
}
