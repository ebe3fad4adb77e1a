//! What the `experiments` binary checks before long or large work, so that bad input is
//! refused at once with a message naming it (exit code 2), never a panic, an abort or a
//! failure after the work:
//!
//! * numeric flags in range ([`at_least_one`], [`seconds`], [`non_negative`],
//!   [`memory_size`]: clap value parsers, so a bad value is a usage error naming the flag);
//! * output locations writable ([`output_file`]: its folder is created and a probe file
//!   created and removed next to it), and every write atomic and naming its path
//!   ([`write_file`]);
//! * the memory a MatMul sweep holds ([`matmul_footprint`], against [`backends::limits`])
//!   and a lower bound on its time ([`crossover_estimate`]).
//!
//! A refusal is a [`Usage`] error; [`is_usage`] tells the binary which exit code to use.

use anyhow::Result;
use backends::problem::Problem;
use backends::{catalog, Op, Shape};
use std::fmt;
use std::path::Path;
use std::time::Duration;

pub use backends::cli_args::{at_least_one, fmt_seconds, memory_size, non_negative, reset_sigpipe};

/// Bad input: an argument, an input file, an output location, work over a limit (exit 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A [`Usage`] error as an `anyhow` error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// Whether `e` (or any error it wraps) is bad input.
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Usage>())
}

// ---- Numeric flags (clap value parsers) ---------------------------------------------------

/// The shortest budget [`seconds`] accepts: 1 ms (a shorter one could not time anything).
pub const MIN_BUDGET: Duration = Duration::from_millis(1);
/// The longest budget [`seconds`] accepts: a day.
pub const MAX_BUDGET: Duration = Duration::from_secs(86_400);

/// A time budget in seconds, fractional allowed (`--budget 0.4`), from 0.001 to 86400: the
/// workspace's one spelling of a budget is `--budget SECONDS` (see the README's command-line
/// convention).
pub fn seconds(text: &str) -> Result<Duration, String> {
    let x: f64 = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a number of seconds: {e}"))?;
    if !(x.is_finite() && x >= MIN_BUDGET.as_secs_f64() && x <= MAX_BUDGET.as_secs_f64()) {
        return Err(format!(
            "expected {} to {} seconds (fractions allowed, e.g. 0.4)",
            MIN_BUDGET.as_secs_f64(),
            MAX_BUDGET.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(x))
}

/// Applies `--max-memory` (before anything reads the limit).
pub fn apply_max_memory(value: Option<&str>) -> Result<()> {
    match value {
        None => Ok(()),
        Some(v) => backends::limits::set(v).map_err(|e| usage(format!("--max-memory: {e}"))),
    }
}

// ---- Output locations ----------------------------------------------------------------------

/// Checks that `path` (named `what` in messages, e.g. `--out`) can be written
/// ([`backends::out_path::output_file`]); nothing that exists is changed.
pub fn output_file(what: &str, path: &Path) -> Result<()> {
    backends::out_path::output_file(what, path).map_err(usage)
}

/// Writes `bytes` to `path` atomically (a sibling temporary file, then a rename; the folder
/// is created); the error names the path.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    backends::table::write_atomic(path, bytes)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))
}

// ---- MatMul sweeps: memory and time ---------------------------------------------------------

/// Checks that a square n×n MatMul problem held `copies` times (inputs A, B, C0; plus an
/// output and packing scratch per copy) fits the memory limit.
pub fn matmul_footprint(what: &str, n: usize, copies: u128) -> Result<()> {
    let nn = (n as u128) * (n as u128);
    // Each copy: A, B, C0 and an output C (+ A and B of packing scratch at most), plus the
    // problem being created (its inputs twice for a moment).
    let total = nn
        .checked_mul(6)
        .and_then(|per| per.checked_mul(copies.checked_add(1)?));
    backends::limits::check_f32(
        &format!("{what} at n = {n} ({copies} copies of the 3 n×n inputs, outputs and scratch)"),
        &[total.unwrap_or(u128::MAX)],
    )
    .map_err(|e| usage(e.to_string()))
}

/// An optimistic MatMul rate per thread (no variant here does better), flop/s.
pub const FAST_FLOPS_PER_THREAD: f64 = 2e11;
/// Work above which a sweep refuses to start without `--force`: 10 minutes, estimated from
/// below.
pub const REFUSE_ABOVE: Duration = Duration::from_secs(600);

/// Seconds one naive MatMul call at n takes, extrapolated from a call at min(n, 256) (an
/// underestimate: large naive products run slower per flop).
pub fn naive_matmul_seconds(n: usize) -> f64 {
    let flops = |n: usize| 2.0 * (n as f64).powi(3);
    if n == 0 {
        return 0.0;
    }
    let small = n.min(256);
    let reference = catalog().reference(Op::Matmul).1;
    let timed = Shape::parse(Op::Matmul, &small.to_string())
        .ok()
        .and_then(|s| Problem::random(Op::Matmul, s, 1).ok())
        .and_then(|mut p| {
            let ns = backends::timing::time_once(1, || p.execute(reference).map(drop)).ok()?;
            Some(ns * 1e-9)
        });
    match timed {
        Some(t) => t * flops(n) / flops(small),
        None => flops(n) / 1e9,
    }
}

/// A lower bound on the time of a crossover sweep: per size, its budget, and for each of
/// `forms` (implementation name, threads) plus the dispatcher's pick, a warm-up call and
/// three rounds of at least one call.
pub fn crossover_estimate(sizes: &[usize], forms: &[(&str, usize)], budget: Duration) -> f64 {
    let mut seconds = 0.0;
    for &n in sizes {
        let flops = 2.0 * (n as f64).powi(3);
        let naive = if forms.iter().any(|f| f.0 == "naive") && n > 64 {
            naive_matmul_seconds(n)
        } else {
            flops / 1e9
        };
        let mut per_round = flops / (FAST_FLOPS_PER_THREAD * backends::threads::available() as f64);
        for &(imp, t) in forms {
            per_round += if imp == "naive" {
                naive / t.max(1) as f64
            } else {
                flops / (FAST_FLOPS_PER_THREAD * t.max(1) as f64)
            };
        }
        seconds += budget.as_secs_f64() + 4.0 * per_round;
    }
    seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_refuse_absurd_values() {
        // The parsers re-exported from `backends::cli_args` are checked where autotune
        // re-exports them too (autotune/src/guard.rs); `seconds` is this crate's own.
        for bad in ["0", "0.0001", "nan", "inf", "1e300", "-1"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds("0.4"), Ok(Duration::from_millis(400)));
        assert_eq!(seconds("2"), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn usage_survives_context() {
        use anyhow::Context;
        let e: Result<()> = Err(usage("bad"));
        let e = e.context("while doing x").unwrap_err();
        assert!(is_usage(&e));
        assert!(!is_usage(&anyhow::anyhow!("other")));
    }

    #[test]
    fn footprint_refuses_huge_sizes_without_overflow() {
        assert!(matmul_footprint("sweep", 99_999, 5).is_err());
        assert!(matmul_footprint("sweep", usize::MAX, u128::MAX).is_err());
        assert!(matmul_footprint("sweep", 64, 5).is_ok());
    }
}
