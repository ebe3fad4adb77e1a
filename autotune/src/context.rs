//! In-context timing for a preset run: each measured call's contenders are timed inside the
//! preset's own workload — the real model's forward pass or training step, with its own
//! weights, buffers and call order — with the contender bound at exactly that call's key
//! ([`backends::Dispatcher::with_key`]) and every other call at the per-call table's choice.
//! A call's time is read from the dispatcher's timed trace ([`backends::Dispatcher::start_timed_trace`]):
//! from its dispatch to the next one, so it is the call as it runs between its real
//! neighbours, the caches holding what they leave. These figures replace the point's
//! per-call ones before the selection, so a choice that wins alone but loses in the model
//! (weights evicted by the other layers, a two-thread call behind a single-thread one) no
//! longer wins the table.
//!
//! Contenders are the point's candidates within [`CONTEXT_RATIO`] of its best per-call
//! figure (at most [`MAX_CONTENDERS`]), and the embedded default's choice at the call's key
//! however it fared per call (alone, a call's weights and threads are not as the model leaves
//! them, so the per-call figure must not keep the baseline out of the race that decides:
//! a medium-preset run dropped `avx512/pooled/t2` from the MLP's decode products that way,
//! and its table then decoded 0.84–0.94× as fast as forced `avx512 t2` in `models bench`),
//! sampled round-robin, one workload run per sample;
//! a point whose key the workloads never reach, or whose calls run inside a fused team call
//! with others (`Dispatcher::mlp`, which cannot be timed call by call), keeps its per-call
//! figures.

use crate::measure::{CandResult, Timing};
use crate::tune::{Config, PointRecord, Progress};
use backends::dispatch::Call;
use backends::table::Table;
use backends::{Dispatcher, Key, LoadOptions};
use models::bench::train_step::TrainStep;
use models::calls::{calls, Workload};
use models::{Model, Tokenizer};
use std::path::Path;
use std::time::Instant;

/// Candidates within this factor of a point's best per-call median are timed in context.
pub const CONTEXT_RATIO: f64 = 1.5;
/// At most this many candidates per point (the fastest per call first).
pub const MAX_CONTENDERS: usize = 4;
/// Prompt tokens before the timed decode steps, as `models bench` runs them.
const PROMPT: usize = 10;
/// Decode steps per sample.
const DECODE_STEPS: usize = 8;

/// A preset workload the in-context timing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// A 10-token prompt, then [`DECODE_STEPS`] decoded tokens (only the decode is timed).
    Decode,
    /// A prefill of `n` tokens from an empty cache (a prompt; the full context is a full
    /// recompute's window).
    Prefill(usize),
    /// One training step.
    Train,
}

impl Run {
    fn name(self) -> String {
        match self {
            Run::Decode => "KV decode steps".into(),
            Run::Prefill(n) => format!("a {n}-token prefill"),
            Run::Train => "a training step".into(),
        }
    }

    /// The calls this run dispatches (for finding which run reaches a key).
    fn calls(self, cfg: &models::Config) -> Vec<Call> {
        let workloads: Vec<Workload> = match self {
            Run::Decode => (PROMPT..PROMPT + DECODE_STEPS)
                .map(|pos| Workload::DecodeStep { pos })
                .collect(),
            Run::Prefill(n) => vec![Workload::Prefill { prompt_len: n }],
            Run::Train => vec![Workload::TrainStep {
                batch: models::bench::train_step::TRAIN_BATCH,
                seq: cfg.context,
            }],
        };
        workloads
            .into_iter()
            .flat_map(|w| calls(cfg, w).unwrap_or_default())
            .map(|c| c.traced())
            .collect()
    }
}

/// The model and buffers one run needs, made once.
struct Bench {
    model: Model,
    cache: models::KvCache,
    prompt: Vec<u32>,
    train: Option<TrainStep>,
}

impl Bench {
    /// Runs `run` once with the model's dispatcher tracing with times; the timed calls.
    fn sample(&mut self, run: Run) -> anyhow::Result<Vec<(Call, Option<std::time::Duration>)>> {
        // The model's own dispatcher (a clone would record on its own).
        let d = self.model.dispatch();
        match run {
            Run::Decode => {
                self.cache.reset();
                let mut t = sample_token(self.model.prefill(&mut self.cache, &self.prompt)?);
                d.start_timed_trace();
                for _ in 0..DECODE_STEPS {
                    t = sample_token(self.model.decode(&mut self.cache, t)?);
                }
            }
            Run::Prefill(n) => {
                self.cache.reset();
                let tokens: Vec<u32> = (0..n).map(|i| self.prompt[i % self.prompt.len()]).collect();
                d.start_timed_trace();
                self.model.prefill(&mut self.cache, &tokens)?;
            }
            Run::Train => {
                if self.train.is_none() {
                    self.train = Some(TrainStep::new(&self.model.config)?);
                }
                d.start_timed_trace();
                if let Some(st) = self.train.as_mut() {
                    st.run(&self.model)?;
                }
            }
        }
        Ok(d.take_timed_trace())
    }
}

/// The greedy next token (argmax), so decoding is deterministic.
fn sample_token(logits: &[f32]) -> u32 {
    logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i as u32)
}

/// What was retimed, for the run's notes.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub points: usize,
    pub changed_winner: usize,
    pub not_reached: usize,
}

/// Retimes every point of `points` (a preset run's) in context, until `deadline`: see the
/// module docs. `base` is the per-call table the other calls run with.
pub fn retime(
    points: &mut [PointRecord],
    cfg: &Config,
    base: &Table,
    progress: &mut Progress,
    deadline: Instant,
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let Some(preset) = cfg.preset else {
        return Ok(summary);
    };
    let mcfg = models::Config::preset(preset.name)?;
    let base = Dispatcher::from_table(base, Path::new("per-call table"), LoadOptions::default())?;
    let model = Model::init(mcfg.clone(), Tokenizer::Bytes, 0)?.with_dispatch(base.clone());
    let prompt: Vec<u32> = (0..PROMPT as u32)
        .map(|i| (i * 31 + 70) % mcfg.vocab_size as u32)
        .collect();
    let mut bench = Bench {
        cache: model.try_session()?,
        model,
        prompt,
        train: None,
    };
    // The runs, cheapest first, and the calls each reaches.
    let runs: Vec<(Run, Vec<Call>)> = [
        Run::Decode,
        Run::Prefill(PROMPT),
        Run::Prefill(mcfg.context),
        Run::Train,
    ]
    .into_iter()
    .map(|r| (r, r.calls(&mcfg)))
    .collect();
    progress.add(points.len() as u64);
    let n = points.len();
    // Each point's cheapest run, and the points in the order of their runs' cost, so that the
    // budget covers the decode and prompt calls before the (far costlier) training step's.
    let run_of: Vec<Option<(usize, Run)>> = points
        .iter()
        .map(|p| {
            let key = Key {
                bucket: p.bucket,
                size: p.size,
            };
            runs.iter()
                .enumerate()
                .find(|(_, (_, cs))| cs.iter().any(|c| c.op == p.op && c.key == key))
                .map(|(i, (r, _))| (i, *r))
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| run_of[i].map_or(usize::MAX, |r| r.0));
    for (j, &pi) in order.iter().enumerate() {
        let p = &mut points[pi];
        let key = Key {
            bucket: p.bucket,
            size: p.size,
        };
        let label = format!("{} {} (in context)", p.op, p.shape);
        let Some((_, run)) = run_of[pi] else {
            summary.not_reached += 1;
            progress.end(&format!(
                "{label}: not reached by the workloads; per-call figures"
            ));
            continue;
        };
        // A training step takes tens of milliseconds: fewer rounds.
        let rounds = match (run, cfg.quick) {
            (_, true) | (Run::Train, _) => 3,
            _ => 9,
        };
        if Instant::now() >= deadline {
            progress.end(&format!("{label}: not retimed (budget spent)"));
            continue;
        }
        let before = p.outcome.best().map(|r| r.variant.clone());
        let baseline = &Dispatcher::embedded().lookup(p.op, key).variant().id;
        let ids = contenders(&p.outcome.results, baseline);
        let dispatchers: Vec<(String, Dispatcher)> = ids
            .iter()
            .filter_map(|(_, id)| {
                base.clone()
                    .with_key(p.op, key, id)
                    .ok()
                    .map(|d| (id.clone(), d))
            })
            .collect();
        if dispatchers.len() < 2 {
            progress.end(&format!("{label}: one contender; per-call figures"));
            continue;
        }
        progress.begin(&format!(
            "{label}: {} contenders in {}",
            dispatchers.len(),
            run.name()
        ));
        let soft = crate::tune::fair_share(Instant::now(), deadline, n - j);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); dispatchers.len()];
        for round in 0..=rounds {
            for i in backends::timing::round_robin(dispatchers.len(), round) {
                bench.model.set_dispatch(dispatchers[i].1.clone());
                let timed = bench.sample(run)?;
                // Calls run inside a fused team call have no time of their own.
                let mine: Vec<f64> = timed
                    .iter()
                    .filter(|(c, _)| c.op == p.op && c.key == key)
                    .filter_map(|(_, t)| t.map(|t| t.as_nanos() as f64))
                    .collect();
                // Round 0 warms the caches and the pool; it is not counted.
                if round > 0 && !mine.is_empty() {
                    samples[i].push(mine.iter().sum::<f64>() / mine.len() as f64);
                }
            }
            if round >= 3 && Instant::now() >= soft {
                break;
            }
        }
        bench.model.set_dispatch(base.clone());
        // The point's figures become the in-context ones (the others, beyond the ratio,
        // are left out: they were not raced here).
        let mut results = Vec::new();
        for ((id, _), xs) in dispatchers.iter().zip(&samples) {
            if let Some(r) = p.outcome.get(id) {
                if xs.is_empty() {
                    continue;
                }
                let mut r = r.clone();
                r.timing = Timing::of(xs);
                r.batch = 1;
                r.pruned = None;
                r.passes.clear();
                results.push(r);
            }
        }
        if results.len() < 2 {
            progress.end(&format!(
                "{label}: not timed apart (it runs fused with others, e.g. the MLP in one team call); per-call figures"
            ));
            continue;
        }
        p.outcome.results = results;
        p.cache = Some(format!(
            "in context: each contender timed where the {} preset dispatches it, in {} (per call, between its real neighbours)",
            preset.name,
            run.name()
        ));
        summary.points += 1;
        let after = p.outcome.best().map(|r| r.variant.clone());
        if after != before {
            summary.changed_winner += 1;
        }
        progress.end(&format!(
            "{label}: {} {} in context (per call: {})",
            after.as_deref().unwrap_or("-"),
            p.outcome
                .best()
                .map_or("-".into(), |r| backends::timing::fmt_ns(r.timing.median_ns)),
            before.as_deref().unwrap_or("-")
        ));
    }
    Ok(summary)
}

/// The contenders a point races in context, fastest per call first: those within
/// [`CONTEXT_RATIO`] of the best per-call median (at most [`MAX_CONTENDERS`]), and `baseline`
/// (the embedded default's choice at the key) when it was raced per call, however slow.
fn contenders(results: &[CandResult], baseline: &str) -> Vec<(f64, String)> {
    let best = results
        .iter()
        .map(|r| r.timing.median_ns)
        .filter(|m| m.is_finite())
        .fold(f64::INFINITY, f64::min);
    let mut ids: Vec<(f64, String)> = results
        .iter()
        .filter(|r| r.timing.median_ns.is_finite() && r.timing.median_ns <= CONTEXT_RATIO * best)
        .map(|r| (r.timing.median_ns, r.variant.clone()))
        .collect();
    ids.sort_by(|a, b| a.0.total_cmp(&b.0));
    ids.truncate(MAX_CONTENDERS);
    if !ids.iter().any(|(_, id)| id == baseline) {
        if let Some(r) = results.iter().find(|r| r.variant == baseline) {
            ids.push((r.timing.median_ns, r.variant.clone()));
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Timing;
    use backends::Op;

    fn raced(id: &str, median_ns: f64) -> CandResult {
        CandResult {
            variant: id.into(),
            threads: 1,
            timing: Timing {
                median_ns,
                spread_ns: 0.0,
                samples: 9,
            },
            batch: 1,
            pruned: None,
            counters: None,
            passes: Vec::new(),
        }
    }

    /// The fastest within the ratio, at most `MAX_CONTENDERS`; the baseline joins however
    /// slow it was per call (and only once, and only when it was raced).
    #[test]
    fn the_baseline_always_races_in_context() {
        let results: Vec<CandResult> = [
            ("a", 10.0),
            ("b", 11.0),
            ("c", 12.0),
            ("d", 13.0),
            ("e", 14.0),
            ("slow", 40.0),
            ("nan", f64::NAN),
        ]
        .iter()
        .map(|&(id, m)| raced(id, m))
        .collect();
        let ids = |baseline| -> Vec<String> {
            contenders(&results, baseline)
                .into_iter()
                .map(|(_, id)| id)
                .collect()
        };
        assert_eq!(ids("b"), ["a", "b", "c", "d"]);
        assert_eq!(ids("slow"), ["a", "b", "c", "d", "slow"]);
        assert_eq!(ids("e"), ["a", "b", "c", "d", "e"]);
        assert_eq!(ids("not raced"), ["a", "b", "c", "d"]);
    }

    /// The runs reach the preset's calls: a decode step's MatMuls, a prompt's, the training
    /// step's backward; every call of the decode run is an inference call.
    #[test]
    fn runs_reach_the_presets_calls() {
        let cfg = models::Config::small();
        let decode = Run::Decode.calls(&cfg);
        assert!(decode
            .iter()
            .any(|c| c.op == Op::Matmul && c.key == Key::matmul(1, 128, 384)));
        assert!(Run::Prefill(10)
            .calls(&cfg)
            .iter()
            .any(|c| c.op == Op::Matmul && c.key == Key::matmul(10, 128, 384)));
        assert!(Run::Train
            .calls(&cfg)
            .iter()
            .any(|c| c.op == Op::LayernormBackward));
        assert!(!decode.iter().any(|c| c.op == Op::LayernormBackward));
    }
}
