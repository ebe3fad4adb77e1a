//! The command line's arguments (clap structs) and the parsing and setup every command
//! shares: op and thread lists, the counter source, warm thread teams, loading a table.

use crate::counters::{self, Preference};
use crate::failure::{table_failure, Failure};
use crate::guard;
use backends::{Dispatcher, LoadOptions, Op};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "autotune",
    version,
    about = "Measure every runnable kernel variant across sizes and write a dispatch table.",
    long_about = "Measure every runnable kernel variant of every op across sizes (hardware counters \
where the machine has them, software counters otherwise), choose a variant per op and size range, \
and write a dispatch table (default dispatch.json) plus its report (dispatch.md and SVG plots in \
dispatch-report/). Without a subcommand, runs the tuning.\n\n\
Environment: AUTOTUNE_COUNTERS=software forces the software-counter fallback; =hardware makes a \
missing PMU an error. KERNELS_DISABLE=avx512,avx2 masks CPU features. KERNELS_MAX_MEMORY=16G \
(or --max-memory) caps what a command may allocate (default: 80 % of available memory).\n\n\
Exit codes: 0 success, 1 failure while running, 2 bad input (arguments, files, output paths, \
work over the memory or time limits).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub tune: TuneArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tune and write the table (the default when no subcommand is given).
    Tune(TuneArgs),
    /// List the catalog: every variant, its op, and whether it runs on this CPU (and why not).
    List(ListArgs),
    /// Time every matching variant of one op at one shape, in one run.
    Measure(MeasureArgs),
    /// Load a table the way `models` does and print what it chooses per op and size range.
    Inspect(InspectArgs),
    /// Time a table's choices on held-out sizes against every fixed variant and the per-size best.
    Validate(ValidateArgs),
    /// Compare two tables: how often they agree where the first one's winner led clearly.
    Compare(CompareArgs),
}

#[derive(Debug, Args, Clone)]
pub struct TuneArgs {
    /// A fast run (under a minute): a coarse grid, short samples, one refinement step.
    #[arg(long)]
    pub quick: bool,
    /// Wall-clock budget for measuring, in seconds (default 480, or 35 with --quick).
    #[arg(long, value_name = "SECONDS", value_parser = guard::positive_seconds)]
    pub budget: Option<f64>,
    /// Only these ops (comma-separated names, see `autotune list`).
    #[arg(long, value_delimiter = ',', value_name = "OPS")]
    pub ops: Vec<String>,
    /// Only variants with these thread counts (e.g. 1,2).
    #[arg(long, value_delimiter = ',', value_name = "N", value_parser = guard::at_least_one)]
    pub threads: Vec<usize>,
    /// Tune exactly the shapes one model preset runs (small or medium) instead of the size
    /// grid, with MatMul weights timed cold (rotated over the preset's per-step working set,
    /// as the model leaves them), then accept the table end to end.
    // `--model` stays a hidden alias: the project's issues and notes cite `--model medium`.
    #[arg(long, value_name = "NAME", alias = "model")]
    pub preset: Option<String>,
    /// With --preset: skip the end-to-end race that accepts the per-call table only if the
    /// preset's decode, full recompute and training step are not slower with it than with the
    /// embedded default or any single-family table.
    #[arg(long)]
    pub no_end_to_end: bool,
    /// With --preset: skip timing each call's contenders inside the model's own workload
    /// (between the call's real neighbours), deciding on the per-call races alone.
    #[arg(long)]
    pub no_context: bool,
    /// Skip the search of kernel parameters (blocking, one-row sweep) for the MatMul ranges
    /// whose chosen kernel takes them, and the race of thread splits for those bound to a
    /// threaded variant; the table then records neither.
    #[arg(long)]
    pub no_params: bool,
    /// Interleaved rounds of the end-to-end race (default 7, quick 3).
    #[arg(long, value_name = "N", value_parser = guard::at_least_one)]
    pub end_to_end_rounds: Option<usize>,
    /// Where to write the table; the report goes beside it (PATH.md and PATH-report/).
    #[arg(long, default_value = "dispatch.json", value_name = "PATH")]
    pub out: PathBuf,
    /// Seed of the random problem inputs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Largest square MatMul n in the grid (default 2048, quick 512; 4096 and beyond make the
    /// run much longer). Not with --preset, which measures the preset's shapes only.
    #[arg(long, value_name = "N", conflicts_with = "preset")]
    pub max_square: Option<usize>,
    /// Bisection steps where the winner changes between neighbouring sizes (default 3, quick 1,
    /// 0 with --preset so that exactly the preset's shapes are measured).
    #[arg(long, value_name = "STEPS")]
    pub refine: Option<usize>,
    /// Confirmation passes: each measured shape's candidates within 2× of its best are raced
    /// again this many times, later in the run and in another order, and the races' medians
    /// combined, so one disturbed race cannot decide a range (default 2, quick 0).
    #[arg(long, value_name = "PASSES")]
    pub confirm: Option<usize>,
    /// Most memory the run may allocate (512M, 16G, bytes; default: KERNELS_MAX_MEMORY, else
    /// 80 % of available memory). Checked against the largest shape before measuring.
    #[arg(long, value_name = "SIZE", value_parser = guard::memory_size)]
    pub max_memory: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these ops.
    #[arg(long, value_delimiter = ',')]
    pub ops: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// The op (see `autotune list`).
    #[arg(long)]
    pub op: String,
    /// The shape: MxKxN (or N) for matmul, N for element-wise ops, ROWSxCOLS for row ops.
    #[arg(long)]
    pub shape: String,
    /// Only variants whose id contains one of these comma-separated substrings.
    #[arg(long)]
    pub variants: Option<String>,
    /// Only variants with these thread counts.
    #[arg(long, value_delimiter = ',', value_parser = guard::at_least_one)]
    pub threads: Vec<usize>,
    /// Print one JSON array (variant, median_ns, spread_ns, samples, gflops or gbps, ...).
    #[arg(long)]
    pub json: bool,
    /// Samples per variant.
    #[arg(long, default_value_t = 15, value_parser = guard::at_least_one)]
    pub samples: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run even when the work is estimated above 10 minutes (the estimate is a lower bound:
    /// each candidate is checked against the naive reference at this shape).
    #[arg(long)]
    pub force: bool,
    /// Most memory the problem and its copies may take (512M, 16G, bytes; default:
    /// KERNELS_MAX_MEMORY, else 80 % of available memory).
    #[arg(long, value_name = "SIZE", value_parser = guard::memory_size)]
    pub max_memory: Option<String>,
    /// Time MatMul with its weight operand (B) cold: copies rotated call by call over at
    /// least SIZE bytes (e.g. 14M, a model's per-step working set), as inside a model where
    /// every other layer's weights pass through between two uses. Default: warm (a tight
    /// loop).
    #[arg(long, value_name = "SIZE", value_parser = guard::memory_size)]
    pub cold: Option<String>,
    /// MatMul: race every threaded variant once per named thread split (k, rows, cols:
    /// over k, C's rows, or one row's columns) instead of with the rule's split; a split that
    /// does not fit the shape runs the rule's, and its label says so.
    #[arg(long, value_delimiter = ',', value_name = "SPLITS")]
    pub splits: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The table file.
    pub path: PathBuf,
    /// Load a table tuned on another machine (with a warning).
    #[arg(long)]
    pub allow_foreign: bool,
    /// Print JSON to stdout instead of text: the table's header, its entries with their
    /// evidence, what the loaded dispatcher serves per op and bucket, and the load warnings.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The dispatch table to validate.
    #[arg(long, default_value = "dispatch.json", value_name = "PATH")]
    pub dispatch: PathBuf,
    /// Load a table tuned on another machine (with a warning).
    #[arg(long)]
    pub allow_foreign: bool,
    /// Only these ops.
    #[arg(long, value_delimiter = ',')]
    pub ops: Vec<String>,
    /// Only fixed variants with these thread counts.
    #[arg(long, value_delimiter = ',', value_parser = guard::at_least_one)]
    pub threads: Vec<usize>,
    /// Fewer held-out sizes and shorter samples.
    #[arg(long)]
    pub quick: bool,
    /// Wall-clock budget in seconds (default 240, quick 40).
    #[arg(long, value_name = "SECONDS", value_parser = guard::positive_seconds)]
    pub budget: Option<f64>,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the results as JSON to stdout instead of text (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Also write the results as JSON to this file (atomically).
    #[arg(long, value_name = "PATH")]
    pub json_out: Option<PathBuf>,
    /// Most memory a held-out shape's problem may take (512M, 16G, bytes).
    #[arg(long, value_name = "SIZE", value_parser = guard::memory_size)]
    pub max_memory: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first table.
    pub a: PathBuf,
    /// The second table.
    pub b: PathBuf,
    /// Only count A's ranges whose winner led its runner-up by more than this fraction.
    #[arg(long, default_value_t = 0.10, value_parser = guard::non_negative)]
    pub lead: f64,
    /// Print JSON to stdout instead of text: every counted range with both tables' choices
    /// and A's lead, and the agreement figure.
    #[arg(long)]
    pub json: bool,
}

/// Entry point of the binary.
/// Parses op names (all ops when empty).
pub fn parse_ops(names: &[String]) -> Result<Vec<Op>, Failure> {
    if names.is_empty() {
        return Ok(Op::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| {
            Op::from_name(n.trim()).ok_or_else(|| {
                Failure::input(format!(
                    "unknown op `{n}`; known ops: {}",
                    Op::ALL.map(|o| o.name()).join(", ")
                ))
            })
        })
        .collect()
}

/// Checks thread counts against the catalog's.
pub fn parse_threads(t: &[usize]) -> Result<Option<Vec<usize>>, Failure> {
    if t.is_empty() {
        return Ok(None);
    }
    let offered = backends::threads::counts();
    for n in t {
        if !offered.contains(n) {
            return Err(Failure::input(format!(
                "--threads {n}: the catalog offers thread counts {offered:?} on this machine"
            )));
        }
    }
    Ok(Some(t.to_vec()))
}

/// Opens the counter source from `AUTOTUNE_COUNTERS`.
pub fn open_counters() -> Result<Box<dyn counters::CounterSource>, Failure> {
    let pref = Preference::from_env().map_err(Failure::input)?;
    counters::open(pref).map_err(|e| Failure::run(format!("hardware counters requested: {e}")))
}

/// Starts the thread teams of every thread count now, so that thread creation never lands in a
/// timed sample.
pub fn warm_pools() {
    for t in backends::threads::counts() {
        backends::team::team(t).run(&|_| {});
    }
}

/// Loads a table the way `models` does. The loader prints its warnings on stderr itself
/// (and returns them), so callers must not print the returned ones again.
pub fn load_dispatcher(path: &Path, allow_foreign: bool) -> Result<Dispatcher, Failure> {
    Dispatcher::from_file(path, LoadOptions { allow_foreign }).map_err(table_failure)
}

/// Whether stderr is a terminal (progress bar) or not (plain lines).
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}
