//! Checkpoints: a directory with `config.json` (a [`Config`]), `model.safetensors` (f32
//! tensors named as in [`crate::weights::specs`]) and optionally `tokenizer.json` (bytes when
//! absent) and `training.json` (how it was trained). Hugging Face GPT-2 directories load too
//! (see [`crate::hf_import`]).
//!
//! A training run adds `optimizer.safetensors` (AdamW moments `m.NAME`, `v.NAME` and the step
//! in the metadata), so that a resumed run continues exactly.
//!
//! Every failure names the file, and the tensor where one is at fault: a truncated file, a
//! corrupt header, a missing, extra, mis-shaped, wrongly typed or non-finite tensor. Saves
//! are atomic (a temporary directory renamed into place), refuse non-finite weights, and never
//! replace a directory holding anything but checkpoint files.

use crate::config::Config;
pub use crate::layout::{
    check_weights_memory, read_config, tokenizer_for, Format, TensorFile, CHECKPOINT_FILES,
    CONFIG_FILE, OPTIMIZER_FILE, TOKENIZER_FILE, TRAINING_FILE, WEIGHTS_FILE,
};
use crate::model::Model;
use crate::optim::{AdamW, AdamWConfig};
use crate::tokenizer::Tokenizer;
use crate::weights::{specs, Weights};
use anyhow::{anyhow, bail, Context, Result};
use safetensors::Dtype;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a training run records next to its checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub data: String,
    /// Optimiser steps taken (all runs together when resumed).
    pub steps: usize,
    /// The steps the learning-rate schedule assumes (`--steps`); 0 when unknown.
    #[serde(default)]
    pub schedule_steps: usize,
    pub batch: usize,
    pub seq_len: usize,
    pub tokens_seen: usize,
    pub train_loss: f32,
    /// Mean cross-entropy on the held-out split, nats per token.
    pub val_loss: Option<f32>,
    /// The same in nats per byte of text.
    pub val_loss_per_byte: Option<f32>,
    /// Held-out tokens the validation loss was computed over: a periodic evaluation scores a
    /// few batches, the final one the whole split (0 in records written before this field).
    #[serde(default)]
    pub val_tokens: usize,
    pub seconds: f64,
    pub dispatch: String,
}

/// What a checkpoint directory declares, read without its weights (for `models info`).
#[derive(Debug, Clone)]
pub struct Header {
    pub format: Format,
    /// The shape as the config declares it.
    pub config: Config,
    /// The tokenizer, or why none can decode this vocabulary.
    pub tokenizer: std::result::Result<Tokenizer, String>,
    /// `training.json`, when present and readable.
    pub training: Option<TrainingInfo>,
    /// The weights file and its size (`None` when missing).
    pub weights: (PathBuf, Option<u64>),
}

/// What checkpoint `dir` declares, without reading or allocating its weights.
pub fn inspect(dir: &Path) -> Result<Header> {
    let (format, config, _) = read_config(dir)?;
    let tokenizer = tokenizer_for(dir, config.vocab_size).map_err(|e| format!("{e:#}"));
    let training = std::fs::read_to_string(dir.join(TRAINING_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let wpath = dir.join(WEIGHTS_FILE);
    let size = std::fs::metadata(&wpath).ok().map(|m| m.len());
    Ok(Header {
        format,
        config,
        tokenizer,
        training,
        weights: (wpath, size),
    })
}

/// `training.json` of checkpoint `dir`, if present (an unreadable one is an error naming it).
pub fn read_training_info(dir: &Path) -> Result<Option<TrainingInfo>> {
    let p = dir.join(TRAINING_FILE);
    if !p.exists() {
        return Ok(None);
    }
    crate::files::read_json(&p, "training record").map(Some)
}

/// Loads this project's checkpoint or a Hugging Face GPT-2 directory (recognised by its
/// `config.json` holding `n_embd`), with the embedded dispatch table. The weights' memory is
/// checked against the limit before anything is allocated.
pub fn load(dir: &Path) -> Result<Model> {
    let (format, config, _) = read_config(dir)?;
    if format == Format::HuggingFace {
        return crate::hf_import::load(dir);
    }
    let tokenizer = tokenizer_for(dir, config.vocab_size)?;
    check_weights_memory(dir, &config)?;
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

/// Loads the optimiser state saved beside checkpoint `dir` (`None` when it has none), with
/// hyper-parameters `hp`; shapes must match `cfg`.
pub fn load_optimizer(dir: &Path, cfg: &Config, hp: AdamWConfig) -> Result<Option<AdamW>> {
    let path = dir.join(OPTIMIZER_FILE);
    if !path.exists() {
        return Ok(None);
    }
    cfg.check_memory(
        &format!(
            "the optimiser state of {} (file and moments)",
            dir.display()
        ),
        4,
    )?;
    let file = TensorFile::read(&path)?;
    let st = file.parse()?;
    let step = file
        .metadata("step")
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| anyhow!("{}: no valid `step` in the metadata", path.display()))?;
    let specs = specs(cfg);
    let mut m = Weights::zeros(cfg);
    let mut v = Weights::zeros(cfg);
    for ((spec, tm), tv) in specs.iter().zip(m.tensors_mut()).zip(v.tensors_mut()) {
        *tm = file.tensor_f32(&st, &format!("m.{}", spec.name), &spec.shape)?;
        *tv = file.tensor_f32(&st, &format!("v.{}", spec.name), &spec.shape)?;
    }
    let names: Vec<String> = specs
        .iter()
        .flat_map(|s| [format!("m.{}", s.name), format!("v.{}", s.name)])
        .collect();
    file.no_extra(&st, names.iter().map(String::as_str))?;
    Ok(Some(AdamW::from_state(cfg, hp, m, v, step)))
}

/// Whether `dir` holds a checkpoint (a directory with a config or weights file).
pub fn holds_checkpoint(dir: &Path) -> bool {
    dir.is_dir() && (dir.join(CONFIG_FILE).exists() || dir.join(WEIGHTS_FILE).exists())
}

/// Errors unless a save may replace `dir`: absent, an empty directory, or a directory holding
/// only checkpoint files ([`CHECKPOINT_FILES`]), so that a save never deletes anything else.
pub fn check_replaceable(dir: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    if !meta.is_dir() {
        bail!(
            "{}: exists and is not a directory; a checkpoint is saved as a directory (choose another output)",
            dir.display()
        );
    }
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        let name = e.file_name();
        let known = name.to_str().is_some_and(|n| CHECKPOINT_FILES.contains(&n));
        if !known || !e.file_type().is_ok_and(|t| t.is_file()) {
            bail!(
                "{}: holds `{}`, which is not part of a checkpoint; a save would replace the whole directory, so choose another output or move it",
                dir.display(),
                name.to_string_lossy()
            );
        }
    }
    Ok(())
}

/// Saves `model` (config, weights, tokenizer) into `dir`; see [`save_with`].
pub fn save(model: &Model, dir: &Path, info: Option<&TrainingInfo>) -> Result<()> {
    save_with(model, dir, info, None)
}

/// Saves `model`, the training record and the optimiser state into `dir` atomically: every
/// file is written into a temporary directory beside `dir`, which then replaces `dir` by
/// renames (the old checkpoint is moved aside first and removed last, and moved back if the
/// replacement fails), so an interrupted or failed save never leaves a partial checkpoint
/// or none. Non-finite weights are refused (they would never load again), and so is a `dir`
/// holding files that are not part of a checkpoint.
pub fn save_with(
    model: &Model,
    dir: &Path,
    info: Option<&TrainingInfo>,
    optim: Option<&AdamW>,
) -> Result<()> {
    if let Some((name, i, x)) = model.weights.first_non_finite(&model.config) {
        bail!(
            "refusing to save {}: tensor `{name}` element {i} is {x} (the weights are not finite)",
            dir.display()
        );
    }
    check_replaceable(dir)?;
    let (parent, name) = crate::files::split_parent(dir)?;
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = name.to_string_lossy();
    let pid = std::process::id();
    let tmp = parent.join(format!("{name}.tmp-{pid}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    if let Err(e) = write_files(model, &tmp, info, optim) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let replace = match std::fs::symlink_metadata(dir) {
        Ok(_) => std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some(),
        Err(_) => false,
    };
    if !replace {
        // Absent or empty: a rename puts the new directory in place (over an empty one).
        if let Err(e) = std::fs::rename(&tmp, dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e).with_context(|| {
                format!("moving {} into place as {}", tmp.display(), dir.display())
            });
        }
        return Ok(());
    }
    let old = parent.join(format!("{name}.old-{pid}"));
    if old.exists() {
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    if let Err(e) = std::fs::rename(dir, &old) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| {
            format!(
                "moving the previous checkpoint {} aside to {}",
                dir.display(),
                old.display()
            )
        });
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        // Put the previous checkpoint back; the new one is discarded.
        let back = std::fs::rename(&old, dir);
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e).with_context(|| match back {
            Ok(()) => format!(
                "moving {} into place as {} (the previous checkpoint is kept)",
                tmp.display(),
                dir.display()
            ),
            Err(b) => format!(
                "moving {} into place as {} (and moving the previous checkpoint back failed: {b}; it is in {})",
                tmp.display(),
                dir.display(),
                old.display()
            ),
        });
    }
    // The new checkpoint is in place; a leftover old copy is harmless, so its removal may fail.
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Writes every file of a checkpoint into the (new, empty) directory `dir`.
fn write_files(
    model: &Model,
    dir: &Path,
    info: Option<&TrainingInfo>,
    optim: Option<&AdamW>,
) -> Result<()> {
    let cfg_path = dir.join(CONFIG_FILE);
    write_synced(
        &cfg_path,
        (serde_json::to_string_pretty(&model.config)? + "\n").as_bytes(),
    )?;
    if !matches!(model.tokenizer, Tokenizer::Bytes) {
        model.tokenizer.save(&dir.join(TOKENIZER_FILE))?;
    }
    let specs = specs(&model.config);
    let named: Vec<(String, &[usize], &[f32])> = specs
        .iter()
        .zip(model.weights.tensors())
        .map(|(s, t)| (s.name.clone(), s.shape.as_slice(), t.as_slice()))
        .collect();
    let data = serialize(&named, HashMap::new())?;
    write_synced(&dir.join(WEIGHTS_FILE), &data)?;
    drop(data);
    if let Some(opt) = optim {
        let (m, v) = opt.moments();
        let mut named: Vec<(String, &[usize], &[f32])> = Vec::new();
        for (s, t) in specs.iter().zip(m.tensors()) {
            named.push((format!("m.{}", s.name), s.shape.as_slice(), t.as_slice()));
        }
        for (s, t) in specs.iter().zip(v.tensors()) {
            named.push((format!("v.{}", s.name), s.shape.as_slice(), t.as_slice()));
        }
        let meta = HashMap::from([("step".to_string(), opt.steps().to_string())]);
        let data = serialize(&named, meta)?;
        write_synced(&dir.join(OPTIMIZER_FILE), &data)?;
    }
    if let Some(info) = info {
        let p = dir.join(TRAINING_FILE);
        write_synced(&p, (serde_json::to_string_pretty(info)? + "\n").as_bytes())?;
    }
    Ok(())
}

/// A safetensors file of f32 tensors `(name, shape, data)` with `meta` (plus `format: pt`).
fn serialize(
    tensors: &[(String, &[usize], &[f32])],
    mut meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, t)| t.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.to_vec(), b)
                .map(|v| (name.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{e}"))?;
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(views, Some(meta)).map_err(|e| anyhow!("{e}"))
}

/// Writes `data` to `path` and flushes it to disk (before the rename that publishes it).
fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

impl Model {
    /// Loads a checkpoint directory: this project's (`config.json` + `model.safetensors`) or
    /// a Hugging Face GPT-2 one; see [`load`]. (Written here, beside the loader, so that the
    /// model itself knows nothing of files.)
    pub fn load(dir: &Path) -> Result<Model> {
        load(dir)
    }
}
