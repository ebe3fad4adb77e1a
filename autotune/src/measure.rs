//! One race: every candidate variant at one shape.
//!
//! Each candidate is first verified against the reference ([`Problem::verify`]); a wrong one
//! is excluded with the reason. Survivors are warmed up and calibrated so that one sample (a
//! batch of calls) lasts at least [`Settings::sample_ns`]; then samples are taken round-robin,
//! one per candidate per round (the order rotating), so that drift on a shared machine hits
//! every candidate alike and figures compare as ratios within one run. After
//! [`Settings::prune_early_rounds`] rounds a candidate slower than 1.5× the best is dropped,
//! after [`Settings::prune_late_rounds`] one slower than 1.15×; close races (the two best
//! within each other's noise) get extra rounds. A last, untimed pass per contender reads the
//! counters, so counter reads never disturb the timed samples.
//!
//! Ops with an in-place form run in segments of a few calls with the first input restored
//! (untimed) between segments, for every variant of the op alike: repeated in-place GELU
//! would otherwise drive the data towards zero and denormals and time a different problem.

use crate::counters::{CounterSource, Counts};
use backends::op::ShapeKind;
use backends::problem::Problem;
use backends::spec::Tuning;
use backends::timing::{self, mad, median};
use backends::{Memory, Op, Variant};
use kernels::matmul::BlockingParams;
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How hard to measure.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Least duration of one sample (a batch of calls), ns.
    pub sample_ns: f64,
    /// Rounds every survivor gets even when the time slice is spent.
    pub min_rounds: usize,
    /// Rounds after which a race stops unless it is close.
    pub base_rounds: usize,
    /// Rounds a close race may extend to.
    pub max_rounds: usize,
    /// After this many rounds drop candidates slower than [`Settings::prune_early_ratio`]× the best.
    pub prune_early_rounds: usize,
    pub prune_early_ratio: f64,
    /// After this many rounds drop candidates slower than [`Settings::prune_late_ratio`]× the best.
    pub prune_late_rounds: usize,
    pub prune_late_ratio: f64,
    /// Whether to prune at all (`measure` reports every candidate fully).
    pub prune: bool,
    /// Relative difference under which two medians count as a tie (besides overlapping MADs).
    pub rel_noise: f64,
    /// Read counters in an extra pass per contender.
    pub counters: bool,
}

impl Settings {
    /// The default run's settings.
    pub fn standard() -> Settings {
        Settings {
            sample_ns: 250_000.0,
            min_rounds: 6,
            base_rounds: 21,
            max_rounds: 41,
            prune_early_rounds: 4,
            prune_early_ratio: 1.5,
            prune_late_rounds: 8,
            prune_late_ratio: 1.15,
            prune: true,
            rel_noise: 0.03,
            counters: true,
        }
    }

    /// `--quick`: shorter samples and fewer rounds.
    pub fn quick() -> Settings {
        Settings {
            sample_ns: 50_000.0,
            min_rounds: 3,
            base_rounds: 5,
            max_rounds: 7,
            prune_early_rounds: 3,
            prune_late_rounds: 5,
            ..Settings::standard()
        }
    }
}

/// A candidate's time per call over one race's samples (or several races', combined): what
/// a race measures ([`CandResult`]) and the rule compares ([`crate::select::Cand`]). Both
/// serialize it inline, as three fields of their own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Median time per call, ns.
    pub median_ns: f64,
    /// Median absolute deviation of the per-call sample times, ns.
    pub spread_ns: f64,
    pub samples: u32,
}

impl Timing {
    /// The figures of per-call sample times, ns: their median, MAD and count.
    pub fn of(samples: &[f64]) -> Timing {
        Timing {
            median_ns: median(samples),
            spread_ns: mad(samples),
            samples: samples.len() as u32,
        }
    }
}

/// One candidate's result in a race.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandResult {
    pub variant: String,
    pub threads: usize,
    /// Its time per call (serialized inline: `median_ns`, `spread_ns`, `samples`).
    #[serde(flatten)]
    pub timing: Timing,
    /// Calls per sample.
    pub batch: u64,
    /// Why the candidate stopped early (its figures are then from fewer samples).
    pub pruned: Option<String>,
    /// Per-call counter figures (hardware ones only for single-threaded variants).
    pub counters: Option<Counts>,
    /// (median, spread) of every separate race that timed this candidate at this shape, when
    /// there was more than one (confirmation passes); `median_ns` and `spread_ns` combine them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passes: Vec<(f64, f64)>,
}

impl CandResult {
    /// Folds in the figures of a later race of the same candidate at the same shape.
    ///
    /// The median becomes the median of the races' medians, so one race disturbed by the
    /// machine cannot decide alone; the spread becomes the larger of the races' typical
    /// spread and the deviation between their medians, so a comparison that does not repeat
    /// from race to race reads as within the noise (and goes to the tie-breaks). A candidate
    /// pruned in an earlier race but fully sampled in this one is no longer pruned.
    pub fn absorb(&mut self, later: &CandResult) {
        if self.passes.is_empty() {
            self.passes
                .push((self.timing.median_ns, self.timing.spread_ns));
        }
        self.passes
            .push((later.timing.median_ns, later.timing.spread_ns));
        let meds: Vec<f64> = self.passes.iter().map(|p| p.0).collect();
        let spreads: Vec<f64> = self.passes.iter().map(|p| p.1).collect();
        self.timing.median_ns = median(&meds);
        self.timing.spread_ns = median(&spreads).max(mad(&meds));
        self.timing.samples += later.timing.samples;
        if later.pruned.is_none() {
            // Fully sampled at least once now: a contender again.
            self.pruned = None;
        }
    }
}

/// The result of one race.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub results: Vec<CandResult>,
    /// Candidates that failed verification or errored: (variant, reason).
    pub excluded: Vec<(String, String)>,
    /// Candidates not run at this shape: (variant, reason).
    pub skipped: Vec<(String, String)>,
    /// Whether outputs were verified at this very shape.
    pub verified_here: bool,
}

impl Outcome {
    /// The fastest candidate by median.
    pub fn best(&self) -> Option<&CandResult> {
        self.results
            .iter()
            .filter(|r| r.timing.median_ns.is_finite())
            .min_by(|a, b| a.timing.median_ns.total_cmp(&b.timing.median_ns))
    }

    pub fn get(&self, id: &str) -> Option<&CandResult> {
        self.results.iter().find(|r| r.variant == id)
    }
}

/// What a race needs besides its candidates.
pub struct RaceCtx<'a> {
    pub settings: &'a Settings,
    pub source: &'a mut dyn CounterSource,
    /// Soft end of this race: after [`Settings::min_rounds`] rounds it stops here.
    pub soft_deadline: Instant,
    /// Hard end: the race stops after the current round.
    pub hard_deadline: Instant,
    /// Verify outputs at this shape before timing.
    pub verify: bool,
    /// Variants never pruned (validation keeps the dispatched choice fully sampled).
    pub protect: &'a [String],
    /// The operand state to time in ([`CacheState`]).
    pub cache: CacheState,
}

impl<'a> RaceCtx<'a> {
    /// A race between the two deadlines with the common defaults: outputs not verified, no
    /// variant protected, operands warm. The setters below change one of them.
    pub fn new(
        settings: &'a Settings,
        source: &'a mut dyn CounterSource,
        soft_deadline: Instant,
        hard_deadline: Instant,
    ) -> Self {
        RaceCtx {
            settings,
            source,
            soft_deadline,
            hard_deadline,
            verify: false,
            protect: &[],
            cache: CacheState::Warm,
        }
    }

    /// Whether to verify outputs at this shape before timing.
    pub fn verify(self, verify: bool) -> Self {
        RaceCtx { verify, ..self }
    }

    /// Variants never pruned.
    pub fn protect(self, protect: &'a [String]) -> Self {
        RaceCtx { protect, ..self }
    }

    /// The operand state to time in.
    pub fn cache(self, cache: CacheState) -> Self {
        RaceCtx { cache, ..self }
    }
}

/// The cache state a race times its operands in.
///
/// Alone in a loop, a MatMul's weights stay in L1/L2 between calls; inside a model every
/// other layer's weights (and the KV cache) pass through between two uses of the same
/// weights, so a decode step reads them from wherever a working set of that size lives. A
/// `Cold` race rotates copies of the weight operand (MatMul's B) spanning at least the given
/// bytes, so each call finds its B as the workload leaves it, while the activation operand
/// stays warm as the previous op left it. The copies are made before timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheState {
    /// The operands as the previous call left them (a tight loop).
    #[default]
    Warm,
    /// Weights rotated over at least this many bytes (a model's per-step working set).
    Cold { bytes: usize },
}

/// The most copies of a weight operand a cold race rotates through.
const MAX_COPIES: usize = 256;

impl CacheState {
    /// How a table entry's evidence and the report name this state, for an operand of
    /// `operand_bytes`: `None` when the race was warm (the default).
    pub fn describe(self, op: Op, operand_bytes: usize) -> Option<String> {
        let copies = self.copies(op, operand_bytes);
        (copies > 1).then(|| {
            format!(
                "cold: weights rotated over {copies} copies ({:.1} MB)",
                (copies * operand_bytes) as f64 / 1e6
            )
        })
    }

    /// Copies of an operand of `operand_bytes` that span the cold working set (1: warm).
    pub fn copies(self, op: Op, operand_bytes: usize) -> usize {
        match self {
            CacheState::Cold { bytes } if op == Op::Matmul && bytes > operand_bytes => {
                bytes.div_ceil(operand_bytes.max(1)).clamp(1, MAX_COPIES)
            }
            _ => 1,
        }
    }
}

/// Calls between restores of the first input for ops with an in-place form.
const SEGMENT: u64 = 4;

struct Runner {
    problem: Problem,
    pristine: Option<backends::AlignedVec>,
    /// Further copies of the weight operand (input 1) a cold race swaps in call by call.
    rotation: Vec<backends::AlignedVec>,
    next: usize,
}

impl Runner {
    fn new(problem: &Problem, cache: CacheState) -> Runner {
        let pristine = problem.op.has_inplace().then(|| problem.inputs[0].clone());
        let copies = match problem.inputs.get(1) {
            Some(w) => cache.copies(problem.op, w.len() * std::mem::size_of::<f32>()),
            None => 1,
        };
        // The copies are allocated only if they fit the memory limit (else the race is warm).
        let fits = copies > 1
            && backends::limits::check_f32(
                "the rotated weight copies of a cold race",
                &[problem.inputs[1].len() as u128 * copies as u128],
            )
            .is_ok();
        let rotation = if fits {
            (1..copies).map(|_| problem.inputs[1].clone()).collect()
        } else {
            Vec::new()
        };
        Runner {
            problem: problem.clone(),
            pristine,
            rotation,
            next: 0,
        }
    }

    /// Swaps the next weight copy in (a pointer swap, outside the kernel's work).
    fn rotate(&mut self) {
        if self.rotation.is_empty() {
            return;
        }
        std::mem::swap(&mut self.problem.inputs[1], &mut self.rotation[self.next]);
        self.next = (self.next + 1) % self.rotation.len();
    }

    fn restore(&mut self) {
        if let Some(p) = &self.pristine {
            self.problem.inputs[0].copy_from_slice(p);
        }
    }

    /// Runs `calls` calls; returns the timed ns (segments summed, clock overhead removed).
    /// With `counters`, the source brackets each timed segment.
    fn run(
        &mut self,
        c: &Cand,
        calls: u64,
        mut counters: Option<(&mut dyn CounterSource, &mut Counts)>,
    ) -> Result<f64, String> {
        let (v, tuning) = (c.v, c.tuning);
        let seg = if self.pristine.is_some() {
            SEGMENT
        } else {
            calls
        };
        let mut total = 0.0;
        let mut done = 0;
        while done < calls {
            let n = seg.min(calls - done);
            if v.threads > 1 {
                // An untimed call first wakes the pool's worker threads, as a stream of calls
                // keeps them awake; otherwise a sample of one large call, taken after the
                // other candidates' turns, would also time the workers' wake-up.
                let out = self
                    .problem
                    .execute_with(v, tuning)
                    .map_err(|e| e.to_string())?;
                black_box(&out);
            }
            if let Some((src, _)) = counters.as_mut() {
                src.start();
            }
            let dt = timing::time_calls(n, || {
                self.rotate();
                let out = self
                    .problem
                    .execute_with(v, tuning)
                    .map_err(|e| e.to_string())?;
                black_box(&out);
                Ok::<(), String>(())
            })?;
            if let Some((src, acc)) = counters.as_mut() {
                let c = src.stop();
                **acc = acc.add(&c);
            }
            total += timing::net_ns(dt);
            done += n;
            if self.pristine.is_some() {
                self.restore();
            }
        }
        Ok(total)
    }
}

/// One contender of a race: a variant, and the table choices it runs with (kernel
/// parameters, thread split; `None`s: its defaults), named by `id` in the outcome (the
/// variant id, with a label of the choices appended when there are any).
#[derive(Debug, Clone)]
pub struct Cand<'v> {
    pub v: &'v Variant,
    pub tuning: Tuning,
    pub id: String,
}

impl<'v> Cand<'v> {
    /// `v` with its default parameters.
    pub fn plain(v: &'v Variant) -> Cand<'v> {
        Cand {
            v,
            tuning: Tuning::default(),
            id: v.id.clone(),
        }
    }

    /// `v` with explicit parameters `p`, named `id [label]`.
    pub fn with(v: &'v Variant, p: BlockingParams, label: &str) -> Cand<'v> {
        Cand::tuned(v, Tuning::params(Some(p)), label)
    }

    /// `v` with a table entry's choices `t`, named `id [label]`.
    pub fn tuned(v: &'v Variant, t: Tuning, label: &str) -> Cand<'v> {
        Cand {
            v,
            tuning: t,
            id: format!("{} [{label}]", v.id),
        }
    }
}

struct Live<'v> {
    c: &'v Cand<'v>,
    batch: u64,
    samples: Vec<f64>,
    pruned: Option<String>,
}

impl Live<'_> {
    fn median(&self) -> f64 {
        median(&self.samples)
    }
}

/// Two medians within noise: overlapping median ± MAD, or less than `rel` apart.
pub fn within_noise(m1: f64, s1: f64, m2: f64, s2: f64, rel: f64) -> bool {
    let d = (m1 - m2).abs();
    d <= s1 + s2 || d < rel * m1.min(m2)
}

/// Races `variants` on `problem`: each one this CPU can run is verified (when `ctx.verify`),
/// warmed up, calibrated and sampled round-robin. Variants that cannot run here are listed
/// in [`Outcome::skipped`], wrong ones in [`Outcome::excluded`]. There is no parameter to
/// keep a variant out: a caller that wants one left out (e.g. predicted far too slow, as the
/// tuner does) leaves it out of `variants`.
pub fn race(problem: &Problem, variants: &[&Variant], ctx: RaceCtx<'_>) -> Outcome {
    let cands: Vec<Cand> = variants.iter().map(|v| Cand::plain(v)).collect();
    race_cands(problem, &cands, ctx)
}

/// [`race`] over candidates that may carry kernel parameters ([`Cand`]), each verified with
/// its own parameters.
pub fn race_cands(problem: &Problem, cands: &[Cand<'_>], ctx: RaceCtx<'_>) -> Outcome {
    let s = ctx.settings;
    let mut out = Outcome {
        verified_here: ctx.verify,
        ..Outcome::default()
    };
    let mut runner = Runner::new(problem, ctx.cache);
    let mut live: Vec<Live> = Vec::new();
    for c in cands {
        if let Err(why) = c.v.runnable() {
            out.skipped.push((c.id.clone(), why));
            continue;
        }
        if ctx.verify {
            if let Err(why) = problem.verify_with(c.v, c.tuning) {
                out.excluded.push((c.id.clone(), why));
                continue;
            }
        }
        // Warm up (caches, pool, page faults of fresh buffers) and calibrate the batch.
        // Grow the batch until one sample lasts long enough (at most three trials).
        let calibrated = timing::calibrate(&timing::Calibration::at_least(s.sample_ns), |calls| {
            runner.run(c, calls, None)
        });
        match calibrated {
            Ok(batch) => live.push(Live {
                c,
                batch,
                samples: Vec::new(),
                pruned: None,
            }),
            Err(why) => out
                .excluded
                .push((c.id.clone(), format!("failed to run: {why}"))),
        }
    }

    let mut round = 0usize;
    while !live.is_empty() {
        let active: Vec<usize> = (0..live.len())
            .filter(|&i| live[i].pruned.is_none())
            .collect();
        if active.is_empty() {
            break;
        }
        for j in timing::round_robin(active.len(), round) {
            let i = active[j];
            let l = &mut live[i];
            match runner.run(l.c, l.batch, None) {
                Ok(t) => l.samples.push(t / l.batch as f64),
                Err(why) => {
                    l.pruned = Some(format!("failed while timing: {why}"));
                    out.excluded
                        .push((l.c.id.clone(), format!("failed while timing: {why}")));
                }
            }
        }
        round += 1;
        // Prune clear losers.
        let best = live
            .iter()
            .filter(|l| l.pruned.is_none() && !l.samples.is_empty())
            .map(|l| l.median())
            .fold(f64::INFINITY, f64::min);
        if s.prune {
            for l in live
                .iter_mut()
                .filter(|l| l.pruned.is_none() && !ctx.protect.contains(&l.c.id))
            {
                let ratio = l.median() / best;
                let late = round >= s.prune_late_rounds && ratio > s.prune_late_ratio;
                let early = round >= s.prune_early_rounds && ratio > s.prune_early_ratio;
                if late || early {
                    l.pruned = Some(format!(
                        "pruned after {round} samples: {ratio:.2}× the best"
                    ));
                }
            }
        }
        let now = Instant::now();
        if now >= ctx.hard_deadline || round >= s.max_rounds {
            break;
        }
        if round >= s.min_rounds && now >= ctx.soft_deadline {
            break;
        }
        if round >= s.base_rounds && !close_race(&live, s.rel_noise) {
            break;
        }
    }

    // Counters: one untimed pass per contender (within the early-prune ratio of the best).
    let best = live
        .iter()
        .filter(|l| !l.samples.is_empty())
        .map(|l| l.median())
        .fold(f64::INFINITY, f64::min);
    let excluded: Vec<String> = out.excluded.iter().map(|e| e.0.clone()).collect();
    for l in &live {
        if excluded.contains(&l.c.id) || l.samples.is_empty() {
            continue;
        }
        let med = l.median();
        let counters = if s.counters && med <= best * s.prune_early_ratio {
            // At least ~1 ms of calls so that the software clock resolves them.
            let calls = l
                .batch
                .max((1e6 / med.max(1.0)).ceil() as u64)
                .min(l.batch * 20);
            let mut acc = Counts::default();
            let ok = runner.run(l.c, calls, Some((&mut *ctx.source, &mut acc)));
            ok.ok().map(|_| {
                let c = acc.per_call(calls);
                if l.c.v.threads > 1 {
                    c.software_only()
                } else {
                    c
                }
            })
        } else {
            None
        };
        out.results.push(CandResult {
            variant: l.c.id.clone(),
            threads: l.c.v.threads,
            timing: Timing::of(&l.samples),
            batch: l.batch,
            pruned: l.pruned.clone(),
            counters,
            passes: Vec::new(),
        });
    }
    out
}

/// Whether the two best live candidates are within each other's noise.
fn close_race(live: &[Live], rel: f64) -> bool {
    let mut v: Vec<(f64, f64)> = live
        .iter()
        .filter(|l| l.pruned.is_none() && !l.samples.is_empty())
        .map(|l| (l.median(), mad(&l.samples)))
        .collect();
    if v.len() < 2 {
        return false;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    within_noise(v[0].0, v[0].1, v[1].0, v[1].1, rel)
}

/// Work of one call: floating-point operations for MatMul, else bytes moved (every input
/// and output element read or written once), from the op's spec.
pub fn work(op: Op, shape: &backends::Shape) -> f64 {
    op.spec().cost(*shape).work()
}

/// GFLOP/s for MatMul, GB/s otherwise.
pub fn throughput(op: Op, shape: &backends::Shape, ns: f64) -> f64 {
    work(op, shape) / ns
}

/// Variants of `op` whose id contains any of the comma-separated `pattern`s (all if `None`),
/// restricted to `threads` when given.
pub fn candidates(
    op: Op,
    pattern: Option<&str>,
    threads: Option<&[usize]>,
) -> Vec<&'static Variant> {
    let pats: Vec<&str> = pattern
        .map(|p| {
            p.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    backends::catalog()
        .of(op)
        .filter(|v| pats.is_empty() || pats.iter().any(|p| v.id.contains(p)))
        .filter(|v| threads.is_none_or(|t| t.contains(&v.threads)))
        .collect()
}

/// Whether the tuner may choose `v` for a table where the op is called in the form `inplace`
/// (overwriting its first input, as the model calls its bias adds): the memory strategy of
/// MatMul and attention is their scratch, a property of the dispatched call, so every strategy
/// counts; every other op runs in the call form its caller picks, into the caller's buffer,
/// so only the form the call is made in is timed — in place where the workload calls it in
/// place (a preset run knows from `models::calls`), else the pooled form, whose output buffer
/// is reused warm as a caller's is. A table thus never records a form the runtime does not
/// execute there.
pub fn tunable(v: &Variant, inplace: bool) -> bool {
    match v.op.shape_kind() {
        ShapeKind::MatMul | ShapeKind::Attention => true,
        ShapeKind::Elems | ShapeKind::Rows => {
            let form = if inplace && v.op.has_inplace() {
                Memory::InPlace
            } else {
                Memory::Pooled
            };
            v.memory == form
        }
    }
}

/// Whether a variant writes in place (for notes).
pub fn is_inplace(v: &Variant) -> bool {
    v.memory == Memory::InPlace
}

/// A deadline `d` from now.
pub fn after(d: Duration) -> Instant {
    Instant::now() + d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_race_rotates_matmul_weights_over_the_working_set_only() {
        let cold = CacheState::Cold { bytes: 14_000_000 };
        // A 256×768 weight (786,432 bytes) needs 18 copies to span 14 MB.
        assert_eq!(cold.copies(Op::Matmul, 786_432), 18);
        // An operand already larger than the working set is cold by itself.
        assert_eq!(cold.copies(Op::Matmul, 20_000_000), 1);
        // Tiny operands stop at the cap rather than allocating without bound.
        assert_eq!(cold.copies(Op::Matmul, 4), MAX_COPIES);
        // Only MatMul has a weight operand; element-wise and row ops stay warm.
        assert_eq!(cold.copies(Op::AddBias, 1024), 1);
        assert_eq!(CacheState::Warm.copies(Op::Matmul, 1024), 1);
        assert_eq!(CacheState::Warm.describe(Op::Matmul, 1024), None);
        let d = cold.describe(Op::Matmul, 786_432).unwrap();
        assert!(d.contains("18 copies") && d.contains("14.2 MB"), "{d}");
    }

    #[test]
    fn the_rotation_visits_every_copy_once_per_cycle() {
        let g = kernels::matmul::Gemm::new(1, 8, 8);
        let p = backends::problem::matmul_problem(g, 1.0, 0.0, 3);
        let mut r = Runner::new(&p, CacheState::Cold { bytes: 4 * 64 * 5 });
        assert_eq!(r.rotation.len(), 4, "five copies of a 256-byte B");
        let mut seen = Vec::new();
        for _ in 0..10 {
            r.rotate();
            seen.push(r.problem.inputs[1].as_ptr() as usize);
        }
        let mut first: Vec<usize> = seen[..5].to_vec();
        first.sort_unstable();
        first.dedup();
        assert_eq!(first.len(), 5, "five distinct buffers in a cycle");
        assert_eq!(seen[..5], seen[5..], "the same order every cycle");
        // Every copy holds the same values, so verification against one is valid for all.
        for c in &r.rotation {
            assert_eq!(&c[..], &p.inputs[1][..]);
        }
    }
}
