//! Where a forward pass spends its time, op family by op family: an optional hook of the
//! forward pass ([`Model::decode_profiled`](crate::Model::decode_profiled)) behind
//! `models bench`'s per-token breakdown.
//!
//! The forward pass is generic over a [`Profiler`]: the plain `prefill`/`decode` use
//! [`NoProfile`], whose methods are empty and inline away, so profiling costs nothing when
//! off. [`Profile`] takes one clock reading per op call (tens of nanoseconds each: about 7 %
//! of a small model's decode step on the development VM) and holds fixed arrays, so it
//! allocates nothing either.

use serde::Serialize;
use std::time::Instant;

/// The parts a forward pass is cut into: each dispatcher call (and the few copies the model
/// does itself) is charged to one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The token rows gathered from the embedding table (a copy, not a dispatcher op).
    Embedding,
    /// The fused Q, K, V projection.
    QkvMatmul,
    /// New keys and values copied into the cache (not a dispatcher op).
    KvCopy,
    /// Fused attention (scores, causal softmax, weighted sum of the values), every head.
    Attention,
    /// The attention output projection.
    ProjMatmul,
    /// The MLP's first matmul (width → hidden).
    MlpUpMatmul,
    /// GELU.
    Gelu,
    /// The MLP's second matmul (hidden → width).
    MlpDownMatmul,
    /// The whole MLP (up-projection, bias + GELU, down-projection, bias) in one team call,
    /// where the table binds it to threads (`Dispatcher::mlp`).
    MlpFused,
    /// LayerNorm, and the fused residual add + LayerNorm.
    LayerNorm,
    /// Bias adds and the position-embedding add.
    Adds,
    /// The LM head (logits of the last position).
    LmHead,
}

impl Part {
    /// Every part, in the order of the forward pass.
    pub const ALL: [Part; 12] = [
        Part::Embedding,
        Part::QkvMatmul,
        Part::KvCopy,
        Part::Attention,
        Part::ProjMatmul,
        Part::MlpUpMatmul,
        Part::Gelu,
        Part::MlpDownMatmul,
        Part::MlpFused,
        Part::LayerNorm,
        Part::Adds,
        Part::LmHead,
    ];

    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Part::Embedding => "embedding gather",
            Part::QkvMatmul => "qkv matmul",
            Part::KvCopy => "kv cache copy",
            Part::Attention => "attention (fused)",
            Part::ProjMatmul => "proj matmul",
            Part::MlpUpMatmul => "mlp up matmul",
            Part::Gelu => "gelu",
            Part::MlpDownMatmul => "mlp down matmul",
            Part::MlpFused => "mlp (fused, one team call)",
            Part::LayerNorm => "layernorm (+ residual add)",
            Part::Adds => "bias and position adds",
            Part::LmHead => "lm head",
        }
    }
}

/// What the forward pass calls around its ops. Implemented by [`NoProfile`] (nothing) and
/// [`Profile`] (time per [`Part`]).
pub trait Profiler {
    /// A forward pass starts.
    fn begin(&mut self);
    /// The work since the previous call (or [`Profiler::begin`]) belongs to `part`.
    fn lap(&mut self, part: Part);
    /// A forward pass ended.
    fn end(&mut self);
}

/// The profiler that does nothing: what `prefill` and `decode` run with.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProfile;

impl Profiler for NoProfile {
    #[inline(always)]
    fn begin(&mut self) {}
    #[inline(always)]
    fn lap(&mut self, _: Part) {}
    #[inline(always)]
    fn end(&mut self) {}
}

/// Nanoseconds per [`Part`] summed over the profiled forward passes.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    ns: [u64; Part::ALL.len()],
    passes: u64,
    last: Option<Instant>,
}

impl Profile {
    /// An empty profile.
    pub fn new() -> Profile {
        Profile::default()
    }

    /// The forward passes profiled so far.
    pub fn passes(&self) -> u64 {
        self.passes
    }

    /// Nanoseconds charged to `part` over every pass.
    pub fn ns(&self, part: Part) -> u64 {
        self.ns[part as usize]
    }

    /// Nanoseconds charged to all parts over every pass.
    pub fn total_ns(&self) -> u64 {
        self.ns.iter().sum()
    }

    /// Forgets everything measured.
    pub fn reset(&mut self) {
        *self = Profile::default();
    }
}

impl Profiler for Profile {
    fn begin(&mut self) {
        self.last = Some(Instant::now());
    }

    fn lap(&mut self, part: Part) {
        let now = Instant::now();
        if let Some(t) = self.last {
            self.ns[part as usize] += now.duration_since(t).as_nanos() as u64;
        }
        self.last = Some(now);
    }

    fn end(&mut self) {
        self.last = None;
        self.passes += 1;
    }
}
