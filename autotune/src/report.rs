//! The report beside the table: Markdown (`dispatch.md`), SVG charts and the raw
//! measurements (`dispatch-report/`). Each file is written atomically, and the charts of an
//! earlier run that this one does not write again are removed, so the folder holds only this
//! run's files (files of other names are never touched).
//!
//! Charts: one per op, bucket and family of shapes ([`Family`]), so that the x axis is
//! monotone and shapes of one size never share an x; log axes labelled in plain powers of
//! ten ([`fmt_tick`]); colour by implementation, dash by memory strategy, marker by thread
//! count; the table's choice on top.

use crate::counters::Counts;
use crate::measure;
use crate::select::Selection;
use crate::tune::{self, Run};
use backends::op::ShapeKind;
use backends::table::{Entry, Table};
use backends::timing::{fmt_count, fmt_ns, fmt_size, fmt_tick};
use backends::{Bucket, Memory, Op, Shape};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes the Markdown report `md`, the plots and measurements into `dir`; every file
/// atomically. An error names the path it concerns.
pub fn write(
    run: &Run,
    sels: &[(Op, Bucket, Selection)],
    table: &Table,
    table_path: &Path,
    md: &Path,
    dir: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the folder: {e}", dir.display()))?;
    let mut plots: BTreeMap<(Op, Bucket), Vec<(String, String)>> = BTreeMap::new();
    let mut written: Vec<String> = vec!["measurements.json".into()];
    for (op, b, sel) in sels {
        for spec in chart_specs(run, *op, *b) {
            let path = dir.join(&spec.file);
            let mut svg = String::new();
            match plot(*op, *b, sel, &spec, &mut svg) {
                Ok(false) => {}
                Ok(true) => {
                    crate::guard::write_file(&path, svg.as_bytes())?;
                    written.push(spec.file.clone());
                    plots
                        .entry((*op, *b))
                        .or_default()
                        .push((spec.file, spec.title));
                }
                Err(e) => eprintln!("warning: plot {}: {e}", path.display()),
            }
        }
    }
    let json = serde_json::to_string_pretty(run).map_err(|e| format!("measurements: {e}"))?;
    crate::guard::write_file(&dir.join("measurements.json"), json.as_bytes())?;
    remove_stale_charts(dir, &written)?;
    let dir_name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = markdown(run, sels, table, table_path, &dir_name, &plots);
    crate::guard::write_file(md, text.as_bytes())
}

/// Removes the charts an earlier run wrote into `dir` that this run did not write (other ops,
/// buckets or families), so the folder holds only this run's files. Only names this report
/// writes ([`is_chart_file`]) are touched; anything else in the folder is left alone.
fn remove_stale_charts(dir: &Path, written: &[String]) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && is_chart_file(&name) && !written.contains(&name) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| {
                format!(
                    "{}: cannot remove this chart of an earlier run: {e}",
                    path.display()
                )
            })?;
        }
    }
    Ok(())
}

fn unit(op: Op) -> &'static str {
    if op == Op::Matmul {
        "GFLOP/s"
    } else {
        "GB/s"
    }
}

fn size_unit(op: Op) -> &'static str {
    match op.shape_kind() {
        ShapeKind::MatMul => "m·k·n",
        ShapeKind::Attention => "rows·total·width",
        ShapeKind::Elems | ShapeKind::Rows => "elements",
    }
}

/// Counter figures per call, in words.
pub fn counters_text(c: &Counts, median_ns: f64) -> String {
    let mut parts = Vec::new();
    if let Some(ipc) = c.ipc() {
        parts.push(format!("IPC {ipc:.2}"));
    }
    if let Some(i) = c.instructions {
        parts.push(format!("{} instr", fmt_count(i)));
    }
    if let Some(m) = c.cache_misses {
        let refs = c
            .cache_references
            .filter(|r| *r > 0.0)
            .map(|r| format!(" ({:.0}% of refs)", 100.0 * m / r))
            .unwrap_or_default();
        parts.push(format!("{} cache misses{refs}", fmt_count(m)));
    }
    if let Some(l) = c.l1d_read_misses {
        parts.push(format!("{} L1D read misses", fmt_count(l)));
    }
    if let Some(t) = c.task_clock_ns {
        let par = t / median_ns.max(1e-9);
        parts.push(format!("CPU {} ({par:.1}× wall)", fmt_ns(t)));
    }
    if let Some(p) = c.page_faults {
        parts.push(format!("{} page faults", fmt_count(p)));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ") + " per call"
    }
}

/// The report's section on the kernel-parameter search ([`crate::params`]): per searched
/// range, every contender's time and what was written; empty when nothing was searched.
pub fn params_markdown(searches: &[crate::params::Search]) -> String {
    if searches.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Kernel parameters
"
    );
    let _ = writeln!(
        s,
        "For each MatMul range, a local search of the own SIMD kernel's parameters (the range's choice when it takes \
         them, else the fastest own kernel raced there) from its defaults on this machine (the analytical blocking \
         model and the ISA's one-row sweep) at the range's measured shape, in the cache state of its race: the other \
         one-row sweeps for a decoded row (row stream, column windows, row stream prefetching a pass ahead), then 4 and 6 rows of B a pass for a stream, \
         or windows of 8 and 16 vectors (against 12) for the column windows; the other ways of computing a few rows (unpacked, in slabs of B's rows with the next prefetched, packed); the kernel's other micro-tiles, then kc, then mc halved and doubled, then nc halved for a packed product. A \
         contender replaces the best so far only when faster beyond the noise; a range that chose another \
         implementation (its time in the first step's race is shown) changes hands only when beaten beyond the noise. \
         The table records parameters only where they differ from the defaults.\n"
    );
    let _ = writeln!(
        s,
        "| range | shape | search | contender | median | ± | written |"
    );
    let _ = writeln!(s, "|---|---|---|---|--:|--:|---|");
    for x in searches {
        if let Some((id, ns)) = &x.rival {
            let _ = writeln!(
                s,
                "| {id} | {} | {} | the range's choice | {} | | {} |",
                x.shape,
                x.kind,
                fmt_ns(*ns),
                if x.took { "" } else { "**kept**" }
            );
        }
        for (i, t) in x.trials.iter().enumerate() {
            let first = i == 0 && x.rival.is_none();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} ({}) | {} | {} | {} |",
                if i == 0 { x.variant.as_str() } else { "" },
                if first { x.shape.as_str() } else { "" },
                if first { x.kind.as_str() } else { "" },
                t.label,
                t.params,
                fmt_ns(t.median_ns),
                fmt_ns(t.spread_ns),
                match (&x.chosen, x.took, i) {
                    (Some(p), true, _) if *p == t.params => "**yes**",
                    (None, true, 0) => "**yes** (defaults)",
                    _ => "",
                }
            );
        }
    }
    s
}

/// The report's section on the thread-split races ([`crate::split`]): per raced range, each
/// split's time and which one the table holds; empty when nothing was raced.
pub fn splits_markdown(searches: &[crate::split::SplitSearch]) -> String {
    if searches.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Thread splits\n\n\
         For each MatMul range bound to a threaded variant, the splits that fit its measured shape raced \
         with the range's kernel parameters, in the cache state of its race: over k (each thread a slab of \
         B's rows, partial rows added after the join), over C's rows, or over one row's columns. The rule's \
         split (k for a few rows with B stored k×n, else rows, else columns) runs unless another beat it \
         beyond the noise; the table records a split only then.\n"
    );
    let _ = writeln!(s, "| range | shape | split | median | ± | written |");
    let _ = writeln!(s, "|---|---|---|--:|--:|---|");
    for x in searches {
        for (i, t) in x.trials.iter().enumerate() {
            let held = match &x.chosen {
                Some(c) => *c == t.split,
                None => t.rule,
            };
            let _ = writeln!(
                s,
                "| {} | {} | {}{} | {} | {} | {} |",
                if i == 0 { x.variant.as_str() } else { "" },
                if i == 0 { x.shape.as_str() } else { "" },
                t.split,
                if t.rule { " (rule)" } else { "" },
                fmt_ns(t.median_ns),
                fmt_ns(t.spread_ns),
                if held { "**yes**" } else { "" }
            );
        }
    }
    s
}

fn range_text(e: &Entry) -> String {
    format!(
        "{}..={}",
        fmt_size(e.min),
        e.max.map(fmt_size).unwrap_or_else(|| "∞".into())
    )
}

fn markdown(
    run: &Run,
    sels: &[(Op, Bucket, Selection)],
    table: &Table,
    table_path: &Path,
    dir_name: &str,
    plots: &BTreeMap<(Op, Bucket), Vec<(String, String)>>,
) -> String {
    let mut s = String::new();
    let m = &run.machine;
    let _ = writeln!(s, "# Dispatch table report\n");
    let _ = writeln!(
        s,
        "Table `{}`, written by {} {} at {}.\n",
        table_path.display(),
        table.generator.name,
        table.generator.version,
        table.created
    );
    // The one line on counters.
    let _ = writeln!(
        s,
        "**{}**\n",
        crate::counters::source_line(
            if run.counters.source == "hardware" {
                crate::counters::SourceKind::Hardware
            } else {
                crate::counters::SourceKind::Software
            },
            run.counters.reason.as_deref(),
            &run.counter_events
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        )
    );
    let _ = writeln!(s, "## Machine\n");
    let c = &m.caches;
    let kb = |x: Option<u64>| x.map(|v| format!("{} KiB", v / 1024)).unwrap_or("?".into());
    let _ = writeln!(
        s,
        "- CPU: {} ({}), features: {}, {} hardware threads\n- caches: L1d {}, L2 {}, L3 {}\n- fingerprint `{}`; catalog checksum `{}` ({} variants)\n",
        m.cpu,
        m.arch,
        if m.features.is_empty() { "none".to_string() } else { m.features.join(", ") },
        m.threads,
        kb(c.l1d),
        kb(c.l2),
        kb(c.l3),
        m.fingerprint,
        table.catalog.checksum,
        table.catalog.variants
    );
    let _ = writeln!(s, "## Run\n");
    let mode = match (&run.preset, run.quick) {
        (Some(p), _) => format!("the `{p}` model preset's exact shapes"),
        (None, true) => "quick (coarse grid, short samples)".into(),
        (None, false) => "default grid".into(),
    };
    let _ = writeln!(
        s,
        "- mode: {mode}; ops: {}; thread counts: {}\n- {} shapes measured, {} distinct variants timed, {:.0} s of a {:.0} s budget",
        run.ops.iter().map(|o| o.name()).collect::<Vec<_>>().join(", "),
        run.threads
            .as_ref()
            .map(|t| format!("{t:?}"))
            .unwrap_or_else(|| "all".into()),
        run.points.len(),
        run.variants_measured,
        run.elapsed_s,
        run.budget_s
    );
    if run.preset.is_none() && run.ops.contains(&Op::Matmul) {
        let _ = writeln!(
            s,
            "- square MatMul measured up to n = {} (`--max-square` raises the cap; larger squares use the last large_m range)",
            run.max_square
        );
    }
    for n in &run.coverage_notes {
        let _ = writeln!(s, "- {n}");
    }
    let _ = writeln!(s, "\n## How to read this\n");
    let _ = writeln!(
        s,
        "- **Keys.** The table ranges over the key `backends` computes for a call. Element-wise ops (GELU, Add) are keyed by their element count; row ops (softmax, LayerNorm, bias add) by rows×cols elements, measured with cols a power of two near √n within 64..1024 plus the presets' own shapes. MatMul is keyed by a **bucket of its row count m** — `m1` (m = 1, one decoded token: a matrix-vector product), `small_m` (2 ≤ m ≤ 64: short prompts, attention blocks), `large_m` (m > 64) — and, inside the bucket, by its work **m·k·n**. So `small_m 64.7K..=∞` means every product with 2 ≤ m ≤ 64 and m·k·n above 64.7K. Shapes of equal work in one bucket share a choice; where two measured shapes had the same key, the variant with the least total time over both was chosen."
    );
    let _ = writeln!(
        s,
        "- **Selection.** At each size the lowest median time wins. Candidates within the noise of the fastest (median ± MAD overlapping, or medians less than 3% apart) are ties: a tie goes to fewer cache misses (by > 5%), then fewer instructions (by > 2%) where hardware counters exist, then fewer threads, then pooled before in-place before direct memory, then the implementation needing fewer CPU features, else to the lower median — the notes say when this happened. Across sizes one variant is kept while it stays within the noise, so winners do not flap; a lone different winner survives only if it beats its neighbours' winner by more than the noise. Neighbouring ranges meet at the geometric mean of their measured sizes; where the winner changed, the size between was measured (bisection) to locate the crossover."
    );
    let _ = writeln!(
        s,
        "- **Measurement.** Every candidate's output was checked against the reference before timing (at the measured shape, or at a smaller shape of the same structure above m·k·n = 2^24 / 2^20 elements). Samples are batches of at least {} µs; candidates run round-robin, clear losers are pruned (> 1.5× the best after a few samples, > 1.15× after more), close races get more samples.{} *Margin* is the runner-up's median over the chosen variant's at the range's representative size, less one: negative when a tie-break or the smoothing across sizes kept a slower variant that is still within the noise as defined above (the figure says by how much; the per-size notes name the faster variant, the gap and which noise test it passes). Counter figures are per call from a separate untimed pass; hardware counters cover the calling thread only, so they are left out for multi-threaded variants; the CPU time counts every thread.",
        if run.quick {
            crate::measure::Settings::quick().sample_ns
        } else {
            crate::measure::Settings::standard().sample_ns
        } / 1000.0,
        if run.confirm_passes > 0 {
            format!(
                " Then {} confirmation pass{} raced each shape's candidates within {}× of its best again (pruned ones included), later in the run and in another order; a candidate's figures are the median of its races, and its spread grows when the races disagree, so a lead that does not repeat reads as a tie.",
                run.confirm_passes,
                if run.confirm_passes == 1 { "" } else { "es" },
                crate::tune::CONFIRM_RATIO
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "- **Charts** show throughput ({}/{}) on a log scale, one chart per family of shapes so the x axis is monotone: the grid's own shapes (n×n×n squares, 1×k×k products, all element-wise sizes, rows×cols with cols ≈ √n) against their size; the model presets' shapes and any other shapes (rectangular, bisection points) one slot per shape in order of size. Colour is the implementation (the same in every chart), the line the memory strategy (solid pooled, long dashes in place, short dashes direct), the marker the thread count (circle 1, triangle 2, square 4, cross more). The thick black line with large markers, drawn on top, is the table's choice at each measured shape; dashed grey verticals are the range boundaries.\n",
        unit(Op::Matmul),
        unit(Op::Add)
    );

    // Summary.
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "| op | bucket | sizes | chosen variant | median at size | runner-up | margin |\n|---|---|---|---|---|---|---|"
    );
    for e in &table.entries {
        let ev = &e.evidence;
        let (ru, margin) = match &ev.runner_up {
            Some(r) => (
                format!("`{}`", r.variant),
                format!(
                    "{:+.1}%",
                    (r.median_ns / ev.median_ns.max(1e-9) - 1.0) * 100.0
                ),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | `{}` | {} at {} | {ru} | {margin} |",
            e.op,
            e.bucket.name(),
            range_text(e),
            e.variant,
            fmt_ns(ev.median_ns),
            ev.measured_size.map(fmt_size).unwrap_or("-".into())
        );
    }
    let _ = writeln!(s);

    // Per op.
    for (op, b, sel) in sels {
        let _ = writeln!(s, "## {} — {}\n", op.name(), b.name());
        for (file, title) in plots.get(&(*op, *b)).into_iter().flatten() {
            let _ = writeln!(
                s,
                "![{} {}: {title}]({dir_name}/{file})\n",
                op.name(),
                b.name()
            );
        }
        let entries: Vec<&Entry> = table
            .entries
            .iter()
            .filter(|e| e.op == op.name() && e.bucket == *b)
            .collect();
        let _ = writeln!(
            s,
            "| sizes ({}) | chosen | median ± MAD at size | runner-up (margin) | counters of the chosen |\n|---|---|---|---|---|",
            size_unit(*op)
        );
        for e in &entries {
            let ev = &e.evidence;
            let counters = Counts {
                cycles: ev.cycles,
                instructions: ev.instructions,
                cache_references: ev.cache_references,
                cache_misses: ev.cache_misses,
                l1d_read_misses: None,
                task_clock_ns: ev.task_clock_ns,
                page_faults: ev.page_faults,
            };
            let ru = ev
                .runner_up
                .as_ref()
                .map(|r| {
                    format!(
                        "`{}` {} ({:+.1}%)",
                        r.variant,
                        fmt_ns(r.median_ns),
                        (r.median_ns / ev.median_ns.max(1e-9) - 1.0) * 100.0
                    )
                })
                .unwrap_or("-".into());
            let _ = writeln!(
                s,
                "| {} | `{}` | {} ± {} at {}{} | {ru} | {} |",
                range_text(e),
                e.variant,
                fmt_ns(ev.median_ns),
                fmt_ns(ev.spread_ns),
                ev.measured_size.map(fmt_size).unwrap_or("-".into()),
                ev.cache_state
                    .as_ref()
                    .map_or(String::new(), |c| format!(" ({c})")),
                counters_text(&counters, ev.median_ns)
            );
        }
        // Per measured size.
        let _ = writeln!(
            s,
            "\n<details><summary>Per measured size</summary>\n\n| size | shape(s) | chosen | fastest | runner-up ratio | note |\n|---|---|---|---|---|---|"
        );
        for (i, p) in sel.points.iter().enumerate() {
            let shapes: Vec<String> = tune::shapes_at(run, *op, *b, p.size)
                .iter()
                .map(|r| format!("{}{}", r.shape, if r.refined { "*" } else { "" }))
                .collect();
            let chosen = sel.chosen[i].clone().unwrap_or("-".into());
            let fastest = sel.choices[i]
                .fastest
                .map(|f| p.cands[f].variant.clone())
                .unwrap_or("-".into());
            let ratio = match (sel.chosen_cand(i), sel.runner_up(i)) {
                (Some(w), Some(r)) => format!("{:.2}×", r.timing.median_ns / w.timing.median_ns),
                _ => "-".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | `{chosen}` | {} | {ratio} | {} |",
                fmt_size(p.size),
                shapes.join(", "),
                if fastest == chosen {
                    "same".to_string()
                } else {
                    format!("`{fastest}`")
                },
                sel.notes[i].clone().unwrap_or_default()
            );
        }
        let _ = writeln!(
            s,
            "\n(* measured by bisection, contenders only)\n\n</details>\n"
        );
        let notes: Vec<&String> = sel.ranges.iter().flat_map(|r| r.notes.iter()).collect();
        let flaps: Vec<&&String> = notes
            .iter()
            .filter(|n| n.contains("does not flap"))
            .collect();
        if !flaps.is_empty() {
            let _ = writeln!(s, "Smoothing:\n");
            for n in flaps {
                let _ = writeln!(s, "- {n}");
            }
            let _ = writeln!(s);
        }
        // Skipped at this op/bucket.
        let mut skipped: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in run.points.iter().filter(|p| p.op == *op && p.bucket == *b) {
            for (v, why) in &p.outcome.skipped {
                if why.starts_with("predicted") {
                    skipped.entry(v.clone()).or_default().push(p.shape.clone());
                }
            }
        }
        if !skipped.is_empty() {
            let _ = writeln!(s, "Not timed where extrapolation from smaller sizes predicted > 4× the best (and > 20 ms a call):\n");
            for (v, shapes) in skipped {
                let _ = writeln!(s, "- `{v}` at {}", shapes.join(", "));
            }
            let _ = writeln!(s);
        }
    }

    // Excluded.
    let _ = writeln!(s, "## Excluded candidates\n");
    if run.excluded.is_empty() {
        let _ = writeln!(s, "None: every runnable candidate matched the reference.\n");
    } else {
        for e in &run.excluded {
            let _ = writeln!(
                s,
                "- `{}` ({} at {}): {}",
                e.variant,
                e.op.name(),
                e.shape,
                e.reason
            );
        }
        let _ = writeln!(s);
    }
    let not_runnable: Vec<String> = backends::catalog()
        .variants()
        .iter()
        .filter(|v| run.ops.contains(&v.op))
        .filter_map(|v| v.runnable().err().map(|w| format!("- `{}`: {w}", v.id)))
        .collect();
    if !not_runnable.is_empty() {
        let _ = writeln!(
            s,
            "Not runnable on this machine:\n\n{}\n",
            not_runnable.join("\n")
        );
    }
    let _ = writeln!(s, "Raw measurements: `{dir_name}/measurements.json`.\n");
    s
}

// ---- Charts ---------------------------------------------------------------------------------
//
// One chart shows one *family* of shapes of one op and bucket, so that its x axis is monotone:
// shapes with one size (m·k·n, elements) but different dimensions never share an x. Colour is
// the implementation (the same in every chart), the dash pattern the memory strategy, the
// marker the thread count; the table's choice is drawn last, on top, as a thick black line
// with large filled markers.

/// A family of shapes drawn in one chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// The size grid's own shapes, one per size (squares, 1×k×k, cols ≈ √n rows, all
    /// element-wise sizes): the x axis is the size.
    Grid,
    /// The model presets' shapes: one slot per shape, in order of size.
    Preset,
    /// Everything else (rectangular grid shapes, bisection points between families): one
    /// slot per shape, in order of size.
    Other,
}

impl Family {
    /// The part of a chart's file name that names the family.
    pub fn slug(self) -> &'static str {
        match self {
            Family::Grid => "grid",
            Family::Preset => "preset",
            Family::Other => "other",
        }
    }

    /// What the family's chart shows, for titles.
    fn title(self, op: Op, b: Bucket) -> &'static str {
        match (self, op.shape_kind()) {
            (Family::Grid, ShapeKind::MatMul) if b == Bucket::M1 => "1×k×k products",
            (Family::Grid, ShapeKind::MatMul) => "n×n×n squares",
            (Family::Grid, ShapeKind::Rows) if op == Op::SoftmaxCausal => "T×T squares",
            (Family::Grid, ShapeKind::Rows) => "grid shapes (cols ≈ √n)",
            (Family::Grid, ShapeKind::Elems) => "all sizes",
            (Family::Grid, ShapeKind::Attention) if b == Bucket::M1 => {
                "one row after a cached past, 8 heads of 32"
            }
            (Family::Grid, ShapeKind::Attention) => "prompts from an empty cache, 8 heads of 32",
            (Family::Preset, _) => "the model presets' shapes",
            (Family::Other, _) => "other shapes (rectangular, bisection points)",
        }
    }
}

/// The families a measured shape belongs to (the grid and the presets overlap; a shape in
/// neither is `Other`).
pub fn families(op: Op, shape: &Shape) -> Vec<Family> {
    let grid = match shape {
        Shape::MatMul(g) => g.k == g.n && (g.m == g.n || g.m == 1),
        Shape::Elems(_) => true,
        Shape::Rows(r) => *shape == crate::plan::elems_shape(op, r.len()),
        Shape::Attention(a) => *shape == crate::plan::grid_attention(a.rows, a.past),
    };
    let text = shape.to_string();
    let preset = [crate::plan::SMALL, crate::plan::MEDIUM]
        .iter()
        .any(|p| p.shapes(op).iter().any(|s| s.to_string() == text));
    let mut out = Vec::new();
    if grid {
        out.push(Family::Grid);
    }
    if preset {
        out.push(Family::Preset);
    }
    if out.is_empty() {
        out.push(Family::Other);
    }
    out
}

/// One chart to draw: a family's measured shapes of one op and bucket, sorted by size.
pub struct ChartSpec<'a> {
    pub family: Family,
    /// The file name in the report folder.
    pub file: String,
    pub title: String,
    pub records: Vec<&'a tune::PointRecord>,
}

/// Fewest shapes a family needs for a chart of its own.
const MIN_CHART_SHAPES: usize = 3;

/// The charts of one op and bucket: one per family present, except that the presets get a
/// chart only when some of their shapes are off the grid, and a family of fewer than
/// [`MIN_CHART_SHAPES`] shapes joins the `Other` chart. A single chart is named
/// `op-bucket.svg`, several `op-bucket-family.svg`.
pub fn chart_specs(run: &Run, op: Op, b: Bucket) -> Vec<ChartSpec<'_>> {
    let mut by: BTreeMap<Family, Vec<&tune::PointRecord>> = BTreeMap::new();
    let mut off_grid_preset = false;
    for p in run.points.iter().filter(|p| p.op == op && p.bucket == b) {
        let Ok(shape) = Shape::parse(op, &p.shape) else {
            continue;
        };
        let fams = families(op, &shape);
        off_grid_preset |= fams == [Family::Preset];
        for f in fams {
            by.entry(f).or_default().push(p);
        }
    }
    if !off_grid_preset {
        by.remove(&Family::Preset);
    }
    // A family of one or two shapes makes a chart without lines: its shapes join `Other`
    // (one slot per shape, any mix of shapes), unless another chart shows them already.
    for small in [Family::Preset, Family::Grid] {
        if by.get(&small).is_some_and(|r| r.len() < MIN_CHART_SHAPES) {
            let recs = by.remove(&small).unwrap_or_default();
            for p in recs {
                let shown = by
                    .iter()
                    .any(|(&f, r)| f != Family::Other && r.iter().any(|q| q.shape == p.shape));
                if !shown {
                    by.entry(Family::Other).or_default().push(p);
                }
            }
        }
    }
    let single = by.len() == 1;
    by.into_iter()
        .map(|(family, mut records)| {
            records.sort_by(|x, y| x.size.cmp(&y.size).then_with(|| x.shape.cmp(&y.shape)));
            records.dedup_by(|x, y| x.shape == y.shape && x.size == y.size);
            ChartSpec {
                family,
                file: if single {
                    chart_file(op, b, None)
                } else {
                    chart_file(op, b, Some(family))
                },
                title: if single && family == Family::Other {
                    "all shapes".to_string()
                } else {
                    family.title(op, b).to_string()
                },
                records,
            }
        })
        .collect()
}

/// The file name of a chart: `op-bucket.svg` or `op-bucket-family.svg`.
pub fn chart_file(op: Op, b: Bucket, family: Option<Family>) -> String {
    match family {
        None => format!("{}-{}.svg", op.name(), b.name()),
        Some(f) => format!("{}-{}-{}.svg", op.name(), b.name(), f.slug()),
    }
}

/// Whether `name` is a chart file this report writes (any op, bucket and family), so that
/// charts of an earlier run can be removed and nothing else ever is.
pub fn is_chart_file(name: &str) -> bool {
    let families = [Family::Grid, Family::Preset, Family::Other];
    Op::ALL.iter().any(|&op| {
        Bucket::ALL.iter().any(|&b| {
            name == chart_file(op, b, None)
                || families.iter().any(|&f| name == chart_file(op, b, Some(f)))
        })
    })
}

/// The colour of an implementation, the same in every chart (an unknown name gets one of the
/// spare colours, chosen by its name so it is stable too).
pub fn implementation_colour(imp: &str) -> RGBColor {
    match imp {
        "naive" => RGBColor(120, 120, 120),
        "tiled" => RGBColor(156, 102, 31),
        "avx2" => RGBColor(31, 119, 180),
        "avx512" => RGBColor(214, 39, 40),
        "neon" => RGBColor(227, 119, 194),
        "gemm" => RGBColor(44, 160, 44),
        "matrixmultiply" => RGBColor(148, 103, 189),
        "openblas" => RGBColor(23, 190, 207),
        other => {
            const SPARE: [RGBColor; 4] = [
                RGBColor(255, 127, 14),
                RGBColor(188, 189, 34),
                RGBColor(0, 0, 128),
                RGBColor(128, 0, 0),
            ];
            let h = other
                .bytes()
                .fold(0usize, |h, c| h.wrapping_mul(31) + c as usize);
            SPARE[h % SPARE.len()]
        }
    }
}

/// Dash and gap lengths of a memory strategy's line, px (`None`: solid).
fn memory_dash(m: Memory) -> Option<(u32, u32)> {
    match m {
        Memory::Pooled => None,
        Memory::InPlace => Some((10, 5)),
        Memory::Direct => Some((3, 4)),
    }
}

/// The marker shapes, by thread count: 1 circle, 2 triangle, 4 square, else a cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

fn thread_marker(threads: usize) -> Marker {
    match threads {
        1 => Marker::Circle,
        2 => Marker::Triangle,
        4 => Marker::Square,
        _ => Marker::Cross,
    }
}

/// A variant's parts for styling: (implementation, memory, threads); unparsable ids are
/// drawn as portable pooled single-thread lines.
fn style_parts(id: &str) -> (String, Memory, usize) {
    match backends::catalog::parse_id(id) {
        Some((_, imp, m, t)) => (imp.to_string(), m, t),
        None => (id.to_string(), Memory::Pooled, 1),
    }
}

/// Tick values of a log axis over `lo..hi`: the powers of ten inside, or when fewer than two
/// fall inside, 1-2-5 steps, or failing that every 1..9 step (bold); the other 1..9 steps
/// are the light grid lines.
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (lo, hi) = (lo.max(1e-30), hi.max(lo.max(1e-30)));
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let steps = |mantissas: &[u32]| -> Vec<f64> {
        (e0..=e1)
            .flat_map(|e| mantissas.iter().map(move |&m| pow10_value(m, e)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect()
    };
    let all = steps(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let mut bold = steps(&[1]);
    if bold.len() < 2 {
        bold = steps(&[1, 2, 5]);
    }
    if bold.len() < 2 {
        bold = all.clone();
    }
    let light = all.into_iter().filter(|v| !bold.contains(v)).collect();
    (bold, light)
}

/// m × 10^e as an f64, computed so that the result prints as written (0.2, not
/// 0.20000000000000001).
fn pow10_value(m: u32, e: i32) -> f64 {
    format!("{m}e{e}").parse().unwrap_or(0.0)
}

/// One variant's line in a chart.
struct Series {
    id: String,
    imp: String,
    memory: Memory,
    threads: usize,
    points: Vec<(f64, f64)>,
}

/// Draws one chart into `svg`; `Ok(false)` when there is nothing to plot.
fn plot(
    op: Op,
    b: Bucket,
    sel: &Selection,
    spec: &ChartSpec,
    svg: &mut String,
) -> io::Result<bool> {
    let by_size = spec.family == Family::Grid;
    let xs: Vec<f64> = spec
        .records
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if by_size {
                p.size.max(1) as f64
            } else {
                i as f64
            }
        })
        .collect();
    // Series: variant → [(x, throughput)] over the chart's shapes, in implementation order.
    let order: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for var in backends::catalog().variants() {
            if !v.contains(&var.implementation) {
                v.push(var.implementation);
            }
        }
        v
    };
    let mut series: Vec<Series> = Vec::new();
    for (p, &x) in spec.records.iter().zip(&xs) {
        let shape = p.shape();
        for r in &p.outcome.results {
            if !(r.timing.median_ns.is_finite() && r.timing.median_ns > 0.0) {
                continue;
            }
            let y = measure::throughput(op, &shape, r.timing.median_ns);
            match series.iter_mut().find(|s| s.id == r.variant) {
                Some(s) => s.points.push((x, y)),
                None => {
                    let (imp, memory, threads) = style_parts(&r.variant);
                    series.push(Series {
                        id: r.variant.clone(),
                        imp,
                        memory,
                        threads,
                        points: vec![(x, y)],
                    });
                }
            }
        }
    }
    if series.is_empty() {
        return Ok(false);
    }
    let rank = |imp: &str| order.iter().position(|o| *o == imp).unwrap_or(order.len());
    series.sort_by(|a, c| {
        (rank(&a.imp), &a.imp, a.memory.name(), a.threads).cmp(&(
            rank(&c.imp),
            &c.imp,
            c.memory.name(),
            c.threads,
        ))
    });
    // The table's choice at each shape: the variant chosen at its size.
    let chosen_at = |size: u64| -> Option<&str> {
        let i = sel.points.iter().position(|q| q.size == size)?;
        sel.chosen[i].as_deref()
    };
    let chosen: Vec<(f64, f64, String)> = spec
        .records
        .iter()
        .zip(&xs)
        .filter_map(|(p, &x)| {
            let id = chosen_at(p.size)?;
            let r = p.outcome.get(id)?;
            Some((
                x,
                measure::throughput(op, &p.shape(), r.timing.median_ns),
                id.to_string(),
            ))
        })
        .collect();
    let chosen_ids: Vec<&str> = chosen.iter().map(|c| c.2.as_str()).collect();

    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (y0, y1) = ys.fold((f64::MAX, f64::MIN), |(a, c), y| (a.min(y), c.max(y)));
    let (y0, y1) = (y0 / 1.3, y1 * 1.3);
    let (x0, x1) = if by_size {
        let (a, c) = xs
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, c), &x| (a.min(x), c.max(x)));
        (a / 1.5, c * 1.5)
    } else {
        (-0.6, xs.len() as f64 - 0.4)
    };
    let (ybold, ylight) = log_ticks(y0, y1);
    let labels: Vec<String> = spec
        .records
        .iter()
        .map(|p| p.shape.replace('x', "×"))
        .collect();
    let (width, height) = (1250u32, if by_size { 640 } else { 700 });
    let root = SVGBackend::with_string(svg, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(other)?;
    let (left, right) = root.split_horizontally(880);
    let caption = format!(
        "{} ({}), {}: {} against {}",
        op.name(),
        b.name(),
        spec.title,
        unit(op),
        if by_size { size_unit(op) } else { "shape" }
    );
    let mut builder = ChartBuilder::on(&left);
    builder
        .caption(caption, ("sans-serif", 19))
        .margin(14)
        .margin_right(24)
        .x_label_area_size(if by_size { 48 } else { 110 })
        .y_label_area_size(64);
    let y_axis = (y0..y1)
        .log_scale()
        .with_key_points(ybold)
        .with_light_points(ylight);
    let y_desc = format!("{} (log scale)", unit(op));
    // The range boundaries, as x positions.
    let boundaries: Vec<f64> = sel
        .ranges
        .iter()
        .filter_map(|r| r.max)
        .filter_map(|mx| {
            if by_size {
                Some(mx as f64 + 0.5)
            } else {
                spec.records
                    .windows(2)
                    .position(|w| w[0].size <= mx && mx < w[1].size)
                    .map(|i| i as f64 + 0.5)
            }
        })
        .filter(|&x| x > x0 && x < x1)
        .collect();
    if by_size {
        let (xbold, xlight) = log_ticks(x0, x1);
        let mut chart = builder
            .build_cartesian_2d(
                (x0..x1)
                    .log_scale()
                    .with_key_points(xbold)
                    .with_light_points(xlight),
                y_axis,
            )
            .map_err(other)?;
        let x_desc = format!("size ({}, log scale)", size_unit(op));
        let axes = Axes {
            x_desc: &x_desc,
            x_label: &|x| fmt_tick(*x),
            y_desc: &y_desc,
            boundaries: &boundaries,
            y: (y0, y1),
        };
        draw_body(&mut chart, &axes, &series, &chosen)?;
    } else {
        let mut chart = builder
            .build_cartesian_2d(Slots(labels.len()), y_axis)
            .map_err(other)?;
        // The shape labels are drawn by hand below the axis, rotated, one per slot (the
        // mesh's rotated labels would start inside the plot).
        let axes = Axes {
            x_desc: match op.shape_kind() {
                ShapeKind::MatMul => "shape m×k×n, in order of m·k·n",
                ShapeKind::Attention => {
                    "shape rows×past×heads×head_dim, in order of rows·total·width"
                }
                ShapeKind::Elems | ShapeKind::Rows => "shape rows×cols, in order of elements",
            },
            x_label: &|_| String::new(),
            y_desc: &y_desc,
            boundaries: &boundaries,
            y: (y0, y1),
        };
        draw_body(&mut chart, &axes, &series, &chosen)?;
        for (i, label) in labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, y0));
            left.draw(&Text::new(
                label.clone(),
                (px - 6, py + 8),
                ("sans-serif", 13)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            ))
            .map_err(other)?;
        }
    }
    draw_legend(&right, op, &series, &chosen_ids)?;
    root.present().map_err(other)?;
    Ok(true)
}

/// The x axis of a chart with one slot per shape: slot `i` at `i`, ticks at every slot.
struct Slots(usize);

impl Ranged for Slots {
    type ValueType = f64;
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        -0.6..(self.0 as f64 - 0.4)
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let r = self.range();
        let t = (value - r.start) / (r.end - r.start);
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.0).map(|i| i as f64).collect()
        }
    }
}

type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// What the two chart forms (by size, by shape) label differently.
struct Axes<'a> {
    x_desc: &'a str,
    x_label: &'a dyn Fn(&f64) -> String,
    y_desc: &'a str,
    /// The range boundaries, as x positions (dashed vertical lines).
    boundaries: &'a [f64],
    /// The y extent the boundary lines span.
    y: (f64, f64),
}

/// The mesh (y ticks by [`fmt_tick`]), the dashed range boundaries and the variants' lines.
fn draw_body<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    axes: &Axes<'_>,
    series: &[Series],
    chosen: &[(f64, f64, String)],
) -> io::Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_label_formatter(axes.x_label)
        .y_label_formatter(&|y| fmt_tick(*y))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(other)?;
    let grey = RGBColor(150, 150, 150);
    let (y0, y1) = axes.y;
    for &x in axes.boundaries {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, y0), (x, y1)],
                5,
                4,
                grey.stroke_width(1),
            ))
            .map_err(other)?;
    }
    draw_lines(chart, series, chosen)
}

/// The variants' lines with their markers, then the chosen path on top.
fn draw_lines<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    series: &[Series],
    chosen: &[(f64, f64, String)],
) -> io::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for s in series {
        let c = implementation_colour(&s.imp);
        let style = c.stroke_width(2);
        match memory_dash(s.memory) {
            None => chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map(|_| ()),
            Some((dash, gap)) => chart
                .draw_series(DashedLineSeries::new(
                    s.points.iter().copied(),
                    dash,
                    gap,
                    style,
                ))
                .map(|_| ()),
        }
        .map_err(other)?;
        draw_markers(chart, &s.points, thread_marker(s.threads), 4, c.filled())?;
    }
    // The table's choice, drawn last so nothing covers it.
    chart
        .draw_series(LineSeries::new(
            chosen.iter().map(|p| (p.0, p.1)),
            BLACK.stroke_width(4),
        ))
        .map_err(other)?;
    for (x, y, id) in chosen {
        let (imp, _, threads) = style_parts(id);
        let m = thread_marker(threads);
        draw_markers(chart, &[(*x, *y)], m, 8, BLACK.filled())?;
        draw_markers(
            chart,
            &[(*x, *y)],
            m,
            6,
            implementation_colour(&imp).filled(),
        )?;
    }
    Ok(())
}

fn draw_markers<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    points: &[(f64, f64)],
    marker: Marker,
    size: i32,
    style: ShapeStyle,
) -> io::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let pts = points.iter().copied();
    match marker {
        Marker::Circle => chart
            .draw_series(pts.map(|p| Circle::new(p, size, style)))
            .map(|_| ()),
        Marker::Triangle => chart
            .draw_series(pts.map(|p| TriangleMarker::new(p, size + 1, style)))
            .map(|_| ()),
        Marker::Square => chart
            .draw_series(pts.map(|p| {
                EmptyElement::at(p) + Rectangle::new([(-size, -size), (size, size)], style)
            }))
            .map(|_| ()),
        Marker::Cross => chart
            .draw_series(pts.map(|p| Cross::new(p, size, style.stroke_width(2))))
            .map(|_| ()),
    }
    .map_err(other)
}

/// A marker at a pixel position of the legend.
fn legend_marker(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    at: (i32, i32),
    marker: Marker,
    size: i32,
    style: ShapeStyle,
) -> io::Result<()> {
    let (x, y) = at;
    match marker {
        Marker::Circle => area.draw(&Circle::new(at, size, style)),
        Marker::Triangle => area.draw(&TriangleMarker::new(at, size + 1, style)),
        Marker::Square => area.draw(&Rectangle::new(
            [(x - size, y - size), (x + size, y + size)],
            style,
        )),
        Marker::Cross => area.draw(&Cross::new(at, size, style.stroke_width(2))),
    }
    .map_err(other)
}

/// A line sample of the legend, in a variant's style.
fn legend_line(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    y: i32,
    memory: Memory,
    style: ShapeStyle,
) -> io::Result<()> {
    let pts = vec![(8, y), (44, y)];
    match memory_dash(memory) {
        None => area.draw(&PathElement::new(pts, style)),
        Some((dash, gap)) => area.draw(&plotters::element::DashedPathElement::new(
            pts, dash, gap, style,
        )),
    }
    .map_err(other)
}

/// The legend: the key (colour, dash, marker, the chosen path), then one line per variant in
/// its exact style, grouped by implementation; the variants the table chooses somewhere in
/// bold.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    op: Op,
    series: &[Series],
    chosen_ids: &[&str],
) -> io::Result<()> {
    let font = |px: i32| ("sans-serif", px).into_font();
    let text = |line: &str, at: (i32, i32), style: FontDesc<'_>| {
        area.draw(&Text::new(line, at, style)).map_err(other)
    };
    let mut y = 22;
    text("How to read", (8, y - 8), font(15).style(FontStyle::Bold))?;
    y += 18;
    for line in [
        "colour: implementation",
        "line: memory (solid pooled, long dash in place,",
        "       short dash direct)",
        "marker: threads (circle 1, triangle 2, square 4,",
        "       cross more)",
    ] {
        text(line, (8, y - 7), font(13))?;
        y += 17;
    }
    y += 4;
    area.draw(&PathElement::new(
        vec![(8, y), (44, y)],
        BLACK.stroke_width(4),
    ))
    .map_err(other)?;
    legend_marker(area, (26, y), Marker::Circle, 7, BLACK.filled())?;
    let bold = font(13).style(FontStyle::Bold);
    text("the table's choice (drawn on top)", (52, y - 7), bold)?;
    y += 26;
    let n = series.len().max(1) as i32;
    let avail = 640 - y - 10;
    let line_h = (avail / n).clamp(11, 21);
    let px = (line_h - 4).clamp(9, 14);
    let prefix = format!("{}/", op.name());
    for s in series {
        let c = implementation_colour(&s.imp);
        legend_line(area, y, s.memory, c.stroke_width(2))?;
        legend_marker(area, (26, y), thread_marker(s.threads), 4, c.filled())?;
        let name = s.id.strip_prefix(&prefix).unwrap_or(&s.id);
        let is_chosen = chosen_ids.contains(&s.id.as_str());
        let (label, style) = if is_chosen {
            (format!("{name}  (chosen)"), font(px).style(FontStyle::Bold))
        } else {
            (name.to_string(), font(px))
        };
        text(&label, (52, y - px / 2 - 1), style)?;
        y += line_h;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_plain_powers_of_ten() {
        // The labels themselves are `fmt_tick`'s, tested with it in `backends::timing`.
        let (bold, light) = log_ticks(300.0, 2e6);
        assert_eq!(bold, vec![1e3, 1e4, 1e5, 1e6]);
        assert!(light.contains(&2e3) && !light.contains(&1e3));
        // Less than a decade: 1-2-5 steps.
        let (bold, _) = log_ticks(15.0, 90.0);
        assert_eq!(bold, vec![20.0, 50.0]);
        for v in bold.iter().chain(&light) {
            assert!(!fmt_tick(*v).contains('.') || *v < 1.0, "{v}");
        }
    }

    #[test]
    fn chart_names_are_recognised_and_nothing_else() {
        assert!(is_chart_file("matmul-small_m.svg"));
        assert!(is_chart_file("matmul-small_m-preset.svg"));
        assert!(is_chart_file("add-all.svg"));
        assert!(!is_chart_file("notes.svg"));
        assert!(!is_chart_file("matmul-small_m-mine.svg"));
        assert!(!is_chart_file("measurements.json"));
    }

    #[test]
    fn families_split_squares_presets_and_others() {
        let mm = |t: &str| families(Op::Matmul, &Shape::parse(Op::Matmul, t).unwrap());
        assert_eq!(mm("64x64x64"), [Family::Grid]);
        assert_eq!(mm("1x64x64"), [Family::Grid]);
        assert_eq!(mm("1x256x256"), [Family::Grid, Family::Preset]);
        assert_eq!(mm("10x128x384"), [Family::Preset]);
        assert_eq!(mm("25x64x91"), [Family::Other]);
        let add = families(Op::Add, &Shape::parse(Op::Add, "1280").unwrap());
        assert_eq!(add, [Family::Grid, Family::Preset]);
    }
}
