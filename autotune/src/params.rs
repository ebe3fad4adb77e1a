//! Kernel parameters as a tuned dimension: after the per-call selection, every MatMul range
//! gets the parameters of the project's own SIMD SGEMM (AVX2 or AVX-512: the variant the range
//! chose when that takes parameters, else the fastest of them raced there) searched at the
//! range's measured shape, in the cache state its race used. The table entry records them
//! (table version 2) only when they beat the kernel's own defaults beyond the noise; a range
//! that chose another implementation (a peer crate) changes hands only when the own kernel
//! with its best parameters beats that choice beyond the noise in the same races.
//!
//! The search is local and bounded: it starts from the kernel's defaults on this machine
//! (the analytical blocking model of `kernels::matmul::blocking`, and the ISA's one-row sweep),
//! and tries one dimension at a time, keeping the best before the next:
//! * a decoded row (m = 1, B not transposed): the other one-row sweeps (row stream, column
//!   windows, row stream prefetching a pass ahead), whose speed depends on the machine and on
//!   where the weights live, then for a stream 4 and 6 rows of B a pass instead of 8, for
//!   column windows 4 vectors fewer and more a window than the default 12;
//! * a few rows (up to the kernel's unpacked limit, B not transposed): the other ways of
//!   computing them (unpacked, unpacked in slabs of B's rows with the next prefetched,
//!   packed: `kernels::matmul::FewRows`), then, if packed, the packed steps below;
//! * a packed product: the kernel's other micro-tiles (each with the model's blocking for it),
//!   then `kc` halved and doubled, then `mc` halved and doubled (multiples of the micro-tile),
//!   then `nc` halved when the product is wider than one `nc` block.
//!
//! Each step is one race of at most three contenders (the best so far first; the range's own
//! choice joins the first step) through the same engine as every other race
//! ([`crate::measure::race_cands`]), outputs verified with the parameters first. Other shapes
//! (a few rows unpacked, tiny products) take no search.

use crate::counters::CounterSource;
use crate::measure::{self, Cand, RaceCtx};
use crate::tune::{shapes_at, Config, PointRecord, Progress, Run};
use backends::problem::Problem;
use backends::spec::matmul::{Matmul, Tunable};
use backends::spec::Registered;
use backends::table::{Entry, Params, Table};
use backends::{catalog, Op, Shape, Variant};
use kernels::matmul::blocking::SLAB_ROWS;
use kernels::matmul::{BlockingParams, FewRows, Gemm, RowSweep};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One contender of a search step: its parameters and figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// What differs from the defaults (`defaults`, `kc 256`, `one row: stream`, ...).
    pub label: String,
    pub params: Params,
    pub median_ns: f64,
    pub spread_ns: f64,
}

/// The search of one table entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Search {
    /// Index of the entry in the table.
    pub entry: usize,
    pub variant: String,
    pub shape: String,
    /// `one row` or `packed`.
    pub kind: String,
    /// Every contender raced, the defaults first (a contender raced in two steps is listed
    /// once per step).
    pub trials: Vec<Trial>,
    /// The entry's choice when it was another implementation: its id and median in the
    /// first step's race.
    pub rival: Option<(String, f64)>,
    /// The parameters written to the entry; `None`: the defaults stood (or the rival kept
    /// the entry).
    pub chosen: Option<Params>,
    /// Whether the searched kernel holds the entry afterwards.
    pub took: bool,
    pub note: String,
}

/// Whether `p` packs the product `g` (it asks for scratch then).
fn packs(t: &Tunable, p: &BlockingParams, g: &Gemm) -> bool {
    (t.scratch_len_with)(p, g).is_ok_and(|n| n > 0)
}

/// What can be searched at `g` for a kernel with `t`'s forms: the one-row sweep for a
/// decoded row; for a few rows that the kernel can compute unpacked or packed, that choice
/// (then the blocking, if packed); the blocking for another packed product; nothing
/// otherwise.
fn kind(t: &Tunable, g: &Gemm) -> Option<&'static str> {
    let d = (t.default_params)();
    let with = |few| BlockingParams { few, ..d };
    if g.m == 1 && !g.trans_b {
        Some("one row")
    } else if packs(t, &with(FewRows::Packed), g) && !packs(t, &with(FewRows::Unpacked), g) {
        Some("few rows")
    } else if packs(t, &d, g) {
        Some("packed")
    } else {
        None
    }
}

/// Steps of the search of each kind.
fn steps(kind: &str) -> usize {
    match kind {
        "one row" => 2,
        "few rows" => 5,
        _ => 4,
    }
}

/// The rows a pass of the row stream the search tries besides the kernel's default (8): a
/// few streams of B in flight instead of eight, which read some shapes faster and others
/// slower (`kernels::matmul::blocking::STREAM_ROWS`).
const STREAM_ROWS_TRIED: [usize; 2] = [4, 6];

/// How many vectors fewer and more a window the search tries besides the current column
/// window (`kernels::matmul::blocking::WINDOW`: 8 and 16 around the default 12).
const WINDOW_STEP: usize = 4;

/// The neighbours of `p` in one dimension (`step` 0: the kernel's other micro-tiles with the
/// model's blocking for each, 1: kc, 2: mc, 3: nc) that `t` accepts, with their labels; for
/// a one-row product, the other sweeps (step 0), then the stream's rows a pass or the
/// windows' width (step 1).
fn neighbours(
    t: &Tunable,
    p: &BlockingParams,
    g: &Gemm,
    kind: &str,
    step: usize,
) -> Vec<(String, BlockingParams)> {
    let ok = |q: &BlockingParams| q.check(t.tiles).is_ok() && q != p;
    let mut out: Vec<(String, BlockingParams)> = Vec::new();
    if kind == "one row" {
        let sweep = (t.sweep_for)(p, g);
        match step {
            // The other sweeps, but none that reads this shape as the current one already
            // does (`by_level` is windows or a stream here).
            0 => {
                for row in RowSweep::CONCRETE.into_iter().filter(|&r| r != sweep) {
                    let q = BlockingParams { row, ..*p };
                    if ok(&q) {
                        out.push((format!("one row: {}", row.name()), q));
                    }
                }
            }
            // Fewer rows of B a pass, where this shape is streamed.
            1 if matches!(sweep, RowSweep::Stream | RowSweep::StreamAhead) => {
                for rows in STREAM_ROWS_TRIED {
                    let q = BlockingParams { rows, ..*p };
                    if ok(&q) {
                        out.push((format!("{rows} rows a pass"), q));
                    }
                }
            }
            // Narrower and wider column windows, where this shape is swept in windows and
            // is wider than one cache line (else every window is that line).
            1 if sweep == RowSweep::Windows && g.n > 16 => {
                let w = p.window;
                for window in [w.saturating_sub(WINDOW_STEP), w + WINDOW_STEP] {
                    let q = BlockingParams { window, ..*p };
                    if ok(&q) {
                        out.push((format!("windows of {window} vectors"), q));
                    }
                }
            }
            _ => {}
        }
        return out;
    }
    if kind == "few rows" {
        // Step 0: the other way (unpacked or packed) than the current parameters take
        // here; then, if packed, the packed steps.
        if step == 0 {
            let now = if packs(t, p, g) {
                FewRows::Packed
            } else {
                p.few_for(g)
            };
            for few in FewRows::CONCRETE {
                let q = BlockingParams { few, ..*p };
                // Slabs of a product no deeper than one slab are the plain unpacked path.
                let same = few == FewRows::Slabs && g.k <= SLAB_ROWS;
                if few != now && !same && ok(&q) {
                    out.push((format!("a few rows {}", few.name()), q));
                }
            }
            return out;
        }
        if !packs(t, p, g) {
            return out;
        }
        return neighbours(t, p, g, "packed", step - 1);
    }
    let (mr, nr) = (p.mr, p.nr);
    match step {
        0 => {
            for &(tm, tn) in t.tiles.iter().filter(|&&tile| tile != (mr, nr)) {
                if let Some(q) = (t.params_for)(tm, tn).map(|q| BlockingParams { row: p.row, ..q })
                {
                    if ok(&q) {
                        out.push((format!("tile {tm}×{tn}"), q));
                    }
                }
            }
        }
        1 => {
            for kc in [p.kc / 2 / 16 * 16, p.kc * 2] {
                let q = BlockingParams { kc, ..*p };
                if kc >= 16 && kc <= g.k.max(16) * 2 && ok(&q) {
                    out.push((format!("kc {kc}"), q));
                }
            }
        }
        2 => {
            for mc in [(p.mc / 2 / mr).max(1) * mr, p.mc * 2] {
                let q = BlockingParams { mc, ..*p };
                if mc <= g.m.max(mr) * 2 && ok(&q) {
                    out.push((format!("mc {mc}"), q));
                }
            }
        }
        _ => {
            let nc = (p.nc / 2 / nr).max(1) * nr;
            let q = BlockingParams { nc, ..*p };
            if g.n > nc && ok(&q) {
                out.push((format!("nc {nc}"), q));
            }
        }
    }
    out
}

/// The tunable variant to search for `e`: its own variant when that takes parameters, else
/// the fastest one that does among those raced at `shape` (the per-call race may have chosen
/// a peer crate that the own kernel, with parameters, then beats).
fn own_variant(e: &Entry, recs: &[&PointRecord]) -> Option<(&'static Variant, Tunable)> {
    let tunable = |id: &str| {
        let (_, v) = catalog().find(id)?;
        let t = Matmul::unwrap(&v.kernel)?.tunable?;
        v.runnable().is_ok().then_some((v, t))
    };
    tunable(&e.variant).or_else(|| {
        recs.iter()
            .flat_map(|p| p.outcome.results.iter())
            .filter(|r| r.timing.median_ns.is_finite())
            .filter_map(|r| tunable(&r.variant).map(|vt| (r.timing.median_ns, vt)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, vt)| vt)
    })
}

/// Searches the parameters of the own SIMD kernel of every MatMul entry of `table` (see
/// the module docs), until `deadline`. Where the entry's variant takes parameters, the
/// winners are written into the entry when they differ from the defaults; where the entry
/// chose another implementation, the own kernel with its best parameters replaces it only
/// when it is faster beyond the noise in the same races. Returns one record per search.
pub fn search(
    table: &mut Table,
    run: &Run,
    cfg: &Config,
    source: &mut dyn CounterSource,
    progress: &mut Progress,
    deadline: Instant,
) -> Vec<Search> {
    let mut out = Vec::new();
    let todo: Vec<usize> = (0..table.entries.len())
        .filter(|&i| table.entries[i].op == Op::Matmul.name())
        .collect();
    progress.add(todo.len() as u64);
    for (j, i) in todo.iter().copied().enumerate() {
        let e = table.entries[i].clone();
        let label = format!("matmul {} ({})", e.variant, e.bucket.name());
        let size = e.evidence.measured_size.unwrap_or(e.min);
        let recs = shapes_at(run, Op::Matmul, e.bucket, size);
        let Some(shape) = recs.first().map(|p| p.shape()) else {
            progress.end(&format!("{label}: no measured shape"));
            continue;
        };
        let Shape::MatMul(g) = shape else { continue };
        let Some((own, t)) = own_variant(&e, &recs) else {
            progress.end(&format!(
                "{label}: no kernel that takes parameters ran here"
            ));
            continue;
        };
        let Some(kind) = kind(&t, &g) else {
            progress.end(&format!("{label} at {shape}: nothing to search"));
            continue;
        };
        let chosen = catalog()
            .find(&e.variant)
            .map(|(_, v)| v)
            .filter(|v| v.id != own.id);
        let now = Instant::now();
        if now >= deadline {
            progress.end(&format!("{label}: not searched (budget spent)"));
            continue;
        }
        progress.begin(&format!(
            "{label} at {shape}: {kind} parameters of {}",
            own.id
        ));
        let soft = crate::tune::fair_share(now, deadline, todo.len() - j);
        let Ok(problem) = Problem::random(Op::Matmul, shape, cfg.seed) else {
            continue;
        };
        let defaults = (t.default_params)();
        let (mut best, mut best_label) = (defaults, "defaults".to_string());
        let mut best_fig: Option<(f64, f64)> = None;
        // What the last winner beat, in its own race: the incumbent's label and median.
        let mut beaten: Option<(String, f64)> = None;
        let mut chosen_fig: Option<(f64, f64)> = None;
        let mut trials = Vec::new();
        let steps = steps(kind);
        for step in 0..steps {
            let nb = neighbours(&t, &best, &g, kind, step);
            if nb.is_empty() {
                continue;
            }
            let mut cands = vec![Cand::with(own, best, &best_label)];
            cands.extend(nb.iter().map(|(l, q)| Cand::with(own, *q, l)));
            // The entry's own choice races the first step, so the comparison is in one run.
            let rival = chosen.filter(|_| chosen_fig.is_none()).map(Cand::plain);
            cands.extend(rival.clone());
            let step_soft = crate::tune::fair_share(Instant::now(), soft, steps - step);
            let o = race_step(&problem, &cands, cfg, &mut *source, (step_soft, deadline));
            if let Some(r) = rival.and_then(|c| o.get(&c.id)) {
                chosen_fig = Some((r.timing.median_ns, r.timing.spread_ns));
            }
            let labels =
                std::iter::once(best_label.clone()).chain(nb.iter().map(|(l, _)| l.clone()));
            for (c, l) in cands.iter().zip(labels) {
                if let Some(r) = o.get(&c.id) {
                    trials.push(Trial {
                        label: l,
                        params: Params::of(&c.tuning.params.unwrap_or(defaults)),
                        median_ns: r.timing.median_ns,
                        spread_ns: r.timing.spread_ns,
                    });
                }
            }
            // A neighbour replaces the best so far only when faster beyond the noise.
            let Some(base) = o.get(&cands[0].id).cloned() else {
                break;
            };
            best_fig = Some((base.timing.median_ns, base.timing.spread_ns));
            let winner = nb
                .iter()
                .zip(&cands[1..])
                .filter_map(|((l, q), c)| o.get(&c.id).map(|r| (l, q, r)))
                .filter(|(_, _, r)| faster(cfg, (r.timing.median_ns, r.timing.spread_ns), best_fig))
                .min_by(|a, b| a.2.timing.median_ns.total_cmp(&b.2.timing.median_ns));
            if let Some((l, q, r)) = winner {
                beaten = Some((best_label.clone(), base.timing.median_ns));
                best = *q;
                best_fig = Some((r.timing.median_ns, r.timing.spread_ns));
                best_label = if best_label == "defaults" {
                    l.clone()
                } else {
                    format!("{best_label}, {l}")
                };
            }
        }
        let Some((best_ns, _)) = best_fig else {
            progress.end(&format!("{label}: the search did not run"));
            continue;
        };
        // The own kernel takes the entry only from another implementation it beats.
        let take = chosen.is_none() || faster(cfg, best_fig.unwrap_or_default(), chosen_fig);
        let params = (take && best != defaults).then(|| Params::of(&best));
        let note = match (chosen, take) {
            (Some(c), true) => format!(
                "kernel parameters searched at {shape} ({kind}): {} with {best_label} took the range from {}, {} against {}",
                own.id,
                c.id,
                backends::timing::fmt_ns(best_ns),
                chosen_fig.map_or("-".into(), |f| backends::timing::fmt_ns(f.0))
            ),
            (Some(c), false) => format!(
                "kernel parameters searched at {shape} ({kind}): {} with {best_label} ({}) did not beat {} ({}) beyond the noise",
                own.id,
                backends::timing::fmt_ns(best_ns),
                c.id,
                chosen_fig.map_or("-".into(), |f| backends::timing::fmt_ns(f.0))
            ),
            // Both figures from one race (the host drifts between races).
            (None, _) if params.is_some() => {
                let (with, ns) = beaten.clone().unwrap_or(("the defaults".into(), f64::NAN));
                format!(
                    "kernel parameters tuned at {shape} ({kind}): {best_label}, {} against {} with {with} in the same race",
                    backends::timing::fmt_ns(best_ns),
                    backends::timing::fmt_ns(ns)
                )
            }
            (None, _) => format!(
                "kernel parameters searched at {shape} ({kind}): the defaults stood ({} trials)",
                trials.len()
            ),
        };
        let entry = &mut table.entries[i];
        if take {
            entry.variant = own.id.clone();
            entry.params = params;
        }
        append_note(&mut entry.evidence, &note);
        progress.end(&format!("{label}: {note}"));
        out.push(Search {
            entry: i,
            variant: own.id.clone(),
            shape: shape.to_string(),
            kind: kind.into(),
            rival: chosen.map(|c| (c.id.clone(), chosen_fig.unwrap_or_default().0)),
            trials,
            chosen: params,
            took: take,
            note,
        });
    }
    out
}

/// One race of a search step (this module's, or the thread splits'): `cands` from an empty
/// buffer pool, verified with their choices, none pruned, in the cache state of the run's
/// races, until the soft and hard deadlines `(soft, hard)`.
pub(crate) fn race_step(
    problem: &Problem,
    cands: &[Cand<'_>],
    cfg: &Config,
    source: &mut dyn CounterSource,
    (soft, hard): (Instant, Instant),
) -> measure::Outcome {
    backends::pool::clear();
    measure::race_cands(
        problem,
        cands,
        RaceCtx::new(&cfg.settings, source, soft, hard)
            .verify(true)
            .protect(&cands.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
            .cache(cfg.cache()),
    )
}

/// Appends `note` to an entry's evidence notes (`; `-separated).
pub(crate) fn append_note(ev: &mut backends::table::Evidence, note: &str) {
    ev.note = Some(match ev.note.take() {
        Some(n) => format!("{n}; {note}"),
        None => note.to_string(),
    });
}

/// Whether figures `a` (median, spread) beat `b` beyond the noise (`b` absent: yes).
pub(crate) fn faster(cfg: &Config, a: (f64, f64), b: Option<(f64, f64)>) -> bool {
    b.is_none_or(|b| {
        a.0 < b.0 && !measure::within_noise(a.0, a.1, b.0, b.1, cfg.settings.rel_noise)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avx2() -> Tunable {
        Matmul::unwrap(
            &catalog()
                .find("matmul/avx2/pooled/t1")
                .expect("avx2 registered")
                .1
                .kernel,
        )
        .and_then(|k| k.tunable)
        .expect("avx2 takes parameters")
    }

    /// The neighbourhood: the other sweeps for a decoded row, then the stream's rows a pass
    /// or the windows' width; kc, mc and nc halved and doubled within what the kernel
    /// accepts and the shape can use; never the point itself.
    #[test]
    fn neighbours_stay_valid_and_local() {
        let t = avx2();
        let p = BlockingParams {
            mr: 6,
            nr: 16,
            kc: 256,
            mc: 96,
            nc: 1536,
            row: RowSweep::Stream,
            rows: 8,
            few: FewRows::ByLevel,
            window: 12,
        };
        let decode = Gemm::new(1, 256, 768);
        let row: Vec<RowSweep> = neighbours(&t, &p, &decode, "one row", 0)
            .iter()
            .map(|n| n.1.row)
            .collect();
        assert_eq!(row, [RowSweep::Windows, RowSweep::StreamAhead]);
        let rows: Vec<usize> = neighbours(&t, &p, &decode, "one row", 1)
            .iter()
            .map(|n| n.1.rows)
            .collect();
        assert_eq!(rows, [4, 6]);
        let windows = BlockingParams {
            row: RowSweep::Windows,
            ..p
        };
        let widths = |p: &BlockingParams, g: &Gemm| -> Vec<usize> {
            neighbours(&t, p, g, "one row", 1)
                .iter()
                .map(|n| n.1.window)
                .collect()
        };
        assert_eq!(widths(&windows, &decode), [8, 16]);
        // Within what the kernel accepts (1..=16).
        let widest = BlockingParams {
            window: 16,
            ..windows
        };
        assert_eq!(widths(&widest, &decode), [12]);
        // `by_level` sweeps windows over a B of 1 KiB and streams 64 MiB, on any machine; a
        // row of one cache line has one window whatever its width.
        let by_level = BlockingParams {
            row: RowSweep::ByLevel,
            ..p
        };
        assert!(neighbours(&t, &by_level, &Gemm::new(1, 16, 16), "one row", 1).is_empty());
        assert_eq!(widths(&by_level, &Gemm::new(1, 16, 64)), [8, 16]);
        let row: Vec<RowSweep> = neighbours(&t, &by_level, &Gemm::new(1, 16, 16), "one row", 0)
            .iter()
            .map(|n| n.1.row)
            .collect();
        assert_eq!(row, [RowSweep::Stream, RowSweep::StreamAhead]);
        let rows: Vec<usize> = neighbours(&t, &by_level, &Gemm::new(1, 4096, 4096), "one row", 1)
            .iter()
            .map(|n| n.1.rows)
            .collect();
        assert_eq!(rows, [4, 6]);
        assert!(neighbours(&t, &p, &decode, "one row", 2).is_empty());
        let big = Gemm::new(512, 512, 2048);
        let tiles: Vec<(usize, usize)> = neighbours(&t, &p, &big, "packed", 0)
            .iter()
            .map(|n| (n.1.mr, n.1.nr))
            .collect();
        assert_eq!(tiles, [(3, 24)]);
        let kc: Vec<usize> = neighbours(&t, &p, &big, "packed", 1)
            .iter()
            .map(|n| n.1.kc)
            .collect();
        assert_eq!(kc, [128, 512]);
        let mc: Vec<usize> = neighbours(&t, &p, &big, "packed", 2)
            .iter()
            .map(|n| n.1.mc)
            .collect();
        assert_eq!(mc, [48, 192]);
        let nc: Vec<usize> = neighbours(&t, &p, &big, "packed", 3)
            .iter()
            .map(|n| n.1.nc)
            .collect();
        assert_eq!(nc, [768]);
        // A product narrower than one nc block has no nc step; one much shallower than kc
        // (whose depth clamps kc anyway) no kc step.
        assert!(neighbours(&t, &p, &Gemm::new(64, 64, 64), "packed", 3).is_empty());
        assert!(neighbours(&t, &p, &Gemm::new(64, 32, 64), "packed", 1).is_empty());
        for step in 0..4 {
            for (_, q) in neighbours(&t, &p, &big, "packed", step) {
                assert!(q.check(t.tiles).is_ok() && q != p);
            }
        }
    }

    /// What is searched: the sweep of a decoded row; for a few rows the kernel may compute
    /// unpacked or packed, that choice; the blocking of a packed product; nothing for a
    /// tiny product (always unpacked) or a few rows of a transposed B (always packed, no
    /// choice but the blocking).
    #[test]
    fn kinds_follow_the_plan() {
        let t = avx2();
        assert_eq!(kind(&t, &Gemm::new(1, 256, 1024)), Some("one row"));
        assert_eq!(kind(&t, &Gemm::new(512, 512, 512)), Some("packed"));
        assert_eq!(kind(&t, &Gemm::new(10, 256, 768)), Some("few rows"));
        assert_eq!(kind(&t, &Gemm::new(3, 16, 16)), None);
        assert_eq!(
            kind(&t, &Gemm::new(10, 256, 768).with_trans(false, true)),
            Some("packed")
        );
        // Beyond the rows AVX2 reads in place by default (12) a table may still ask for
        // them in place (up to 64); beyond that, only the blocking.
        assert_eq!(kind(&t, &Gemm::new(13, 256, 768)), Some("few rows"));
        assert_eq!(kind(&t, &Gemm::new(65, 256, 768)), Some("packed"));
    }

    /// The few-row step tries the other ways than the one the shape takes now (slabs only
    /// where k spans more than one slab), then the packed steps once packed.
    #[test]
    fn few_row_neighbours_are_the_other_ways() {
        let t = avx2();
        let d = (t.default_params)();
        let ways = |p: &BlockingParams, g: &Gemm| -> Vec<FewRows> {
            neighbours(&t, p, g, "few rows", 0)
                .iter()
                .map(|n| n.1.few)
                .collect()
        };
        let deep = Gemm::new(10, 256, 768);
        let unpacked = BlockingParams {
            few: FewRows::Unpacked,
            ..d
        };
        assert_eq!(ways(&unpacked, &deep), [FewRows::Slabs, FewRows::Packed]);
        let packed = BlockingParams {
            few: FewRows::Packed,
            ..d
        };
        assert_eq!(ways(&packed, &deep), [FewRows::Unpacked, FewRows::Slabs]);
        let shallow = Gemm::new(10, SLAB_ROWS, 768);
        assert_eq!(ways(&unpacked, &shallow), [FewRows::Packed]);
        assert_eq!(ways(&packed, &shallow), [FewRows::Unpacked]);
        // Packed: the packed steps follow (step 1 = the other micro-tile); unpacked: none.
        assert!(!neighbours(&t, &packed, &deep, "few rows", 1).is_empty());
        assert!(neighbours(&t, &unpacked, &deep, "few rows", 1).is_empty());
    }
}
