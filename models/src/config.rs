//! The model's shape: a [`Config`] that serialises to JSON, and the study's two presets.

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shape of a GPT-style decoder: pre-LayerNorm blocks, learned absolute position
/// embeddings, a GELU (tanh) MLP, biases everywhere except the LM head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Number of token ids.
    pub vocab_size: usize,
    /// Longest sequence (number of learned positions).
    pub context: usize,
    /// Residual-stream width (embedding size).
    pub width: usize,
    /// Number of transformer blocks.
    pub layers: usize,
    /// Attention heads per block; must divide `width`.
    pub heads: usize,
    /// Hidden width of the MLP (4 × width in the presets).
    pub mlp_hidden: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
    /// Whether the LM head reuses the token embedding (GPT-2) instead of its own matrix.
    #[serde(default)]
    pub tied_lm_head: bool,
}

fn default_eps() -> f32 {
    1e-5
}

/// The longest context a config may declare.
pub const MAX_CONTEXT: usize = 1 << 20;
/// The most layers a config may declare.
pub const MAX_LAYERS: usize = 1 << 16;
/// f32 elements of bookkeeping allowed per tensor in memory estimates (its `Vec`, name and
/// allocator header).
pub const TENSOR_OVERHEAD: u128 = 64;

/// The named presets of the original study.
pub const PRESETS: [&str; 2] = ["small", "medium"];

impl Config {
    /// The **small** preset: vocab 256, context 64, width 128, 2 layers, 4 heads (470,528
    /// parameters).
    pub const fn small() -> Config {
        Config {
            vocab_size: 256,
            context: 64,
            width: 128,
            layers: 2,
            heads: 4,
            mlp_hidden: 512,
            layer_norm_eps: 1e-5,
            tied_lm_head: false,
        }
    }

    /// The **medium** preset: vocab 512, context 128, width 256, 4 layers, 8 heads
    /// (3,454,464 parameters).
    pub const fn medium() -> Config {
        Config {
            vocab_size: 512,
            context: 128,
            width: 256,
            layers: 4,
            heads: 8,
            mlp_hidden: 1024,
            layer_norm_eps: 1e-5,
            tied_lm_head: false,
        }
    }

    /// A preset by name (`small`, `medium`).
    pub fn preset(name: &str) -> Result<Config> {
        match name {
            "small" => Ok(Config::small()),
            "medium" => Ok(Config::medium()),
            _ => bail!(
                "unknown preset `{name}`; the presets are {}",
                PRESETS.join(", ")
            ),
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads.max(1)
    }

    /// The sizes the passes index by, in the order their code names them `(c, h, v, nh, hd)`:
    /// width, MLP hidden width, vocabulary, heads and [`Config::head_dim`].
    pub fn dims(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.width,
            self.mlp_hidden,
            self.vocab_size,
            self.heads,
            self.head_dim(),
        )
    }

    /// Checks that the shape is usable: every size at least 1, heads dividing width, and
    /// every tensor's element count and the total computed without overflow (an overflow is an
    /// error naming the values), so that later size arithmetic cannot wrap.
    pub fn validate(&self) -> Result<()> {
        let nonzero = [
            ("vocab_size", self.vocab_size),
            ("context", self.context),
            ("width", self.width),
            ("layers", self.layers),
            ("heads", self.heads),
            ("mlp_hidden", self.mlp_hidden),
        ];
        for (name, v) in nonzero {
            if v == 0 {
                bail!("config: `{name}` must be at least 1");
            }
        }
        if !self.width.is_multiple_of(self.heads) {
            bail!(
                "config: width {} is not a multiple of heads {}",
                self.width,
                self.heads
            );
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            bail!("config: layer_norm_eps must be positive and finite");
        }
        if self.vocab_size > u32::MAX as usize {
            bail!(
                "config: vocab_size {} is unreasonably large (token ids are 32-bit)",
                self.vocab_size
            );
        }
        if self.context > MAX_CONTEXT {
            bail!(
                "config: context {} is unreasonably large (at most {MAX_CONTEXT})",
                self.context
            );
        }
        if self.layers > MAX_LAYERS {
            bail!(
                "config: layers {} is unreasonably large (at most {MAX_LAYERS})",
                self.layers
            );
        }
        self.checked_param_count()?;
        Ok(())
    }

    /// The exact number of trainable parameters, with every product and sum checked: an
    /// overflow is an error naming the sizes involved.
    pub fn checked_param_count(&self) -> Result<usize> {
        let (c, h, v) = (self.width, self.mlp_hidden, self.vocab_size);
        let mul = |a: usize, b: usize, what: &str| {
            a.checked_mul(b)
                .ok_or_else(|| anyhow!("config: {what} ({a} × {b}) overflows the address space"))
        };
        let embed = mul(v, c, "vocab_size × width")?;
        let pos = mul(self.context, c, "context × width")?;
        let qkv = mul(mul(3, c, "3 × width")?, c, "3·width × width")?;
        let proj = mul(c, c, "width × width")?;
        let fc = mul(c, h, "width × mlp_hidden")?;
        // Biases and LayerNorm parameters of a block: 4c (LayerNorms) + 3c + c + h + c.
        let small = mul(9, c, "9 × width")?.checked_add(h);
        let total_of = |terms: &[Option<usize>]| {
            terms
                .iter()
                .try_fold(0usize, |acc, t| t.and_then(|t| acc.checked_add(t)))
        };
        let block = total_of(&[Some(qkv), Some(proj), Some(fc), Some(fc), small]);
        let blocks = block.and_then(|b| b.checked_mul(self.layers));
        let head = if self.tied_lm_head { 0 } else { embed };
        total_of(&[Some(embed), Some(pos), blocks, c.checked_mul(2), Some(head)]).ok_or_else(|| {
            anyhow!(
                "config: the parameter count (vocab_size {v}, context {}, width {c}, layers {}, mlp_hidden {h}) overflows the address space",
                self.context,
                self.layers
            )
        })
    }

    /// The exact number of trainable parameters (saturating at `usize::MAX` for a config that
    /// [`validate`](Self::validate) rejects; [`checked_param_count`](Self::checked_param_count)
    /// says why).
    pub fn param_count(&self) -> usize {
        self.checked_param_count().unwrap_or(usize::MAX)
    }

    /// Number of tensors in the weights (their bookkeeping counts in memory estimates).
    pub fn tensor_count(&self) -> u128 {
        4 + 12 * self.layers as u128 + u128::from(!self.tied_lm_head)
    }

    /// f32 elements that one copy of the weights occupies, plus [`TENSOR_OVERHEAD`] per
    /// tensor for its bookkeeping: what a memory check counts for one copy.
    pub fn weight_elements(&self) -> u128 {
        (self.param_count() as u128).saturating_add(self.tensor_count() * TENSOR_OVERHEAD)
    }

    /// Checks (after [`validate`](Self::validate)) that `copies` copies of the weights fit in
    /// the memory limit of [`backends::limits`] before any is allocated; `what` names them.
    pub fn check_memory(&self, what: &str, copies: u128) -> Result<()> {
        self.validate()?;
        backends::limits::check_f32(what, &[self.weight_elements().saturating_mul(copies)])?;
        Ok(())
    }

    /// Reads a config from a JSON file.
    pub fn load(path: &Path) -> Result<Config> {
        let cfg: Config = crate::files::read_json(path, "model config")?;
        cfg.validate()
            .with_context(|| format!("{}: invalid model config", path.display()))?;
        Ok(cfg)
    }
}
