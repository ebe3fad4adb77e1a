//! The dispatcher's hot-path lookup: op + shape → bound variant.
//! `cargo bench -p backends --bench dispatch`

use backends::{Dispatcher, Key, Op};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn lookup(c: &mut Criterion) {
    let d = Dispatcher::embedded();
    let mut g = c.benchmark_group("dispatch");
    g.bench_function("lookup_matmul", |b| {
        b.iter(|| {
            d.lookup(
                Op::Matmul,
                Key::matmul(black_box(1), black_box(128), black_box(512)),
            )
            .index
        })
    });
    g.bench_function("lookup_gelu", |b| {
        b.iter(|| d.lookup(Op::GeluTanh, Key::elems(black_box(65_536))).index)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = lookup
}
criterion_main!(benches);
