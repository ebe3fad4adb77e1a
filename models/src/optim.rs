//! AdamW with decoupled weight decay, and gradient clipping by global norm.

use crate::config::Config;
use crate::weights::{specs, Weights};
use serde::{Deserialize, Serialize};

/// AdamW hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled weight decay, applied to matrices only (not biases, LayerNorm parameters).
    pub weight_decay: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 3e-3,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
        }
    }
}

/// AdamW state: first and second moments (same shapes as the weights) and the step count.
#[derive(Debug, Clone)]
pub struct AdamW {
    pub hp: AdamWConfig,
    m: Weights,
    v: Weights,
    decays: Vec<bool>,
    step: u32,
}

impl AdamW {
    /// Zeroed moments for `cfg`.
    pub fn new(cfg: &Config, hp: AdamWConfig) -> AdamW {
        AdamW {
            hp,
            m: Weights::zeros(cfg),
            v: Weights::zeros(cfg),
            decays: specs(cfg).iter().map(|s| s.decays()).collect(),
            step: 0,
        }
    }

    /// The state saved by a checkpoint: moments `m` and `v` (the shapes of `cfg`) after `step`
    /// steps, continued with hyper-parameters `hp`.
    pub fn from_state(cfg: &Config, hp: AdamWConfig, m: Weights, v: Weights, step: u32) -> AdamW {
        AdamW {
            hp,
            m,
            v,
            decays: specs(cfg).iter().map(|s| s.decays()).collect(),
            step,
        }
    }

    /// The first and second moments (for saving).
    pub fn moments(&self) -> (&Weights, &Weights) {
        (&self.m, &self.v)
    }

    /// Steps taken.
    pub fn steps(&self) -> u32 {
        self.step
    }

    /// One update of `w` with gradient `g` at learning rate `lr` (bias-corrected moments).
    pub fn step(&mut self, w: &mut Weights, g: &Weights, lr: f32) {
        self.step = self.step.saturating_add(1);
        let t = self.step.min(i32::MAX as u32) as i32;
        let AdamWConfig {
            beta1,
            beta2,
            eps,
            weight_decay,
            ..
        } = self.hp;
        let bc1 = 1.0 - beta1.powi(t);
        let bc2 = 1.0 - beta2.powi(t);
        let tensors = w
            .tensors_mut()
            .into_iter()
            .zip(g.tensors())
            .zip(self.m.tensors_mut())
            .zip(self.v.tensors_mut())
            .zip(&self.decays);
        for ((((p, g), m), v), &decays) in tensors {
            let wd = if decays { lr * weight_decay } else { 0.0 };
            for i in 0..p.len() {
                let gi = g[i];
                m[i] = beta1 * m[i] + (1.0 - beta1) * gi;
                v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi;
                let mh = m[i] / bc1;
                let vh = v[i] / bc2;
                p[i] -= lr * mh / (vh.sqrt() + eps) + wd * p[i];
            }
        }
    }
}

/// The global L2 norm of a gradient.
pub fn grad_norm(g: &Weights) -> f32 {
    g.tensors()
        .iter()
        .flat_map(|t| t.iter())
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt() as f32
}

/// Scales `g` so that its global norm is at most `max_norm`; returns the norm before.
pub fn clip_grad_norm(g: &mut Weights, max_norm: f32) -> f32 {
    let norm = grad_norm(g);
    if norm > max_norm && norm.is_finite() {
        let s = max_norm / norm;
        for t in g.tensors_mut() {
            t.iter_mut().for_each(|x| *x *= s);
        }
    }
    norm
}
