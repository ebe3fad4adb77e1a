//! The criterion set-up the `matmul` and `ops` benches share; the summary table itself is
//! `experiments::benchkit`.

use criterion::Criterion;
use experiments::benchkit::Summary;
use std::time::Duration;

/// Samples per benchmark; the summary keeps as many, so criterion's warm-up calls are left
/// out of it.
const SAMPLES: usize = 10;

/// Runs `benches` under criterion with short default timings per benchmark (measurement and
/// warm-up, ms; criterion's own flags override them), then prints criterion's final summary
/// and the table of median rates the benches recorded in the [`Summary`].
pub fn run(measurement_ms: u64, warm_up_ms: u64, benches: impl FnOnce(&mut Criterion, &Summary)) {
    let summary = Summary::keep_last(SAMPLES);
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .measurement_time(Duration::from_millis(measurement_ms))
        .warm_up_time(Duration::from_millis(warm_up_ms))
        .configure_from_args();
    benches(&mut c, &summary);
    c.final_summary();
    println!("{}", summary.render());
}
