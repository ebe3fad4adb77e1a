//! Generation speed in the original study's method (10-token prompt, 25 generated tokens,
//! full recompute) and with the KV cache, for several dispatchers side by side in one run.

use crate::config::Config;
use crate::model::{Mode, Model};
use crate::sample::Sampler;
use crate::tokenizer::Tokenizer;
use anyhow::Result;
use backends::Dispatcher;
use serde::Serialize;
use std::time::Instant;

/// Prompt length of the study's method.
pub const PROMPT_TOKENS: usize = 10;
/// Generated tokens of the study's method.
pub const NEW_TOKENS: usize = 25;

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub preset: String,
    pub dispatch: String,
    /// `full_recompute` or `kv_cache`.
    pub mode: String,
    /// Median tokens per second over the repetitions.
    pub tok_per_s: f64,
    /// Every repetition's tokens per second.
    pub samples: Vec<f64>,
}

/// Measures every preset × dispatcher × mode (`reps` repetitions each, after one warm-up).
pub fn run(
    presets: &[(String, Config)],
    tables: &[(String, Dispatcher)],
    reps: usize,
    progress: bool,
) -> Result<Vec<BenchResult>> {
    let mut out = Vec::new();
    for (pname, cfg) in presets {
        // Timing does not depend on the weights: a seeded random initialisation.
        let base = Model::init(cfg.clone(), Tokenizer::Bytes, 0)?;
        let prompt: Vec<u32> = b"First Citi"
            .iter()
            .map(|&b| b as u32 % cfg.vocab_size as u32)
            .take(PROMPT_TOKENS)
            .collect();
        for (tname, d) in tables {
            let model = base.clone().with_dispatch(d.clone());
            for (mode, mname) in [
                (Mode::FullRecompute, "full_recompute"),
                (Mode::KvCache, "kv_cache"),
            ] {
                let mut samples = Vec::with_capacity(reps);
                for rep in 0..=reps {
                    let mut s = Sampler::greedy();
                    let t0 = Instant::now();
                    let ids = model.generate(&prompt, NEW_TOKENS, &mut s, mode, |_| {})?;
                    let secs = t0.elapsed().as_secs_f64();
                    if rep > 0 {
                        samples.push(ids.len() as f64 / secs.max(1e-12));
                    }
                }
                let mut sorted = samples.clone();
                sorted.sort_by(f64::total_cmp);
                let med = sorted[sorted.len() / 2];
                if progress {
                    eprintln!("{pname:<7} {tname:<24} {mname:<15} {med:>10.1} tok/s");
                }
                out.push(BenchResult {
                    preset: pname.clone(),
                    dispatch: tname.clone(),
                    mode: mname.into(),
                    tok_per_s: med,
                    samples,
                });
            }
        }
    }
    Ok(out)
}

/// A side-by-side text table: one row per preset and mode, one column per dispatcher, with
/// the speed-up over the first column.
pub fn table(results: &[BenchResult]) -> String {
    let mut tables: Vec<&str> = Vec::new();
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for r in results {
        if !tables.contains(&r.dispatch.as_str()) {
            tables.push(&r.dispatch);
        }
        if !rows.contains(&(r.preset.as_str(), r.mode.as_str())) {
            rows.push((&r.preset, &r.mode));
        }
    }
    let mut s = format!(
        "tokens/s, median ({PROMPT_TOKENS}-token prompt, {NEW_TOKENS} new tokens, greedy)\n"
    );
    s += &format!("{:<8} {:<15}", "preset", "mode");
    for t in &tables {
        s += &format!(" {:>22}", t);
    }
    s.push('\n');
    for (p, m) in rows {
        s += &format!("{p:<8} {m:<15}");
        let get = |t: &str| {
            results
                .iter()
                .find(|r| r.preset == p && r.mode == m && r.dispatch == t)
                .map(|r| r.tok_per_s)
        };
        let first = get(tables[0]);
        for t in &tables {
            let cell = match (get(t), first) {
                (Some(v), Some(f)) if *t != tables[0] => format!("{v:.1} ({:.1}×)", v / f),
                (Some(v), _) => format!("{v:.1}"),
                _ => "-".into(),
            };
            s += &format!(" {cell:>22}");
        }
        s.push('\n');
    }
    s
}
