//! The training step both `models bench` and the tuner's end-to-end race time: one forward
//! and backward pass of [`TRAIN_BATCH`] sequences of the full context, gradients zeroed
//! first (the optimiser update is left out: it is the same element-wise work for every
//! dispatcher). Defined once here so that the two measure the same thing.

use crate::backward::{forward_backward, Workspace};
use crate::config::Config;
use crate::model::Model;
use crate::weights::Weights;
use anyhow::Result;
use std::time::Instant;

/// Sequences per training step: large enough that the step's MatMuls have the shapes of
/// training, small enough that a race stays in seconds.
pub const TRAIN_BATCH: usize = 8;

/// The buffers of a training step, made once per model configuration.
pub struct TrainStep {
    ws: Workspace,
    tokens: Vec<u32>,
    targets: Vec<u32>,
    grads: Weights,
}

impl TrainStep {
    /// Buffers for `cfg`, with fixed pseudo-random tokens and targets (timing does not
    /// depend on them); an error when they exceed the memory limit.
    pub fn new(cfg: &Config) -> Result<TrainStep> {
        let ws = Workspace::try_new(cfg, TRAIN_BATCH, cfg.context)?;
        let n = TRAIN_BATCH * cfg.context;
        let v = cfg.vocab_size.max(1) as u64;
        let tokens = (0..n as u64)
            .map(|i| ((i * 7919 + 13) % v) as u32)
            .collect();
        let targets = (0..n as u64)
            .map(|i| ((i * 104_729 + 7) % v) as u32)
            .collect();
        Ok(TrainStep {
            ws,
            tokens,
            targets,
            grads: Weights::zeros(cfg),
        })
    }

    /// Runs one step on `model` and returns its wall time in seconds.
    pub fn run(&mut self, model: &Model) -> Result<f64> {
        let t0 = Instant::now();
        self.grads.zero();
        forward_backward(
            model,
            &mut self.ws,
            &self.tokens,
            &self.targets,
            &mut self.grads,
        )?;
        Ok(t0.elapsed().as_secs_f64())
    }
}
