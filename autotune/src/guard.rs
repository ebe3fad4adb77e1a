//! Checks a command makes before it does long or large work, so that bad input is refused
//! at once with a message naming it, instead of a panic, an abort or a failure minutes later:
//!
//! * numeric flags in range ([`at_least_one`], [`positive_seconds`], [`non_negative`],
//!   [`memory_size`]: clap value parsers, so a bad value is a usage error naming the flag);
//! * output locations writable ([`output_file`], [`output_dir`]: the folder is created and a
//!   probe file created and removed next to the target) and every write atomic and naming
//!   its path ([`write_file`]);
//! * the memory one race holds ([`race_footprint`], against [`backends::limits`]);
//! * the time one `measure` run takes, estimated from below ([`measure_estimate`]), so that
//!   hours of work are refused unless asked for with `--force`.

use crate::failure::Failure;
use crate::measure;
use backends::problem::Problem;
use backends::{catalog, Op, Shape, Variant};
use kernels::matmul::Gemm;
use kernels::Rows;
use std::path::Path;

pub use backends::cli_args::{at_least_one, fmt_seconds, memory_size, non_negative, reset_sigpipe};

// ---- Numeric flags (clap value parsers) ---------------------------------------------------

/// A finite, positive number of seconds, at most 10⁶ (`--budget`).
pub fn positive_seconds(text: &str) -> Result<f64, String> {
    let x: f64 = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a number: {e}"))?;
    if !(x.is_finite() && x > 0.0 && x <= 1e6) {
        return Err("expected a positive number of seconds (at most 1000000)".into());
    }
    Ok(x)
}

/// Applies `--max-memory` (before anything reads the limit).
pub fn apply_max_memory(value: Option<&str>) -> Result<(), Failure> {
    match value {
        None => Ok(()),
        Some(v) => {
            backends::limits::set(v).map_err(|e| Failure::input(format!("--max-memory: {e}")))
        }
    }
}

// ---- Output locations ----------------------------------------------------------------------

/// Checks that `path` (named `what` in messages, e.g. `--out`) can be written
/// ([`backends::out_path::output_file`]); nothing that exists is changed.
pub fn output_file(what: &str, path: &Path) -> Result<(), Failure> {
    backends::out_path::output_file(what, path).map_err(Failure::input)
}

/// Checks that the folder `dir` exists or can be created, and that files can be written in it.
pub fn output_dir(what: &str, dir: &Path) -> Result<(), Failure> {
    backends::out_path::output_dir(what, dir).map_err(Failure::input)
}

/// Writes `bytes` to `path` atomically (a sibling temporary file, then a rename); the error
/// names the path.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    backends::table::write_atomic(path, bytes)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

// ---- Memory ---------------------------------------------------------------------------------

/// Elements of a problem's inputs and of one variant's outputs (scratch included for
/// MatMul, at most A + B), in u128 so that nothing overflows.
pub fn problem_elems(shape: &Shape, op: Op) -> (u128, u128) {
    match *shape {
        Shape::MatMul(g) => {
            let (m, k, n) = (g.m as u128, g.k as u128, g.n as u128);
            let (a, b, c) = (m * k, k * n, m * n);
            // Inputs A, B, C0; output C plus packing scratch (up to A + B).
            (a + b + c, c + a + b)
        }
        Shape::Elems(n) => {
            let n = n as u128;
            match op {
                Op::GeluTanh | Op::GeluErf => (n, n),
                _ => (2 * n, n),
            }
        }
        Shape::Rows(r) => {
            let (rows, cols) = (r.rows as u128, r.cols as u128);
            let n = rows * cols;
            match op {
                Op::Softmax | Op::SoftmaxCausal => (n, n),
                Op::SoftmaxBackward => (2 * n, n),
                Op::Layernorm => (n + 2 * cols, n + 2 * rows),
                Op::AddLayernorm => (2 * n + 2 * cols, 2 * n + 2 * rows),
                // x, gamma, dy, mean, rstd, plus the forward pass run to make them (y, beta).
                Op::LayernormBackward => (3 * n + 2 * cols + 2 * rows, n + 2 * cols),
                Op::AddBias => (n + cols, n),
                _ => (2 * n, n),
            }
        }
        Shape::Attention(a) => {
            let width = a.heads as u128 * a.head_dim as u128;
            let (rows, total) = (a.rows as u128, a.rows as u128 + a.past as u128);
            let span = |n: u128, stride: usize| n.saturating_sub(1) * stride as u128 + width;
            // Inputs q, k, v; the output and, per thread, a scratch row and an output copy.
            (
                span(rows, a.q_stride) + 2 * span(total, a.kv_stride),
                rows * width + total,
            )
        }
    }
}

/// Checks that one race of `op` at `shape` fits the memory limit: the problem's inputs held
/// about 5 times (the problem, its creation, the runner's copy and the restore copy of an
/// in-place input, the copies verification runs on) and the outputs about 5 times (a
/// variant's and the reference's, their copies for comparison, what the pool keeps).
pub fn race_footprint(op: Op, shape: &Shape) -> Result<(), Failure> {
    let (i, o) = problem_elems(shape, op);
    let total = i.checked_mul(5).zip(o.checked_mul(5)).map(|(a, b)| a + b);
    backends::limits::check_f32(
        &format!("{op} {shape} (inputs, outputs and the copies a measured race holds)"),
        &[total.unwrap_or(u128::MAX)],
    )
    .map_err(|e| Failure::input(e.to_string()))
}

// ---- Time -----------------------------------------------------------------------------------

/// Work above which `measure` refuses to start without `--force`: 10 minutes, estimated from
/// below.
pub const REFUSE_ABOVE_S: f64 = 600.0;
/// Estimates above this are announced before the work starts.
pub const ANNOUNCE_ABOVE_S: f64 = 30.0;
/// An optimistic MatMul rate per thread (no variant here does better), flop/s.
pub const FAST_FLOPS_PER_THREAD: f64 = 2e11;
/// An optimistic rate of the element-wise and row ops per thread, bytes/s.
pub const FAST_BYTES_PER_THREAD: f64 = 5e10;

/// A time estimate, with what it is made of.
#[derive(Debug, Clone)]
pub struct Estimate {
    pub seconds: f64,
    pub detail: String,
}

/// The shape the reference is timed at to extrapolate from: at most 256³ (MatMul; big enough
/// to leave the cache as large products do) or 2²⁰ elements.
fn calibration_shape(shape: &Shape) -> Shape {
    match *shape {
        Shape::MatMul(g) => Shape::MatMul(Gemm::new(g.m.min(256), g.k.min(256), g.n.min(256))),
        Shape::Elems(n) => Shape::Elems(n.min(1 << 20)),
        Shape::Rows(r) => {
            let cols = r.cols.min(1 << 20);
            let rows = r.rows.min(((1usize << 20) / cols.max(1)).max(1));
            Shape::Rows(Rows::new(rows, cols))
        }
        Shape::Attention(a) => Shape::Attention(kernels::attention::Attention {
            rows: a.rows.min(64),
            past: a.past.min(1024),
            ..a
        }),
    }
}

/// Seconds one call of the naive reference takes at `shape`, extrapolated linearly in the
/// work from one timed call at a smaller shape (an underestimate: large naive products run
/// slower per flop than the one timed).
pub fn reference_seconds(op: Op, shape: &Shape) -> f64 {
    let work = measure::work(op, shape);
    if work <= 0.0 {
        return 0.0;
    }
    let small = calibration_shape(shape);
    let small_work = measure::work(op, &small);
    let reference = catalog().reference(op).1;
    let timed = Problem::random(op, small, 1).ok().and_then(|mut p| {
        let ns = backends::timing::time_once(1, || p.execute(reference).map(drop)).ok()?;
        Some(ns * 1e-9)
    });
    match timed {
        Some(t) if small_work > 0.0 => t * work / small_work,
        // Could not time it: assume 1 GFLOP/s or 1 GB/s, about what the reference does.
        _ => work / 1e9,
    }
}

/// Seconds one call of `v` takes at least (the reference's time for naive variants, an
/// optimistic rate for the others).
fn call_seconds(v: &Variant, op: Op, shape: &Shape, reference_s: f64) -> f64 {
    let threads = v.threads.max(1) as f64;
    if v.implementation == "naive" {
        return reference_s / threads;
    }
    let rate = if op == Op::Matmul {
        FAST_FLOPS_PER_THREAD
    } else {
        FAST_BYTES_PER_THREAD
    };
    measure::work(op, shape) / (rate * threads)
}

/// A lower bound on the time of `autotune measure`: every candidate is verified once (a call
/// of it and of the naive reference; MatMul also computes its error bounds, as costly again),
/// warmed up, calibrated and sampled `samples` times, each sample lasting at least
/// `sample_ns` and at least one call.
pub fn measure_estimate(
    op: Op,
    shape: &Shape,
    cands: &[&Variant],
    samples: usize,
    sample_ns: f64,
) -> Estimate {
    let reference_s = reference_seconds(op, shape);
    let check_s = if op == Op::Matmul {
        2.0 * reference_s
    } else {
        reference_s
    };
    let mut seconds = 0.0;
    for v in cands {
        let call = call_seconds(v, op, shape, reference_s);
        seconds += check_s + call * 2.0 + call.max(sample_ns * 1e-9) * samples as f64;
    }
    Estimate {
        seconds,
        detail: format!(
            "{} candidate(s), each verified against the naive reference (≈ {} a check) and timed {samples} time(s)",
            cands.len(),
            fmt_seconds(check_s)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_parsers_refuse_absurd_values() {
        assert!(at_least_one("0").is_err());
        assert!(at_least_one("-1").is_err());
        assert_eq!(at_least_one("3"), Ok(3));
        for bad in ["0", "-1", "nan", "inf", "1e300", "x"] {
            assert!(positive_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
        assert!(non_negative("nan").is_err());
        assert!(non_negative("-0.1").is_err());
        assert!(memory_size("0").is_err());
        assert!(memory_size("lots").is_err());
        assert!(memory_size("512M").is_ok());
    }

    #[test]
    fn footprints_do_not_overflow() {
        let s = Shape::parse(Op::Matmul, "99999999x99999999x9").unwrap();
        let (i, o) = problem_elems(&s, Op::Matmul);
        assert!(i > 9_999_999_800_000_000 && o >= i);
        assert!(race_footprint(Op::Matmul, &s).is_err());
        let s = Shape::parse(Op::Add, "1000").unwrap();
        assert!(race_footprint(Op::Add, &s).is_ok());
    }

    #[test]
    fn seconds_format() {
        assert_eq!(fmt_seconds(42.0), "42 s");
        assert_eq!(fmt_seconds(600.0), "10.0 min");
        assert_eq!(fmt_seconds(3.0 * 86_400.0), "3.0 days");
    }
}
