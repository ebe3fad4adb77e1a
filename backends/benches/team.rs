//! What a threaded call costs beyond its work: one call of the thread team with empty parts,
//! back to back (helpers spinning) and after a pause long enough for them to park.
//! `cargo bench -p backends --bench team`

use backends::team::team;
use backends::threads::available;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("team");
    for t in [1, available()] {
        let tm = team(t);
        g.bench_function(format!("empty_call_t{t}"), |b| {
            b.iter(|| {
                tm.run(&|i| {
                    black_box(i);
                })
            })
        });
        // Each timed call follows a 1 ms pause, so the helpers have parked and must be woken.
        g.bench_function(format!("empty_call_after_pause_t{t}"), |b| {
            b.iter_custom(|n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    std::thread::sleep(Duration::from_millis(1));
                    let t0 = Instant::now();
                    tm.run(&|i| {
                        black_box(i);
                    });
                    total += t0.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(20);
    targets = overhead
}
criterion_main!(benches);
