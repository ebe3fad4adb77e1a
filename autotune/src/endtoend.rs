//! The end-to-end acceptance of a tuned table: the per-call search proposes a table; this
//! module races it against the embedded default and against every single-family table (each
//! implementation at each thread count) on the workload the table is for — a preset's KV
//! decode, full recompute and training step — and keeps the proposal only where the whole run
//! is not slower than the best alternative beyond the measured noise.
//!
//! A microbenchmark winner can lose inside the model (operands that were warm in a tight loop
//! are cold between the model's other calls, a two-thread choice pays a fork-join per call),
//! so the workload decides. Contenders run interleaved, one repetition of each workload per
//! contender per round, rotating the start, so drift on a shared machine hits all alike.
//!
//! The choice is a maximin over the workloads: each contender's score is its worst ratio to
//! the fastest contender of a workload, and the proposal stands while its score is within the
//! noise of the best score; otherwise the best contender's choices are written as the table.

use backends::catalog::variant_id;
use backends::table::{Entry, Evidence, Table};
use backends::timing;
use backends::{catalog, Bucket, Dispatcher, LoadOptions, Memory, Op};
use models::{Config, Mode, Model, Sampler, Tokenizer};
use std::path::Path;
use std::time::Instant;

/// The workloads of a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A 10-token prompt, then 25 tokens decoded with the KV cache (tokens/s over the call).
    Decode,
    /// The study's method: 25 tokens, the whole window recomputed for each (tokens/s).
    FullRecompute,
    /// One training forward + backward of `TRAIN_BATCH` sequences of the full context
    /// (steps/s).
    TrainStep,
    /// [`Workload::Decode`] while another thread spins on the CPU of a two-thread team's
    /// helper ([`backends::timing::busy::BusyCore`]), as when another process shares the
    /// machine: a threaded choice that collapses when a helper is descheduled loses here.
    BusyDecode,
}

impl Workload {
    /// Every workload a contender is scored on.
    pub const ALL: [Workload; 4] = [
        Workload::Decode,
        Workload::FullRecompute,
        Workload::TrainStep,
        Workload::BusyDecode,
    ];

    /// The workloads whose winners' MatMul buckets compose the second stage's table (the
    /// busy decode serves the same bucket as the decode).
    pub const COMPOSED: [Workload; 3] = [
        Workload::Decode,
        Workload::FullRecompute,
        Workload::TrainStep,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Decode => "KV decode",
            Workload::FullRecompute => "full recompute",
            Workload::TrainStep => "training step",
            Workload::BusyDecode => "KV decode, a core busy",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Workload::TrainStep => "steps/s",
            _ => "tok/s",
        }
    }
}

use models::bench::train_step::TrainStep;
/// Sequences per training step in the race (the full context each): the same step
/// `models bench` times.
pub use models::bench::train_step::TRAIN_BATCH;
const PROMPT: usize = 10;
const NEW_TOKENS: usize = 25;
/// The length of one timed sample, in seconds.
const SAMPLE_S: f64 = 0.03;

/// One contender: a name and the dispatcher it runs, and how to write it as a table.
#[derive(Clone)]
pub struct Contender {
    pub name: String,
    pub dispatch: Dispatcher,
    /// The table that reproduces this contender's choices.
    pub table: Table,
}

/// A contender's figures per workload: median rate, median absolute deviation, samples.
#[derive(Debug, Clone)]
pub struct Figures {
    pub name: String,
    pub rates: Vec<(Workload, f64, f64, usize)>,
}

impl Figures {
    fn rate(&self, w: Workload) -> f64 {
        self.rates.iter().find(|r| r.0 == w).map_or(0.0, |r| r.1)
    }
    fn spread(&self, w: Workload) -> f64 {
        self.rates.iter().find(|r| r.0 == w).map_or(0.0, |r| r.2)
    }
}

/// The outcome of a race.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub preset: String,
    pub figures: Vec<Figures>,
    /// Index into `figures` of the contender whose table is kept.
    pub chosen: usize,
    /// Index into `figures` of the contender that stood unless beaten beyond the noise.
    pub baseline: usize,
    /// Each contender's maximin score (its worst ratio to a workload's fastest).
    pub scores: Vec<f64>,
    /// Relative noise used for the decision.
    pub noise: f64,
    pub reps: usize,
    /// When a second stage raced the composite table: the first stage's figures.
    pub first_stage: Vec<Figures>,
}

/// A table with `template`'s header whose every op and bucket uses `implementation` at
/// `threads` where the family has such a variant that runs here (pooled memory where it
/// offers a choice), and `template`'s own entries elsewhere. `None` when the family has
/// no runnable variant at that thread count.
pub fn family_table(template: &Table, implementation: &str, threads: usize) -> Option<Table> {
    let cat = catalog();
    let mut entries = Vec::new();
    let mut any = false;
    for op in Op::ALL {
        for &b in op.buckets() {
            let id = [Memory::Pooled, Memory::Direct, Memory::InPlace]
                .into_iter()
                .map(|m| variant_id(op, implementation, m, threads))
                .find(|id| cat.find(id).is_some_and(|(_, v)| v.runnable().is_ok()));
            match id {
                Some(variant) => {
                    any = true;
                    entries.push(Entry {
                        op: op.name().to_string(),
                        bucket: b,
                        min: 0,
                        max: None,
                        variant,
                        params: None,
                        split: None,
                        evidence: Evidence {
                            note: Some(format!(
                                "end to end: the single-family table {implementation}/t{threads} won the workload race"
                            )),
                            ..Evidence::default()
                        },
                    });
                }
                None => entries.extend(
                    template
                        .entries
                        .iter()
                        .filter(|e| e.op == op.name() && e.bucket == b)
                        .cloned(),
                ),
            }
        }
    }
    any.then(|| Table {
        entries,
        ..template.clone()
    })
}

/// The MatMul bucket each workload's calls fall in: a decoded token multiplies one row
/// (`m1`), full recompute a window of at most the context (`small_m` for the presets),
/// a training step whole batches (`large_m`).
pub fn bucket_of(w: Workload) -> Bucket {
    match w {
        Workload::Decode | Workload::BusyDecode => Bucket::M1,
        Workload::FullRecompute => Bucket::SmallM,
        Workload::TrainStep => Bucket::LargeM,
    }
}

/// A table with `template`'s entries except MatMul's buckets, each taken from the table of
/// the contender fastest at the workload that bucket serves (`winners`: workload, table).
pub fn composite_table(template: &Table, winners: &[(Workload, &Table)]) -> Table {
    let mut entries: Vec<Entry> = template
        .entries
        .iter()
        .filter(|e| {
            e.op != Op::Matmul.name() || !winners.iter().any(|(w, _)| bucket_of(*w) == e.bucket)
        })
        .cloned()
        .collect();
    for (w, t) in winners {
        entries.extend(
            t.entries
                .iter()
                .filter(|e| e.op == Op::Matmul.name() && e.bucket == bucket_of(*w))
                .cloned()
                .map(|mut e| {
                    let why = format!(
                        "end to end: from the contender fastest at {} (the composite table)",
                        w.name()
                    );
                    e.evidence.note = Some(match e.evidence.note.take() {
                        Some(n) => format!("{why}; {n}"),
                        None => why,
                    });
                    e
                }),
        );
    }
    Table {
        entries,
        ..template.clone()
    }
}

/// The whole end-to-end acceptance: races `contenders` (the proposal first, then the
/// embedded default, the baseline that stands unless beaten beyond the noise); when no
/// contender is fastest at every workload, builds the composite table (each MatMul bucket
/// from its workload's winner) and races it against the proposal, the baseline, the first
/// stage's choice and those winners in a second stage of twice `reps` rounds (fewer
/// contenders, so finer resolution for the same time). Returns the final outcome and the
/// table to write.
pub fn accept(
    preset: &str,
    cfg: &Config,
    contenders: Vec<Contender>,
    reps: usize,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<(Outcome, Table)> {
    let baseline = baseline_index(&contenders);
    let first = race(preset, cfg, &contenders, reps, baseline, &mut progress)?;
    let winners: Vec<(Workload, usize)> = Workload::COMPOSED
        .iter()
        .map(|&w| {
            let best = (0..first.figures.len())
                .max_by(|&a, &b| {
                    first.figures[a]
                        .rate(w)
                        .total_cmp(&first.figures[b].rate(w))
                })
                .unwrap_or(0);
            (w, best)
        })
        .collect();
    // The proposal within the noise of every workload's winner: nothing to compose.
    let proposal_leads = winners
        .iter()
        .all(|&(w, i)| first.figures[0].rate(w) >= first.figures[i].rate(w) * (1.0 - first.noise));
    let mut distinct: Vec<usize> = winners.iter().map(|w| w.1).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if proposal_leads || distinct == [0] {
        let kept = contenders[first.chosen].table.clone();
        return Ok((first, kept));
    }
    let composite = composite_table(
        &contenders[0].table,
        &winners
            .iter()
            .map(|&(w, i)| (w, &contenders[i].table))
            .collect::<Vec<_>>(),
    );
    let bound = Dispatcher::from_table(
        &composite,
        Path::new("end-to-end composite"),
        LoadOptions::default(),
    );
    let Ok(dispatch) = bound else {
        let kept = contenders[first.chosen].table.clone();
        return Ok((first, kept));
    };
    let names: Vec<String> = winners
        .iter()
        .map(|&(w, i)| format!("{} {}", bucket_of(w).name(), contenders[i].name))
        .collect();
    // The baseline (the simpler choice) and the first stage's choice race again: a second
    // stage without them could keep a contender that only a lucky round put ahead.
    let mut picks: Vec<usize> = Vec::new();
    for i in [0, baseline, first.chosen]
        .into_iter()
        .chain(distinct.iter().copied())
    {
        if !picks.contains(&i) {
            picks.push(i);
        }
    }
    let mut second: Vec<Contender> = picks.iter().map(|&i| contenders[i].clone()).collect();
    second.push(Contender {
        name: format!("composite ({})", names.join(", ")),
        dispatch,
        table: composite,
    });
    let second_baseline = picks.iter().position(|&i| i == baseline).unwrap_or(0);
    progress(&format!(
        "end to end ({preset}): no contender leads every workload; second stage with the composite table"
    ));
    let mut outcome = race(
        preset,
        cfg,
        &second,
        2 * reps,
        second_baseline,
        &mut progress,
    )?;
    outcome.first_stage = first.figures;
    let kept = second[outcome.chosen].table.clone();
    Ok((outcome, kept))
}

/// The contender that stands unless another beats it beyond the noise: the embedded
/// default when it is among `contenders`, else the proposal (index 0).
pub fn baseline_index(contenders: &[Contender]) -> usize {
    contenders
        .iter()
        .position(|c| c.name == DEFAULT_NAME)
        .unwrap_or(0)
}

/// The embedded default's contender name.
const DEFAULT_NAME: &str = "embedded default";

/// The embedded default's entries under `template`'s header (machine, catalog), so that it
/// loads here as a table of this machine.
pub fn default_table(template: &Table) -> Option<Table> {
    let t = Table::parse(
        backends::dispatch::DEFAULT_TABLE,
        Path::new("embedded default"),
    )
    .ok()?;
    Some(Table {
        entries: t.entries,
        ..template.clone()
    })
}

/// The contenders for `candidate`: itself, the embedded default and every implementation
/// family at every thread count the catalog offers (the naive reference excepted: it is the
/// slowest by construction and would only lengthen the race).
pub fn contenders(candidate: &Table, threads: &[usize]) -> Vec<Contender> {
    let bind = |t: &Table| {
        Dispatcher::from_table(t, Path::new("end-to-end contender"), LoadOptions::default()).ok()
    };
    let mut out = Vec::new();
    if let Some(d) = bind(candidate) {
        out.push(Contender {
            name: "tuned (per-call search)".into(),
            dispatch: d,
            table: candidate.clone(),
        });
    }
    // The default is bound from the very table that would be written, not taken as the
    // embedded dispatcher: where a CPU feature is masked the two bind differently (a file
    // table's unrunnable entries fall back otherwise), and the race must time what is written.
    if let Some(t) = default_table(candidate) {
        let dispatch = bind(&t).unwrap_or_else(|| Dispatcher::embedded().clone());
        out.push(Contender {
            name: DEFAULT_NAME.into(),
            dispatch,
            table: t,
        });
    }
    let mut families: Vec<&'static str> = catalog()
        .variants()
        .iter()
        .map(|v| v.implementation)
        .filter(|i| *i != "naive")
        .collect();
    families.sort_unstable();
    families.dedup();
    for f in families {
        for &t in threads {
            let Ok(d) = Dispatcher::try_forced(f, Memory::Pooled, t) else {
                continue;
            };
            let Some(table) = family_table(candidate, f, t) else {
                continue;
            };
            // Bind the family's table rather than the forced dispatcher: ops the family lacks
            // then run the candidate's choice, not the reference, as the written table would.
            let dispatch = bind(&table).unwrap_or(d);
            out.push(Contender {
                name: format!("{f}/t{t}"),
                dispatch,
                table,
            });
        }
    }
    out
}

/// One repetition of `w` on `model`; returns its rate (tokens or steps per second).
fn run_once(
    model: &Model,
    w: Workload,
    prompt: &[u32],
    train: &mut Option<TrainStep>,
) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    match w {
        Workload::Decode | Workload::BusyDecode | Workload::FullRecompute => {
            let mode = if w == Workload::FullRecompute {
                Mode::FullRecompute
            } else {
                Mode::KvCache
            };
            let ids = model.generate(prompt, NEW_TOKENS, &mut Sampler::greedy(), mode, |_| {})?;
            Ok(ids.len() as f64 / t0.elapsed().as_secs_f64().max(1e-12))
        }
        Workload::TrainStep => {
            let st = match train {
                Some(st) => st,
                None => train.insert(TrainStep::new(&model.config)?),
            };
            Ok(1.0 / st.run(model)?.max(1e-12))
        }
    }
}

/// Races `contenders` on `preset`'s workloads (`reps` interleaved rounds after one warm-up
/// round) and decides which table to keep (`baseline` stands unless beaten beyond the
/// noise). `progress` gets one line per round.
pub fn race(
    preset: &str,
    cfg: &Config,
    contenders: &[Contender],
    reps: usize,
    baseline: usize,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Outcome> {
    let base = Model::init(cfg.clone(), Tokenizer::Bytes, 0)?;
    let models: Vec<Model> = contenders
        .iter()
        .map(|c| base.clone().with_dispatch(c.dispatch.clone()))
        .collect();
    let prompt: Vec<u32> = (0..PROMPT as u32)
        .map(|i| (i * 31 + 70) % cfg.vocab_size as u32)
        .collect();
    let mut train: Vec<Option<TrainStep>> = contenders.iter().map(|_| None).collect();
    let mut samples = vec![vec![Vec::new(); Workload::ALL.len()]; contenders.len()];
    // Calls per sample, set in the warm-up round so that a sample lasts about SAMPLE_S: one
    // 25-token decode of the small preset takes about a millisecond, too short to time alone.
    let mut calls = vec![[1usize; Workload::ALL.len()]; contenders.len()];
    let n = contenders.len();
    for round in 0..=reps {
        for (wi, &w) in Workload::ALL.iter().enumerate() {
            // Another thread spins on the helpers' CPU through this workload's samples only.
            let _busy = (w == Workload::BusyDecode)
                .then(backends::timing::busy::BusyCore::start)
                .flatten();
            for i in timing::round_robin(n, round) {
                let t0 = Instant::now();
                let mut rate = 0.0;
                for _ in 0..calls[i][wi] {
                    rate += run_once(&models[i], w, &prompt, &mut train[i])?;
                }
                if round == 0 {
                    let per_call = t0.elapsed().as_secs_f64().max(1e-9);
                    calls[i][wi] = timing::calls_for(per_call, SAMPLE_S, 1, 1000) as usize;
                } else {
                    samples[i][wi].push(rate / calls[i][wi] as f64);
                }
            }
        }
        if round > 0 {
            progress(&format!("end to end ({preset}): round {round}/{reps}"));
        }
    }
    let figures: Vec<Figures> = contenders
        .iter()
        .zip(&samples)
        .map(|(c, per_w)| Figures {
            name: c.name.clone(),
            rates: Workload::ALL
                .iter()
                .zip(per_w)
                .map(|(&w, xs)| {
                    if xs.is_empty() {
                        // No rounds (reps = 0): no rate, rather than NaN in the decision.
                        (w, 0.0, 0.0, 0)
                    } else {
                        (w, timing::median(xs), timing::mad(xs), xs.len())
                    }
                })
                .collect(),
        })
        .collect();
    Ok(decide(preset, figures, reps, baseline))
}

/// The smallest relative difference the decision resolves.
const MIN_NOISE: f64 = 0.015;

/// The maximin decision on measured figures (no timing here, so it is tested on synthetic
/// figures). Contender `baseline` (the embedded default in a tuning run) stands while its
/// score is within the noise of the best score: a change is kept only when the whole run
/// gets faster beyond the noise. The noise is the uncertainty of a median (1.25 × the
/// typical relative spread ÷ √reps), at least [`MIN_NOISE`].
pub fn decide(preset: &str, figures: Vec<Figures>, reps: usize, baseline: usize) -> Outcome {
    let best: Vec<f64> = Workload::ALL
        .iter()
        .map(|&w| figures.iter().map(|f| f.rate(w)).fold(0.0, f64::max))
        .collect();
    let scores: Vec<f64> = figures
        .iter()
        .map(|f| {
            Workload::ALL
                .iter()
                .zip(&best)
                .map(|(&w, &b)| if b > 0.0 { f.rate(w) / b } else { 1.0 })
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let rel: Vec<f64> = figures
        .iter()
        .flat_map(|f| {
            Workload::ALL.iter().map(move |&w| {
                let r = f.rate(w);
                if r > 0.0 {
                    f.spread(w) / r
                } else {
                    0.0
                }
            })
        })
        .collect();
    // The uncertainty of a median of `reps` samples (≈ 1.25·MAD/√n for a normal spread),
    // not the spread of one sample: more rounds resolve finer differences.
    let noise = (1.25 * timing::median(&rel) / (reps.max(1) as f64).sqrt()).max(MIN_NOISE);
    let top = (0..scores.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .unwrap_or(0);
    let baseline = if baseline < scores.len() { baseline } else { 0 };
    let chosen = if scores
        .get(baseline)
        .is_some_and(|&s0| s0 >= scores[top] - noise)
    {
        baseline
    } else {
        top
    };
    Outcome {
        preset: preset.to_string(),
        figures,
        chosen,
        baseline,
        scores,
        noise,
        reps,
        first_stage: Vec::new(),
    }
}

impl Outcome {
    /// The report's "End to end" section.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "## End to end ({} preset)\n\nThe per-call table raced against the embedded default and every single-family \
             table on the preset's workloads: {} interleaved rounds after a warm-up, medians ± median absolute deviation; \
             training steps are {TRAIN_BATCH} sequences of the full context; \"a core busy\" is the KV decode while another \
             thread spins on the CPU of the thread team's helper, as when another process shares the machine. Score = the contender's worst ratio to the \
             fastest of a workload; the baseline ({}) is kept unless another contender's score beats it by more than the \
             noise ({:.1} %).\n\n",
            self.preset,
            self.reps,
            self.figures[self.baseline].name,
            100.0 * self.noise
        );
        if !self.first_stage.is_empty() {
            s.push_str(
                "First stage: no contender was fastest at every workload, so a composite table (each MatMul bucket \
                 from the contender fastest at the workload it serves: m1 for decode, small_m for full recompute, \
                 large_m for training) was raced against the proposal and those winners in a second stage.\n\n",
            );
            let best = |w: Workload| {
                self.first_stage
                    .iter()
                    .map(|f| f.rate(w))
                    .fold(0.0, f64::max)
            };
            let scores: Vec<f64> = self
                .first_stage
                .iter()
                .map(|f| {
                    Workload::ALL
                        .iter()
                        .map(|&w| f.rate(w) / best(w).max(1e-12))
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            figure_table(&mut s, &self.first_stage, &scores, None);
            s.push_str("\nSecond stage:\n\n");
        }
        figure_table(&mut s, &self.figures, &self.scores, Some(self.chosen));
        s.push_str(&format!(
            "\nKept: **{}** ({}; the table written is this contender's).\n",
            self.figures[self.chosen].name,
            self.why()
        ));
        s
    }

    /// The record of this race a table carries ([`backends::table::EndToEnd`]): the kept
    /// contender's figures per workload beside the fastest contender's.
    pub fn record(&self) -> backends::table::EndToEnd {
        let kept = &self.figures[self.chosen];
        backends::table::EndToEnd {
            preset: self.preset.clone(),
            kept: kept.name.clone(),
            why: self.why().into(),
            workloads: Workload::ALL
                .iter()
                .map(|&w| {
                    let fastest = self
                        .figures
                        .iter()
                        .max_by(|a, b| a.rate(w).total_cmp(&b.rate(w)))
                        .unwrap_or(kept);
                    backends::table::WorkloadFigure {
                        workload: w.name().into(),
                        unit: w.unit().into(),
                        rate: kept.rate(w),
                        spread: kept.spread(w),
                        fastest: fastest.rate(w),
                        fastest_contender: fastest.name.clone(),
                    }
                })
                .collect(),
        }
    }

    /// Why the kept contender was kept, in a few words.
    pub fn why(&self) -> &'static str {
        if self.chosen == self.baseline {
            "no contender beat the baseline beyond the noise"
        } else if self.chosen == 0 {
            "the per-call table beat the baseline beyond the noise"
        } else {
            "it beat the baseline and the per-call table beyond the noise"
        }
    }
}

/// A markdown table of contenders' figures and scores, `chosen` marked as kept.
fn figure_table(s: &mut String, figures: &[Figures], scores: &[f64], chosen: Option<usize>) {
    s.push_str("| contender |");
    for w in Workload::ALL {
        s.push_str(&format!(" {} ({}) |", w.name(), w.unit()));
    }
    s.push_str(" score |\n|---|");
    for _ in Workload::ALL {
        s.push_str("--:|");
    }
    s.push_str("--:|\n");
    for (i, f) in figures.iter().enumerate() {
        let mark = if Some(i) == chosen { " **(kept)**" } else { "" };
        s.push_str(&format!("| {}{mark} |", f.name));
        for w in Workload::ALL {
            let (r, d) = (f.rate(w), f.spread(w));
            let prec = if r < 100.0 { 2 } else { 0 };
            s.push_str(&format!(" {r:.prec$} ± {d:.prec$} |"));
        }
        s.push_str(&format!(
            " {:.3} |\n",
            scores.get(i).copied().unwrap_or(f64::NAN)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures of decode, full recompute and training; the busy-core decode at 0.9 of the
    /// decode (the same ratios between contenders, so it decides nothing here).
    fn fig(name: &str, rates: [f64; 3], spread: f64) -> Figures {
        let all = [rates[0], rates[1], rates[2], 0.9 * rates[0]];
        Figures {
            name: name.into(),
            rates: Workload::ALL
                .iter()
                .zip(all)
                .map(|(&w, r)| (w, r, r * spread, 7))
                .collect(),
        }
    }

    /// A threaded contender that collapses when a core is busy loses to one that degrades
    /// gracefully when its quiet lead is smaller than its collapse.
    #[test]
    fn a_collapse_under_a_busy_core_counts_in_the_score() {
        let with_busy = |name: &str, r: [f64; 4]| Figures {
            name: name.into(),
            rates: Workload::ALL
                .iter()
                .zip(r)
                .map(|(&w, x)| (w, x, 0.001 * x, 7))
                .collect(),
        };
        let figs = vec![
            with_busy("t2 collapses", [1000.0, 100.0, 10.0, 400.0]),
            with_busy("embedded default", [900.0, 100.0, 10.0, 850.0]),
        ];
        let o = decide("small", figs, 7, 1);
        assert_eq!(o.chosen, 1, "{:?}", o.scores);
        assert!(o.scores[0] < 0.5 && o.scores[1] > 0.89);
    }

    #[test]
    fn the_composite_takes_each_matmul_bucket_from_its_workloads_winner() {
        let proposal = Table::parse(
            backends::dispatch::DEFAULT_TABLE,
            Path::new("embedded default"),
        )
        .unwrap();
        let tiled = family_table(&proposal, "tiled", 1).unwrap();
        let mm = family_table(&proposal, "matrixmultiply", 1).unwrap();
        let c = composite_table(
            &proposal,
            &[
                (Workload::Decode, &tiled),
                (Workload::FullRecompute, &mm),
                (Workload::TrainStep, &proposal),
            ],
        );
        let variants = |t: &Table, op: &str, b: Bucket| -> Vec<String> {
            t.entries
                .iter()
                .filter(|e| e.op == op && e.bucket == b)
                .map(|e| e.variant.clone())
                .collect()
        };
        assert_eq!(
            variants(&c, "matmul", Bucket::M1),
            ["matmul/tiled/pooled/t1"]
        );
        assert_eq!(
            variants(&c, "matmul", Bucket::SmallM),
            ["matmul/matrixmultiply/pooled/t1"]
        );
        assert_eq!(
            variants(&c, "matmul", Bucket::LargeM),
            variants(&proposal, "matmul", Bucket::LargeM)
        );
        // Every other op keeps the proposal's entries, and the result loads.
        for op in Op::ALL.iter().filter(|&&o| o != Op::Matmul) {
            assert_eq!(
                variants(&c, op.name(), Bucket::All),
                variants(&proposal, op.name(), Bucket::All),
                "{}",
                op.name()
            );
        }
        assert!(c.entries.iter().any(|e| e
            .evidence
            .note
            .as_deref()
            .is_some_and(|n| n.contains("composite"))));
        // (The embedded default was tuned on another machine, hence allow_foreign.)
        let opts = LoadOptions {
            allow_foreign: true,
        };
        Dispatcher::from_table(&c, Path::new("composite"), opts).unwrap();
    }

    #[test]
    fn the_baseline_stands_unless_beaten_beyond_the_noise() {
        // What the case shows, the two contenders of the small preset (name, rates) over 7
        // rounds, the relative spread of every sample, the baseline's index, the index kept
        // and a phrase the report must contain.
        let cases = [
            (
                "1 % behind, under the 1.5 % floor: the baseline stays",
                [
                    ("tuned", [1000.0, 100.0, 10.0]),
                    ("avx2/t1", [1010.0, 101.0, 10.1]),
                ],
                0.01,
                0,
                0,
                None,
            ),
            (
                "the embedded default as baseline: a 1 % lead is no reason to change",
                [
                    ("tuned", [1010.0, 101.0, 10.1]),
                    ("embedded default", [1000.0, 100.0, 10.0]),
                ],
                0.01,
                1,
                1,
                Some("no contender beat the baseline"),
            ),
            (
                "a 10 % lead everywhere replaces the baseline",
                [
                    ("tuned", [1100.0, 110.0, 11.0]),
                    ("embedded default", [1000.0, 100.0, 10.0]),
                ],
                0.01,
                1,
                0,
                Some("the per-call table beat the baseline"),
            ),
            (
                // A 15 % spread per sample over 7 rounds: the medians are known to ±7 %.
                "5 % behind with 15 % spread over 7 rounds is a tie",
                [
                    ("tuned", [950.0, 95.0, 9.5]),
                    ("gemm/t1", [1000.0, 100.0, 10.0]),
                ],
                0.15,
                0,
                0,
                None,
            ),
            (
                "15 % behind is beyond that noise",
                [
                    ("tuned", [850.0, 85.0, 8.5]),
                    ("gemm/t1", [1000.0, 100.0, 10.0]),
                ],
                0.15,
                0,
                1,
                None,
            ),
        ];
        for (what, contenders, spread, baseline, chosen, says) in cases {
            let figures = contenders
                .iter()
                .map(|&(name, rates)| fig(name, rates, spread))
                .collect();
            let o = decide("small", figures, 7, baseline);
            assert_eq!(o.chosen, chosen, "{what}");
            let noise = (1.25 * spread / 7f64.sqrt()).max(MIN_NOISE);
            assert!((o.noise - noise).abs() < 1e-3, "{what}: {}", o.noise);
            if let Some(says) = says {
                assert!(o.markdown().contains(says), "{what}: {}", o.markdown());
            }
        }
    }

    #[test]
    fn a_clear_loser_end_to_end_is_replaced_by_the_best_maximin() {
        let o = decide(
            "medium",
            vec![
                // Fast at decode, slow at full recompute: worst ratio 0.5.
                fig("tuned", [2000.0, 50.0, 10.0], 0.01),
                // Best at recompute, 0.8 at decode.
                fig("avx2/t1", [1600.0, 100.0, 10.0], 0.01),
                // Best at decode, 0.6 at recompute.
                fig("avx512/t2", [2000.0, 60.0, 10.0], 0.01),
            ],
            7,
            0,
        );
        assert_eq!(o.chosen, 1);
        assert!((o.scores[1] - 0.8).abs() < 1e-9);
        assert!(o.markdown().contains("**(kept)**"));
    }
}
