//! Every runnable catalog variant against the reference on random and awkward shapes.

use backends::op::ShapeKind;
use backends::problem::{matmul_problem, Problem};
use backends::{catalog, Op, Shape};
use kernels::matmul::Gemm;
use kernels::Rows;
use proptest::prelude::*;

/// Sizes around vector widths (8, 16), tiles and primes, plus 0 and 1.
const AWKWARD: &[usize] = &[
    0, 1, 2, 3, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97,
];

/// The ops of one shape family, from their specs (a new op is covered without a list here).
fn ops_of(kind: ShapeKind) -> impl Iterator<Item = Op> {
    Op::ALL
        .into_iter()
        .filter(move |op| op.shape_kind() == kind)
}

fn verify_all(p: &Problem) -> Result<(), String> {
    for v in catalog().of(p.op) {
        if v.runnable().is_err() {
            continue;
        }
        p.verify(v)?;
    }
    Ok(())
}

#[test]
fn matmul_awkward_shapes_all_variants() {
    let shapes = [
        (1, 1, 1),
        (0, 5, 3),
        (4, 0, 6),
        (3, 5, 0),
        (1, 256, 129),
        (7, 13, 31),
        (33, 17, 65),
        (97, 64, 31),
        (130, 70, 67),
    ];
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let g = Gemm::new(m, k, n).with_trans(ta, tb);
            verify_all(&matmul_problem(g, 1.0, 0.0, i as u64)).unwrap();
            verify_all(&matmul_problem(g, -0.75, 0.5, i as u64 + 100)).unwrap();
            // Padded strides: elements between rows must be left alone.
            let padded = g.with_strides(g.lda + 3, g.ldb + 5, g.ldc + 2);
            verify_all(&matmul_problem(padded, 1.5, -1.25, i as u64 + 200)).unwrap();
        }
    }
}

#[test]
fn elementwise_and_row_ops_awkward_sizes_all_variants() {
    let kinds = [ShapeKind::Elems, ShapeKind::Rows];
    for op in Op::ALL
        .into_iter()
        .filter(|op| kinds.contains(&op.shape_kind()))
    {
        for (i, &n) in AWKWARD.iter().chain(&[1000, 40_000]).enumerate() {
            let shape = match op.shape_kind() {
                ShapeKind::Elems => Shape::Elems(n),
                _ => Shape::Rows(Rows::new(1 + i % 5, n.max(1))),
            };
            let mut p = Problem::random(op, shape, i as u64).unwrap();
            p.offset = i % 3;
            verify_all(&p).unwrap();
        }
    }
}

/// Attention of awkward shapes: one and many query rows, no and a long cached past, one head
/// and several, head widths around the vector lengths, contiguous and the model's strides (q
/// inside 3·width QKV rows), and shapes past the head split's threshold so that every thread
/// count splits; scales 0.125 and 1.
#[test]
fn attention_awkward_shapes_all_variants() {
    use kernels::attention::Attention;
    let mut i = 0;
    for (rows, past) in [(1, 0), (1, 1), (1, 130), (2, 0), (5, 3), (17, 0), (40, 90)] {
        for (heads, hd) in [(1, 1), (1, 17), (3, 8), (4, 32), (8, 32), (2, 65)] {
            for model_strides in [false, true] {
                let w = heads * hd;
                let a = Attention::new(rows, past, heads, hd);
                let a = if model_strides {
                    a.with_strides(3 * w, w + 4, w)
                } else {
                    a
                };
                let mut p = Problem::random(Op::Attention, Shape::Attention(a), i).unwrap();
                p.scale = if i % 2 == 0 { 0.125 } else { 1.0 };
                verify_all(&p).unwrap_or_else(|e| panic!("{a:?}: {e}"));
                i += 1;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn matmul_random(m in 0usize..48, k in 0usize..48, n in 0usize..48, ta: bool, tb: bool,
                     pad in 0usize..3, alpha in -2.0f32..2.0, beta in prop_oneof![Just(0.0f32), -1.0f32..1.0], seed: u64) {
        let g = Gemm::new(m, k, n).with_trans(ta, tb);
        let g = g.with_strides(g.lda + pad, g.ldb + pad, g.ldc + pad);
        verify_all(&matmul_problem(g, alpha, beta, seed)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn row_ops_random(rows in 1usize..6, cols in 1usize..300, offset in 0usize..4, seed: u64) {
        for op in ops_of(ShapeKind::Rows) {
            let mut p = Problem::random(op, Shape::Rows(Rows::new(rows, cols)), seed).unwrap();
            p.offset = offset;
            verify_all(&p).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn elementwise_random(n in 0usize..20_000, seed: u64) {
        for op in ops_of(ShapeKind::Elems) {
            verify_all(&Problem::random(op, Shape::Elems(n), seed).unwrap()).map_err(TestCaseError::fail)?;
        }
    }
}

/// Large row sums cancel: the LayerNorm backward's parameter gradients over 724 rows once
/// fell outside a bound scaled by the (small) result instead of the magnitudes summed.
#[test]
fn layernorm_backward_many_rows() {
    for seed in 0..3 {
        verify_all(
            &Problem::random(
                Op::LayernormBackward,
                Shape::Rows(Rows::new(724, 1024)),
                seed,
            )
            .unwrap(),
        )
        .unwrap();
    }
}
