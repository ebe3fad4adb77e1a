//! Generation speed behind `models bench`: the original study's method (10-token prompt, 25
//! greedy tokens, tokens/s over the whole call) under full recompute and the KV cache, for
//! every dispatcher side by side in one run (reps interleaved across dispatchers, so drift
//! on a shared machine hits them alike); for the KV cache also the prefill of the prompt,
//! the per-token decode time, its fraction of the memory-bandwidth bound and a per-op
//! breakdown of one decode step ([`crate::profile`]). [`chart`] draws the figures as SVG.

pub mod chart;
pub mod train_step;

use crate::config::Config;
use crate::group;
use crate::model::{Mode, Model};
use crate::profile::{Part, Profile};
use crate::sample::Sampler;
use crate::tokenizer::Tokenizer;
use crate::UsageError;
use anyhow::{bail, Result};
use backends::timing::{self, median, Order};
use backends::{Dispatcher, ForceError, Memory};
use kernels::cpu::Feature;
use serde::Serialize;
use std::time::{Duration, Instant};
use train_step::{TrainStep, TRAIN_BATCH};

/// Prompt length of the study's method.
pub const PROMPT_TOKENS: usize = 10;
/// Generated tokens of the study's method.
pub const NEW_TOKENS: usize = 25;
/// Decode calls per KV-cache generation: the first new token comes from the prefill.
pub const DECODE_TOKENS: usize = NEW_TOKENS - 1;

/// Where a dispatcher under test comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Source {
    /// The embedded default table.
    Embedded,
    /// A dispatch table file (`--dispatch PATH`).
    File { path: String },
    /// Every op forced to one implementation family (pooled memory) at a thread count.
    Forced {
        implementation: String,
        threads: usize,
    },
}

/// A dispatcher to measure and its name in reports.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    pub source: Source,
    pub dispatcher: Dispatcher,
}

impl Candidate {
    /// The embedded default table.
    pub fn embedded() -> Candidate {
        Candidate {
            name: "default (embedded)".into(),
            source: Source::Embedded,
            dispatcher: Dispatcher::embedded().clone(),
        }
    }

    /// A table loaded from `path`.
    pub fn file(path: &str, dispatcher: Dispatcher) -> Candidate {
        Candidate {
            name: format!("table {path}"),
            source: Source::File { path: path.into() },
            dispatcher,
        }
    }

    /// A forced family (from [`Dispatcher::try_forced`]).
    pub fn forced(implementation: &str, threads: usize, dispatcher: Dispatcher) -> Candidate {
        Candidate {
            name: format!("{implementation} t{threads}"),
            source: Source::Forced {
                implementation: implementation.into(),
                threads,
            },
            dispatcher,
        }
    }

    /// The implementation family of a forced candidate.
    pub fn family(&self) -> Option<&str> {
        match &self.source {
            Source::Forced { implementation, .. } => Some(implementation),
            _ => None,
        }
    }

    /// The threads its bandwidth bound assumes: a forced family's count; for a table, the
    /// most threads any of its entries binds (more threads can only raise the bound).
    pub fn bound_threads(&self) -> usize {
        match &self.source {
            Source::Forced { threads, .. } => *threads,
            _ => backends::Op::ALL
                .iter()
                .flat_map(|&op| {
                    backends::Bucket::ALL
                        .iter()
                        .flat_map(move |&b| self.dispatcher.ranges(op, b))
                })
                .map(|(_, _, v)| v.threads)
                .max()
                .unwrap_or(1),
        }
    }
}

/// A forced family and thread count that could not run here, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// Which forced families `models bench` measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Families {
    /// Every implementation family of the catalog (those that cannot run here are skipped
    /// with a note).
    All,
    /// The ones named (one that cannot run is an error).
    Named(Vec<String>),
}

impl Families {
    /// From `--implementation` values: `all` anywhere means every family.
    pub fn parse(names: &[String]) -> Families {
        if names.iter().any(|n| n == "all") {
            return Families::All;
        }
        let mut v: Vec<String> = Vec::new();
        for n in names {
            if !v.contains(n) {
                v.push(n.clone());
            }
        }
        Families::Named(v)
    }
}

/// The forced candidates of `families` at each of `threads` (every count the catalog offers
/// when `None`).
///
/// Expanded combinations that cannot run (a family without a 2-thread variant, one needing a
/// CPU feature this machine lacks or `KERNELS_DISABLE` masks) are skipped with a note. What
/// was asked for by name is an error instead ([`UsageError`], naming `--implementation` or
/// `--threads`): an unknown or unrunnable family, a thread count this machine does not
/// offer, a named family without a variant at an explicitly given thread count.
pub fn forced_candidates(
    families: &Families,
    threads: Option<&[usize]>,
) -> Result<(Vec<Candidate>, Vec<Skipped>)> {
    let offered = backends::threads::counts();
    let counts: Vec<usize> = match threads {
        Some(t) => {
            let mut v: Vec<usize> = Vec::new();
            for &n in t {
                if !offered.contains(&n) {
                    let list: Vec<String> = offered.iter().map(|c| c.to_string()).collect();
                    return Err(UsageError(format!(
                        "--threads {n}: the catalog offers thread counts {} on this machine",
                        list.join(", ")
                    ))
                    .into());
                }
                if !v.contains(&n) {
                    v.push(n);
                }
            }
            v
        }
        None => offered,
    };
    let (names, named): (Vec<String>, bool) = match families {
        Families::All => {
            let mut v: Vec<String> = Vec::new();
            for var in backends::catalog().variants() {
                if !v.iter().any(|n| n == var.implementation) {
                    v.push(var.implementation.to_string());
                }
            }
            (v, false)
        }
        Families::Named(v) => (v.clone(), true),
    };
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for name in &names {
        let mut unrunnable = None;
        for &t in &counts {
            match Dispatcher::try_forced(name, Memory::Pooled, t) {
                Ok(d) => out.push(Candidate::forced(name, t, d)),
                Err(
                    e @ (ForceError::UnknownImplementation { .. }
                    | ForceError::UnknownVariant { .. }),
                ) => return Err(UsageError(format!("--implementation {name}: {e}")).into()),
                Err(e @ ForceError::Unrunnable { .. }) => {
                    unrunnable = Some(e);
                    break;
                }
                Err(e @ ForceError::Threads { .. }) => {
                    if named && threads.is_some() {
                        return Err(UsageError(format!(
                            "--implementation {name} --threads {t}: {e}"
                        ))
                        .into());
                    }
                    skipped.push(Skipped {
                        name: format!("{name} t{t}"),
                        reason: e.to_string(),
                    });
                }
            }
        }
        if let Some(e) = unrunnable {
            if named {
                return Err(UsageError(format!("--implementation {name}: {e}")).into());
            }
            skipped.push(Skipped {
                name: name.clone(),
                reason: e.to_string(),
            });
        }
    }
    Ok((out, skipped))
}

/// Read bandwidth measured with [`kernels::probe::read_sum`].
#[derive(Debug, Clone, Serialize)]
pub struct Bandwidth {
    pub threads: usize,
    /// The probe's vector width (`avx512` or `avx2`).
    pub feature: String,
    /// The buffer read (the size of the model's weights).
    pub bytes: usize,
    /// Best of the samples, in GB/s (10⁹ bytes per second).
    pub gb_per_s: f64,
}

/// The read bandwidth over a buffer of `elements` f32 split among `threads` threads (each
/// summing its part with the widest probe `kernels::cpu::available` allows), best of several
/// samples of at least 2 ms; `None` where neither AVX-512 nor AVX2 is available.
pub fn read_bandwidth(elements: usize, threads: usize) -> Option<Bandwidth> {
    let feature = [Feature::Avx512, Feature::Avx2]
        .into_iter()
        .find(|f| kernels::cpu::available(*f))?;
    let threads = threads.max(1);
    let buf = vec![1.0f32; elements.max(threads * 64)];
    let part = buf.len().div_ceil(threads);
    let parts: Vec<&[f32]> = buf.chunks(part).collect();
    let one = timing::time_once(0, || {
        kernels::probe::read_sum(feature, &buf).map(|x| {
            std::hint::black_box(x);
        })
    })
    .ok()?;
    let passes = timing::calls_for(one.max(100.0), 2e6, 1, 100_000) as usize;
    let cpus = backends::threads::cpus();
    let pin = backends::threads::pinning() && cpus.len() >= parts.len();
    let run = |i: usize, x: &[f32], barrier: &std::sync::Barrier| -> Duration {
        if pin {
            backends::threads::pin_current_to(cpus[i]);
        }
        barrier.wait();
        let t = Instant::now();
        for _ in 0..passes {
            std::hint::black_box(kernels::probe::read_sum(feature, std::hint::black_box(x)).ok());
        }
        t.elapsed()
    };
    let mut best = 0.0f64;
    for _ in 0..7 {
        let barrier = std::sync::Barrier::new(parts.len());
        let slowest = if parts.len() == 1 {
            // On the calling thread (pinned already if a threaded kernel ran on it).
            let t = Instant::now();
            for _ in 0..passes {
                std::hint::black_box(
                    kernels::probe::read_sum(feature, std::hint::black_box(&buf)).ok(),
                );
            }
            t.elapsed()
        } else {
            std::thread::scope(|s| {
                let hs: Vec<_> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        let b = &barrier;
                        let run = &run;
                        s.spawn(move || run(i, x, b))
                    })
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().unwrap_or(Duration::MAX))
                    .max()
                    .unwrap_or(Duration::MAX)
            })
        };
        let bytes = (buf.len() * 4 * passes) as f64;
        best = best.max(bytes / slowest.as_secs_f64().max(1e-12) / 1e9);
    }
    Some(Bandwidth {
        threads,
        feature: feature.name().into(),
        bytes: buf.len() * 4,
        gb_per_s: best,
    })
}

/// One preset's model and the bytes a decoded token reads.
#[derive(Debug, Clone, Serialize)]
pub struct PresetInfo {
    pub name: String,
    pub parameters: usize,
    /// Every parameter × 4 bytes: the weights read once per decoded token.
    pub weight_bytes: usize,
    /// Positions a decode step attends to, averaged over the decoded tokens.
    pub mean_positions: f64,
    /// Keys and values read at the mean position: 2 × layers × positions × width × 4.
    pub kv_bytes_per_token: f64,
    /// Weights + KV cache: the bytes per decoded token of the bandwidth bound.
    pub bytes_per_token: f64,
    /// Per thread count measured.
    pub read_bandwidth: Vec<Bandwidth>,
}

/// Time of one op family in the decode breakdown.
#[derive(Debug, Clone, Serialize)]
pub struct PartTime {
    pub part: Part,
    pub label: String,
    pub us_per_token: f64,
    /// Of the step time measured around each decode call.
    pub percent_of_step: f64,
}

/// Where a decode step's time goes: means over every profiled token.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// Decode calls profiled.
    pub tokens: u64,
    /// Mean time of a profiled decode call, measured around it (µs).
    pub step_us: f64,
    pub parts: Vec<PartTime>,
    /// The step time no part accounts for (call overhead, checks).
    pub unattributed_us: f64,
}

/// The KV-cache figures beyond the whole call.
#[derive(Debug, Clone, Serialize)]
pub struct KvPhases {
    /// Prefill of the prompt (one batched forward), median over repetitions, µs.
    pub prefill_us: f64,
    /// One decode call (forward of one token; sampling excluded), median over every decoded
    /// token of every repetition, µs.
    pub decode_us_per_token: f64,
    pub decode_tok_per_s: f64,
    /// The thread count whose read bandwidth the bound uses.
    pub bound_threads: usize,
    /// Read bandwidth / bytes per decoded token (`None` without a probe for this CPU).
    pub bound_tok_per_s: Option<f64>,
    /// `decode_tok_per_s / bound_tok_per_s`.
    pub fraction_of_bound: Option<f64>,
    pub breakdown: Breakdown,
}

/// One preset × dispatcher × mode.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub preset: String,
    pub dispatch: String,
    /// `full_recompute`, `kv_cache` or `train_step`.
    pub mode: String,
    /// Median tokens per second over the repetitions, whole call (the study's method); for
    /// `train_step`, training steps per second.
    pub tok_per_s: f64,
    /// Every repetition's figure (tokens/s, or steps/s for `train_step`).
    pub samples: Vec<f64>,
    /// Prefill, decode, bound and breakdown (KV cache only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv: Option<KvPhases>,
}

/// The fastest forced family of a preset and mode.
#[derive(Debug, Clone, Serialize)]
pub struct BestFixed {
    pub preset: String,
    /// `full_recompute`, `kv_cache` (whole call), `kv_decode` (per-token decode) or
    /// `train_step` (steps/s in `tok_per_s`).
    pub mode: String,
    pub dispatch: String,
    pub tok_per_s: f64,
}

/// A measured dispatcher as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DispatcherInfo {
    pub name: String,
    #[serde(flatten)]
    pub source: Source,
    pub bound_threads: usize,
    pub warnings: Vec<String>,
    /// The first dispatcher listed before this one that binds every op and size exactly as
    /// it does (so their rows differ only by noise), if any.
    pub same_as: Option<String>,
}

/// Everything `models bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: String,
    pub threads_available: usize,
    pub reps: usize,
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub decode_tokens: usize,
    pub dispatchers: Vec<DispatcherInfo>,
    pub skipped: Vec<Skipped>,
    pub presets: Vec<PresetInfo>,
    pub results: Vec<BenchResult>,
    pub best_fixed: Vec<BestFixed>,
    /// Sequences of the full context per timed training step (0: training not measured).
    pub train_batch: usize,
}

/// `reps` interleaved rounds of `sample(candidate)` over `n` candidates after one warm-up
/// round whose figures are dropped; one list of figures per candidate.
fn warm_rounds(
    n: usize,
    reps: usize,
    sample: impl FnMut(usize) -> Result<f64>,
) -> Result<Vec<Vec<f64>>> {
    let mut lists = timing::interleave(n, Order::Fixed, |round, _| round <= reps, sample)?;
    for l in &mut lists {
        l.remove(0);
    }
    Ok(lists)
}

/// The figures of one KV-cache repetition.
struct KvRep {
    whole_tok_per_s: f64,
    prefill_us: f64,
}

/// One KV-cache repetition: an untimed generation (after another dispatcher ran, caches,
/// the buffer pool and parked helper threads are cold), the study's whole call, then the
/// phases timed separately, then a profiled pass adding to `profile` and `profiled_ns` (the
/// decode calls timed around).
fn kv_rep(
    model: &Model,
    prompt: &[u32],
    decode_us: &mut Vec<f64>,
    profile: &mut Profile,
    profiled_ns: &mut u64,
) -> Result<KvRep> {
    model.generate(
        prompt,
        NEW_TOKENS,
        &mut Sampler::greedy(),
        Mode::KvCache,
        |_| {},
    )?;
    let t0 = Instant::now();
    let ids = model.generate(
        prompt,
        NEW_TOKENS,
        &mut Sampler::greedy(),
        Mode::KvCache,
        |_| {},
    )?;
    let whole = ids.len() as f64 / t0.elapsed().as_secs_f64().max(1e-12);
    let mut cache = model.try_session()?;
    let mut s = Sampler::greedy();
    let t = Instant::now();
    let logits = model.prefill(&mut cache, prompt)?;
    let prefill_us = t.elapsed().as_secs_f64() * 1e6;
    let mut tok = s.sample(logits);
    for _ in 0..DECODE_TOKENS {
        let t = Instant::now();
        let logits = model.decode(&mut cache, tok)?;
        decode_us.push(t.elapsed().as_secs_f64() * 1e6);
        tok = s.sample(logits);
    }
    cache.reset();
    let mut tok = s.sample(model.prefill(&mut cache, prompt)?);
    for _ in 0..DECODE_TOKENS {
        let t = Instant::now();
        let logits = model.decode_profiled(&mut cache, tok, profile)?;
        *profiled_ns += t.elapsed().as_nanos() as u64;
        tok = s.sample(logits);
    }
    Ok(KvRep {
        whole_tok_per_s: whole,
        prefill_us,
    })
}

fn breakdown(p: &Profile, profiled_ns: u64) -> Breakdown {
    let tokens = p.passes().max(1);
    let step_us = profiled_ns as f64 / tokens as f64 / 1e3;
    let parts: Vec<PartTime> = Part::ALL
        .iter()
        .map(|&part| {
            let us = p.ns(part) as f64 / tokens as f64 / 1e3;
            PartTime {
                part,
                label: part.label().into(),
                us_per_token: us,
                percent_of_step: 100.0 * us / step_us.max(1e-12),
            }
        })
        .collect();
    let sum: f64 = parts.iter().map(|p| p.us_per_token).sum();
    Breakdown {
        tokens: p.passes(),
        step_us,
        parts,
        unattributed_us: (step_us - sum).max(0.0),
    }
}

/// Measures every preset × candidate × mode, `reps` repetitions each after one warm-up,
/// repetitions interleaved across candidates. `progress` receives a line per finished
/// measurement.
pub fn run(
    presets: &[(String, Config)],
    candidates: &[Candidate],
    skipped: Vec<Skipped>,
    reps: usize,
    train: bool,
    mut progress: impl FnMut(&str),
) -> Result<Report> {
    let mut results = Vec::new();
    let mut infos = Vec::new();
    for (pname, cfg) in presets {
        if cfg.context < PROMPT_TOKENS + NEW_TOKENS {
            bail!(
                "preset {pname}: a context of {} is shorter than the {PROMPT_TOKENS}-token prompt and {NEW_TOKENS} new tokens",
                cfg.context
            );
        }
        // Timing does not depend on the weights: a seeded random initialisation.
        let mut model = Model::init(cfg.clone(), Tokenizer::Bytes, 0)?;
        let prompt: Vec<u32> = b"First Citi"
            .iter()
            .map(|&b| b as u32 % cfg.vocab_size as u32)
            .take(PROMPT_TOKENS)
            .collect();
        let params = model.param_count();
        let mean_positions = (0..DECODE_TOKENS)
            .map(|i| (PROMPT_TOKENS + i + 1) as f64)
            .sum::<f64>()
            / DECODE_TOKENS as f64;
        let kv_bytes = 2.0 * (cfg.layers * cfg.width * 4) as f64 * mean_positions;
        let bytes_per_token = (params * 4) as f64 + kv_bytes;
        let mut thread_counts: Vec<usize> = candidates.iter().map(|c| c.bound_threads()).collect();
        thread_counts.sort_unstable();
        thread_counts.dedup();
        let read_bw: Vec<Bandwidth> = thread_counts
            .iter()
            .filter_map(|&t| read_bandwidth(params, t))
            .collect();
        for (t, bw) in thread_counts.iter().zip(&read_bw) {
            progress(&format!(
                "{pname:<7} read bandwidth over {:.1} MB, {t} thread(s): {:.1} GB/s ({})",
                bw.bytes as f64 / 1e6,
                bw.gb_per_s,
                bw.feature
            ));
        }

        // Full recompute: the whole call.
        let full = warm_rounds(candidates.len(), reps, |ci| {
            model.set_dispatch(candidates[ci].dispatcher.clone());
            let t0 = Instant::now();
            let ids = model.generate(
                &prompt,
                NEW_TOKENS,
                &mut Sampler::greedy(),
                Mode::FullRecompute,
                |_| {},
            )?;
            Ok(ids.len() as f64 / t0.elapsed().as_secs_f64().max(1e-12))
        })?;
        for (c, samples) in candidates.iter().zip(full) {
            let med = median(&samples);
            progress(&format!(
                "{pname:<7} {:<24} full_recompute {med:>10.1} tok/s",
                c.name
            ));
            results.push(BenchResult {
                preset: pname.clone(),
                dispatch: c.name.clone(),
                mode: "full_recompute".into(),
                tok_per_s: med,
                samples,
                kv: None,
            });
        }

        // KV cache: the whole call, the phases and the breakdown.
        let n = candidates.len();
        let mut whole: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); n];
        let mut prefill: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); n];
        let mut decode: Vec<Vec<f64>> = vec![Vec::with_capacity(reps * DECODE_TOKENS); n];
        let mut profiles: Vec<(Profile, u64)> = vec![(Profile::new(), 0); n];
        let mut scratch = Vec::with_capacity(DECODE_TOKENS);
        for rep in 0..=reps {
            for (ci, c) in candidates.iter().enumerate() {
                model.set_dispatch(c.dispatcher.clone());
                scratch.clear();
                let (prof, ns) = &mut profiles[ci];
                if rep == 0 {
                    let (mut p, mut n) = (Profile::new(), 0);
                    kv_rep(&model, &prompt, &mut scratch, &mut p, &mut n)?;
                    continue;
                }
                let r = kv_rep(&model, &prompt, &mut scratch, prof, ns)?;
                whole[ci].push(r.whole_tok_per_s);
                prefill[ci].push(r.prefill_us);
                decode[ci].extend_from_slice(&scratch);
            }
        }
        for (ci, c) in candidates.iter().enumerate() {
            let med = median(&whole[ci]);
            let dec_us = median(&decode[ci]);
            let dec_tps = 1e6 / dec_us.max(1e-9);
            let bt = c.bound_threads();
            let bound = read_bw
                .iter()
                .find(|b| b.threads == bt)
                .map(|b| b.gb_per_s * 1e9 / bytes_per_token);
            progress(&format!(
                "{pname:<7} {:<24} kv_cache       {med:>10.1} tok/s; decode {dec_us:.1} µs/token{}",
                c.name,
                bound.map_or(String::new(), |b| format!(
                    " ({:.0} % of the bandwidth bound)",
                    100.0 * dec_tps / b
                ))
            ));
            let (prof, ns) = &profiles[ci];
            results.push(BenchResult {
                preset: pname.clone(),
                dispatch: c.name.clone(),
                mode: "kv_cache".into(),
                tok_per_s: med,
                samples: whole[ci].clone(),
                kv: Some(KvPhases {
                    prefill_us: median(&prefill[ci]),
                    decode_us_per_token: dec_us,
                    decode_tok_per_s: dec_tps,
                    bound_threads: bt,
                    bound_tok_per_s: bound,
                    fraction_of_bound: bound.map(|b| dec_tps / b),
                    breakdown: breakdown(prof, *ns),
                }),
            });
        }
        // Training: one forward + backward per repetition, interleaved like the rest.
        if train {
            let mut step = TrainStep::new(cfg)?;
            let rates = warm_rounds(n, reps, |ci| {
                model.set_dispatch(candidates[ci].dispatcher.clone());
                Ok(1.0 / step.run(&model)?.max(1e-12))
            })?;
            for (c, samples) in candidates.iter().zip(rates) {
                let med = median(&samples);
                progress(&format!(
                    "{pname:<7} {:<24} train_step     {med:>10.2} steps/s",
                    c.name
                ));
                results.push(BenchResult {
                    preset: pname.clone(),
                    dispatch: c.name.clone(),
                    mode: "train_step".into(),
                    tok_per_s: med,
                    samples,
                    kv: None,
                });
            }
        }
        infos.push(PresetInfo {
            name: pname.clone(),
            parameters: params,
            weight_bytes: params * 4,
            mean_positions,
            kv_bytes_per_token: kv_bytes,
            bytes_per_token,
            read_bandwidth: read_bw,
        });
    }
    let best_fixed = best_fixed(&results, candidates);
    Ok(Report {
        machine: backends::machine::Machine::detect().cpu,
        threads_available: backends::threads::available(),
        reps,
        prompt_tokens: PROMPT_TOKENS,
        new_tokens: NEW_TOKENS,
        decode_tokens: DECODE_TOKENS,
        dispatchers: candidates
            .iter()
            .enumerate()
            .map(|(i, c)| DispatcherInfo {
                name: c.name.clone(),
                source: c.source.clone(),
                bound_threads: c.bound_threads(),
                warnings: c.dispatcher.warnings().to_vec(),
                same_as: candidates[..i]
                    .iter()
                    .find(|o| o.dispatcher.same_bindings(&c.dispatcher))
                    .map(|o| o.name.clone()),
            })
            .collect(),
        skipped,
        presets: infos,
        results,
        best_fixed,
        train_batch: if train { TRAIN_BATCH } else { 0 },
    })
}

/// Per preset and mode, the forced candidate with the most tokens per second.
fn best_fixed(results: &[BenchResult], candidates: &[Candidate]) -> Vec<BestFixed> {
    let forced = |name: &str| {
        candidates
            .iter()
            .any(|c| c.name == name && c.family().is_some())
    };
    let mut out: Vec<BestFixed> = Vec::new();
    for r in results.iter().filter(|r| forced(&r.dispatch)) {
        let mut consider = |mode: &str, v: f64| {
            if !v.is_finite() {
                return;
            }
            match out
                .iter_mut()
                .find(|b| b.preset == r.preset && b.mode == mode)
            {
                Some(b) if b.tok_per_s >= v => {}
                Some(b) => {
                    b.dispatch = r.dispatch.clone();
                    b.tok_per_s = v;
                }
                None => out.push(BestFixed {
                    preset: r.preset.clone(),
                    mode: mode.into(),
                    dispatch: r.dispatch.clone(),
                    tok_per_s: v,
                }),
            }
        };
        consider(&r.mode, r.tok_per_s);
        if let Some(kv) = &r.kv {
            consider("kv_decode", kv.decode_tok_per_s);
        }
    }
    out
}

impl Report {
    /// The result of `preset`, `dispatch` and `mode`.
    pub fn get(&self, preset: &str, dispatch: &str, mode: &str) -> Option<&BenchResult> {
        self.results
            .iter()
            .find(|r| r.preset == preset && r.dispatch == dispatch && r.mode == mode)
    }

    /// `dispatch`'s figure ÷ the best figure of every other dispatcher measured except
    /// other tables (the embedded default and every forced family) for `preset` and `mode`.
    pub fn ratio_to_best_other(&self, preset: &str, dispatch: &str, mode: &str) -> Option<f64> {
        let mine = self.get(preset, dispatch, mode)?.tok_per_s;
        let best = self
            .results
            .iter()
            .filter(|x| x.preset == preset && x.mode == mode && x.dispatch != dispatch)
            .filter(|x| {
                self.dispatchers
                    .iter()
                    .find(|d| d.name == x.dispatch)
                    .is_some_and(|d| !matches!(d.source, Source::File { .. }))
            })
            .map(|x| x.tok_per_s)
            .filter(|v| v.is_finite())
            .fold(f64::NAN, f64::max);
        (best.is_finite() && best > 0.0).then(|| mine / best)
    }

    /// The best forced family of `preset` and `mode`.
    pub fn best(&self, preset: &str, mode: &str) -> Option<&BestFixed> {
        self.best_fixed
            .iter()
            .find(|b| b.preset == preset && b.mode == mode)
    }
}

/// A dispatcher name short enough for a row label: a table's file name without folders.
fn short_name(name: &str) -> String {
    match name.strip_prefix("table ") {
        Some(path) => format!(
            "table {}",
            std::path::Path::new(path)
                .file_name()
                .map_or(path.into(), |f| f.to_string_lossy().into_owned())
        ),
        None => name.to_string(),
    }
}

fn fmt_opt(v: Option<f64>, width: usize, decimals: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:>width$.decimals$}"),
        _ => format!("{:>width$}", "-"),
    }
}

/// The text report: the whole-call table (one row per dispatcher, then the best fixed
/// family), per preset the KV-cache phases against the bandwidth bound, and the per-token
/// breakdown of the default table, any loaded tables and the best fixed decode family.
pub fn text(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let names: Vec<&str> = r.dispatchers.iter().map(|d| d.name.as_str()).collect();
    let w = names
        .iter()
        .map(|n| n.chars().count())
        .chain(
            r.dispatchers
                .iter()
                .filter(|d| !matches!(d.source, Source::Forced { .. }))
                .map(|d| short_name(&d.name).chars().count() + " ÷ best other".len()),
        )
        .max()
        .unwrap_or(10)
        .max(18);
    let _ = writeln!(
        s,
        "models bench on {} ({} threads): medians of {} reps after a warm-up, reps interleaved across dispatchers",
        r.machine, r.threads_available, r.reps
    );
    for k in &r.skipped {
        let _ = writeln!(s, "skipped {}: {}", k.name, k.reason);
    }
    let _ = writeln!(
        s,
        "\ntokens/s over the whole call ({}-token prompt, {} greedy tokens; the study's method){}",
        r.prompt_tokens,
        r.new_tokens,
        if r.train_batch > 0 {
            format!(
                "; train: training steps/s (forward + backward of {} sequences of the full context)",
                r.train_batch
            )
        } else {
            String::new()
        }
    );
    let modes: &[(&str, &str)] = if r.train_batch > 0 {
        &[
            ("full_recompute", "full"),
            ("kv_cache", "kv"),
            ("train_step", "train"),
        ]
    } else {
        &[("full_recompute", "full"), ("kv_cache", "kv")]
    };
    let cols: Vec<(&str, &str, String)> = r
        .presets
        .iter()
        .flat_map(|p| {
            modes
                .iter()
                .map(move |(m, short)| (p.name.as_str(), *m, format!("{} {short}", p.name)))
        })
        .collect();
    let _ = write!(s, "{:<w$}", "dispatcher");
    for (_, _, h) in &cols {
        let _ = write!(s, " {h:>13}");
    }
    s.push('\n');
    for n in &names {
        let _ = write!(s, "{n:<w$}");
        for (p, m, _) in &cols {
            let _ = write!(
                s,
                " {}",
                fmt_opt(r.get(p, n, m).map(|x| x.tok_per_s), 13, 1)
            );
        }
        s.push('\n');
    }
    if !r.best_fixed.is_empty() {
        let _ = write!(s, "{:<w$}", "best fixed");
        for (p, m, _) in &cols {
            let _ = write!(s, " {}", fmt_opt(r.best(p, m).map(|b| b.tok_per_s), 13, 1));
        }
        s.push('\n');
        let _ = write!(s, "{:<w$}", "  = family");
        for (p, m, _) in &cols {
            let _ = write!(
                s,
                " {:>13}",
                r.best(p, m).map_or("-", |b| b.dispatch.as_str())
            );
        }
        s.push('\n');
        // Each table against the best of everything else measured (the embedded default
        // and every forced family): the acceptance figure of a tuned table.
        for d in r
            .dispatchers
            .iter()
            .filter(|d| !matches!(d.source, Source::Forced { .. }))
        {
            let _ = write!(s, "{:<w$}", format!("{} ÷ best other", short_name(&d.name)));
            for (p, m, _) in &cols {
                let ratio = r.ratio_to_best_other(p, &d.name, m);
                let _ = write!(s, " {}", fmt_opt(ratio, 13, 3));
            }
            s.push('\n');
        }
        for d in r.dispatchers.iter() {
            if let Some(o) = &d.same_as {
                let _ = writeln!(
                    s,
                    "note: {} binds every op and size exactly as {}: their rows differ only by run-to-run noise",
                    short_name(&d.name),
                    short_name(o)
                );
            }
        }
    }

    for p in &r.presets {
        let _ = writeln!(
            s,
            "\nKV cache, {}: prefill of the {}-token prompt (median); decode: one token, median over {} tokens × {} reps",
            p.name, r.prompt_tokens, r.decode_tokens, r.reps
        );
        let bws: Vec<String> = p
            .read_bandwidth
            .iter()
            .map(|b| format!("t{} {:.1} GB/s", b.threads, b.gb_per_s))
            .collect();
        let _ = writeln!(
            s,
            "bound = read bandwidth / bytes per token; {} bytes per token = {} parameters × 4 + KV cache {} (mean {:.1} positions); read bandwidth over {:.1} MB{}: {}",
            group(p.bytes_per_token.round() as usize),
            group(p.parameters),
            group(p.kv_bytes_per_token.round() as usize),
            p.mean_positions,
            p.weight_bytes as f64 / 1e6,
            p.read_bandwidth
                .first()
                .map_or(String::new(), |b| format!(" ({})", b.feature)),
            if bws.is_empty() {
                "no probe for this CPU".to_string()
            } else {
                bws.join(", ")
            }
        );
        let _ = writeln!(
            s,
            "{:<w$} {:>11} {:>13} {:>13} {:>12} {:>9}",
            "dispatcher", "prefill µs", "decode µs/tok", "decode tok/s", "bound tok/s", "of bound"
        );
        for n in &names {
            let Some(kv) = r.get(&p.name, n, "kv_cache").and_then(|x| x.kv.as_ref()) else {
                continue;
            };
            let _ = writeln!(
                s,
                "{n:<w$} {:>11.1} {:>13.2} {:>13.1} {} {}",
                kv.prefill_us,
                kv.decode_us_per_token,
                kv.decode_tok_per_s,
                fmt_opt(kv.bound_tok_per_s, 12, 0),
                kv.fraction_of_bound
                    .map_or(format!("{:>9}", "-"), |f| format!("{:>8.1}%", 100.0 * f))
            );
        }
        if let Some(b) = r.best(&p.name, "kv_decode") {
            let _ = writeln!(
                s,
                "best fixed decode: {} ({:.1} tok/s)",
                b.dispatch, b.tok_per_s
            );
        }

        // The breakdown of the default, the tables and the best fixed decode family.
        let mut shown: Vec<&str> = r
            .dispatchers
            .iter()
            .filter(|d| !matches!(d.source, Source::Forced { .. }))
            .map(|d| d.name.as_str())
            .collect();
        if let Some(b) = r.best(&p.name, "kv_decode") {
            shown.push(&b.dispatch);
        }
        let bds: Vec<(&str, &Breakdown)> = shown
            .iter()
            .filter_map(|n| {
                r.get(&p.name, n, "kv_cache")
                    .and_then(|x| x.kv.as_ref())
                    .map(|k| (*n, &k.breakdown))
            })
            .collect();
        if bds.is_empty() {
            continue;
        }
        let cw = bds
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(16);
        let _ = writeln!(
            s,
            "\nper-token decode time by op, {}: µs per token (% of the step), mean over {} profiled tokens",
            p.name, bds[0].1.tokens
        );
        let _ = write!(s, "{:<28}", "op");
        for (n, _) in &bds {
            let _ = write!(s, " {n:>cw$}");
        }
        s.push('\n');
        for (i, part) in Part::ALL.iter().enumerate() {
            let _ = write!(s, "{:<28}", part.label());
            for (_, b) in &bds {
                let pt = &b.parts[i];
                let cell = format!("{:.2} ({:.0}%)", pt.us_per_token, pt.percent_of_step);
                let _ = write!(s, " {cell:>cw$}");
            }
            s.push('\n');
        }
        let _ = write!(s, "{:<28}", "unattributed");
        for (_, b) in &bds {
            let cell = format!(
                "{:.2} ({:.0}%)",
                b.unattributed_us,
                100.0 * b.unattributed_us / b.step_us.max(1e-12)
            );
            let _ = write!(s, " {cell:>cw$}");
        }
        s.push('\n');
        let _ = write!(s, "{:<28}", "step (measured around)");
        for (_, b) in &bds {
            let cell = format!("{:.2}", b.step_us);
            let _ = write!(s, " {cell:>cw$}");
        }
        s.push('\n');
    }
    s
}
