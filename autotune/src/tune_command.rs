//! The tuning command (`autotune`, `autotune tune`): checks every output location, runs the
//! tuning ([`crate::tune::run`]), accepts the table end to end for a preset
//! ([`crate::endtoend`]), and writes the table and its report ([`crate::report`]). Kept apart
//! from `tune` so that the report, which reads a run's records, and the run do not import
//! each other.

use crate::args::{self, TuneArgs};
use crate::failure::Failure;
use crate::tune::{build_table, planned_shapes, report_paths, run, selections, Config, Progress};
use backends::table::Table;
use std::collections::BTreeMap;
use std::time::Instant;

/// The share of a preset run's budget the in-context timing ([`crate::context`]) takes.
const CONTEXT_SHARE: f64 = 0.2;

/// The share of the budget the kernel-parameter search ([`crate::params`]) takes after the
/// per-call run.
const PARAMS_SHARE: f64 = 0.12;

/// The share of the budget the thread-split races ([`crate::split`]) take after the
/// parameter search.
const SPLIT_SHARE: f64 = 0.04;

/// A phase after the selection that searches the table's entries with `share` of the budget
/// (none when 0), behind its own progress bar; `search` gets the bar and the deadline and
/// returns its records and a line saying what it did.
fn table_phase<T>(
    share: f64,
    cfg: &Config,
    search: impl FnOnce(&mut Progress, Instant) -> (Vec<T>, String),
) -> Vec<T> {
    if share <= 0.0 {
        return Vec::new();
    }
    let deadline = Instant::now() + cfg.budget.mul_f64(share);
    let mut progress = Progress::auto();
    let (records, said) = search(&mut progress, deadline);
    progress.finish();
    eprintln!("autotune: {said}");
    records
}

/// The end-to-end race of `candidate` for `preset` ([`crate::endtoend`]): the outcome and
/// the table to write (the candidate, or the contender that beat it on the workload).
fn end_to_end(
    candidate: &Table,
    preset: &str,
    cfg: &Config,
    a: &TuneArgs,
) -> Result<(crate::endtoend::Outcome, Table), Failure> {
    let model_cfg = models::Config::preset(preset)
        .map_err(|e| Failure::input(format!("--preset {preset}: {e}")))?;
    let threads = cfg
        .threads
        .clone()
        .unwrap_or_else(backends::threads::counts);
    let contenders = crate::endtoend::contenders(candidate, &threads);
    if contenders.is_empty() {
        return Err(Failure::run("end to end: no contender could be bound"));
    }
    let rounds = a.end_to_end_rounds.unwrap_or(if cfg.quick { 3 } else { 7 });
    eprintln!(
        "autotune: end to end ({preset}): {} contenders × {rounds} rounds of KV decode, full recompute and a training step",
        contenders.len()
    );
    crate::endtoend::accept(preset, &model_cfg, contenders, rounds, |l| eprintln!("{l}"))
        .map_err(|e| Failure::run(format!("end to end: {e:#}")))
}

/// `autotune` / `autotune tune`.
pub fn command(a: &TuneArgs) -> Result<(), Failure> {
    crate::guard::apply_max_memory(a.max_memory.as_deref())?;
    let cfg = Config::from_args(a)?;
    // Every output location is checked before measuring, so that a run cannot spend its
    // budget and then fail to write.
    if a.out.is_dir() {
        return Err(Failure::input(format!(
            "--out {}: is a directory; give a file path such as dispatch.json",
            a.out.display()
        )));
    }
    let (md, dir) = report_paths(&a.out);
    if md == a.out {
        return Err(Failure::input(format!(
            "--out {}: the report goes beside the table as {}; give the table another name (e.g. dispatch.json)",
            a.out.display(),
            md.display()
        )));
    }
    for (op, shape) in planned_shapes(&cfg) {
        crate::guard::race_footprint(op, &shape)?;
    }
    crate::guard::output_file("--out", &a.out)?;
    crate::guard::output_file("the report beside --out", &md)?;
    crate::guard::output_dir("the report folder beside --out", &dir)?;
    let mut source = args::open_counters()?;
    args::warm_pools();
    let line =
        crate::counters::source_line(source.kind(), source.reason().as_deref(), &source.events());
    eprintln!(
        "autotune: {} ops, budget {:.0} s{}{}; {line}",
        cfg.ops.len(),
        cfg.budget.as_secs_f64(),
        if cfg.quick { ", quick" } else { "" },
        cfg.preset
            .map(|p| format!(", {} preset shapes", p.name))
            .unwrap_or_default()
    );
    let t0 = Instant::now();
    // The kernel-parameter search takes its share of the budget after the per-call run.
    let (params_share, split_share) = if a.no_params || !cfg.ops.contains(&backends::Op::Matmul) {
        (0.0, 0.0)
    } else {
        (PARAMS_SHARE, SPLIT_SHARE)
    };
    // A preset run times its calls again inside the model (a share of the budget).
    let context_share = if cfg.preset.is_some() && !a.no_context {
        CONTEXT_SHARE
    } else {
        0.0
    };
    let run_cfg = Config {
        budget: cfg
            .budget
            .mul_f64(1.0 - params_share - split_share - context_share),
        ..cfg.clone()
    };
    let mut progress = Progress::auto();
    let mut run = run(&run_cfg, source.as_mut(), &mut progress);
    let mut sels = selections(&run.points, &run.excluded, &cfg.ops, &cfg.rule);
    if context_share > 0.0 {
        let base = build_table(&run, &sels);
        let deadline = Instant::now() + cfg.budget.mul_f64(context_share);
        let mut progress = Progress::auto();
        let s = crate::context::retime(&mut run.points, &cfg, &base, &mut progress, deadline)
            .map_err(|e| Failure::run(format!("in-context timing: {e:#}")))?;
        progress.finish();
        eprintln!(
            "autotune: in context: {} shapes retimed inside the model's workloads ({} changed their fastest contender, {} not reached)",
            s.points, s.changed_winner, s.not_reached
        );
        run.coverage_notes.push(format!(
            "{} shape(s) retimed in context (each contender where the model dispatches it, between its real neighbours); {} changed their fastest contender; {} not reached by the workloads kept their per-call figures",
            s.points, s.changed_winner, s.not_reached
        ));
        sels = selections(&run.points, &run.excluded, &cfg.ops, &cfg.rule);
    }
    let mut table = build_table(&run, &sels);
    let searches = table_phase(params_share, &cfg, |progress, deadline| {
        let s = crate::params::search(&mut table, &run, &cfg, source.as_mut(), progress, deadline);
        let tuned = s.iter().filter(|x| x.chosen.is_some()).count();
        let said = format!(
            "kernel parameters searched for {} MatMul range(s), tuned in {tuned}",
            s.len()
        );
        (s, said)
    });
    let splits = table_phase(split_share, &cfg, |progress, deadline| {
        let s = crate::split::search(&mut table, &run, &cfg, source.as_mut(), progress, deadline);
        let kept = s.iter().filter(|x| x.chosen.is_some()).count();
        let said = format!(
            "thread splits raced for {} threaded MatMul range(s), another than the rule's kept in {kept}",
            s.len()
        );
        (s, said)
    });
    let end_to_end = match cfg.preset {
        Some(p) if !a.no_end_to_end => Some(end_to_end(&table, p.name, &cfg, a)?),
        _ => None,
    };
    if let Some((o, kept)) = &end_to_end {
        eprintln!(
            "autotune: end to end ({}): kept {} ({})",
            o.preset,
            o.figures[o.chosen].name,
            o.why()
        );
        table = kept.clone();
        table.end_to_end = Some(o.record());
    }
    // The table must load the way `models` loads it before it replaces anything.
    let check_path = a.out.clone();
    backends::Dispatcher::from_table(&table, &check_path, backends::LoadOptions::default())
        .map_err(|e| Failure::run(format!("the new table does not load: {e}")))?;
    crate::report::write(&run, &sels, &table, &a.out, &md, &dir)
        .map_err(|e| Failure::run(format!("writing the report: {e}")))?;
    // The parameter search's and the end-to-end race's sections go at the end of the
    // Markdown report.
    let mut extra = crate::report::params_markdown(&searches);
    extra.push_str(&crate::report::splits_markdown(&splits));
    if let Some((o, _)) = &end_to_end {
        extra.push('\n');
        extra.push_str(&o.markdown());
    }
    if !extra.trim().is_empty() {
        let mut text = std::fs::read_to_string(&md)
            .map_err(|e| Failure::run(format!("{}: cannot read back: {e}", md.display())))?;
        text.push('\n');
        text.push_str(&extra);
        backends::table::write_atomic(&md, text.as_bytes())
            .map_err(|e| Failure::run(format!("{}: cannot write: {e}", md.display())))?;
    }
    table
        .write_atomic(&a.out)
        .map_err(|e| Failure::run(e.to_string()))?;
    let by_op: BTreeMap<&str, usize> = table.entries.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e.op.as_str()).or_default() += 1;
        m
    });
    eprintln!(
        "autotune: wrote {} ({} entries over {} ops, {} shapes measured, {} excluded) and {} + {}/ in {:.1} s",
        a.out.display(),
        table.entries.len(),
        by_op.len(),
        run.points.len(),
        run.excluded.len(),
        md.display(),
        dir.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
