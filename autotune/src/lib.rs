//! The autotuner: measures every runnable variant of every op across sizes, chooses a
//! strategy per op and size range, and writes the dispatch table with its report.
//!
//! Stages, each in its own module (criterion's split of measurement, analysis, reporting):
//!
//! * [`counters`]: the [`counters::CounterSource`] seam — hardware counters through
//!   `perf-event` where the machine has a PMU, else software figures (process CPU time and
//!   page faults) with the OS's reason recorded.
//! * [`measure`]: one *race* — every candidate at one shape, verified against the reference,
//!   warmed up, batched so each sample lasts long enough for the timer, sampled round-robin
//!   (so drift hits all candidates alike), clear losers pruned early. Each shape starts from an
//!   empty buffer pool, and every buffer sits at a fixed place in its page
//!   ([`backends::aligned`]), so a variant's figure does not depend on what ran before it.
//! * [`plan`]: which shapes to measure — size grids per op, model presets, bisection points.
//! * [`select`]: the selection rule — lowest median, noise-aware tie-breaks by cache misses
//!   then instructions, no flapping between neighbouring sizes, ranges.
//! * [`tune`]: the whole run under a time budget, and the table it produces;
//!   [`tune_command`]: the tuning command around it (output checks, end-to-end acceptance,
//!   writing the table and report).
//! * [`context`]: in a preset run, every call's contenders timed again inside the model's own
//!   workload (the real forward pass or training step, the candidate bound at exactly that
//!   call's key), from the dispatcher's timed trace; those figures decide the selection.
//! * [`params`]: kernel parameters as a tuned dimension — for the MatMul ranges whose chosen
//!   kernel takes them, a local search from the analytical blocking and the ISA's one-row
//!   sweep, kept only when faster beyond the noise (table version 2).
//! * [`split`]: the thread split as a tuned dimension — for the MatMul ranges bound to a
//!   threaded variant, the splits that fit the range's shape (k, rows, columns) raced, the
//!   rule's first; another is kept only when faster beyond the noise.
//! * [`report`]: the Markdown report and SVG plots beside the table.
//! * [`validate`]: a table against every fixed variant and the per-size best on held-out sizes.
//! * [`guard`]: what every command checks before long or large work (numeric flags, output
//!   paths, the memory limit, a lower bound on `measure`'s time); [`args`]: the command
//!   line's arguments and shared setup; [`failure`]: the commands' error with its exit code;
//!   [`cli`]: the commands. Modules import one way: `cli` → `tune_command` → `tune`/`report`
//!   → … → `args`/`guard` → `failure`.
//!
//! Invariants: the tuner never writes a table except through
//! [`backends::table::write_atomic`] (an interrupted run leaves the previous table intact);
//! every timed candidate has passed [`backends::problem::Problem::verify`] at that shape (or at
//! a smaller shape of the same op when the reference is too slow to run at this one).

pub mod args;
pub mod cli;
pub mod context;
pub mod counters;
pub mod endtoend;
pub mod failure;
pub mod guard;
pub mod measure;
pub mod params;
pub mod plan;
pub mod report;
pub mod select;
pub mod split;
pub mod tune;
pub mod tune_command;
pub mod validate;

/// The generator name written into tables.
pub const GENERATOR: &str = "autotune";
/// This crate's version, written into tables.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
