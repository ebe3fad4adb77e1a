//! The clock and the sampling loop.
//!
//! A *sample* is one batch of back-to-back calls, timed as a whole and divided by the calls,
//! so that calls shorter than the clock resolves still time well: [`calibrate`] grows the
//! batch until one sample lasts at least [`Calibration::min_sample_ns`]. [`sample`] is the
//! whole loop for one candidate (warm-up, calibration, N samples); [`interleave`] times
//! several candidates in rounds, one sample each per round, so that drift on a shared
//! machine hits every candidate alike and their figures compare as ratios. Callers with a
//! loop of their own (deadlines, pruning, counters, operands restored between calls) build
//! it from [`time_calls`], [`calibrate`], [`calls_for`] and [`round_robin`].

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds `calls` back-to-back calls of `f` take, raw (clock overhead included); the
/// first error stops the batch and is returned.
pub fn time_calls<E>(calls: u64, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    let t0 = Instant::now();
    for _ in 0..calls {
        f()?;
    }
    Ok(t0.elapsed().as_nanos() as f64)
}

/// Nanoseconds of one call of `f` after `warmup` untimed ones (for estimates from a single
/// call, such as how long a reference would take at a larger size).
pub fn time_once<E>(warmup: u64, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    for _ in 0..warmup {
        f()?;
    }
    time_calls(1, f)
}

/// The cost of reading the clock twice, ns (the median of 201 back-to-back reads, measured
/// once per process).
pub fn timer_overhead_ns() -> f64 {
    static OVERHEAD: OnceLock<f64> = OnceLock::new();
    *OVERHEAD.get_or_init(|| {
        let mut v = Vec::with_capacity(201);
        for _ in 0..201 {
            let t0 = Instant::now();
            let t1 = black_box(Instant::now());
            v.push((t1 - t0).as_nanos() as f64);
        }
        super::stats::median(&v)
    })
}

/// A timed span of `dt` ns less the clock's overhead ([`timer_overhead_ns`]), never below
/// half the raw figure (so a span near the clock's resolution cannot come out as zero).
pub fn net_ns(dt: f64) -> f64 {
    (dt - timer_overhead_ns()).max(dt * 0.5)
}

/// One sample: ns per call of a batch of `batch` back-to-back calls of `f` (at least one).
pub fn per_call_ns<E>(batch: u64, f: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    let batch = batch.max(1);
    Ok(time_calls(batch, f)? / batch as f64)
}

/// Calls per sample so that a sample of calls taking `per_call` each lasts `target` (any one
/// unit for both), at least `lo` and at most `hi` (`hi` wins if they cross).
pub fn calls_for(per_call: f64, target: f64, lo: u64, hi: u64) -> u64 {
    ((target / per_call).ceil() as u64).max(lo).min(hi)
}

/// How [`calibrate`] sizes a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Least duration of one sample, ns; 0 or less means one call per sample, uncalibrated.
    pub min_sample_ns: f64,
    /// The batch is sized for this multiple of the least duration (headroom against a
    /// calibration call that ran fast).
    pub headroom: f64,
    /// Batches tried after the first single call.
    pub max_trials: usize,
    /// The largest batch.
    pub max_calls: u64,
}

impl Calibration {
    /// Samples of at least `min_sample_ns`, sized with 20 % headroom in up to three trials,
    /// at most ten million calls (the tuner's rule).
    pub fn at_least(min_sample_ns: f64) -> Calibration {
        Calibration {
            min_sample_ns,
            headroom: 1.2,
            max_trials: 3,
            max_calls: 10_000_000,
        }
    }

    /// One call per sample.
    pub fn single() -> Calibration {
        Calibration::at_least(0.0)
    }
}

/// Calls per sample for `run` (which runs a batch of that many calls and returns its ns): one
/// call first (which also warms up), then larger batches until one lasts
/// [`Calibration::min_sample_ns`]. Runs nothing when that is 0 or less (batch 1).
pub fn calibrate<E>(
    cal: &Calibration,
    mut run: impl FnMut(u64) -> Result<f64, E>,
) -> Result<u64, E> {
    if cal.min_sample_ns <= 0.0 {
        return Ok(1);
    }
    let mut calls = 1u64;
    let mut t = run(1)?;
    for _ in 0..cal.max_trials {
        if t >= cal.min_sample_ns || calls >= cal.max_calls {
            break;
        }
        let per = (t / calls as f64).max(1.0);
        calls = calls_for(
            per,
            cal.min_sample_ns * cal.headroom,
            calls + 1,
            cal.max_calls,
        );
        t = run(calls)?;
    }
    Ok(calls)
}

/// The order of the candidates in round `round` of `n`: `0..n` rotated by the round, so that
/// no candidate always runs first (after an idle gap) or right after the same neighbour.
pub fn round_robin(n: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |j| (j + round) % n.max(1))
}

/// The order candidates run in within each round of [`interleave`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The same order every round.
    Fixed,
    /// Rotated by one each round ([`round_robin`]).
    Rotating,
}

/// How [`sample`] measures one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Untimed calls first (caches, buffer pools, page faults of fresh buffers).
    pub warmup_calls: u64,
    /// How calls are batched into samples.
    pub calibration: Calibration,
    /// Samples to take.
    pub samples: usize,
}

/// What [`sample`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// Per-call ns of each sample, in the order taken.
    pub per_call_ns: Vec<f64>,
    /// Calls per sample.
    pub batch: u64,
    /// Wall time of the sampling (after warm-up and calibration), ns.
    pub elapsed_ns: f64,
}

/// Times `samples` batches of `batch` calls of `f`, appending each sample's per-call ns to
/// `out` (which allocates nothing when it has the capacity: callers counting allocations
/// reserve it first).
pub fn sample_into<E>(
    batch: u64,
    samples: usize,
    out: &mut Vec<f64>,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<(), E> {
    for _ in 0..samples {
        out.push(per_call_ns(batch, &mut f)?);
    }
    Ok(())
}

/// The loop for one candidate: warm-up calls, calibration of the batch, then
/// [`Sampling::samples`] samples of per-call times.
pub fn sample<E>(s: &Sampling, mut f: impl FnMut() -> Result<(), E>) -> Result<Samples, E> {
    for _ in 0..s.warmup_calls {
        f()?;
    }
    let batch = calibrate(&s.calibration, |calls| time_calls(calls, &mut f))?;
    let mut per_call_ns = Vec::with_capacity(s.samples);
    let t0 = Instant::now();
    sample_into(batch, s.samples, &mut per_call_ns, &mut f)?;
    Ok(Samples {
        per_call_ns,
        batch,
        elapsed_ns: t0.elapsed().as_nanos() as f64,
    })
}

/// Rounds of interleaved samples of `n` candidates: in each round every candidate `i` (in
/// `order`) takes one sample, `sample(i)`, which returns its per-call ns (usually through
/// [`per_call_ns`]; a caller may prepare operands untimed around it). Before each round
/// `more(rounds_done, &lists)` says whether to go on. Returns one list per candidate.
pub fn interleave<E>(
    n: usize,
    order: Order,
    mut more: impl FnMut(usize, &[Vec<f64>]) -> bool,
    mut sample: impl FnMut(usize) -> Result<f64, E>,
) -> Result<Vec<Vec<f64>>, E> {
    let mut lists: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut round = 0;
    while n > 0 && more(round, &lists) {
        let shift = if order == Order::Rotating { round } else { 0 };
        for i in round_robin(n, shift) {
            lists[i].push(sample(i)?);
        }
        round += 1;
    }
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn spin(ns: u128) -> Result<(), Infallible> {
        let t = Instant::now();
        while t.elapsed().as_nanos() < ns {
            std::hint::spin_loop();
        }
        Ok(())
    }

    #[test]
    fn the_loop_returns_the_samples_asked_for() {
        let mut calls = 0u64;
        let s = sample(
            &Sampling {
                warmup_calls: 2,
                calibration: Calibration::single(),
                samples: 7,
            },
            || {
                calls += 1;
                Ok::<(), Infallible>(())
            },
        )
        .unwrap();
        assert_eq!(s.per_call_ns.len(), 7);
        assert_eq!(s.batch, 1);
        assert_eq!(
            calls,
            2 + 7,
            "warm-up, no calibration calls, then one call per sample"
        );
        assert!(s.per_call_ns.iter().all(|t| *t >= 0.0));
    }

    #[test]
    fn calibration_batches_short_calls_up_to_the_least_sample_time() {
        let cal = Calibration::at_least(200_000.0);
        let s = sample(
            &Sampling {
                warmup_calls: 1,
                calibration: cal,
                samples: 3,
            },
            || spin(1_000),
        )
        .unwrap();
        assert_eq!(s.per_call_ns.len(), 3);
        assert!(
            s.batch > 1,
            "1 µs calls need a batch for 200 µs: {}",
            s.batch
        );
        assert!(s.batch <= cal.max_calls);
        // A call already longer than the least time stays alone.
        let batch = calibrate(&Calibration::at_least(1_000.0), |c| {
            time_calls(c, || spin(5_000))
        });
        assert_eq!(batch, Ok(1));
    }

    #[test]
    fn calls_for_rounds_up_and_clamps() {
        assert_eq!(calls_for(10.0, 95.0, 1, 100), 10);
        assert_eq!(calls_for(10.0, 5_000.0, 1, 100), 100);
        assert_eq!(calls_for(1e9, 5.0, 3, 100), 3);
        assert_eq!(
            calls_for(0.0, 5.0, 1, 7),
            7,
            "a zero per-call time takes the most"
        );
        assert_eq!(calls_for(1.0, 1.0, 9, 4), 4, "crossed bounds do not panic");
    }

    #[test]
    fn round_robin_rotates_every_candidate_through_every_place() {
        assert_eq!(round_robin(3, 0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(round_robin(3, 1).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(round_robin(3, 5).collect::<Vec<_>>(), [2, 0, 1]);
        assert_eq!(round_robin(0, 4).count(), 0);
    }

    #[test]
    fn interleave_takes_one_sample_per_candidate_per_round_in_order() {
        let batches = [1u64, 2, 1];
        let mut seen = Vec::new();
        let lists = interleave(
            3,
            Order::Rotating,
            |round, _| round < 4,
            |i| {
                per_call_ns(batches[i], || {
                    seen.push(i);
                    Ok::<(), Infallible>(())
                })
            },
        )
        .unwrap();
        assert_eq!(lists.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 4]);
        // Candidate 1 runs two calls per sample.
        assert_eq!(&seen[..4], &[0, 1, 1, 2]);
        assert_eq!(&seen[4..8], &[1, 1, 2, 0]);
        let mut order = Vec::new();
        let fixed = interleave(
            2,
            Order::Fixed,
            |r, lists| r < 2 && lists.iter().all(|l| l.len() == r),
            |i| {
                order.push(i);
                Ok::<f64, Infallible>(1.0)
            },
        );
        assert_eq!(fixed.unwrap(), vec![vec![1.0, 1.0]; 2]);
        assert_eq!(order, [0, 1, 0, 1]);
    }

    #[test]
    fn errors_stop_the_loop_and_come_back() {
        let mut n = 0;
        let r = sample(
            &Sampling {
                warmup_calls: 0,
                calibration: Calibration::single(),
                samples: 10,
            },
            || {
                n += 1;
                if n == 3 {
                    Err("third call failed")
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(r, Err("third call failed"));
        assert_eq!(time_once(1, || Err::<(), _>(5)), Err(5));
    }

    #[test]
    fn net_time_removes_the_clock_overhead_but_keeps_half() {
        let o = timer_overhead_ns();
        assert!((0.0..1e6).contains(&o), "{o}");
        assert_eq!(net_ns(0.0), 0.0);
        assert!(net_ns(1e6) <= 1e6 && net_ns(1e6) >= 5e5);
    }
}
