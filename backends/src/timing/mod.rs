//! The workspace's one measurement engine: how the tuner, `validate`, every experiment and
//! the benches time calls, summarise the times and print them.
//!
//! * [`stats`]: order statistics of samples (median, MAD, geomean, min/max, percentiles).
//!   One empty-slice convention for all of them: NaN (nothing was measured, and NaN cannot be
//!   mistaken for a measured figure); callers that print an empty figure decide how.
//! * [`sample`]: the clock and the sampling loop — time a batch of calls, calibrate calls
//!   per sample to a least sample time, warm up, take N samples of per-call times, and
//!   interleave several candidates round-robin so drift on a shared machine hits all alike.
//!   Loops with needs of their own (the tuner's deadlines and pruning, cold-cache rotation)
//!   are built from these pieces in their callers.
//! * [`fmt`]: times, sizes, counts, percentages and axis ticks as text.
//! * [`busy`]: a spinning thread on one CPU, to time threaded calls as they run on a shared
//!   machine.
//!
//! The work and bytes model of a call is the op spec's [`crate::spec::Cost`].

pub mod busy;
pub mod fmt;
pub mod sample;
pub mod stats;

pub use fmt::{
    fmt_bytes, fmt_count, fmt_ns, fmt_ns_digits, fmt_ns_precise, fmt_pct, fmt_size, fmt_tick,
};
pub use sample::{
    calibrate, calls_for, interleave, net_ns, per_call_ns, round_robin, sample, sample_into,
    time_calls, time_once, timer_overhead_ns, Calibration, Order, Samples, Sampling,
};
pub use stats::{geomean, mad, median, min_max, percentile};
