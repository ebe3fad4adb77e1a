//! The command line: tuning (the default command), `list`, `measure`, `inspect`, `validate`,
//! `compare`.

pub use crate::args::{
    load_dispatcher, open_counters, parse_ops, parse_threads, stderr_is_tty, warm_pools, Cli,
    Command, CompareArgs, InspectArgs, ListArgs, MeasureArgs, TuneArgs, ValidateArgs,
};
pub use crate::failure::{table_failure, Failure};
use crate::guard;
use crate::measure::{self, RaceCtx, Settings};
use backends::exec::Split;
use backends::problem::Problem;
use backends::table::{Entry, Table};
use backends::timing::{fmt_ns, fmt_size};
use backends::{catalog, Op, Shape, Variant};
use clap::Parser;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

type Res = Result<(), Failure>;

pub fn main() -> ExitCode {
    guard::reset_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        None => crate::tune_command::command(&cli.tune),
        Some(Command::Tune(a)) => crate::tune_command::command(&a),
        Some(Command::List(a)) => list(&a),
        Some(Command::Measure(a)) => measure_cmd(&a),
        Some(Command::Inspect(a)) => inspect(&a),
        Some(Command::Validate(a)) => crate::validate::command(&a),
        Some(Command::Compare(a)) => compare(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn list(a: &ListArgs) -> Res {
    let ops = parse_ops(&a.ops)?;
    let cat = catalog();
    if a.json {
        let rows: Vec<serde_json::Value> = cat
            .variants()
            .iter()
            .filter(|v| ops.contains(&v.op))
            .map(|v| {
                serde_json::json!({
                    "variant": v.id, "op": v.op.name(), "implementation": v.implementation,
                    "memory": v.memory.name(), "threads": v.threads,
                    "requires": v.requires.map(|f| f.name()),
                    "runnable": v.runnable().is_ok(),
                    "why_not": v.runnable().err(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    let width = cat
        .variants()
        .iter()
        .map(|v| v.id.len())
        .max()
        .unwrap_or(10);
    println!(
        "{:<width$}  {:<20} RUNS HERE",
        "VARIANT",
        "OP",
        width = width
    );
    for v in cat.variants().iter().filter(|v| ops.contains(&v.op)) {
        let runs = match v.runnable() {
            Ok(()) => "yes".to_string(),
            Err(why) => format!("no: {why}"),
        };
        println!(
            "{:<width$}  {:<20} {runs}",
            v.id,
            v.op.name(),
            width = width
        );
    }
    println!();
    println!(
        "{:<20} {:>8} {:>9} {:>12}",
        "OP", "VARIANTS", "RUNNABLE", "NOT RUNNABLE"
    );
    let (mut tot, mut totr) = (0, 0);
    for op in ops {
        let all: Vec<_> = cat.of(op).collect();
        let r = all.iter().filter(|v| v.runnable().is_ok()).count();
        tot += all.len();
        totr += r;
        println!(
            "{:<20} {:>8} {:>9} {:>12}",
            op.name(),
            all.len(),
            r,
            all.len() - r
        );
    }
    println!("{:<20} {:>8} {:>9} {:>12}", "total", tot, totr, tot - totr);
    let m = backends::machine::Machine::detect();
    println!(
        "\nmachine: {} ({}), features [{}], {} threads, catalog checksum {}",
        m.cpu,
        m.arch,
        m.features.join(", "),
        m.threads,
        cat.checksum()
    );
    Ok(())
}

/// The candidates of `measure`: every part of `--variants` must match a variant of `op`
/// (with the thread counts asked for), and at least one of its matches must run here;
/// otherwise the error says which part and why.
pub fn measure_candidates(
    op: Op,
    variants: Option<&str>,
    threads: Option<&[usize]>,
) -> Result<Vec<&'static backends::Variant>, Failure> {
    let cands = measure::candidates(op, variants, threads);
    let parts: Vec<&str> = variants
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    for part in &parts {
        let of_op: Vec<_> = measure::candidates(op, Some(part), None);
        if of_op.is_empty() {
            return Err(Failure::input(format!(
                "--variants: `{part}` matches no {op} variant (see `autotune list --ops {op}`)"
            )));
        }
        let matched: Vec<_> = cands.iter().filter(|v| v.id.contains(part)).collect();
        if matched.is_empty() {
            return Err(Failure::input(format!(
                "--variants: `{part}` matches no {op} variant with --threads {:?} (it matches {})",
                threads.unwrap_or(&[]),
                of_op
                    .iter()
                    .map(|v| v.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(why) = matched
            .iter()
            .find_map(|v| v.runnable().err())
            .filter(|_| matched.iter().all(|v| v.runnable().is_err()))
        {
            return Err(Failure::input(format!(
                "--variants: `{part}` matches only variants that cannot run here ({}): {why}",
                matched
                    .iter()
                    .map(|v| v.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if cands.is_empty() {
        return Err(Failure::input(format!(
            "no {op} variant matches{}{}",
            variants
                .map(|v| format!(" --variants `{v}`"))
                .unwrap_or_default(),
            threads
                .map(|t| format!(" with --threads {t:?}"))
                .unwrap_or_default()
        )));
    }
    if let Some(why) = cands
        .iter()
        .find_map(|v| v.runnable().err())
        .filter(|_| cands.iter().all(|v| v.runnable().is_err()))
    {
        return Err(Failure::input(format!(
            "no matching {op} variant can run here: {why}"
        )));
    }
    Ok(cands)
}

fn measure_cmd(a: &MeasureArgs) -> Res {
    guard::apply_max_memory(a.max_memory.as_deref())?;
    let op = Op::from_name(a.op.trim()).ok_or_else(|| {
        Failure::input(format!(
            "unknown op `{}`; known ops: {}",
            a.op,
            Op::ALL.map(|o| o.name()).join(", ")
        ))
    })?;
    let shape = Shape::parse(op, &a.shape).map_err(Failure::input)?;
    let threads = parse_threads(&a.threads)?;
    let cands = measure_candidates(op, a.variants.as_deref(), threads.as_deref())?;
    guard::race_footprint(op, &shape)?;
    let mut settings = Settings::standard();
    settings.prune = false;
    settings.min_rounds = a.samples;
    settings.base_rounds = a.samples;
    settings.max_rounds = a.samples;
    let splits = parse_splits(op, &a.splits)?;
    let race_cands = split_candidates(&cands, &splits, &shape);
    // Each split of a threaded variant is one more candidate to time.
    let timed: Vec<_> = race_cands
        .iter()
        .map(|c| c.v)
        .filter(|v| v.runnable().is_ok())
        .collect();
    let est = guard::measure_estimate(op, &shape, &timed, a.samples, settings.sample_ns);
    if est.seconds > guard::REFUSE_ABOVE_S && !a.force {
        return Err(Failure::input(format!(
            "measure {op} {}: estimated at least {} ({}); this refuses work estimated above {}: pass --force to run it anyway, or pick fewer --variants, fewer --samples or a smaller --shape",
            a.shape,
            guard::fmt_seconds(est.seconds),
            est.detail,
            guard::fmt_seconds(guard::REFUSE_ABOVE_S)
        )));
    }
    if est.seconds > guard::ANNOUNCE_ABOVE_S {
        eprintln!(
            "measure: {op} {shape} is estimated at least {} ({})",
            guard::fmt_seconds(est.seconds),
            est.detail
        );
    }
    if !backends::adapters::gemm::AVX512_BUILD && cands.iter().any(|v| v.implementation == "gemm") {
        eprintln!(
            "measure: this build's `gemm` runs its AVX2+FMA kernels (built without the \
             `gemm-avx512` feature), as on a CPU without AVX-512"
        );
    }
    let problem = Problem::random(op, shape, a.seed).map_err(Failure::input)?;
    let cache = match a.cold.as_deref().and_then(backends::limits::parse_size) {
        Some(bytes) => measure::CacheState::Cold {
            bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
        },
        None => measure::CacheState::Warm,
    };
    let mut source = open_counters()?;
    warm_pools();
    let far = measure::after(Duration::from_secs(3600));
    let outcome = measure::race_cands(
        &problem,
        &race_cands,
        RaceCtx::new(&settings, source.as_mut(), far, far)
            .verify(true)
            .cache(cache),
    );
    let is_mm = op == Op::Matmul;
    let mut rows: Vec<_> = outcome.results.iter().collect();
    rows.sort_by(|x, y| x.timing.median_ns.total_cmp(&y.timing.median_ns));
    if a.json {
        let mut arr = Vec::new();
        for r in &rows {
            let tp = measure::throughput(op, &shape, r.timing.median_ns);
            let mut o = serde_json::json!({
                "variant": r.variant, "op": op.name(), "shape": shape.to_string(),
                "median_ns": r.timing.median_ns, "spread_ns": r.timing.spread_ns, "samples": r.timing.samples,
                "batch": r.batch, "counters": r.counters,
            });
            o[if is_mm { "gflops" } else { "gbps" }] = serde_json::json!(tp);
            arr.push(o);
        }
        for (id, why) in outcome.excluded.iter().chain(&outcome.skipped) {
            arr.push(
                serde_json::json!({"variant": id, "op": op.name(), "shape": shape.to_string(),
                "median_ns": null, "spread_ns": null, "excluded": why}),
            );
        }
        println!("{}", serde_json::to_string_pretty(&arr).unwrap_or_default());
    } else {
        let operand = problem.inputs.get(1).map_or(0, |b| b.len() * 4);
        println!(
            "{op} {shape} (key {} size {}), {} source, operands {}",
            shape.key().bucket.name(),
            shape.key().size,
            source.kind().name(),
            cache
                .describe(op, operand)
                .unwrap_or_else(|| "warm (a tight loop)".into())
        );
        let w = rows.iter().map(|r| r.variant.len()).max().unwrap_or(10);
        println!(
            "{:<w$} {:>12} {:>10} {:>7} {:>9} {:>8}",
            "VARIANT",
            "MEDIAN",
            "MAD",
            "SAMPLES",
            if is_mm { "GFLOP/s" } else { "GB/s" },
            "vs best",
            w = w
        );
        let best = rows.first().map(|r| r.timing.median_ns).unwrap_or(f64::NAN);
        for r in &rows {
            println!(
                "{:<w$} {:>12} {:>10} {:>7} {:>9.2} {:>7.2}×",
                r.variant,
                fmt_ns(r.timing.median_ns),
                fmt_ns(r.timing.spread_ns),
                r.timing.samples,
                measure::throughput(op, &shape, r.timing.median_ns),
                r.timing.median_ns / best,
                w = w
            );
        }
        for (id, why) in &outcome.excluded {
            println!("excluded {id}: {why}");
        }
        for (id, why) in &outcome.skipped {
            println!("skipped {id}: {why}");
        }
    }
    Ok(())
}

/// `measure --splits`: the named thread splits, for MatMul only.
fn parse_splits(op: Op, names: &[String]) -> Result<Vec<Split>, Failure> {
    if !names.is_empty() && op != Op::Matmul {
        return Err(Failure::input(format!(
            "--splits: only matmul has thread splits, not {op}"
        )));
    }
    names
        .iter()
        .map(|n| {
            Split::from_name(n.trim()).ok_or_else(|| {
                Failure::input(format!(
                    "--splits: unknown thread split `{n}` (known: {})",
                    Split::ALL.map(|s| s.name()).join(", ")
                ))
            })
        })
        .collect()
}

/// The race's candidates: each variant as it is, or with `splits` each threaded variant once
/// per split (labelled `split NAME`, with `→ rule's X` where it does not fit `shape`).
fn split_candidates<'v>(
    variants: &[&'v Variant],
    splits: &[Split],
    shape: &Shape,
) -> Vec<measure::Cand<'v>> {
    let g = match shape {
        Shape::MatMul(g) if !splits.is_empty() => g,
        _ => return variants.iter().map(|&v| measure::Cand::plain(v)).collect(),
    };
    let mut out = Vec::new();
    for &v in variants {
        if v.threads < 2 {
            out.push(measure::Cand::plain(v));
            continue;
        }
        for &s in splits {
            let ran = Split::resolve(Some(s), v.threads, g);
            let label = match ran {
                Some(r) if r == s => format!("split {s}"),
                Some(r) => format!("split {s} → rule's {r}"),
                None => format!("split {s} → one thread"),
            };
            let tuning = backends::spec::Tuning {
                params: None,
                split: Some(s),
            };
            out.push(measure::Cand::tuned(v, tuning, &label));
        }
    }
    out
}

fn inspect(a: &InspectArgs) -> Res {
    let table = backends::table::Table::load(&a.path).map_err(table_failure)?;
    let d = load_dispatcher(&a.path, a.allow_foreign)?;
    let catalog_matches = table.catalog.checksum == catalog().checksum();
    if a.json {
        let mut served = Vec::new();
        for op in Op::ALL {
            for &b in op.buckets() {
                for (lo, hi, v) in d.ranges(op, b) {
                    served.push(serde_json::json!({
                        "op": op.name(), "bucket": b.name(), "min": lo,
                        "max": (hi != u64::MAX).then_some(hi), "variant": v.id,
                        "from_table": table.entries_of(op).any(|e| e.bucket == b && e.variant == v.id),
                    }));
                }
            }
        }
        let out = serde_json::json!({
            "table": a.path.display().to_string(),
            "header": {
                "format": table.format, "version": table.version,
                "generator": table.generator, "created": table.created,
                "machine": table.machine, "counters": table.counters,
                "catalog": table.catalog,
            },
            "catalog_matches_this_build": catalog_matches,
            "warnings": d.warnings(),
            "entries": table.entries,
            "served": served,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    println!("table: {}", a.path.display());
    println!(
        "generator {} {}, created {}, machine {} ({}), counters {}{}",
        table.generator.name,
        table.generator.version,
        table.created,
        table.machine.cpu,
        table.machine.fingerprint,
        table.counters.source,
        table
            .counters
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    if !catalog_matches {
        println!(
            "note: tuned against another catalog (checksum {} with {} variants; this build {} with {})",
            table.catalog.checksum,
            table.catalog.variants,
            catalog().checksum(),
            catalog().variants().len()
        );
    }
    if let Some(e) = &table.end_to_end {
        println!(
            "end to end ({} preset): kept {} ({})",
            e.preset, e.kept, e.why
        );
        for w in &e.workloads {
            println!(
                "  {:<24} {:>10.1} ± {:<8.1} {} (fastest {:.1}, {})",
                w.workload, w.rate, w.spread, w.unit, w.fastest, w.fastest_contender
            );
        }
    }
    // The loader has printed each warning on stderr already; say how many, once.
    match d.warnings().len() {
        0 => println!("warnings: none"),
        n => println!("warnings: {n} (printed on stderr while loading)"),
    }
    for op in Op::ALL {
        let from_table = table.entries_of(op).count();
        println!(
            "\n{op}{}",
            if from_table == 0 {
                " (no entries in this table: the embedded default serves)"
            } else {
                ""
            }
        );
        for &b in op.buckets() {
            for (lo, hi, v) in d.ranges(op, b) {
                let ev = table
                    .entries_of(op)
                    .find(|e| e.bucket == b && e.variant == v.id && e.min <= hi && e.upper() >= lo);
                let extra = ev
                    .map(|e| {
                        let r = e
                            .evidence
                            .runner_up
                            .as_ref()
                            .map(|r| {
                                format!(
                                    ", runner-up {} {:.2}×",
                                    r.variant,
                                    r.median_ns / e.evidence.median_ns.max(1e-9)
                                )
                            })
                            .unwrap_or_default();
                        let params = e
                            .params
                            .map(|p| format!("; parameters: {p}"))
                            .unwrap_or_default()
                            + &e.split
                                .map(|s| format!("; thread split: {s}"))
                                .unwrap_or_default();
                        format!(
                            "  [{} at size {}{r}{params}]",
                            fmt_ns(e.evidence.median_ns),
                            e.evidence.measured_size.map(fmt_size).unwrap_or("-".into())
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "  {:<8} {:>9} ..= {:<9} {}{extra}",
                    b.name(),
                    fmt_size(lo),
                    fmt_size(hi),
                    v.id
                );
            }
        }
    }
    Ok(())
}

/// One range of table A counted by `compare`: A's choice, its lead, and B's choice at A's
/// measured size.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub op: String,
    pub bucket: String,
    /// The size compared: A's measured size of the range (else its lower bound).
    pub size: u64,
    pub a_variant: String,
    /// How much slower A's runner-up was than A's choice, as a fraction (0.25 = 25 %).
    pub a_lead: f64,
    pub a_runner_up: String,
    /// B's choice at that size (`None` when B has no entry for the op and bucket).
    pub b_variant: Option<String>,
    /// B's lead at its own range's measured size, when B recorded a runner-up.
    pub b_lead: Option<f64>,
    pub agree: bool,
}

/// Everything `compare` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// Ranges of A counted: those whose winner led by more than this fraction.
    pub lead: f64,
    pub counted: usize,
    pub agree: usize,
    /// `agree / counted`, `None` when nothing was counted.
    pub agreement: Option<f64>,
    /// The counted ranges where B chose differently.
    pub differing: Vec<CompareRow>,
    /// Every counted range.
    pub ranges: Vec<CompareRow>,
}

/// Compares two tables (see `autotune compare --help`).
pub fn comparison(a: &Path, ta: &Table, b: &Path, tb: &Table, lead: f64) -> Comparison {
    let lead_of = |e: &Entry| {
        e.evidence
            .runner_up
            .as_ref()
            .map(|r| r.median_ns / e.evidence.median_ns.max(1e-9) - 1.0)
    };
    let mut ranges = Vec::new();
    for e in &ta.entries {
        let Some(ru) = &e.evidence.runner_up else {
            continue;
        };
        let a_lead = lead_of(e).unwrap_or(0.0);
        if a_lead <= lead {
            continue;
        }
        let size = e.evidence.measured_size.unwrap_or(e.min);
        let other = tb
            .entries
            .iter()
            .find(|x| x.op == e.op && x.bucket == e.bucket && x.min <= size && size <= x.upper())
            .or_else(|| {
                tb.entries
                    .iter()
                    .rfind(|x| x.op == e.op && x.bucket == e.bucket)
            });
        let agree = other.is_some_and(|x| x.variant == e.variant);
        ranges.push(CompareRow {
            op: e.op.clone(),
            bucket: e.bucket.name().to_string(),
            size,
            a_variant: e.variant.clone(),
            a_lead,
            a_runner_up: ru.variant.clone(),
            b_variant: other.map(|x| x.variant.clone()),
            b_lead: other.and_then(lead_of),
            agree,
        });
    }
    let agree = ranges.iter().filter(|r| r.agree).count();
    Comparison {
        a: a.display().to_string(),
        b: b.display().to_string(),
        lead,
        counted: ranges.len(),
        agree,
        agreement: (!ranges.is_empty()).then(|| agree as f64 / ranges.len() as f64),
        differing: ranges.iter().filter(|r| !r.agree).cloned().collect(),
        ranges,
    }
}

fn compare(a: &CompareArgs) -> Res {
    let ta = backends::table::Table::load(&a.a).map_err(table_failure)?;
    let tb = backends::table::Table::load(&a.b).map_err(table_failure)?;
    let c = comparison(&a.a, &ta, &a.b, &tb, a.lead);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
        return Ok(());
    }
    for r in &c.ranges {
        println!(
            "{} {:<8} size {:>9}: A {} (lead {:.0}%), B {} {}",
            r.op,
            r.bucket,
            fmt_size(r.size),
            r.a_variant,
            r.a_lead * 100.0,
            r.b_variant.as_deref().unwrap_or("(none)"),
            if r.agree { "agree" } else { "DIFFER" }
        );
    }
    match c.agreement {
        None => println!(
            "no ranges in {} lead by more than {:.0}%",
            a.a.display(),
            a.lead * 100.0
        ),
        Some(f) => println!(
            "agreement: {}/{} = {:.1}% of ranges whose winner led by > {:.0}%",
            c.agree,
            c.counted,
            100.0 * f,
            a.lead * 100.0
        ),
    }
    Ok(())
}
