//! The whole tuning run under a time budget, and the table it produces.
//!
//! 1. **Coarse grid**: every op's shapes ([`crate::plan::grid`], or a preset's exact shapes),
//!    smallest first, each a [`crate::measure::race`] of every runnable variant. A variant
//!    whose time, extrapolated from its last measured size in the bucket, would exceed 4× the
//!    best prediction (and 20 ms a call) is skipped and reported; a variant that fails
//!    verification is excluded from the op for the rest of the run and reported.
//! 2. **Refinement**: where the chosen winner changes between neighbouring sizes, the
//!    geometric midpoint is measured with the contenders of both sides (those within 1.15× of
//!    either side's best), a few bisection steps, so crossovers are located.
//! 3. **Selection** ([`crate::select`]) per op and bucket, then the table.
//!
//! The budget is wall time: the coarse grid may use ~78 % of it (each race gets an equal share
//! of what is left, so quick races leave time to the large ones), refinement up to 95 %;
//! every race keeps its minimum rounds, so a busy machine costs samples, not the deadline.

use crate::args::{self, TuneArgs};
use crate::counters::CounterSource;
use crate::failure::Failure;
use crate::measure::{self, Outcome, RaceCtx, Settings};
use crate::plan::{self, GridOptions, Preset};
use crate::select::{self, Cand, Point, Rule, Selection};
use backends::machine::Machine;
use backends::problem::Problem;
use backends::table::{CounterInfo, Entry, Evidence, RunnerUp, Table};
use backends::{Bucket, Op, Shape};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to tune and how hard.
#[derive(Debug, Clone)]
pub struct Config {
    pub ops: Vec<Op>,
    pub threads: Option<Vec<usize>>,
    pub quick: bool,
    pub budget: Duration,
    pub preset: Option<Preset>,
    pub seed: u64,
    pub max_square: usize,
    pub refine_steps: usize,
    /// Passes that race every shape's contenders (within [`CONFIRM_RATIO`] of its best) again
    /// and combine the races.
    pub confirm_passes: usize,
    pub settings: Settings,
    pub rule: Rule,
}

impl Config {
    /// The configuration of the command-line arguments.
    pub fn from_args(a: &TuneArgs) -> Result<Config, Failure> {
        let ops = args::parse_ops(&a.ops)?;
        let threads = args::parse_threads(&a.threads)?;
        let preset = match &a.preset {
            None => None,
            Some(m) => Some(Preset::from_name(m).ok_or_else(|| {
                Failure::input(format!("--preset {m}: expected `small` or `medium`"))
            })?),
        };
        let budget = a.budget.unwrap_or(if a.quick { 35.0 } else { 480.0 });
        if !(budget.is_finite() && budget > 0.0 && budget < 1e6) {
            return Err(Failure::input(format!(
                "--budget {budget}: expected a positive number of seconds"
            )));
        }
        let max_square = a.max_square.unwrap_or(if a.quick { 512 } else { 2048 });
        if !(8..=8192).contains(&max_square) {
            return Err(Failure::input(format!(
                "--max-square {max_square}: expected 8..=8192"
            )));
        }
        Ok(Config {
            ops,
            threads,
            quick: a.quick,
            budget: Duration::from_secs_f64(budget),
            preset,
            seed: a.seed,
            max_square,
            // A preset run measures exactly the preset's shapes unless refinement is asked for.
            refine_steps: a.refine.unwrap_or(if preset.is_some() {
                0
            } else if a.quick {
                1
            } else {
                3
            }),
            confirm_passes: a.confirm.unwrap_or(if a.quick { 0 } else { 2 }),
            settings: if a.quick {
                Settings::quick()
            } else {
                Settings::standard()
            },
            rule: Rule::default(),
        })
    }
}

impl Config {
    /// Whether `op` at `shape` is timed in its in-place form: where the preset's workloads
    /// call it in place ([`Preset::called_inplace`]); a grid run times the pooled form.
    pub fn call_form(&self, op: Op, shape: &Shape) -> bool {
        self.preset.is_some_and(|p| p.called_inplace(op, shape))
    }

    /// The cache state races time in: with `--preset`, MatMul weights cold over the preset's
    /// per-step working set (every weight and the full KV cache pass through the caches once
    /// per decode step), as the model leaves them; otherwise warm.
    pub fn cache(&self) -> measure::CacheState {
        let Some(p) = &self.preset else {
            return measure::CacheState::Warm;
        };
        match models::Config::preset(p.name) {
            Ok(m) => measure::CacheState::Cold {
                bytes: m
                    .param_count()
                    .saturating_add(2 * m.layers * m.context * m.width)
                    .saturating_mul(4),
            },
            Err(_) => measure::CacheState::Warm,
        }
    }
}

/// Bytes of a problem's weight operand (input 1, MatMul's B), 0 without one.
fn weight_bytes(p: &Problem) -> usize {
    p.inputs.get(1).map_or(0, |b| b.len() * 4)
}

/// The measurements at one shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PointRecord {
    pub op: Op,
    pub shape: String,
    pub bucket: Bucket,
    pub size: u64,
    /// Measured by the refinement (only the contenders raced).
    pub refined: bool,
    pub outcome: Outcome,
    /// The operands' cache state when it was not warm ([`measure::CacheState::describe`]).
    #[serde(default)]
    pub cache: Option<String>,
}

impl PointRecord {
    pub fn shape(&self) -> Shape {
        Shape::parse(self.op, &self.shape).expect("recorded shapes parse")
    }
}

/// A candidate excluded because its output was wrong (or it failed to run).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exclusion {
    pub op: Op,
    pub variant: String,
    pub shape: String,
    pub reason: String,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub machine: Machine,
    pub counters: CounterInfo,
    pub counter_events: Vec<String>,
    pub points: Vec<PointRecord>,
    pub excluded: Vec<Exclusion>,
    /// Shapes not measured (budget exhausted), and other notes on coverage.
    pub coverage_notes: Vec<String>,
    pub elapsed_s: f64,
    pub budget_s: f64,
    pub quick: bool,
    pub preset: Option<String>,
    pub max_square: usize,
    pub ops: Vec<Op>,
    pub threads: Option<Vec<usize>>,
    pub variants_measured: usize,
    /// Confirmation passes asked for (see [`Config::confirm_passes`]).
    #[serde(default)]
    pub confirm_passes: usize,
}

/// Progress display: a bar on a terminal, plain lines otherwise (or nothing).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    total: u64,
    done: u64,
    start: Instant,
}

impl Progress {
    /// A bar when stderr is a terminal, else one line per finished shape.
    pub fn auto() -> Progress {
        let bar = args::stderr_is_tty().then(|| {
            let b = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} shapes, ETA {eta} {wide_msg}",
            ) {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            plain: bar.is_none(),
            bar,
            total: 0,
            done: 0,
            start: Instant::now(),
        }
    }

    /// No output (tests).
    pub fn silent() -> Progress {
        Progress {
            bar: None,
            plain: false,
            total: 0,
            done: 0,
            start: Instant::now(),
        }
    }

    pub(crate) fn add(&mut self, n: u64) {
        self.total += n;
        if let Some(b) = &self.bar {
            b.set_length(self.total);
        }
    }

    pub(crate) fn begin(&mut self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }

    pub(crate) fn end(&mut self, msg: &str) {
        self.done += 1;
        if let Some(b) = &self.bar {
            b.inc(1);
        } else if self.plain {
            eprintln!(
                "[{:>3}/{:<3} {:>5.1}s] {msg}",
                self.done,
                self.total,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    pub(crate) fn note(&mut self, msg: &str) {
        if let Some(b) = &self.bar {
            b.println(msg);
        } else if self.plain {
            eprintln!("{msg}");
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

struct State<'c> {
    cfg: &'c Config,
    excluded: Vec<Exclusion>,
    verified: HashSet<String>,
    /// Last (size, per-call ns) seen per (op, bucket, variant), for extrapolation.
    last: HashMap<(Op, Bucket, String), (u64, f64)>,
    points: Vec<PointRecord>,
}

impl State<'_> {
    fn is_excluded(&self, op: Op, id: &str) -> bool {
        self.excluded.iter().any(|e| e.op == op && e.variant == id)
    }

    fn exclude(&mut self, op: Op, id: &str, shape: &Shape, reason: String) {
        if !self.is_excluded(op, id) {
            self.excluded.push(Exclusion {
                op,
                variant: id.to_string(),
                shape: shape.to_string(),
                reason,
            });
        }
    }

    /// Measures `op` at `shape`, optionally only the `contenders`.
    fn measure(
        &mut self,
        op: Op,
        shape: Shape,
        contenders: Option<&[String]>,
        source: &mut dyn CounterSource,
        soft: Instant,
        hard: Instant,
    ) -> Result<&PointRecord, String> {
        let cfg = self.cfg;
        let key = shape.key();
        // Every shape starts from an empty pool, so what earlier shapes left there (large
        // MatMul buffers among them) cannot change how this one's variants run.
        backends::pool::clear();
        let problem = Problem::random(op, shape, cfg.seed)?;
        let mut skipped = Vec::new();
        let mut cands: Vec<&'static backends::Variant> = Vec::new();
        let inplace = cfg.call_form(op, &shape);
        for v in measure::candidates(op, None, cfg.threads.as_deref())
            .into_iter()
            .filter(|v| measure::tunable(v, inplace))
        {
            if let Err(why) = v.runnable() {
                skipped.push((v.id.clone(), why));
            } else if self.is_excluded(op, &v.id) {
                skipped.push((v.id.clone(), "excluded earlier (wrong output)".into()));
            } else if contenders.is_none_or(|c| c.contains(&v.id)) {
                cands.push(v);
            }
        }
        // Extrapolate from smaller sizes; skip variants far too slow to matter.
        let preds: Vec<Option<(f64, u64)>> = cands
            .iter()
            .map(|v| {
                self.last
                    .get(&(op, key.bucket, v.id.clone()))
                    .filter(|(s, _)| *s > 0 && *s < key.size)
                    .map(|&(s, ns)| (ns * key.size as f64 / s as f64, s))
            })
            .collect();
        let best_pred = preds
            .iter()
            .flatten()
            .map(|p| p.0)
            .fold(f64::INFINITY, f64::min);
        let limit_ns = if cfg.quick { 5e6 } else { 20e6 };
        let mut kept = Vec::new();
        for (v, p) in cands.into_iter().zip(preds) {
            match p {
                Some((ns, from)) if ns > 4.0 * best_pred && ns > limit_ns => {
                    skipped.push((
                        v.id.clone(),
                        format!(
                            "predicted {} a call from size {} ({:.0}× the best prediction): not worth timing",
                            backends::timing::fmt_ns(ns),
                            backends::timing::fmt_size(from),
                            ns / best_pred
                        ),
                    ));
                    self.last
                        .insert((op, key.bucket, v.id.clone()), (key.size, ns));
                }
                _ => kept.push(v),
            }
        }
        // Verification: at this shape when the reference is quick enough, else once per
        // variant at a smaller shape of the same structure.
        let verify_here = plan::verify_shape(&shape).is_none();
        if let Some(small) = plan::verify_shape(&shape) {
            let p = Problem::random(op, small, cfg.seed)?;
            let mut ok = Vec::new();
            for v in kept {
                let tag = format!("{}@{small}", v.id);
                if self.verified.contains(&tag) {
                    ok.push(v);
                    continue;
                }
                match p.verify(v) {
                    Ok(()) => {
                        self.verified.insert(tag);
                        ok.push(v);
                    }
                    Err(why) => self.exclude(op, &v.id, &small, why),
                }
            }
            kept = ok;
        }
        let outcome = measure::race(
            &problem,
            &kept,
            RaceCtx::new(&cfg.settings, source, soft, hard)
                .verify(verify_here)
                .cache(cfg.cache()),
        );
        for (id, why) in &outcome.excluded {
            self.exclude(op, id, &shape, why.clone());
        }
        for r in &outcome.results {
            self.last.insert(
                (op, key.bucket, r.variant.clone()),
                (key.size, r.timing.median_ns),
            );
        }
        let mut outcome = outcome;
        outcome.skipped.extend(skipped);
        self.points.push(PointRecord {
            op,
            shape: shape.to_string(),
            bucket: key.bucket,
            size: key.size,
            refined: contenders.is_some(),
            outcome,
            cache: cfg.cache().describe(op, weight_bytes(&problem)),
        });
        Ok(self.points.last().expect("just pushed"))
    }
}

/// A confirmation race takes the candidates within this factor of a shape's best so far.
pub const CONFIRM_RATIO: f64 = 2.0;

impl State<'_> {
    /// The candidates worth racing again at point `i`: not excluded, within
    /// [`CONFIRM_RATIO`] of the best (none when fewer than two). Pruned ones count too: a
    /// candidate pruned on a few disturbed samples gets its full race here.
    fn confirm_contenders(&self, i: usize) -> Vec<String> {
        let p = &self.points[i];
        let ok = |r: &&measure::CandResult| {
            r.timing.median_ns.is_finite() && !self.is_excluded(p.op, &r.variant)
        };
        let best = p
            .outcome
            .results
            .iter()
            .filter(ok)
            .map(|r| r.timing.median_ns)
            .fold(f64::INFINITY, f64::min);
        let ids: Vec<String> = p
            .outcome
            .results
            .iter()
            .filter(ok)
            .filter(|r| r.timing.median_ns <= best * CONFIRM_RATIO)
            .map(|r| r.variant.clone())
            .collect();
        if ids.len() < 2 {
            Vec::new()
        } else {
            ids
        }
    }

    /// Races `contenders` at point `i` again (no pruning among them) and folds the figures
    /// into the point's.
    fn confirm(
        &mut self,
        i: usize,
        contenders: &[String],
        source: &mut dyn CounterSource,
        soft: Instant,
        hard: Instant,
    ) -> Result<(), String> {
        let cfg = self.cfg;
        let (op, shape) = (self.points[i].op, self.points[i].shape());
        backends::pool::clear();
        let problem = Problem::random(op, shape, cfg.seed)?;
        // Computed once: it lists the preset's calls.
        let inplace = cfg.call_form(op, &shape);
        let vars: Vec<&'static backends::Variant> = measure::candidates(op, None, None)
            .into_iter()
            .filter(|v| measure::tunable(v, inplace) && contenders.contains(&v.id))
            .collect();
        let settings = Settings {
            counters: false,
            ..cfg.settings.clone()
        };
        let outcome = measure::race(
            &problem,
            &vars,
            RaceCtx::new(&settings, source, soft, hard)
                .protect(contenders)
                .cache(cfg.cache()),
        );
        for (id, why) in &outcome.excluded {
            self.exclude(op, id, &shape, why.clone());
        }
        let rec = &mut self.points[i];
        for r in &outcome.results {
            if let Some(mine) = rec
                .outcome
                .results
                .iter_mut()
                .find(|x| x.variant == r.variant)
            {
                mine.absorb(r);
            }
        }
        Ok(())
    }
}

fn summary(p: &PointRecord) -> String {
    let best = p.outcome.best();
    let mut v: Vec<_> = p
        .outcome
        .results
        .iter()
        .filter(|r| r.timing.median_ns.is_finite())
        .collect();
    v.sort_by(|a, b| a.timing.median_ns.total_cmp(&b.timing.median_ns));
    let second = v.get(1);
    format!(
        "{} {}{}: {} {}{}",
        p.op,
        p.shape,
        if p.refined { " (refine)" } else { "" },
        best.map(|b| b.variant.as_str()).unwrap_or("-"),
        best.map(|b| backends::timing::fmt_ns(b.timing.median_ns))
            .unwrap_or_default(),
        match (best, second) {
            (Some(b), Some(s)) => format!(
                ", next {} {:.2}×",
                s.variant,
                s.timing.median_ns / b.timing.median_ns
            ),
            _ => String::new(),
        }
    )
}

/// The selection input of one record.
pub fn to_point(p: &PointRecord) -> Point {
    Point {
        size: p.size,
        cands: p
            .outcome
            .results
            .iter()
            .map(|r| Cand {
                variant: r.variant.clone(),
                timing: r.timing,
                pruned: r.pruned.is_some(),
                cache_misses: r.counters.and_then(|c| c.cache_misses),
                instructions: r.counters.and_then(|c| c.instructions),
            })
            .collect(),
    }
}

/// The selection of every (op, bucket) with measurements, in catalog order. Variants in
/// `excluded` (wrong output at some shape of the op) are dropped from every size of that op,
/// including sizes measured before the failure showed.
pub fn selections(
    run_points: &[PointRecord],
    excluded: &[Exclusion],
    ops: &[Op],
    rule: &Rule,
) -> Vec<(Op, Bucket, Selection)> {
    let mut out = Vec::new();
    for &op in ops {
        for b in Bucket::ALL {
            let pts: Vec<Point> = run_points
                .iter()
                .filter(|p| p.op == op && p.bucket == b)
                .map(|p| {
                    let mut pt = to_point(p);
                    pt.cands.retain(|c| {
                        !excluded
                            .iter()
                            .any(|e| e.op == op && e.variant == c.variant)
                    });
                    pt
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            out.push((op, b, select::select(rule, pts)));
        }
    }
    out
}

/// Midpoints to measure where the chosen winner changes, with their contenders.
fn refinement_tasks(st: &State, ops: &[Op], rule: &Rule) -> Vec<(Op, Shape, Vec<String>)> {
    let mut tasks = Vec::new();
    for (op, b, sel) in selections(&st.points, &st.excluded, ops, rule) {
        for i in 0..sel.points.len().saturating_sub(1) {
            let (Some(x), Some(y)) = (&sel.chosen[i], &sel.chosen[i + 1]) else {
                continue;
            };
            if x == y {
                continue;
            }
            let shape_at = |size: u64| {
                st.points
                    .iter()
                    .find(|p| p.op == op && p.bucket == b && p.size == size)
                    .map(|p| p.shape())
            };
            let (Some(sa), Some(sb)) = (
                shape_at(sel.points[i].size),
                shape_at(sel.points[i + 1].size),
            ) else {
                continue;
            };
            let Some(mid) = plan::midpoint(op, &sa, &sb) else {
                continue;
            };
            let mk = mid.key();
            if st
                .points
                .iter()
                .any(|p| p.op == op && p.bucket == b && p.size == mk.size)
            {
                continue;
            }
            let mut contenders: Vec<String> = vec![x.clone(), y.clone()];
            for pt in [&sel.points[i], &sel.points[i + 1]] {
                let best = pt
                    .cands
                    .iter()
                    .filter(|c| !c.pruned)
                    .map(|c| c.timing.median_ns)
                    .fold(f64::INFINITY, f64::min);
                for c in &pt.cands {
                    if !c.pruned
                        && c.timing.median_ns <= best * 1.15
                        && !contenders.contains(&c.variant)
                    {
                        contenders.push(c.variant.clone());
                    }
                }
            }
            tasks.push((op, mid, contenders));
        }
    }
    tasks
}

/// The soft deadline, at `now`, of the next of `left` shapes that share the time before `end`:
/// an equal share of what remains, so a shape that overran does not starve the ones after it.
pub(crate) fn fair_share(now: Instant, end: Instant, left: usize) -> Instant {
    now + end.saturating_duration_since(now) / left as u32
}

/// A phase that runs in rounds (refinement steps, confirmation passes) until its mark: what
/// it is called in the notes and progress lines, what its rounds are called, how many were
/// asked for, and the mark.
struct Phase {
    what: &'static str,
    unit: &'static str,
    rounds: usize,
    end: Instant,
}

impl Phase {
    /// Whether `round` may start before the mark; if not, a coverage note says where the
    /// phase stopped.
    fn may_start(&self, round: usize, coverage_notes: &mut Vec<String>) -> bool {
        if Instant::now() < self.end {
            return true;
        }
        coverage_notes.push(format!(
            "{} stopped after {round} of {} {}: budget",
            self.what, self.rounds, self.unit
        ));
        false
    }

    /// Runs `round` for each round that may start before the mark ([`Phase::may_start`]),
    /// until one returns `None` (nothing left to do); the sum of what the rounds returned
    /// (the jobs they completed). Both round-based phases share this loop.
    fn run(
        &self,
        coverage_notes: &mut Vec<String>,
        mut round: impl FnMut(&Phase, usize) -> Option<usize>,
    ) -> usize {
        let mut done = 0;
        for r in 0..self.rounds {
            if !self.may_start(r, coverage_notes) {
                break;
            }
            match round(self, r) {
                Some(n) => done += n,
                None => break,
            }
        }
        done
    }

    /// The soft deadline of job `j` of a round's `n` ([`fair_share`]), or `None` (the job's
    /// progress line, `label`, says it was skipped) once the mark has passed.
    fn deadline(
        &self,
        j: usize,
        n: usize,
        label: &str,
        progress: &mut Progress,
    ) -> Option<Instant> {
        let now = Instant::now();
        if now >= self.end {
            progress.end(&format!("{label}: {} skipped (budget)", self.what));
            return None;
        }
        Some(fair_share(now, self.end, n - j))
    }
}

/// Confirmation: every shape's contenders raced again, later and in another order
/// (backwards, then forwards), so a passing disturbance of the machine lands on different
/// shapes in different passes and the median of the races outvotes it.
fn confirm_phase(
    st: &mut State,
    source: &mut dyn CounterSource,
    progress: &mut Progress,
    confirm_end: Instant,
    end: Instant,
    coverage_notes: &mut Vec<String>,
) {
    let cfg = st.cfg;
    let confirmed = Phase {
        what: "confirmation",
        unit: "passes",
        rounds: cfg.confirm_passes,
        end: confirm_end,
    }
    .run(coverage_notes, |phase, pass| {
        let mut confirmed = 0;
        let mut order: Vec<usize> = (0..st.points.len()).collect();
        if pass % 2 == 0 {
            order.reverse();
        }
        let jobs: Vec<(usize, Vec<String>)> = order
            .into_iter()
            .map(|i| (i, st.confirm_contenders(i)))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        progress.add(jobs.len() as u64);
        let n = jobs.len();
        for (j, (i, contenders)) in jobs.into_iter().enumerate() {
            let (op, shape) = (st.points[i].op, st.points[i].shape.clone());
            let Some(soft) = phase.deadline(j, n, &format!("{op} {shape}"), progress) else {
                continue;
            };
            progress.begin(&format!("{op} {shape} (confirm {})", pass + 1));
            match st.confirm(i, &contenders, source, soft, end) {
                Ok(()) => {
                    confirmed += 1;
                    let line = summary(&st.points[i]);
                    progress.end(&format!("{line} (confirm {})", pass + 1));
                }
                Err(e) => progress.end(&format!("{op} {shape}: confirmation failed: {e}")),
            }
        }
        Some(confirmed)
    });
    if confirmed > 0 {
        coverage_notes.push(format!(
            "{confirmed} confirmation race(s) over {} pass(es): each shape's contenders within {CONFIRM_RATIO}× of its best raced again; figures are the median of the races",
            cfg.confirm_passes
        ));
    }
}

/// The coarse grid's shapes (or the preset's), op by op, smallest first: the largest of them
/// decide the memory a run needs (refinement measures between them).
pub fn planned_shapes(cfg: &Config) -> Vec<(Op, Shape)> {
    let grid_opts = GridOptions {
        quick: cfg.quick,
        max_square: cfg.max_square,
    };
    cfg.ops
        .iter()
        .flat_map(|&op| {
            let shapes = match cfg.preset {
                Some(p) => plan::sort(p.shapes(op)),
                None => plan::grid(op, grid_opts),
            };
            shapes.into_iter().map(move |s| (op, s))
        })
        .collect()
}

/// Runs the whole measurement.
pub fn run(cfg: &Config, source: &mut dyn CounterSource, progress: &mut Progress) -> Run {
    let start = Instant::now();
    let end = start + cfg.budget;
    // Shares of the budget: coarse grid, then refinement, then confirmation, each phase
    // ending by its mark (a phase left out gives its share to the ones before).
    let confirm_share = if cfg.confirm_passes > 0 { 0.3 } else { 0.0 };
    let refine_share = if cfg.refine_steps > 0 { 0.17 } else { 0.0 };
    let coarse_end = start + cfg.budget.mul_f64(0.95 - confirm_share - refine_share);
    let refine_end = start + cfg.budget.mul_f64(0.95 - confirm_share);
    let confirm_end = start + cfg.budget.mul_f64(0.95);
    let mut st = State {
        cfg,
        excluded: Vec::new(),
        verified: HashSet::new(),
        last: HashMap::new(),
        points: Vec::new(),
    };
    let mut coverage_notes = Vec::new();
    let tasks = planned_shapes(cfg);
    progress.add(tasks.len() as u64);
    let mut unmeasured = 0;
    for (i, &(op, shape)) in tasks.iter().enumerate() {
        let now = Instant::now();
        if now >= end {
            unmeasured += 1;
            progress.end(&format!("{op} {shape}: not measured (budget spent)"));
            continue;
        }
        let soft = fair_share(now, coarse_end, tasks.len() - i);
        progress.begin(&format!("{op} {shape}"));
        match st.measure(op, shape, None, source, soft, end) {
            Ok(p) => {
                let line = summary(p);
                progress.end(&line);
            }
            Err(e) => {
                progress.note(&format!("{op} {shape}: {e}"));
                progress.end(&format!("{op} {shape}: failed"));
            }
        }
    }
    if unmeasured > 0 {
        coverage_notes.push(format!(
            "the budget ran out before {unmeasured} grid shape(s) were measured; their sizes use the neighbouring ranges"
        ));
    }
    // Refinement by bisection where the winner changes.
    let refined = Phase {
        what: "refinement",
        unit: "steps",
        rounds: cfg.refine_steps,
        end: refine_end,
    }
    .run(&mut coverage_notes, |phase, step| {
        let mids = refinement_tasks(&st, &cfg.ops, &cfg.rule);
        if mids.is_empty() {
            return None;
        }
        let mut refined = 0;
        progress.add(mids.len() as u64);
        let n = mids.len();
        for (j, (op, shape, contenders)) in mids.into_iter().enumerate() {
            let Some(soft) = phase.deadline(j, n, &format!("{op} {shape}"), progress) else {
                continue;
            };
            progress.begin(&format!("{op} {shape} (refine {})", step + 1));
            if let Ok(p) = st.measure(op, shape, Some(&contenders), source, soft, end) {
                let line = summary(p);
                progress.end(&line);
                refined += 1;
            } else {
                progress.end(&format!("{op} {shape}: failed"));
            }
        }
        Some(refined)
    });
    if refined > 0 {
        coverage_notes.push(format!(
            "{refined} shape(s) added by bisection where the winner changed between neighbouring sizes"
        ));
    }
    confirm_phase(
        &mut st,
        source,
        progress,
        confirm_end,
        end,
        &mut coverage_notes,
    );
    progress.finish();
    let variants_measured = st
        .points
        .iter()
        .flat_map(|p| p.outcome.results.iter().map(|r| r.variant.clone()))
        .collect::<HashSet<_>>()
        .len();
    Run {
        machine: Machine::detect(),
        counters: CounterInfo {
            source: source.kind().name().into(),
            reason: source.reason(),
        },
        counter_events: source.events().iter().map(|s| s.to_string()).collect(),
        points: st.points,
        excluded: st.excluded,
        coverage_notes,
        elapsed_s: start.elapsed().as_secs_f64(),
        budget_s: cfg.budget.as_secs_f64(),
        quick: cfg.quick,
        preset: cfg.preset.map(|p| p.name.to_string()),
        max_square: cfg.max_square,
        ops: cfg.ops.clone(),
        threads: cfg.threads.clone(),
        variants_measured,
        confirm_passes: cfg.confirm_passes,
    }
}

/// The shapes measured at `size` in one op and bucket.
pub fn shapes_at(run: &Run, op: Op, b: Bucket, size: u64) -> Vec<&PointRecord> {
    run.points
        .iter()
        .filter(|p| p.op == op && p.bucket == b && p.size == size)
        .collect()
}

/// Builds the dispatch table of a run.
pub fn build_table(run: &Run, sels: &[(Op, Bucket, Selection)]) -> Table {
    let mut table = Table::new(
        crate::GENERATOR,
        crate::VERSION,
        run.machine.clone(),
        run.counters.clone(),
    );
    for (op, b, sel) in sels {
        for r in &sel.ranges {
            let rep = r.representative;
            let size = sel.points[rep].size;
            let Some(c) = sel.chosen_cand(rep) else {
                continue;
            };
            let recs = shapes_at(run, *op, *b, size);
            let counters = recs
                .iter()
                .filter_map(|p| p.outcome.get(&r.variant).and_then(|x| x.counters))
                .reduce(|a, b| a.add(&b));
            let margins: Vec<f64> = r
                .points
                .iter()
                .filter_map(|&i| {
                    let w = sel.chosen_cand(i)?;
                    let ru = sel.runner_up(i)?;
                    Some(ru.timing.median_ns / w.timing.median_ns - 1.0)
                })
                .collect();
            let (lo, hi) = margins
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &m| {
                    (l.min(m), h.max(m))
                });
            let mut note = format!(
                "chosen at {} measured size{}; margin over the runner-up {}",
                r.points.len(),
                if r.points.len() == 1 { "" } else { "s" },
                if margins.is_empty() {
                    "n/a".to_string()
                } else if (hi - lo).abs() < 0.005 {
                    format!("{:+.0}%", lo * 100.0)
                } else {
                    format!("{:+.0}%..{:+.0}%", lo * 100.0, hi * 100.0)
                }
            );
            if recs.len() > 1 {
                note.push_str(&format!(
                    "; figures summed over {} shapes of this size ({})",
                    recs.len(),
                    recs.iter()
                        .map(|p| p.shape.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            } else if let Some(p) = recs.first() {
                note.push_str(&format!("; measured at {}", p.shape));
            }
            for n in r.notes.iter().take(3) {
                note.push_str("; ");
                note.push_str(n);
            }
            if r.notes.len() > 3 {
                note.push_str(&format!(
                    "; and {} more notes in the report",
                    r.notes.len() - 3
                ));
            }
            let ev = Evidence {
                median_ns: c.timing.median_ns,
                spread_ns: c.timing.spread_ns,
                samples: c.timing.samples,
                measured_size: Some(size),
                cycles: counters.and_then(|x| x.cycles),
                instructions: counters.and_then(|x| x.instructions),
                ipc: counters.and_then(|x| x.ipc()),
                cache_references: counters.and_then(|x| x.cache_references),
                cache_misses: counters.and_then(|x| x.cache_misses),
                task_clock_ns: counters.and_then(|x| x.task_clock_ns),
                page_faults: counters.and_then(|x| x.page_faults),
                cache_state: recs.iter().find_map(|p| p.cache.clone()),
                runner_up: sel.runner_up(rep).map(|ru| RunnerUp {
                    variant: ru.variant.clone(),
                    median_ns: ru.timing.median_ns,
                }),
                note: Some(note),
            };
            table.entries.push(Entry {
                op: op.name().to_string(),
                bucket: *b,
                min: r.min,
                max: r.max,
                variant: r.variant.clone(),
                params: None,
                split: None,
                evidence: ev,
            });
        }
    }
    table
}

/// Where the report goes beside a table: `dispatch.json` → `dispatch.md`, `dispatch-report/`.
pub fn report_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dispatch".into());
    let dir = out.parent().unwrap_or(Path::new(""));
    (
        dir.join(format!("{stem}.md")),
        dir.join(format!("{stem}-report")),
    )
}
