//! `experiments`: profiles, comparisons and memory studies of the kernel harness.
//! Run `experiments --help` (or `cargo run --release -p experiments -- --help`).

use anyhow::{Context, Result};
use backends::{Dispatcher, LoadOptions, Op, Shape};
use clap::{Args, Parser, Subcommand};
use experiments::guard::{self, usage};
use experiments::{alloc_counter, compare, crossover, memory, profile, roofline};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[global_allocator]
static ALLOC: alloc_counter::CountingAlloc = alloc_counter::CountingAlloc;

/// Profiles and studies of the kernel harness.
///
/// The studies (profile, memory, alloc, crossover) run the ops through a dispatcher, the same
/// path applications use: by default the dispatch table embedded in `backends`, or a tuned
/// table given with the command's `--dispatch PATH` (written by `cargo run --release -p
/// autotune`). Build with `--release`: debug timings mean little.
///
/// Typical use:
///   experiments profile --out runs/base.json           # profile the study's scenarios
///   experiments profile --out runs/new.json            # ... again after a change
///   experiments compare runs/base.json runs/new.json   # exit code 1 on a regression
///   experiments memory | alloc | crossover             # the memory studies
///   experiments roofline --out roofline.md              # peak, bandwidth roofs, every variant placed
///
/// Exit codes: 0 success (for compare: no regression), 1 a failure while running (for compare:
/// a regression), 2 bad input (arguments, input files, output paths that cannot be written,
/// profiles taken with different settings, work over the memory or time limits). Output
/// paths are checked before any work starts.
#[derive(Parser, Debug)]
#[command(name = "experiments", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The dispatch table of the commands that run ops through a dispatcher. Only those commands
/// take these flags, so a flag that would do nothing (`compare --dispatch`) is refused.
#[derive(Args, Debug)]
struct DispatchArgs {
    /// Dispatch table to load (JSON from the autotuner) instead of the embedded default.
    #[arg(long, value_name = "PATH")]
    dispatch: Option<PathBuf>,
    /// Load a dispatch table tuned on another machine (with a warning); needs --dispatch.
    #[arg(long, requires = "dispatch")]
    allow_foreign: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the study's scenarios as named scopes and write a profile (JSON + Markdown).
    ///
    /// Scenarios: MatMul 64/128/256/512 (warm-up, then 3 calls), GELU 1K–1M and Softmax
    /// 64 rows × 256–2048 columns (warm-up, then 5), TensorAdd 10,000 and BroadcastAdd
    /// 100×100 (warm-up, then 5). Each scenario is a scope with `setup`, `warmup` and `run`
    /// children. The models' small and medium presets: `create` (3×), then `inference`
    /// (10-token prompt, 25 tokens; a warm-up, then 3) split into `prefill` and `decode`. Per scope: calls, total and self time, mean/median/min/max/MAD per call,
    /// share of wall time, heap allocations. Prints the hot-path table.
    #[command(verbatim_doc_comment)]
    Profile(ProfileArgs),
    /// Compare two profiles: per scope old, new, delta, status; exit 1 on a regression.
    ///
    /// The figure compared is each scope's median time per call. A scope regresses when it
    /// got slower by more than --scope-threshold percent AND its new median lies outside the
    /// old run's noise band AND the old median outside the new run's (the noise rule; a band
    /// is median ± 3·MAD of the calls, within [min, max]). Scopes with one call have no
    /// spread and are shown but not judged. The total wall time
    /// regresses beyond --total-threshold percent. Differences in machine or parameters are
    /// stated in the report.
    ///
    /// Profiles taken with different settings (quick, runs, scenarios, dispatch, build,
    /// KERNELS_DISABLE, allocation counting, machine fingerprint) are refused unless
    /// --allow-different-settings is given; the report then says loudly that they are not
    /// comparable. A setting an older profile did not record is unknown: a warning.
    ///
    /// Exit codes: 0 no regression, 1 regression, 2 bad input (unreadable or malformed file,
    /// different settings without --allow-different-settings).
    #[command(verbatim_doc_comment)]
    Compare(CompareArgs),
    /// Pooled vs direct vs in-place buffers per op, and fused add_layernorm vs Add then
    /// LayerNorm: time and allocations per iteration.
    Memory(MemoryArgs),
    /// Allocations per iteration and samples/s of the MatMul backward (128×256 @ 256×128,
    /// 100 iterations), a three-MatMul training chain (batch 32, hidden 256, 50 steps) and a
    /// training step of the small model, through the selected dispatcher and pooled/direct
    /// forms of one implementation.
    Alloc(AllocArgs),
    /// Sweep MatMul n = 16…1024 with pooled/direct memory × one/all threads, show where each
    /// wins, and check that the dispatcher picks the winner (or within noise) at every size.
    Crossover(CrossoverArgs),
    /// Measure this machine's roofline (FMA peak; read and copy bandwidth in L1, L2, L3 and
    /// DRAM; one thread) and place every pooled single-threaded variant of the study's shapes on
    /// it: MatMul 64…512, the m = 1 decode shapes, GELU and Softmax 1M and 8M, LayerNorm 32×512,
    /// Add 10K. Prints a Markdown table (fraction of the applicable limit per point, decode
    /// shapes against the best peer, GELU/Softmax against copy bandwidth) and writes an SVG.
    #[command(verbatim_doc_comment)]
    Roofline(RooflineArgs),
}

#[derive(Args, Debug)]
struct RooflineArgs {
    /// A few shapes with short budgets (seconds): for tests and smoke runs.
    #[arg(long)]
    quick: bool,
    /// Time budget per shape in seconds, fractions allowed (all its variants together; ≥ 5
    /// rounds; --quick caps it at 0.015).
    #[arg(long, default_value = "0.4", value_name = "SECONDS", value_parser = guard::seconds)]
    budget: Duration,
    /// Every memory strategy and thread count, not only pooled/t1.
    #[arg(long)]
    all_forms: bool,
    /// Comma-separated substrings of shape labels to keep, e.g. `1x256,gelu`.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    shapes: Vec<String>,
    /// Also write the Markdown here.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Where to write the SVG chart.
    #[arg(long, default_value = "roofline.svg", value_name = "PATH")]
    svg: PathBuf,
}

#[derive(Args, Debug)]
struct ProfileArgs {
    /// Where to write the JSON profile; the Markdown goes beside it (.md). Default:
    /// profile.json, or no files when --json is given.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Print the profile's JSON on stdout instead of the hot-path table (files are then
    /// written only when --out is given).
    #[arg(long, conflicts_with = "top")]
    json: bool,
    /// Only the small scenarios (a few seconds even in a debug build): for tests and smoke runs.
    #[arg(long)]
    quick: bool,
    /// Comma-separated scenario names or prefixes, e.g. `matmul,gelu_1k` (default: all).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    scenarios: Vec<String>,
    /// Measured calls per scenario (default: 3 for MatMul, 5 for the others).
    #[arg(long, value_name = "N", value_parser = guard::at_least_one)]
    runs: Option<usize>,
    /// List the scenarios and exit (takes no other flag).
    #[arg(long, exclusive = true)]
    list: bool,
    /// Rows of the hot-path table printed at the end.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = guard::at_least_one)]
    top: usize,
    #[command(flatten)]
    dispatch: DispatchArgs,
}

#[derive(Args, Debug)]
struct CompareArgs {
    /// The baseline profile (JSON written by `experiments profile`).
    old: PathBuf,
    /// The profile to judge.
    new: PathBuf,
    /// Per-scope threshold in percent.
    #[arg(long, default_value_t = 5.0, value_name = "PCT", value_parser = guard::non_negative)]
    scope_threshold: f64,
    /// Threshold for the total wall time in percent.
    #[arg(long, default_value_t = 10.0, value_name = "PCT", value_parser = guard::non_negative)]
    total_threshold: f64,
    /// Write the Markdown report here (default: not written; the summary is printed).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Write an SVG bar chart of the changed scopes here (regressed red, improved green,
    /// sorted by change).
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
    /// Most bars in the chart (the largest changes; needs --svg).
    #[arg(long, default_value_t = 15, value_name = "N", value_parser = guard::at_least_one, requires = "svg")]
    bars: usize,
    /// Compare profiles taken with different settings anyway; the summary, the report and
    /// the chart then say that they are not comparable.
    #[arg(long)]
    allow_different_settings: bool,
}

#[derive(Args, Debug)]
struct MemoryArgs {
    /// Implementation to study (`avx2`, `gemm`, ...; default: the dispatcher's choice per op).
    #[arg(long, value_name = "NAME")]
    implementation: Option<String>,
    /// Timed iterations per figure.
    #[arg(long, default_value_t = 200, value_name = "N", value_parser = guard::at_least_one)]
    iters: usize,
    /// Also write the Markdown here.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    dispatch: DispatchArgs,
}

#[derive(Args, Debug)]
struct AllocArgs {
    /// MatMul implementation of the pooled/direct rows (default: the fastest single-threaded
    /// one, by a short race at n = 128).
    #[arg(long, value_name = "NAME")]
    implementation: Option<String>,
    /// Threads of the pooled/direct rows.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = guard::at_least_one)]
    threads: usize,
    /// Timed training steps of the small model.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = guard::at_least_one)]
    model_steps: usize,
    /// Also write the Markdown here.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    #[command(flatten)]
    dispatch: DispatchArgs,
}

#[derive(Args, Debug)]
struct CrossoverArgs {
    /// MatMul implementation whose memory × threads forms are compared (default: the fastest
    /// single-threaded one, by a short race at n = 128).
    #[arg(long, value_name = "NAME")]
    implementation: Option<String>,
    /// Comma-separated sizes n ≥ 1 (default: 16,24,32,48,64,96,128,192,256,384,512,768,1024).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    sizes: Vec<String>,
    /// Time budget per size in seconds, fractions allowed (all variants together; at least 3
    /// rounds).
    #[arg(long, default_value = "0.6", value_name = "SECONDS", value_parser = guard::seconds)]
    budget: Duration,
    /// Smallest noise band in percent: a pick this close to the winner counts as OK.
    #[arg(long, default_value_t = 3.0, value_name = "PCT", value_parser = guard::non_negative)]
    tolerance: f64,
    /// Run even when the sweep is estimated above 10 minutes (a lower bound).
    #[arg(long)]
    force: bool,
    /// Most memory the sweep's problems may take (512M, 16G, bytes; default:
    /// KERNELS_MAX_MEMORY, else 80 % of available memory). Checked for every size first.
    #[arg(long, value_name = "SIZE", value_parser = guard::memory_size)]
    max_memory: Option<String>,
    /// Also write the Markdown here.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Write an SVG plot (GFLOP/s against n, log-log) here.
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
    #[command(flatten)]
    dispatch: DispatchArgs,
}

/// The dispatcher the command's `--dispatch` names (or the embedded default) and how the
/// profile records it.
fn dispatcher(a: &DispatchArgs) -> Result<(Dispatcher, String)> {
    match &a.dispatch {
        None => Ok((Dispatcher::embedded().clone(), "embedded".into())),
        Some(p) => {
            let opts = LoadOptions {
                allow_foreign: a.allow_foreign,
            };
            let d = Dispatcher::from_file(p, opts)
                .map_err(|e| usage(e.to_string()))
                .with_context(|| format!("loading the dispatch table {}", p.display()))?;
            Ok((d, p.display().to_string()))
        }
    }
}

/// Checks every output path given (before any work).
fn outputs(paths: &[(&str, Option<&Path>)]) -> Result<()> {
    for (what, p) in paths {
        if let Some(p) = p {
            guard::output_file(what, p)?;
        }
    }
    Ok(())
}

fn run_profile(a: &ProfileArgs) -> Result<ExitCode> {
    let mut all = profile::op_scenarios();
    all.extend(experiments::model_study::scenarios());
    if a.list {
        for s in &all {
            println!(
                "{:<22} {:?}, {} runs{}",
                s.name,
                s.work,
                s.runs,
                if s.quick { " (quick)" } else { "" }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    // With --json the JSON goes to stdout; files only where --out asks for them.
    let out: Option<PathBuf> = match (&a.out, a.json) {
        (Some(p), _) => Some(p.clone()),
        (None, false) => Some(PathBuf::from("profile.json")),
        (None, true) => None,
    };
    if let Some(out) = &out {
        let md = profile::Profile::markdown_path(out);
        if &md == out {
            return Err(usage(format!(
                "--out {}: the Markdown goes beside the JSON with the extension .md; give another name (e.g. profile.json)",
                out.display()
            )));
        }
        outputs(&[
            ("--out", Some(out)),
            ("the Markdown beside --out", Some(&md)),
        ])?;
    }
    for f in &a.scenarios {
        if !all
            .iter()
            .any(|s| (!a.quick || s.quick) && profile::selected(&s.name, std::slice::from_ref(f)))
        {
            return Err(usage(format!(
                "--scenarios: `{f}` matches no scenario{} (see `experiments profile --list`)",
                if a.quick { " with --quick" } else { "" }
            )));
        }
    }
    let chosen: Vec<profile::Scenario> = all
        .into_iter()
        .filter(|s| (!a.quick || s.quick) && profile::selected(&s.name, &a.scenarios))
        .collect();
    if chosen.is_empty() {
        return Err(usage(format!(
            "--scenarios: no scenario matches {:?}{} (see `experiments profile --list`)",
            a.scenarios,
            if a.quick { " with --quick" } else { "" }
        )));
    }
    let (d, name) = dispatcher(&a.dispatch)?;
    let opts = profile::Options {
        quick: a.quick,
        filter: a.scenarios.clone(),
        runs: a.runs,
        dispatch: name,
    };
    let p = profile::run(&chosen, &d, &opts)?;
    let written = match &out {
        Some(out) => Some((out, p.write(out)?)),
        None => None,
    };
    if a.json {
        println!("{}", p.to_json()?);
        if let Some((out, md)) = written {
            eprintln!("wrote {} and {}", out.display(), md.display());
        }
    } else {
        println!(
            "Hot path (by self time), wall time {}:\n",
            backends::timing::fmt_ns_precise(p.wall_ns as f64)
        );
        print!("{}", p.hot_path(a.top));
        if let Some((out, md)) = written {
            println!("\nwrote {} and {}", out.display(), md.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_compare(a: &CompareArgs) -> Result<ExitCode> {
    outputs(&[("--out", a.out.as_deref()), ("--svg", a.svg.as_deref())])?;
    let old = profile::Profile::load(&a.old).map_err(|e| usage(format!("{e:#}")))?;
    let new = profile::Profile::load(&a.new).map_err(|e| usage(format!("{e:#}")))?;
    let t = compare::Thresholds {
        scope_pct: a.scope_threshold,
        total_pct: a.total_threshold,
    };
    let c = compare::compare(
        &old,
        &new,
        &a.old.display().to_string(),
        &a.new.display().to_string(),
        t,
    );
    if !c.settings.differing.is_empty() && !a.allow_different_settings {
        return Err(usage(format!(
            "{} and {} were taken with different settings: {}. Their times are not comparable; profile both the same way, or pass --allow-different-settings to compare them anyway",
            a.old.display(),
            a.new.display(),
            c.settings.differing_text()
        )));
    }
    print!("{}", c.summary());
    if let Some(out) = &a.out {
        guard::write_file(out, c.markdown().as_bytes())?;
        println!("wrote {}", out.display());
    }
    if let Some(svg) = &a.svg {
        c.svg(svg, a.bars)?;
        println!("wrote {}", svg.display());
    }
    Ok(if c.regressed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_memory(a: &MemoryArgs) -> Result<ExitCode> {
    outputs(&[("--out", a.out.as_deref())])?;
    if let Some(imp) = &a.implementation {
        // Refuses an unknown implementation or one that cannot run here; says which ops it
        // lacks (those rows use the dispatcher's choice).
        let d = memory::forced(imp, backends::Memory::Pooled, 1)
            .with_context(|| format!("--implementation {imp}"))?;
        for w in d.warnings() {
            eprintln!("warning: {w} (in this study those ops use the dispatcher's choice)");
        }
    }
    let (d, _) = dispatcher(&a.dispatch)?;
    let md = memory::memory_study(&d, a.implementation.as_deref(), a.iters)?;
    print!("{md}");
    if let Some(out) = &a.out {
        guard::write_file(out, md.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_alloc(a: &AllocArgs) -> Result<ExitCode> {
    outputs(&[("--out", a.out.as_deref())])?;
    let (d, _) = dispatcher(&a.dispatch)?;
    let imp = match &a.implementation {
        Some(i) => i.clone(),
        None => crossover::fastest_implementation()?,
    };
    let (_, warnings) = memory::study_forms(&imp, a.threads).with_context(|| {
        format!(
            "--implementation {imp} --threads {}: the pooled and direct rows cannot run as named",
            a.threads
        )
    })?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let mut extra = vec![experiments::model_study::training_step(a.model_steps)?];
    let md = memory::alloc_study(&d, &imp, a.threads, &mut extra)?;
    print!("{md}");
    if let Some(out) = &a.out {
        guard::write_file(out, md.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--sizes`: each a square MatMul size n ≥ 1, through the checked shape parser.
fn crossover_sizes(given: &[String]) -> Result<Vec<usize>> {
    if given.is_empty() {
        return Ok(crossover::SIZES.to_vec());
    }
    given
        .iter()
        .map(|text| {
            let shape =
                Shape::parse(Op::Matmul, text).map_err(|e| usage(format!("--sizes: {e}")))?;
            match shape {
                Shape::MatMul(g) if g.m == g.k && g.k == g.n && g.n >= 1 => Ok(g.n),
                _ => Err(usage(format!(
                    "--sizes: `{text}` is not a size n ≥ 1 of a square n×n×n product"
                ))),
            }
        })
        .collect()
}

fn run_crossover(a: &CrossoverArgs) -> Result<ExitCode> {
    guard::apply_max_memory(a.max_memory.as_deref())?;
    outputs(&[("--out", a.out.as_deref()), ("--svg", a.svg.as_deref())])?;
    let sizes = crossover_sizes(&a.sizes)?;
    // The four memory × threads forms, the dispatcher's pick and the problem itself.
    for &n in &sizes {
        guard::matmul_footprint("crossover", n, 5)?;
    }
    let (d, name) = dispatcher(&a.dispatch)?;
    let implementation = match &a.implementation {
        Some(i) => {
            // An unknown implementation, or one that cannot run here, is refused by name.
            memory::forced(i, backends::Memory::Pooled, 1)
                .with_context(|| format!("--implementation {i}"))?;
            if !backends::catalog()
                .of(Op::Matmul)
                .any(|v| v.implementation == i && v.runnable().is_ok())
            {
                return Err(usage(format!(
                    "--implementation {i}: it has no MatMul variant that runs here (see `autotune list --ops matmul`)"
                )));
            }
            i.clone()
        }
        None => crossover::fastest_implementation()?,
    };
    let budget = a.budget;
    let max_t = backends::threads::available();
    // The forms the sweep will time (those of the catalog), for the estimate.
    let mut forms: Vec<(&str, usize)> = Vec::new();
    let mut seen = Vec::new();
    for t in [1, max_t] {
        for m in [backends::Memory::Pooled, backends::Memory::Direct] {
            if let Some(v) = backends::catalog().of(Op::Matmul).find(|v| {
                v.implementation == implementation
                    && v.memory == m
                    && v.threads == t
                    && v.runnable().is_ok()
            }) {
                if !seen.contains(&v.id) {
                    seen.push(v.id.clone());
                    forms.push((implementation.as_str(), t));
                }
            }
        }
    }
    let est = guard::crossover_estimate(&sizes, &forms, budget);
    if est > guard::REFUSE_ABOVE.as_secs_f64() && !a.force {
        return Err(usage(format!(
            "crossover of `{implementation}` at n = {}: estimated at least {} ({} size(s) × (--budget {} s + 4 calls of each of {} variants)); this refuses work estimated above {}: pass --force to run it anyway, or give smaller --sizes or a smaller --budget",
            sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(","),
            guard::fmt_seconds(est),
            sizes.len(),
            budget.as_secs_f64(),
            forms.len() + 1,
            guard::fmt_seconds(guard::REFUSE_ABOVE.as_secs_f64())
        )));
    }
    if est > 30.0 {
        eprintln!("crossover: estimated at least {}", guard::fmt_seconds(est));
    }
    let opts = crossover::Options {
        sizes,
        implementation: Some(implementation),
        budget,
        tolerance_pct: a.tolerance,
    };
    let sweep = crossover::run(&d, &opts, &name)?;
    let md = sweep.markdown();
    print!("{md}");
    println!();
    for line in sweep.verdicts() {
        println!("{line}");
    }
    if let Some(out) = &a.out {
        guard::write_file(out, md.as_bytes())?;
    }
    if let Some(svg) = &a.svg {
        sweep.svg(svg)?;
        println!("wrote {}", svg.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn run_roofline(a: &RooflineArgs) -> Result<ExitCode> {
    outputs(&[("--out", a.out.as_deref()), ("--svg", Some(&a.svg))])?;
    let labels: Vec<String> = roofline::shapes(a.quick)
        .into_iter()
        .map(|(label, _, _)| label)
        .collect();
    for f in &a.shapes {
        if !labels.iter().any(|l| l.contains(f.as_str())) {
            return Err(usage(format!(
                "--shapes: `{f}` matches no shape{} (shapes: {})",
                if a.quick { " of --quick" } else { "" },
                labels.join(", ")
            )));
        }
    }
    let opts = roofline::Options {
        quick: a.quick,
        budget: a.budget,
        all_forms: a.all_forms,
        filter: a.shapes.clone(),
    };
    let r = roofline::run(&opts, |line| eprintln!("{line}"))?;
    let md = r.markdown();
    print!("{md}");
    if let Some(out) = &a.out {
        guard::write_file(out, md.as_bytes())?;
    }
    r.svg(&a.svg)?;
    println!("\nwrote {}", a.svg.display());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    guard::reset_sigpipe();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Profile(a) => run_profile(a),
        Command::Compare(a) => run_compare(a),
        Command::Memory(a) => run_memory(a),
        Command::Alloc(a) => run_alloc(a),
        Command::Crossover(a) => run_crossover(a),
        Command::Roofline(a) => run_roofline(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // `compare` keeps 1 for a regression: any error of its own is bad input.
            if guard::is_usage(&e) || matches!(cli.command, Command::Compare(_)) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
