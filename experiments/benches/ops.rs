//! Throughput of every runnable variant of the element-wise and row ops and attention.
//!
//! `cargo bench -p experiments --bench ops` times, after checking each variant against the
//! reference, every variant of:
//!
//! * `gelu_tanh` and `gelu_erf` at 1K, 10K, 100K and 1M elements;
//! * `softmax` over 64 rows of 256, 512, 1024 and 2048 columns;
//! * `layernorm` at 32×512; `add` (TensorAdd) at 10,000 elements;
//! * the other ops at one representative size each: GELU backward at 100K, the causal and
//!   backward softmax at 64×1024, `add_layernorm` and the LayerNorm backward at 32×512, and
//!   `add_bias` (BroadcastAdd) at 100×100;
//! * fused attention (8 heads of 32, `ROWSxPASTxHEADSxHEAD_DIM`) for one decoded token after
//!   127 cached and for a 64-token prompt.
//!
//! In-place variants get their input restored before each call, outside the timed region
//! (repeating GELU on its own output would drive values into denormals).
//!
//! Throughput is in bytes/s (GB/s): every input read once plus every output written once. The
//! summary table at the end gives the median GB/s per variant and size.
//!
//! Filter with criterion's positional argument (a regular expression over
//! `op/variant/size`), e.g. `cargo bench -p experiments --bench ops -- softmax/` or
//! `-- 'gelu_tanh/.*/t1/1M'`.

mod common;

use backends::problem::Problem;
use backends::{Memory, Op, Shape};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use experiments::benchkit::{checked_variants, time_calls, Rate, Summary};
use experiments::study;
use std::time::Duration;

/// The (op, shapes) this bench covers; every op of the catalog appears, so a new op is
/// noticed by the `unreachable` arm below rather than silently skipped.
fn plan() -> Vec<(Op, Vec<String>)> {
    let elems = |v: &[usize]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let softmax: Vec<String> = study::SOFTMAX_COLS
        .iter()
        .map(|c| format!("{}x{c}", study::SOFTMAX_ROWS))
        .collect();
    let (lr, lc) = study::LAYERNORM;
    let ln = vec![format!("{lr}x{lc}")];
    let (br, bc) = study::BROADCAST_ADD;
    Op::ALL
        .into_iter()
        .filter(|&op| op != Op::Matmul)
        .map(|op| {
            let shapes = match op {
                Op::GeluTanh | Op::GeluErf => elems(&study::GELU),
                Op::GeluTanhBackward | Op::GeluErfBackward => elems(&[100_000]),
                Op::Softmax => softmax.clone(),
                Op::SoftmaxCausal | Op::SoftmaxBackward => {
                    vec![format!("{}x1024", study::SOFTMAX_ROWS)]
                }
                Op::Layernorm | Op::AddLayernorm | Op::LayernormBackward => ln.clone(),
                Op::Add => elems(&[study::ADD]),
                Op::AddBias | Op::BiasGelu | Op::BiasGeluBackward => vec![format!("{br}x{bc}")],
                Op::Attention => vec!["1x127x8x32".into(), "64x0x8x32".into()],
                Op::Matmul => unreachable!("filtered above"),
            };
            (op, shapes)
        })
        .collect()
}

fn main() {
    common::run(500, 200, benches);
}

fn benches(c: &mut Criterion, summary: &Summary) {
    for (op, shape_texts) in plan() {
        let shapes: Vec<Shape> = shape_texts
            .iter()
            .map(|s| Shape::parse(op, s).expect("study shape fits its op"))
            .collect();
        let variants = checked_variants(op, &shapes[..1]);
        let mut group = c.benchmark_group(op.name());
        group.sampling_mode(SamplingMode::Flat);
        for (&shape, text) in shapes.iter().zip(&shape_texts) {
            let problem = Problem::random(op, shape, 3).expect("study shape fits its op");
            // The op spec's bytes model, the one the tuner and the roofline rate against.
            let bytes = op.spec().cost(shape).bytes as u64;
            let label = match shape {
                Shape::Elems(n) => study::short_count(n),
                _ => text.clone(),
            };
            group.throughput(Throughput::Bytes(bytes));
            for v in &variants {
                let mut p = problem.clone();
                group.bench_with_input(BenchmarkId::new(&v.id, &label), &label, |b, label| {
                    b.iter_custom(|iters| {
                        let d = if v.memory == Memory::InPlace {
                            // Repeating an in-place op would feed it its own output (GELU
                            // drives values into denormals): restore the input before each
                            // call, outside the timed region.
                            let mut d = Duration::ZERO;
                            for _ in 0..iters {
                                p.inputs[0].copy_from_slice(&problem.inputs[0]);
                                d += time_calls(&mut p, v, 1);
                            }
                            d
                        } else {
                            time_calls(&mut p, v, iters)
                        };
                        summary.record(op.name(), &v.id, label, Rate::Bytes(bytes), iters, d);
                        d
                    })
                });
            }
        }
        group.finish();
    }
}
