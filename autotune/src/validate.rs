//! `autotune validate`: a table's choices on held-out sizes (shapes the tuner's grid never
//! measures) against every fixed variant and against the per-size best (the oracle), all
//! timed in one run, so the comparison is of ratios measured side by side.
//!
//! For each held-out shape every runnable variant a table could choose in the dispatched
//! variant's call form races (`measure::tunable`: an in-place variant writes half the bytes of
//! an out-of-place one, so the two forms are not compared), with the usual pruning (a pruned
//! variant's figure comes from its first samples); the dispatched variant is always timed.
//! Reported: dispatched ÷ oracle per shape, its geometric mean and worst case, and per op the
//! best single fixed variant's geometric mean ÷ oracle — "could one variant per op have done
//! as well as the table?".

use crate::args::{self, ValidateArgs};
use crate::failure::Failure;
use crate::measure::{self, RaceCtx, Settings};
use crate::plan;
use backends::problem::Problem;
use backends::timing::{fmt_ns, geomean};
use backends::Op;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One held-out shape.
#[derive(Debug, Clone, Serialize)]
pub struct ShapeResult {
    pub op: String,
    pub shape: String,
    pub dispatched: String,
    pub dispatched_ns: f64,
    pub oracle: String,
    pub oracle_ns: f64,
    /// Every variant's median, ns.
    pub variants: BTreeMap<String, f64>,
}

/// Per-op summary.
#[derive(Debug, Clone, Serialize)]
pub struct OpSummary {
    pub op: String,
    pub shapes: usize,
    pub dispatched_geomean: f64,
    pub dispatched_worst: f64,
    pub best_fixed: String,
    pub best_fixed_geomean: f64,
    pub best_fixed_worst: f64,
}

/// The whole validation.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub table: String,
    pub shapes: Vec<ShapeResult>,
    pub ops: Vec<OpSummary>,
    /// Geometric mean over all shapes of dispatched ÷ oracle.
    pub dispatched_vs_oracle: f64,
    pub dispatched_worst: f64,
    /// Geometric mean over all shapes of (each op's best fixed variant) ÷ oracle.
    pub best_fixed_vs_oracle: f64,
    /// Geometric mean over all shapes of dispatched ÷ (each op's best fixed variant).
    pub dispatched_vs_best_fixed: f64,
}

pub fn command(a: &ValidateArgs) -> Result<(), Failure> {
    crate::guard::apply_max_memory(a.max_memory.as_deref())?;
    let ops = args::parse_ops(&a.ops)?;
    let threads = args::parse_threads(&a.threads)?;
    if let Some(p) = &a.json_out {
        crate::guard::output_file("--json-out", p)?;
    }
    let d = args::load_dispatcher(&a.dispatch, a.allow_foreign)?;
    let budget = Duration::from_secs_f64(a.budget.unwrap_or(if a.quick { 40.0 } else { 240.0 }));
    let mut source = args::open_counters()?;
    args::warm_pools();
    let mut settings = if a.quick {
        Settings::quick()
    } else {
        Settings::standard()
    };
    settings.counters = false;
    let start = Instant::now();
    let end = start + budget;
    let tasks: Vec<(Op, backends::Shape)> = ops
        .iter()
        .flat_map(|&op| plan::heldout(op, a.quick).into_iter().map(move |s| (op, s)))
        .collect();
    for (op, shape) in &tasks {
        crate::guard::race_footprint(*op, shape)?;
    }
    let mut shapes = Vec::new();
    for (i, &(op, shape)) in tasks.iter().enumerate() {
        let now = Instant::now();
        if now >= end {
            eprintln!(
                "validate: budget spent; {} shapes left out",
                tasks.len() - i
            );
            break;
        }
        let soft = crate::tune::fair_share(now, end, tasks.len() - i);
        let problem = Problem::random(op, shape, a.seed).map_err(Failure::run)?;
        let chosen = d.lookup(op, shape.key()).variant();
        // The variants a table could choose in the call form of the dispatched one (an
        // in-place form writes half the bytes of an out-of-place one: they are not compared).
        let inplace = chosen.memory == backends::Memory::InPlace;
        let mut cands = measure::candidates(op, None, threads.as_deref());
        cands.retain(|v| v.runnable().is_ok() && measure::tunable(v, inplace));
        if !cands.iter().any(|v| v.id == chosen.id) {
            cands.push(chosen);
        }
        let protect = vec![chosen.id.clone()];
        let outcome = measure::race(
            &problem,
            &cands,
            RaceCtx::new(&settings, source.as_mut(), soft, end).protect(&protect),
        );
        let Some(best) = outcome.best() else {
            continue;
        };
        let Some(disp) = outcome.get(&chosen.id) else {
            eprintln!(
                "validate: {op} {shape}: the dispatched {} did not run",
                chosen.id
            );
            continue;
        };
        let r = ShapeResult {
            op: op.name().into(),
            shape: shape.to_string(),
            dispatched: chosen.id.clone(),
            dispatched_ns: disp.timing.median_ns,
            oracle: best.variant.clone(),
            oracle_ns: best.timing.median_ns,
            variants: outcome
                .results
                .iter()
                .map(|r| (r.variant.clone(), r.timing.median_ns))
                .collect(),
        };
        eprintln!(
            "[{:>3}/{}] {op} {shape}: dispatched {} {} = {:.3}× oracle ({} {})",
            i + 1,
            tasks.len(),
            r.dispatched,
            fmt_ns(r.dispatched_ns),
            r.dispatched_ns / r.oracle_ns,
            r.oracle,
            fmt_ns(r.oracle_ns)
        );
        shapes.push(r);
    }
    if shapes.is_empty() {
        return Err(Failure::run("no held-out shape was measured"));
    }
    let v = summarize(&a.dispatch.display().to_string(), shapes);
    let json = || serde_json::to_string_pretty(&v).unwrap_or_default();
    if a.json {
        println!("{}", json());
    } else {
        print(&v);
    }
    if let Some(p) = &a.json_out {
        crate::guard::write_file(p, json().as_bytes()).map_err(Failure::run)?;
    }
    Ok(())
}

/// Summaries of per-shape results.
pub fn summarize(table: &str, shapes: Vec<ShapeResult>) -> Validation {
    let mut ops = Vec::new();
    let mut disp_all = Vec::new();
    let mut fixed_all = Vec::new();
    let mut vs_fixed_all = Vec::new();
    let mut names: Vec<&str> = shapes.iter().map(|s| s.op.as_str()).collect();
    names.dedup();
    for op in names {
        let rs: Vec<&ShapeResult> = shapes.iter().filter(|s| s.op == op).collect();
        let disp: Vec<f64> = rs.iter().map(|r| r.dispatched_ns / r.oracle_ns).collect();
        // Fixed variants timed at every shape of the op.
        let mut best: Option<(String, f64, Vec<f64>)> = None;
        for id in rs[0].variants.keys() {
            let ratios: Option<Vec<f64>> = rs
                .iter()
                .map(|r| r.variants.get(id).map(|ns| ns / r.oracle_ns))
                .collect();
            let Some(ratios) = ratios else { continue };
            let g = geomean(&ratios);
            if best.as_ref().is_none_or(|b| g < b.1) {
                best = Some((id.clone(), g, ratios));
            }
        }
        let (bf, bg, br) = best.unwrap_or_else(|| ("-".into(), f64::NAN, vec![]));
        disp_all.extend(&disp);
        fixed_all.extend(&br);
        vs_fixed_all.extend(disp.iter().zip(&br).map(|(d, f)| d / f));
        ops.push(OpSummary {
            op: op.into(),
            shapes: rs.len(),
            dispatched_geomean: geomean(&disp),
            dispatched_worst: disp.iter().copied().fold(0.0, f64::max),
            best_fixed: bf,
            best_fixed_geomean: bg,
            best_fixed_worst: br.iter().copied().fold(0.0, f64::max),
        });
    }
    Validation {
        table: table.into(),
        dispatched_vs_oracle: geomean(&disp_all),
        dispatched_worst: disp_all.iter().copied().fold(0.0, f64::max),
        best_fixed_vs_oracle: geomean(&fixed_all),
        dispatched_vs_best_fixed: geomean(&vs_fixed_all),
        shapes,
        ops,
    }
}

fn print(v: &Validation) {
    println!(
        "\nvalidation of {} on held-out sizes (time ÷ per-size best; 1.000 = oracle)\n",
        v.table
    );
    println!(
        "{:<20} {:>6} {:>10} {:>8}   {:<38} {:>10} {:>8}",
        "op", "shapes", "table gm", "worst", "best single fixed variant", "fixed gm", "worst"
    );
    for o in &v.ops {
        println!(
            "{:<20} {:>6} {:>10.3} {:>8.3}   {:<38} {:>10.3} {:>8.3}",
            o.op,
            o.shapes,
            o.dispatched_geomean,
            o.dispatched_worst,
            o.best_fixed,
            o.best_fixed_geomean,
            o.best_fixed_worst
        );
    }
    println!(
        "\nall {} shapes: table {:.3}× oracle (geometric mean), worst {:.3}×; best fixed variant per op {:.3}× oracle; table vs best fixed {:.3}×",
        v.shapes.len(),
        v.dispatched_vs_oracle,
        v.dispatched_worst,
        v.best_fixed_vs_oracle,
        v.dispatched_vs_best_fixed
    );
}
