//! A GPT-style decoder whose every op runs through a [`backends::Dispatcher`].
//!
//! * [`Config`] and the study's presets (`small`: 470,528 parameters, `medium`: 3,454,464);
//! * [`Model`]: batched prefill, KV-cache decoding that allocates nothing per token
//!   ([`KvCache`]), the study's full-recompute generation, and [`Model::with_dispatch`] to
//!   attach a tuned table (the embedded default serves otherwise);
//! * [`Sampler`]: greedy, temperature and top-k, seeded;
//! * [`Tokenizer`]: bytes, or byte-level BPE learned on the corpus;
//! * [`checkpoint`] (safetensors + JSON config) and [`hf_import`] (GPT-2 in the Hugging Face
//!   layout);
//! * training: [`backward`] (every op's backward, cross-entropy), [`optim`] (AdamW, gradient
//!   clipping) and [`train`] (the loop behind `models train`);
//! * [`calls`]: the calls each preset dispatches per workload (prefill, decode step, full
//!   recompute, training step), computed from the config and tested against the model;
//! * [`bench`](mod@bench): the tokens-per-second comparison behind `models bench` (prefill,
//!   per-token decode, the memory-bandwidth bound, the per-op breakdown of [`profile`] and
//!   the chart).
//!
//! ```no_run
//! use models::{Model, Mode, Sampler};
//! let model = Model::load(&models::find_shipped_checkpoint()?)?;
//! let prompt = model.tokenizer.encode(b"ROMEO:\n");
//! let ids = model.generate(&prompt, 100, &mut Sampler::greedy(), Mode::KvCache, |_| {})?;
//! println!("{}", String::from_utf8_lossy(&model.tokenizer.decode(&ids)));
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod backward;
pub mod bench;
pub mod calls;
pub mod checkpoint;
pub mod config;
pub mod files;
pub mod hf_import;
pub mod kv_cache;
pub mod layout;
pub mod model;
pub mod optim;
pub mod profile;
pub mod sample;
pub mod tokenizer;
pub mod train;
pub mod weights;

pub use config::Config;
pub use kv_cache::KvCache;
pub use model::{Mode, Model};
pub use profile::Profile;
pub use sample::Sampler;
pub use tokenizer::Tokenizer;
pub use weights::Weights;

/// Where the shipped small-preset checkpoint (trained on tiny Shakespeare) was at build
/// time. A binary moved elsewhere finds it with [`find_shipped_checkpoint`] instead.
pub const SHIPPED_CHECKPOINT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/checkpoints/small-shakespeare");

/// The shipped checkpoint's directory name under `checkpoints/`.
pub const SHIPPED_NAME: &str = "small-shakespeare";

/// The environment variable naming the default checkpoint directory (overrides the search of
/// [`find_shipped_checkpoint`]).
pub const CHECKPOINT_ENV: &str = "MODELS_CHECKPOINT";

/// `n` with thousands separators: 470528 → "470,528".
pub fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An invalid request (a flag's value, a combination of flags): the CLI exits with status 2
/// for these, as clap does for the usage errors it finds itself, and 1 for other failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The places the shipped checkpoint is looked for, in order: `checkpoints/small-shakespeare`
/// and `models/checkpoints/small-shakespeare` under the current directory, then under the
/// executable's directory and its ancestors (an installed or copied binary next to a
/// `checkpoints/` folder, or `target/release/` of the workspace), and last where it was at
/// build time.
pub fn shipped_checkpoint_candidates() -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let rel = [
        PathBuf::from("checkpoints").join(SHIPPED_NAME),
        PathBuf::from("models")
            .join("checkpoints")
            .join(SHIPPED_NAME),
    ];
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        roots.extend(exe_dir.ancestors().take(4).map(PathBuf::from));
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for r in &roots {
        for p in &rel {
            let c = r.join(p);
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out.push(PathBuf::from(SHIPPED_CHECKPOINT));
    out
}

/// The default checkpoint: the directory named by `MODELS_CHECKPOINT` when set, else the
/// first of [`shipped_checkpoint_candidates`] that holds a `config.json`. When none does, the
/// error says where it looked and to pass `--checkpoint DIR`.
pub fn find_shipped_checkpoint() -> anyhow::Result<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os(CHECKPOINT_ENV) {
        let dir = std::path::PathBuf::from(dir);
        if !dir.join(checkpoint::CONFIG_FILE).is_file() {
            anyhow::bail!(
                "{}: the default checkpoint named by {CHECKPOINT_ENV} is not a checkpoint directory (no {}); pass --checkpoint DIR or fix {CHECKPOINT_ENV}",
                dir.display(),
                checkpoint::CONFIG_FILE
            );
        }
        return Ok(dir);
    }
    let candidates = shipped_checkpoint_candidates();
    if let Some(found) = candidates
        .iter()
        .find(|c| c.join(checkpoint::CONFIG_FILE).is_file())
    {
        return Ok(found.clone());
    }
    anyhow::bail!(
        "no checkpoint given and the shipped one (checkpoints/{SHIPPED_NAME}) is not beside the executable, in the current directory or at {SHIPPED_CHECKPOINT}: pass --checkpoint DIR (or set {CHECKPOINT_ENV})"
    )
}
