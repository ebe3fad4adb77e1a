//! Checkpoints: a directory with `config.json` (a [`Config`]), `model.safetensors` (f32
//! tensors named as in [`crate::weights::specs`]) and optionally `tokenizer.json` (bytes when
//! absent) and `training.json` (how it was trained). Hugging Face GPT-2 directories load too
//! (see [`crate::hf_import`]).
//!
//! Every failure names the file, and the tensor where one is at fault: a truncated file, a
//! corrupt header, a missing, extra, mis-shaped, wrongly typed or non-finite tensor.

use crate::config::Config;
use crate::model::Model;
use crate::tokenizer::Tokenizer;
use crate::weights::{specs, Weights};
use anyhow::{anyhow, bail, Context, Result};
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The weights file of a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The config file of a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// The tokenizer file of a checkpoint directory (optional).
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Training notes (optional, informational).
pub const TRAINING_FILE: &str = "training.json";

/// What a training run records next to its checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub data: String,
    pub steps: usize,
    pub batch: usize,
    pub seq_len: usize,
    pub tokens_seen: usize,
    pub train_loss: f32,
    /// Mean cross-entropy on the held-out split, nats per token.
    pub val_loss: Option<f32>,
    /// The same in nats per byte of text.
    pub val_loss_per_byte: Option<f32>,
    pub seconds: f64,
    pub dispatch: String,
}

/// Loads this project's checkpoint or a Hugging Face GPT-2 directory (recognised by its
/// `config.json` holding `n_embd`), with the embedded dispatch table.
pub fn load(dir: &Path) -> Result<Model> {
    if !dir.is_dir() {
        bail!("{}: not a checkpoint directory", dir.display());
    }
    let cfg_path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("reading {}", cfg_path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", cfg_path.display()))?;
    if json.get("n_embd").is_some() || json.get("model_type").is_some() {
        return crate::hf_import::load(dir);
    }
    let config = Config::load(&cfg_path)?;
    let tok_path = dir.join(TOKENIZER_FILE);
    let tokenizer = if tok_path.exists() {
        Tokenizer::load(&tok_path)?
    } else {
        Tokenizer::Bytes
    };
    let wpath = dir.join(WEIGHTS_FILE);
    let file = TensorFile::read(&wpath)?;
    let st = file.parse()?;
    let mut weights = Weights::zeros(&config);
    let specs = specs(&config);
    for (spec, t) in specs.iter().zip(weights.tensors_mut()) {
        *t = file.tensor_f32(&st, &spec.name, &spec.shape)?;
    }
    file.no_extra(&st, specs.iter().map(|s| s.name.as_str()))?;
    Model::new(config, weights, tokenizer)
        .with_context(|| format!("{}: inconsistent checkpoint", dir.display()))
}

/// Saves `model` (config, weights, tokenizer) into `dir`, creating it.
pub fn save(model: &Model, dir: &Path, info: Option<&TrainingInfo>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cfg_path = dir.join(CONFIG_FILE);
    std::fs::write(
        &cfg_path,
        serde_json::to_string_pretty(&model.config)? + "\n",
    )
    .with_context(|| format!("writing {}", cfg_path.display()))?;
    let tok_path = dir.join(TOKENIZER_FILE);
    match model.tokenizer {
        Tokenizer::Bytes => {
            if tok_path.exists() {
                std::fs::remove_file(&tok_path)
                    .with_context(|| format!("removing {}", tok_path.display()))?;
            }
        }
        _ => model.tokenizer.save(&tok_path)?,
    }
    let specs = specs(&model.config);
    let bytes: Vec<Vec<u8>> = model
        .weights
        .tensors()
        .iter()
        .map(|t| t.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = specs
        .iter()
        .zip(&bytes)
        .map(|(s, b)| {
            safetensors::tensor::TensorView::new(Dtype::F32, s.shape.clone(), b)
                .map(|v| (s.name.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{e}"))?;
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    let data = safetensors::serialize(views, Some(meta)).map_err(|e| anyhow!("{e}"))?;
    // Write then rename, so an interrupted save never leaves a truncated checkpoint.
    let wpath = dir.join(WEIGHTS_FILE);
    let tmp = dir.join(format!("{WEIGHTS_FILE}.tmp"));
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &wpath).with_context(|| format!("writing {}", wpath.display()))?;
    if let Some(info) = info {
        let p = dir.join(TRAINING_FILE);
        std::fs::write(&p, serde_json::to_string_pretty(info)? + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// A safetensors file read into memory, with errors that name it and the tensor at fault.
pub struct TensorFile {
    pub path: PathBuf,
    bytes: Vec<u8>,
}

impl TensorFile {
    /// Reads the whole file.
    pub fn read(path: &Path) -> Result<TensorFile> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(TensorFile {
            path: path.into(),
            bytes,
        })
    }

    /// Parses the header; a corrupt or truncated file is an error saying what is wrong.
    pub fn parse(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| self.diagnose(e))
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
