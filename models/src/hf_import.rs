//! Importing GPT-2-family checkpoints in the Hugging Face layout (`model.safetensors` +
//! `config.json`).
//!
//! Names: `transformer.wte.weight`, `transformer.wpe.weight`, `transformer.h.N.ln_1.*`,
//! `transformer.h.N.attn.c_attn.*` (Conv1D, stored `[in, out]`, fused QKV), `attn.c_proj`,
//! `ln_2`, `mlp.c_fc`, `mlp.c_proj`, `transformer.ln_f`, and `lm_head.weight` when it is not
//! tied to `wte`. Files saved from `GPT2Model` without the `transformer.` prefix load too;
//! `attn.bias`/`attn.masked_bias` mask buffers are ignored. The Conv1D layout is this
//! project's internal layout, so the weights are taken as they are.

pub use crate::layout::HfConfig;
use crate::layout::{Format, TensorFile};
use crate::model::Model;
use crate::weights::{Dense, Norm, Weights};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Loads a Hugging Face GPT-2 directory. A vocab of at most 256 uses the byte tokenizer
/// (as the golden tiny-Shakespeare model); a larger vocabulary needs this project's
/// `tokenizer.json` beside it and is an error without one (GPT-2's own BPE is not
/// implemented, and the byte tokenizer cannot decode ids of 256 and up). The weights' memory
/// is checked against the limit before anything is allocated.
pub fn load(dir: &Path) -> Result<Model> {
    let (format, mut config, _) = crate::layout::read_config(dir)?;
    if format != Format::HuggingFace {
        bail!(
            "{}: not a Hugging Face GPT-2 checkpoint (its config.json has no `n_embd`)",
            dir.display()
        );
    }
    let tokenizer = crate::layout::tokenizer_for(dir, config.vocab_size)?;
    crate::layout::check_weights_memory(dir, &config)?;
    let wpath = dir.join("model.safetensors");
    let file = TensorFile::read(&wpath)?;
    let st = file.parse()?;
    let prefix = if st.names().iter().any(|n| n.starts_with("transformer.")) {
        "transformer."
    } else {
        ""
    };
    let (c, h, v) = (config.width, config.mlp_hidden, config.vocab_size);
    // A separate lm_head is used when present and different from wte.
    let head_present = st.names().contains(&"lm_head.weight");
    let get = |name: &str, shape: &[usize]| file.tensor_f32(&st, name, shape);
    let wte = get(&format!("{prefix}wte.weight"), &[v, c])?;
    let lm_head = if head_present && !config.tied_lm_head {
        Some(get("lm_head.weight", &[v, c])?)
    } else {
        None
    };
    if head_present && config.tied_lm_head {
        // Tied: the stored copy must agree with wte.
        let head = get("lm_head.weight", &[v, c])?;
        if head != wte {
            config.tied_lm_head = false;
        }
    }
    let mut w = Weights::zeros(&config);
    w.wte = wte;
    w.wpe = get(&format!("{prefix}wpe.weight"), &[config.context, c])?;
    // A LayerNorm's or a Conv1D's `weight` then `bias`, under `name`.
    let norm = |name: &str| -> Result<Norm> {
        Ok(Norm {
            g: get(&format!("{name}.weight"), &[c])?,
            b: get(&format!("{name}.bias"), &[c])?,
        })
    };
    let dense = |name: &str, inp: usize, out: usize| -> Result<Dense> {
        Ok(Dense {
            w: get(&format!("{name}.weight"), &[inp, out])?,
            b: get(&format!("{name}.bias"), &[out])?,
        })
    };
    for (l, b) in w.blocks.iter_mut().enumerate() {
        let p = format!("{prefix}h.{l}.");
        b.ln1 = norm(&format!("{p}ln_1"))?;
        b.qkv = dense(&format!("{p}attn.c_attn"), c, 3 * c)?;
        b.proj = dense(&format!("{p}attn.c_proj"), c, c)?;
        b.ln2 = norm(&format!("{p}ln_2"))?;
        b.fc = dense(&format!("{p}mlp.c_fc"), c, h)?;
        b.fc2 = dense(&format!("{p}mlp.c_proj"), h, c)?;
    }
    w.lnf = norm(&format!("{prefix}ln_f"))?;
    w.lm_head = if config.tied_lm_head {
        None
    } else {
        match lm_head {
            Some(h) => Some(h),
            None => Some(get("lm_head.weight", &[v, c])?),
        }
    };
    // Anything else is either a known buffer or a sign of another architecture.
    for name in st.names() {
        let known = name == "lm_head.weight"
            || name.ends_with(".attn.bias")
            || name.ends_with(".attn.masked_bias")
            || name.strip_prefix(prefix).is_some_and(|rest| {
                rest.starts_with("wte.")
                    || rest.starts_with("wpe.")
                    || rest.starts_with("ln_f.")
                    || rest
                        .strip_prefix("h.")
                        .and_then(|r| r.split('.').next())
                        .and_then(|i| i.parse::<usize>().ok())
                        .is_some_and(|i| i < config.layers)
            });
        if !known {
            bail!(
                "{}: unexpected tensor `{name}` for a GPT-2 of {} layers",
                wpath.display(),
                config.layers
            );
        }
    }
    Model::new(config, w, tokenizer)
        .with_context(|| format!("{}: inconsistent checkpoint", dir.display()))
}
