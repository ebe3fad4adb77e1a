//! The on-disk layout of a checkpoint directory, below both loaders: the file names, the
//! two formats (this project's and Hugging Face GPT-2's) and how to tell them apart from
//! `config.json`, the GPT-2 config, and safetensors files read with errors that name the file
//! and the tensor at fault. The `checkpoint` module (this project's checkpoints) and
//! `hf_import` (GPT-2 directories) both build on it, so neither needs the other's
//! internals.

use crate::config::Config;
use crate::tokenizer::Tokenizer;
use anyhow::{anyhow, bail, Context, Result};
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The weights file of a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The config file of a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// The tokenizer file of a checkpoint directory (optional).
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Training notes (optional, informational).
pub const TRAINING_FILE: &str = "training.json";

/// The optimiser state of a training run (AdamW moments and step), saved beside the weights
/// so that `models train --resume` continues exactly (optional).
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// Every file a checkpoint directory may hold; a directory with anything else is never
/// replaced by a save (it is not a checkpoint, or holds the user's other files).
pub const CHECKPOINT_FILES: [&str; 6] = [
    CONFIG_FILE,
    WEIGHTS_FILE,
    TOKENIZER_FILE,
    TRAINING_FILE,
    OPTIMIZER_FILE,
    // Left by saves of earlier versions, which wrote the weights beside and renamed them.
    "model.safetensors.tmp",
];

/// The on-disk layout of a checkpoint directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// This project's: `config.json` (a [`Config`]) + `model.safetensors`.
    Native,
    /// Hugging Face GPT-2 (`config.json` holding `n_embd`), see the `hf_import` module.
    HuggingFace,
}

/// Checks that `dir` exists and is a checkpoint directory (holds `config.json`).
fn check_dir(dir: &Path) -> Result<()> {
    let meta = crate::files::metadata(dir, "the checkpoint directory")?;
    if !meta.is_dir() {
        bail!(
            "{}: not a checkpoint directory (it is a file; a checkpoint is a directory with {CONFIG_FILE} and {WEIGHTS_FILE})",
            dir.display()
        );
    }
    if !dir.join(CONFIG_FILE).exists() {
        bail!(
            "{}: not a checkpoint directory (no {CONFIG_FILE})",
            dir.display()
        );
    }
    Ok(())
}

/// Reads the config of a checkpoint directory (either format) without touching the
/// weights: the format, this project's config for the shape, and the GPT-2 config when it is
/// one.
pub fn read_config(dir: &Path) -> Result<(Format, Config, Option<HfConfig>)> {
    check_dir(dir)?;
    let cfg_path = dir.join(CONFIG_FILE);
    let text = crate::files::read_to_string(&cfg_path, "model config")?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", cfg_path.display()))?;
    if json.get("n_embd").is_some() || json.get("model_type").is_some() {
        let hf: HfConfig = serde_json::from_value(json)
            .with_context(|| format!("{}: not a GPT-2 config", cfg_path.display()))?;
        let config = hf
            .to_config()
            .with_context(|| format!("{}: unsupported GPT-2 config", cfg_path.display()))?;
        return Ok((Format::HuggingFace, config, Some(hf)));
    }
    let config: Config = serde_json::from_value(json)
        .with_context(|| format!("{}: not a valid model config", cfg_path.display()))?;
    config
        .validate()
        .with_context(|| format!("{}: invalid model config", cfg_path.display()))?;
    Ok((Format::Native, config, None))
}

/// The fields of a Hugging Face GPT-2 `config.json` that decide the shape.
#[derive(Debug, Clone, Deserialize)]
pub struct HfConfig {
    pub vocab_size: usize,
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    #[serde(default)]
    pub n_inner: Option<usize>,
    #[serde(default = "eps")]
    pub layer_norm_epsilon: f32,
    #[serde(default = "gelu_new")]
    pub activation_function: String,
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    #[serde(default = "yes")]
    pub scale_attn_weights: bool,
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
}

fn eps() -> f32 {
    1e-5
}
fn gelu_new() -> String {
    "gelu_new".into()
}
fn yes() -> bool {
    true
}

impl HfConfig {
    /// This project's config for the same shape (unsupported variants are errors).
    pub fn to_config(&self) -> Result<Config> {
        if !matches!(
            self.activation_function.as_str(),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast"
        ) {
            bail!(
                "activation `{}` is not supported (only the tanh GELU, `gelu_new`)",
                self.activation_function
            );
        }
        if !self.scale_attn_weights || self.scale_attn_by_inverse_layer_idx {
            bail!("only the standard 1/sqrt(head_dim) attention scaling is supported");
        }
        let cfg = Config {
            vocab_size: self.vocab_size,
            context: self.n_positions,
            width: self.n_embd,
            layers: self.n_layer,
            heads: self.n_head,
            mlp_hidden: match self.n_inner {
                Some(h) => h,
                None => self.n_embd.checked_mul(4).ok_or_else(|| {
                    anyhow!(
                        "n_embd {} × 4 (the default n_inner) overflows the address space",
                        self.n_embd
                    )
                })?,
            },
            layer_norm_eps: self.layer_norm_epsilon,
            tied_lm_head: self.tie_word_embeddings,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// The tokenizer of checkpoint `dir` for a vocabulary of `vocab` ids: its `tokenizer.json`
/// when present, else bytes; a vocabulary above 256 with no tokenizer file is an error
/// (the byte tokenizer cannot decode ids of 256 and up, and GPT-2's BPE is not implemented).
pub fn tokenizer_for(dir: &Path, vocab: usize) -> Result<Tokenizer> {
    let tok_path = dir.join(TOKENIZER_FILE);
    if tok_path.exists() {
        return Tokenizer::load(&tok_path).with_context(|| {
            format!(
                "{}: the tokenizer this checkpoint needs cannot be read (only this project's tokenizer.json is supported, not GPT-2's BPE files)",
                dir.display()
            )
        });
    }
    if vocab > 256 {
        bail!(
            "{}: the vocabulary has {vocab} ids but there is no {TOKENIZER_FILE}: the byte tokenizer decodes only ids below 256 (GPT-2's own BPE tokenizer is not implemented)",
            dir.display()
        );
    }
    Ok(Tokenizer::Bytes)
}

/// Checks that loading the weights of the checkpoint in `dir` with `config` fits the memory
/// limit: two copies (the file's bytes and the tensors), before either is allocated.
pub fn check_weights_memory(dir: &Path, config: &Config) -> Result<()> {
    config.check_memory(
        &format!(
            "the weights of {} ({} parameters; file and tensors)",
            dir.display(),
            config.param_count()
        ),
        2,
    )
}

/// A safetensors file read into memory, with errors that name it and the tensor at fault.
pub struct TensorFile {
    pub path: PathBuf,
    bytes: Vec<u8>,
}

impl TensorFile {
    /// Reads the whole file (its size checked against the memory limit first).
    pub fn read(path: &Path) -> Result<TensorFile> {
        let bytes = crate::files::read(path, "weights file")?;
        Ok(TensorFile {
            path: path.into(),
            bytes,
        })
    }

    /// Parses the header; a corrupt or truncated file is an error saying what is wrong.
    pub fn parse(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| self.diagnose(e))
    }

    /// The value of `key` in the file's `__metadata__`, if any.
    pub fn metadata(&self, key: &str) -> Option<String> {
        let (_, meta) = SafeTensors::read_metadata(&self.bytes).ok()?;
        meta.metadata().as_ref()?.get(key).cloned()
    }

    /// Explains a parse failure: which tensor a truncated file cuts, or what is corrupt.
    fn diagnose(&self, e: SafeTensorError) -> anyhow::Error {
        let p = self.path.display();
        let b = &self.bytes;
        if b.len() < 8 {
            return anyhow!("{p}: not a safetensors file (truncated: only {} bytes, the header size alone needs 8)", b.len());
        }
        let n = u64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as usize;
        if n > 100_000_000 {
            return anyhow!("{p}: corrupt safetensors header (declares a header of {n} bytes)");
        }
        if 8 + n > b.len() {
            return anyhow!(
                "{p}: truncated: the header declares {n} bytes but the file has only {} after the size",
                b.len() - 8
            );
        }
        let header: serde_json::Value = match serde_json::from_slice(&b[8..8 + n]) {
            Ok(v) => v,
            Err(j) => return anyhow!("{p}: corrupt safetensors header: {j}"),
        };
        let data_len = b.len() - 8 - n;
        if let Some(map) = header.as_object() {
            let mut spans: Vec<(&str, u64, u64)> = map
                .iter()
                .filter(|(k, _)| *k != "__metadata__")
                .filter_map(|(k, v)| {
                    let o = v.get("data_offsets")?.as_array()?;
                    Some((k.as_str(), o.first()?.as_u64()?, o.get(1)?.as_u64()?))
                })
                .collect();
            spans.sort_by_key(|s| s.1);
            if let Some((name, s, e)) = spans.iter().find(|s| s.2 as usize > data_len) {
                return anyhow!(
                    "{p}: truncated: tensor `{name}` needs data bytes {s}..{e} but the data section has only {data_len} bytes"
                );
            }
            if let SafeTensorError::InvalidOffset(name) = &e {
                return anyhow!("{p}: corrupt: tensor `{name}` has invalid data offsets");
            }
            if matches!(e, SafeTensorError::MetadataIncompleteBuffer) {
                let end = spans.last().map_or(0, |s| s.2);
                return anyhow!(
                    "{p}: corrupt: the tensors end at data byte {end} but the data section has {data_len} bytes (trailing or missing data)"
                );
            }
        }
        anyhow!("{p}: corrupt safetensors file: {e}")
    }

    /// The f32 tensor `name`, which must have exactly `shape` and finite values.
    pub fn tensor_f32(&self, st: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let p = self.path.display();
        let t = st.tensor(name).map_err(|_| {
            anyhow!("{p}: tensor `{name}` is missing (expected f32 of shape {shape:?})")
        })?;
        if t.dtype() != Dtype::F32 {
            bail!(
                "{p}: tensor `{name}` has dtype {:?}, expected F32",
                t.dtype()
            );
        }
        if t.shape() != shape {
            bail!(
                "{p}: tensor `{name}` has shape {:?}, the config needs {shape:?}",
                t.shape()
            );
        }
        let v: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            bail!(
                "{p}: tensor `{name}` is corrupt: element {i} is {} (not finite)",
                v[i]
            );
        }
        Ok(v)
    }

    /// Errors if the file holds tensors outside `expected` (a checkpoint of another shape).
    pub fn no_extra<'a>(
        &self,
        st: &SafeTensors,
        expected: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        let expected: BTreeSet<&str> = expected.into_iter().collect();
        let mut extra: Vec<String> = st
            .names()
            .into_iter()
            .filter(|n| !expected.contains(n))
            .map(|s| s.to_string())
            .collect();
        extra.sort();
        if let Some(first) = extra.first() {
            bail!(
                "{}: unexpected tensor `{first}`{} (is the checkpoint from a different config?)",
                self.path.display(),
                if extra.len() > 1 {
                    format!(" and {} more", extra.len() - 1)
                } else {
                    String::new()
                }
            );
        }
        Ok(())
    }
}
