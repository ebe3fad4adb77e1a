//! The Hugging Face GPT-2 reference checkpoint (tiny Shakespeare) imported and run: the
//! logits match the reference's to ≤ 1e-4 and the greedy continuation matches exactly, under
//! the default table and under every implementation family of the catalog.

use backends::{catalog, Dispatcher, Memory};
use models::{Mode, Model, Sampler};
use safetensors::{Dtype, SafeTensors};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/gpt2-tiny-shakespeare")
}

struct Golden {
    input: Vec<u32>,
    logits: Vec<f32>,
    greedy_prompt: Vec<u32>,
    greedy_new: Vec<u32>,
}

fn golden() -> Golden {
    let bytes = std::fs::read(dir().join("golden_logits.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let ids = st.tensor("input_ids").unwrap();
    assert_eq!(ids.dtype(), Dtype::I64);
    let input: Vec<u32> = ids
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect();
    let lg = st.tensor("logits").unwrap();
    assert_eq!(lg.dtype(), Dtype::F32);
    assert_eq!(lg.shape(), &[60, 256]);
    let logits = lg
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("golden.json")).unwrap()).unwrap();
    let ids = |k: &str| -> Vec<u32> {
        j[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    Golden {
        input,
        logits,
        greedy_prompt: ids("greedy_prompt_ids"),
        greedy_new: ids("greedy_new_ids"),
    }
}

/// The default table, then every implementation family the catalog offers on this CPU.
fn dispatchers() -> Vec<(String, Dispatcher)> {
    let mut v = vec![(
        "embedded default".to_string(),
        Dispatcher::embedded().clone(),
    )];
    let mut names: Vec<&str> = Vec::new();
    for var in catalog().variants() {
        if var.runnable().is_ok() && !names.contains(&var.implementation) {
            names.push(var.implementation);
        }
    }
    for name in names {
        v.push((
            format!("forced {name}"),
            Dispatcher::forced(name, Memory::Pooled, 1),
        ));
    }
    v
}

#[test]
fn golden_logits_and_greedy_under_every_family() {
    let g = golden();
    let base = Model::load(&dir()).expect("the reference checkpoint loads");
    assert_eq!(base.param_count(), 437_760);
    assert!(base.config.tied_lm_head);
    for (name, d) in dispatchers() {
        let model = base.clone().with_dispatch(d);
        let logits = model.logits(&g.input).unwrap();
        assert_eq!(logits.len(), g.logits.len());
        let max = logits
            .iter()
            .zip(&g.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!("{name}: golden logits max abs diff {max:.3e}");
        assert!(max <= 1e-4, "{name}: max abs diff {max} > 1e-4");

        let n = model.config.context - g.greedy_prompt.len();
        let new = model
            .generate(
                &g.greedy_prompt,
                n,
                &mut Sampler::greedy(),
                Mode::KvCache,
                |_| {},
            )
            .unwrap();
        assert_eq!(new, g.greedy_new, "{name}: greedy continuation differs");
    }
}

#[test]
fn kv_cache_matches_full_recompute_and_prefill_split() {
    let g = golden();
    let model = Model::load(&dir()).unwrap();
    let full = model.logits(&g.input).unwrap();
    let v = model.config.vocab_size;
    // Prefill 20, then decode one at a time: every step's logits equal the full pass's row.
    let mut cache = model.session();
    let last = model.prefill(&mut cache, &g.input[..20]).unwrap().to_vec();
    let diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    };
    assert!(diff(&last, &full[19 * v..20 * v]) < 1e-4);
    for t in 20..g.input.len() {
        let l = model.decode(&mut cache, g.input[t]).unwrap();
        assert!(diff(l, &full[t * v..(t + 1) * v]) < 1e-4, "position {t}");
    }
    // The cache refuses to overflow the context.
    let mut cache = model.session();
    model.prefill(&mut cache, &[65; 64]).unwrap();
    assert!(model.decode(&mut cache, 65).is_err());
    // Full recompute gives the same greedy tokens as the cache.
    let a = model
        .generate(
            &g.greedy_prompt,
            25,
            &mut Sampler::greedy(),
            Mode::FullRecompute,
            |_| {},
        )
        .unwrap();
    assert_eq!(a, g.greedy_new[..25]);
}
