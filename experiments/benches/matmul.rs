//! MatMul throughput of every runnable catalog variant.
//!
//! `cargo bench -p experiments --bench matmul` times every MatMul variant the catalog offers
//! on this CPU (after checking it against the reference) at the study's square sizes
//! (n = 64, 128, 256, 512; group `matmul_square`) and the models' skinny shapes (group
//! `matmul_model`), then prints a summary table: variant × size → median GFLOP/s.
//!
//! Criterion reports throughput as "elements/s": each "element" here is one floating-point
//! operation (2·m·k·n per call), so `Gelem/s` reads as GFLOP/s.
//!
//! Filter with criterion's positional argument (a regular expression over
//! `group/variant/size`), e.g. `cargo bench -p experiments --bench matmul -- gemm` or
//! `-- 'matmul_square/.*pooled/t1'`. Lengthen the short default timing with criterion's own
//! flags: `-- --measurement-time 5 --warm-up-time 1`.

mod common;

use backends::problem::Problem;
use backends::{Op, Shape};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use experiments::benchkit::{checked_variants, time_calls, Rate, Summary};
use experiments::study;
use std::time::Duration;

fn bench_group(
    c: &mut Criterion,
    summary: &Summary,
    group_name: &str,
    shapes: &[Shape],
    fast: bool,
) {
    // Verify on the smallest shape of the group (the kernels' own tests cover awkward shapes).
    let variants = checked_variants(Op::Matmul, &shapes[..1]);
    let mut group = c.benchmark_group(group_name);
    group.sampling_mode(SamplingMode::Flat);
    if fast {
        group.measurement_time(Duration::from_millis(300));
        group.warm_up_time(Duration::from_millis(100));
    }
    for &shape in shapes {
        let Shape::MatMul(g) = shape else { continue };
        let flops = study::matmul_flops(g.m, g.k, g.n);
        group.throughput(Throughput::Elements(flops));
        let label = if g.m == g.k && g.k == g.n {
            g.n.to_string()
        } else {
            shape.to_string()
        };
        let problem = Problem::random(Op::Matmul, shape, 1).expect("a MatMul shape");
        for v in &variants {
            let mut p = problem.clone();
            group.bench_with_input(BenchmarkId::new(&v.id, &label), &label, |b, label| {
                b.iter_custom(|iters| {
                    let d = time_calls(&mut p, v, iters);
                    summary.record(group_name, &v.id, label, Rate::Flops(flops), iters, d);
                    d
                })
            });
        }
    }
    group.finish();
}

fn main() {
    common::run(1000, 300, benches);
}

fn benches(c: &mut Criterion, summary: &Summary) {
    let square: Vec<Shape> = study::MATMUL_SQUARE
        .iter()
        .map(|&n| Shape::parse(Op::Matmul, &n.to_string()).expect("square shape"))
        .collect();
    bench_group(c, summary, "matmul_square", &square, false);

    let model: Vec<Shape> = study::MATMUL_MODEL
        .iter()
        .map(|s| Shape::parse(Op::Matmul, s).expect("model shape"))
        .collect();
    bench_group(c, summary, "matmul_model", &model, true);
}
