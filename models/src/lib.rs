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
//! * [`bench`](mod@bench): the tokens-per-second comparison behind `models bench`.
//!
//! ```no_run
//! use models::{Model, Mode, Sampler};
//! let model = Model::load("models/checkpoints/small-shakespeare".as_ref())?;
//! let prompt = model.tokenizer.encode(b"ROMEO:\n");
//! let ids = model.generate(&prompt, 100, &mut Sampler::greedy(), Mode::KvCache, |_| {})?;
//! println!("{}", String::from_utf8_lossy(&model.tokenizer.decode(&ids)));
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod backward;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod hf_import;
pub mod kv_cache;
pub mod model;
pub mod optim;
pub mod sample;
pub mod tokenizer;
pub mod train;
pub mod weights;

pub use config::Config;
pub use kv_cache::KvCache;
pub use model::{Mode, Model};
pub use sample::Sampler;
pub use tokenizer::Tokenizer;
pub use weights::Weights;

/// The directory of the shipped small-preset checkpoint (trained on tiny Shakespeare).
pub const SHIPPED_CHECKPOINT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/checkpoints/small-shakespeare");
