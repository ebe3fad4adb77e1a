//! The report beside the table: Markdown (`dispatch.md`), one SVG plot per op and bucket and
//! the raw measurements (`dispatch-report/`). Each file is written atomically.

use crate::cli::{fmt_ns, fmt_size};
use crate::counters::Counts;
use crate::measure;
use crate::select::Selection;
use crate::tune::{self, Run};
use backends::table::{Entry, Table};
use backends::{Bucket, Op};
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
    let mut plots = BTreeMap::new();
    for (op, b, sel) in sels {
        let name = format!("{}-{}.svg", op.name(), b.name());
        let path = dir.join(&name);
        let mut svg = String::new();
        match plot(run, *op, *b, sel, &mut svg) {
            Ok(false) => {}
            Ok(true) => {
                crate::guard::write_file(&path, svg.as_bytes())?;
                plots.insert((*op, *b), name);
            }
            Err(e) => eprintln!("warning: plot {}: {e}", path.display()),
        }
    }
    let json = serde_json::to_string_pretty(run).map_err(|e| format!("measurements: {e}"))?;
    crate::guard::write_file(&dir.join("measurements.json"), json.as_bytes())?;
    let dir_name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = markdown(run, sels, table, table_path, &dir_name, &plots);
    crate::guard::write_file(md, text.as_bytes())
}

fn unit(op: Op) -> &'static str {
    if op == Op::Matmul {
        "GFLOP/s"
    } else {
        "GB/s"
    }
}

fn size_unit(op: Op) -> &'static str {
    if op == Op::Matmul {
        "m·k·n"
    } else {
        "elements"
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

fn fmt_count(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else if x < 1e4 {
        format!("{x:.0}")
    } else if x < 1e7 {
        format!("{:.1}K", x / 1e3)
    } else {
        format!("{:.1}M", x / 1e6)
    }
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
    plots: &BTreeMap<(Op, Bucket), String>,
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
        "- **Measurement.** Every candidate's output was checked against the reference before timing (at the measured shape, or at a smaller shape of the same structure above m·k·n = 2^24 / 2^20 elements). Samples are batches of at least {} µs; candidates run round-robin, clear losers are pruned (> 1.5× the best after a few samples, > 1.15× after more), close races get more samples.{} *Margin* is the runner-up's median over the winner's at the range's representative size (negative when a tie-break kept a slightly slower variant). Counter figures are per call from a separate untimed pass; hardware counters cover the calling thread only, so they are left out for multi-threaded variants; the CPU time counts every thread.",
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
        "- **Plots** show throughput ({}/{}) against size, log-log, one line per variant; black rings mark the chosen variant at each measured size, dotted verticals the range boundaries.\n",
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
        if let Some(p) = plots.get(&(*op, *b)) {
            let _ = writeln!(
                s,
                "![{} {} throughput]({dir_name}/{p})\n",
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
                "| {} | `{}` | {} ± {} at {} | {ru} | {} |",
                range_text(e),
                e.variant,
                fmt_ns(ev.median_ns),
                fmt_ns(ev.spread_ns),
                ev.measured_size.map(fmt_size).unwrap_or("-".into()),
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
                (Some(w), Some(r)) => format!("{:.2}×", r.median_ns / w.median_ns),
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
                sel.choices[i].note.clone().unwrap_or_default()
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

/// Draws the plot of one op and bucket into `svg`; `Ok(false)` when there is nothing to plot.
fn plot(run: &Run, op: Op, b: Bucket, sel: &Selection, svg: &mut String) -> io::Result<bool> {
    // Series: variant → [(size, throughput)] over every measured shape of this op and bucket.
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let recs: Vec<_> = run
        .points
        .iter()
        .filter(|p| p.op == op && p.bucket == b)
        .collect();
    for p in &recs {
        let shape = p.shape();
        for r in &p.outcome.results {
            if r.median_ns.is_finite() && r.median_ns > 0.0 {
                series.entry(r.variant.clone()).or_default().push((
                    p.size.max(1) as f64,
                    measure::throughput(op, &shape, r.median_ns),
                ));
            }
        }
    }
    for v in series.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let chosen: Vec<(f64, f64)> = sel
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let id = sel.chosen[i].as_ref()?;
            let rec = recs.iter().find(|r| r.size == p.size)?;
            let r = rec.outcome.get(id)?;
            Some((
                p.size.max(1) as f64,
                measure::throughput(op, &rec.shape(), r.median_ns),
            ))
        })
        .collect();
    let all: Vec<(f64, f64)> = series.values().flatten().copied().collect();
    if all.is_empty() {
        return Ok(false);
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let (x0, x1) = (x0 / 1.5, x1 * 1.5);
    let (y0, y1) = (y0 / 1.5, y1 * 1.5);
    let root = SVGBackend::with_string(svg, (1100, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(other)?;
    let (left, right) = root.split_horizontally(780);
    let title = format!(
        "{} ({}): {} vs size — black rings: chosen",
        op.name(),
        b.name(),
        unit(op)
    );
    let mut chart = ChartBuilder::on(&left)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(other)?;
    chart
        .configure_mesh()
        .x_desc(format!("size ({}, log scale)", size_unit(op)))
        .y_desc(format!("{} (log scale)", unit(op)))
        .x_label_formatter(&|x| fmt_size(*x as u64))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .draw()
        .map_err(other)?;
    // Range boundaries.
    for r in &sel.ranges {
        if let Some(mx) = r.max {
            let x = mx as f64 + 0.5;
            if x > x0 && x < x1 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x, y0), (x, y1)],
                        4,
                        4,
                        RGBColor(140, 140, 140).stroke_width(1),
                    ))
                    .map_err(other)?;
            }
        }
    }
    let n = series.len().max(1);
    let color = |i: usize| HSLColor((i as f64 * 0.618_034) % 1.0, 0.75, 0.42);
    for (i, (id, pts)) in series.iter().enumerate() {
        let c = color(i);
        let width = if id.ends_with("/t1") { 2 } else { 1 };
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(width)))
            .map_err(other)?;
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
            .map_err(other)?;
    }
    chart
        .draw_series(
            chosen
                .iter()
                .map(|&p| Circle::new(p, 8, BLACK.stroke_width(2))),
        )
        .map_err(other)?;
    // Legend on the right (one line per variant; chosen variants in bold).
    let chosen_ids: Vec<&str> = sel.ranges.iter().map(|r| r.variant.as_str()).collect();
    let line_h = (560 / (n as i32 + 2)).clamp(12, 22);
    let font_px = (line_h - 3).clamp(9, 14);
    right
        .draw(&Text::new(
            "variants (thick: 1 thread)",
            (10, 14),
            ("sans-serif", 14).into_font(),
        ))
        .map_err(other)?;
    for (i, id) in series.keys().enumerate() {
        let y = 40 + i as i32 * line_h;
        let c = color(i);
        right
            .draw(&PathElement::new(vec![(10, y), (36, y)], c.stroke_width(3)))
            .map_err(other)?;
        let label = if chosen_ids.contains(&id.as_str()) {
            format!("{id}  ◉ chosen")
        } else {
            id.clone()
        };
        let style = if chosen_ids.contains(&id.as_str()) {
            ("sans-serif", font_px).into_font().style(FontStyle::Bold)
        } else {
            ("sans-serif", font_px).into_font()
        };
        right
            .draw(&Text::new(label, (42, y - font_px / 2), style))
            .map_err(other)?;
    }
    root.present().map_err(other)?;
    Ok(true)
}
