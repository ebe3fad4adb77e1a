//! The parameters (and, with the same type, their gradients and optimiser moments).
//!
//! Internal layout: every linear weight is stored `[in, out]` row-major, so a layer is the
//! plain product `y = x·W + b` (the Hugging Face GPT-2 `Conv1D` layout, fused QKV included).
//! The token embedding and the LM head are `[vocab, width]`; logits are `x·lm_headᵀ`.

use crate::config::Config;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One transformer block's tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub ln1_g: Vec<f32>,
    pub ln1_b: Vec<f32>,
    /// `[width, 3·width]`: the fused Q, K, V projections.
    pub qkv_w: Vec<f32>,
    pub qkv_b: Vec<f32>,
    /// `[width, width]`: the attention output projection.
    pub proj_w: Vec<f32>,
    pub proj_b: Vec<f32>,
    pub ln2_g: Vec<f32>,
    pub ln2_b: Vec<f32>,
    /// `[width, mlp_hidden]`.
    pub fc_w: Vec<f32>,
    pub fc_b: Vec<f32>,
    /// `[mlp_hidden, width]`.
    pub fc2_w: Vec<f32>,
    pub fc2_b: Vec<f32>,
}

/// Every tensor of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// `[vocab, width]`.
    pub wte: Vec<f32>,
    /// `[context, width]`.
    pub wpe: Vec<f32>,
    pub blocks: Vec<Block>,
    pub lnf_g: Vec<f32>,
    pub lnf_b: Vec<f32>,
    /// `[vocab, width]`; `None` when the head is tied to `wte`.
    pub lm_head: Option<Vec<f32>>,
}

/// A tensor's name (as in this project's checkpoints) and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    fn new(name: impl Into<String>, shape: &[usize]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            shape: shape.to_vec(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether weight decay applies (matrices, not biases or LayerNorm parameters).
    pub fn decays(&self) -> bool {
        self.shape.len() == 2
    }
}

/// The names and shapes of every tensor of `cfg`, in the order [`Weights::tensors`] yields.
pub fn specs(cfg: &Config) -> Vec<TensorSpec> {
    let (c, h, v) = (cfg.width, cfg.mlp_hidden, cfg.vocab_size);
    let mut s = vec![
        TensorSpec::new("wte", &[v, c]),
        TensorSpec::new("wpe", &[cfg.context, c]),
    ];
    for l in 0..cfg.layers {
        let p = format!("h.{l}.");
        s.push(TensorSpec::new(format!("{p}ln_1.weight"), &[c]));
        s.push(TensorSpec::new(format!("{p}ln_1.bias"), &[c]));
        s.push(TensorSpec::new(format!("{p}attn.qkv.weight"), &[c, 3 * c]));
        s.push(TensorSpec::new(format!("{p}attn.qkv.bias"), &[3 * c]));
        s.push(TensorSpec::new(format!("{p}attn.proj.weight"), &[c, c]));
        s.push(TensorSpec::new(format!("{p}attn.proj.bias"), &[c]));
        s.push(TensorSpec::new(format!("{p}ln_2.weight"), &[c]));
        s.push(TensorSpec::new(format!("{p}ln_2.bias"), &[c]));
        s.push(TensorSpec::new(format!("{p}mlp.fc.weight"), &[c, h]));
        s.push(TensorSpec::new(format!("{p}mlp.fc.bias"), &[h]));
        s.push(TensorSpec::new(format!("{p}mlp.proj.weight"), &[h, c]));
        s.push(TensorSpec::new(format!("{p}mlp.proj.bias"), &[c]));
    }
    s.push(TensorSpec::new("ln_f.weight", &[c]));
    s.push(TensorSpec::new("ln_f.bias", &[c]));
    if !cfg.tied_lm_head {
        s.push(TensorSpec::new("lm_head.weight", &[v, c]));
    }
    s
}

impl Weights {
    /// All tensors zero (the shape of `cfg`): the starting point of gradients and moments.
    pub fn zeros(cfg: &Config) -> Weights {
        let (c, h, v) = (cfg.width, cfg.mlp_hidden, cfg.vocab_size);
        let block = || Block {
            ln1_g: vec![0.0; c],
            ln1_b: vec![0.0; c],
            qkv_w: vec![0.0; c * 3 * c],
            qkv_b: vec![0.0; 3 * c],
            proj_w: vec![0.0; c * c],
            proj_b: vec![0.0; c],
            ln2_g: vec![0.0; c],
            ln2_b: vec![0.0; c],
            fc_w: vec![0.0; c * h],
            fc_b: vec![0.0; h],
            fc2_w: vec![0.0; h * c],
            fc2_b: vec![0.0; c],
        };
        Weights {
            wte: vec![0.0; v * c],
            wpe: vec![0.0; cfg.context * c],
            blocks: (0..cfg.layers).map(|_| block()).collect(),
            lnf_g: vec![0.0; c],
            lnf_b: vec![0.0; c],
            lm_head: (!cfg.tied_lm_head).then(|| vec![0.0; v * c]),
        }
    }

    /// GPT-2's initialisation: normal(0, 0.02) matrices, residual projections scaled by
    /// 1/√(2·layers), zero biases, unit LayerNorm gains. Seeded, so reproducible.
    pub fn init(cfg: &Config, seed: u64) -> Weights {
        let mut w = Weights::zeros(cfg);
        let mut rng = StdRng::seed_from_u64(seed);
        let resid = 0.02 / (2.0 * cfg.layers as f32).sqrt();
        let specs = specs(cfg);
        for (spec, t) in specs.iter().zip(w.tensors_mut()) {
            let std = if spec.name.ends_with("attn.proj.weight")
                || spec.name.ends_with("mlp.proj.weight")
            {
                resid
            } else {
                0.02
            };
            if spec.name.ends_with("ln_1.weight")
                || spec.name.ends_with("ln_2.weight")
                || spec.name == "ln_f.weight"
            {
                t.fill(1.0);
            } else if spec.decays() {
                t.iter_mut().for_each(|x| *x = std * normal(&mut rng));
            }
        }
        w
    }

    /// Every tensor in the order of [`specs`].
    pub fn tensors(&self) -> Vec<&Vec<f32>> {
        let mut v = vec![&self.wte, &self.wpe];
        for b in &self.blocks {
            v.extend([
                &b.ln1_g, &b.ln1_b, &b.qkv_w, &b.qkv_b, &b.proj_w, &b.proj_b, &b.ln2_g, &b.ln2_b,
                &b.fc_w, &b.fc_b, &b.fc2_w, &b.fc2_b,
            ]);
        }
        v.push(&self.lnf_g);
        v.push(&self.lnf_b);
        if let Some(h) = &self.lm_head {
            v.push(h);
        }
        v
    }

    /// Every tensor, mutably, in the order of [`specs`].
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        let mut v = vec![&mut self.wte, &mut self.wpe];
        for b in &mut self.blocks {
            v.extend([
                &mut b.ln1_g,
                &mut b.ln1_b,
                &mut b.qkv_w,
                &mut b.qkv_b,
                &mut b.proj_w,
                &mut b.proj_b,
                &mut b.ln2_g,
                &mut b.ln2_b,
                &mut b.fc_w,
                &mut b.fc_b,
                &mut b.fc2_w,
                &mut b.fc2_b,
            ]);
        }
        v.push(&mut self.lnf_g);
        v.push(&mut self.lnf_b);
        if let Some(h) = &mut self.lm_head {
            v.push(h);
        }
        v
    }

    /// Total number of elements.
    pub fn len(&self) -> usize {
        self.tensors().iter().map(|t| t.len()).sum()
    }

    /// Whether there are no parameters at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every element is finite (no NaN or infinity).
    pub fn all_finite(&self) -> bool {
        self.tensors()
            .iter()
            .all(|t| t.iter().fold(true, |ok, x| ok & x.is_finite()))
    }

    /// The first non-finite element: the tensor's name (as in [`specs`] of `cfg`, the shape
    /// these weights were made for), the index and the value.
    pub fn first_non_finite(&self, cfg: &Config) -> Option<(String, usize, f32)> {
        if self.all_finite() {
            return None;
        }
        let specs = specs(cfg);
        self.tensors().iter().enumerate().find_map(|(k, t)| {
            let i = t.iter().position(|x| !x.is_finite())?;
            let name = specs
                .get(k)
                .map_or_else(|| format!("#{k}"), |s| s.name.clone());
            Some((name, i, t[i]))
        })
    }

    /// Sets every element to zero (keeps the allocations).
    pub fn zero(&mut self) {
        for t in self.tensors_mut() {
            t.fill(0.0);
        }
    }

    /// The LM head matrix `[vocab, width]` (the token embedding when tied).
    pub fn head(&self) -> &[f32] {
        self.lm_head.as_deref().unwrap_or(&self.wte)
    }
}

/// A standard normal sample (Box–Muller).
pub(crate) fn normal(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.random::<f32>().max(1e-12);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}
