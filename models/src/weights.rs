//! The parameters (and, with the same type, their gradients and optimiser moments).
//!
//! Internal layout: every linear weight is stored `[in, out]` row-major, so a layer is the
//! plain product `y = x·W + b` (the Hugging Face GPT-2 `Conv1D` layout, fused QKV included).
//! The token embedding and the LM head are `[vocab, width]`; logits are `x·lm_headᵀ`.

use crate::config::Config;
use kernels::layernorm::{Affine, LayerNormGrads};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A LayerNorm's parameters, `[width]` each.
#[derive(Debug, Clone, PartialEq)]
pub struct Norm {
    /// The gain γ.
    pub g: Vec<f32>,
    /// The bias β.
    pub b: Vec<f32>,
}

impl Norm {
    /// The parameters as the LayerNorm kernels take them.
    pub fn affine(&self) -> Affine<'_> {
        Affine {
            gamma: &self.g,
            beta: &self.b,
        }
    }

    /// These parameters as the accumulator of a LayerNorm backward's γ and β gradients,
    /// with `dx` receiving its input gradient.
    pub fn grads<'a>(&'a mut self, dx: &'a mut [f32]) -> LayerNormGrads<'a> {
        LayerNormGrads {
            dx,
            dgamma: &mut self.g,
            dbeta: &mut self.b,
        }
    }
}

/// A dense layer `y = x·W + b`: `w` is `[in, out]`, `b` is `[out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// One transformer block's tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub ln1: Norm,
    /// The fused Q, K, V projections: `w` is `[width, 3·width]`.
    pub qkv: Dense,
    /// The attention output projection: `w` is `[width, width]`.
    pub proj: Dense,
    pub ln2: Norm,
    /// The MLP's up-projection: `w` is `[width, mlp_hidden]`.
    pub fc: Dense,
    /// The MLP's down-projection: `w` is `[mlp_hidden, width]`.
    pub fc2: Dense,
}

/// Every tensor of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// `[vocab, width]`.
    pub wte: Vec<f32>,
    /// `[context, width]`.
    pub wpe: Vec<f32>,
    pub blocks: Vec<Block>,
    /// The final LayerNorm.
    pub lnf: Norm,
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

/// Every tensor of the weights `$w`, borrowed by `$r` (`&` or `&mut`), in the order of
/// [`specs`]: the one list behind [`Weights::tensors`] and [`Weights::tensors_mut`].
macro_rules! tensor_list {
    ($w:expr, $($r:tt)+) => {{
        let w = $w;
        let mut v = vec![$($r)+ w.wte, $($r)+ w.wpe];
        for b in $($r)+ w.blocks {
            v.extend([
                $($r)+ b.ln1.g, $($r)+ b.ln1.b, $($r)+ b.qkv.w, $($r)+ b.qkv.b,
                $($r)+ b.proj.w, $($r)+ b.proj.b, $($r)+ b.ln2.g, $($r)+ b.ln2.b,
                $($r)+ b.fc.w, $($r)+ b.fc.b, $($r)+ b.fc2.w, $($r)+ b.fc2.b,
            ]);
        }
        v.push($($r)+ w.lnf.g);
        v.push($($r)+ w.lnf.b);
        if let Some(h) = $($r)+ w.lm_head {
            v.push(h);
        }
        v
    }};
}

impl Weights {
    /// All tensors zero (the shape of `cfg`): the starting point of gradients and moments.
    pub fn zeros(cfg: &Config) -> Weights {
        let (c, h, v) = (cfg.width, cfg.mlp_hidden, cfg.vocab_size);
        let norm = || Norm {
            g: vec![0.0; c],
            b: vec![0.0; c],
        };
        let dense = |inp: usize, out: usize| Dense {
            w: vec![0.0; inp * out],
            b: vec![0.0; out],
        };
        let block = || Block {
            ln1: norm(),
            qkv: dense(c, 3 * c),
            proj: dense(c, c),
            ln2: norm(),
            fc: dense(c, h),
            fc2: dense(h, c),
        };
        Weights {
            wte: vec![0.0; v * c],
            wpe: vec![0.0; cfg.context * c],
            blocks: (0..cfg.layers).map(|_| block()).collect(),
            lnf: norm(),
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
        tensor_list!(self, &)
    }

    /// Every tensor, mutably, in the order of [`specs`].
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        tensor_list!(self, &mut)
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
