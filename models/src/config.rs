//! The model's shape: a [`Config`] that serialises to JSON, and the study's two presets.

use anyhow::{bail, Context, Result};
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

/// The named presets of the original study.
pub const PRESETS: [&str; 2] = ["small", "medium"];

impl Config {
    /// The **small** preset: vocab 256, context 64, width 128, 2 layers, 4 heads (470,528
    /// parameters).
    pub fn small() -> Config {
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
    pub fn medium() -> Config {
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

    /// Checks that the shape is usable.
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
        if self.vocab_size > u32::MAX as usize || self.context > 1 << 20 {
            bail!("config: vocab_size or context is unreasonably large");
        }
        Ok(())
    }

    /// The exact number of trainable parameters.
    pub fn param_count(&self) -> usize {
        let (c, h) = (self.width, self.mlp_hidden);
        let block = 2 * 2 * c          // ln_1, ln_2
            + c * 3 * c + 3 * c         // qkv
            + c * c + c                 // attention projection
            + c * h + h                 // fc
            + h * c + c; // fc2
        let head = if self.tied_lm_head {
            0
        } else {
            self.vocab_size * c
        };
        self.vocab_size * c + self.context * c + self.layers * block + 2 * c + head
    }

    /// Reads a config from a JSON file.
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Config = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid model config", path.display()))?;
        cfg.validate()
            .with_context(|| format!("{}: invalid model config", path.display()))?;
        Ok(cfg)
    }
}
