//! What the op specs promise beyond the catalog's reference check: the embedded table binds
//! what it did before the specs, an op it does not know is served by its fastest own vector
//! form, and the fused bias + GELU calls equal the unfused pair through the dispatcher.

use backends::dispatch::DEFAULT_TABLE;
use backends::table::Table;
use backends::{catalog, Bucket, Dispatcher, Key, Op};
use kernels::cpu::{self, Feature};
use kernels::gelu::GeluKind;
use kernels::Rows;
use std::path::Path;

/// Every entry of the embedded table binds its own variant (or, where this CPU lacks the
/// feature or the threads, the sibling the loader documents), at both ends of its range.
#[test]
fn embedded_table_binds_its_entries() {
    let table = Table::parse(DEFAULT_TABLE, Path::new("default_table.json")).unwrap();
    let d = Dispatcher::embedded();
    for e in &table.entries {
        let op = Op::from_name(&e.op).unwrap();
        let want = catalog().find(&e.variant).map(|(_, v)| v);
        for size in [e.min, e.upper()] {
            let got = d
                .lookup(
                    op,
                    Key {
                        bucket: e.bucket,
                        size,
                    },
                )
                .variant();
            match want {
                Some(v) if v.runnable().is_ok() => assert_eq!(got.id, v.id, "{op} at {size}"),
                _ => {
                    // The sibling keeps the op and memory strategy.
                    assert_eq!(got.op, op);
                    assert!(got.runnable().is_ok(), "{}", got.id);
                }
            }
        }
    }
}

/// The table has no `bias_gelu` entries: the fastest own vector form serves, never naive
/// where a vector form runs.
#[test]
fn an_op_missing_from_the_table_gets_its_fastest_own_vector_form() {
    let table = Table::parse(DEFAULT_TABLE, Path::new("default_table.json")).unwrap();
    for op in [Op::BiasGelu, Op::BiasGeluBackward] {
        assert!(
            table.entries_of(op).next().is_none(),
            "{op} is in the table"
        );
        let want = ["avx512", "avx2", "neon"]
            .into_iter()
            .zip([Feature::Avx512, Feature::Avx2, Feature::Neon])
            .find(|(_, f)| cpu::available(*f))
            .map_or("naive", |(name, _)| name);
        for b in Bucket::ALL {
            for (_, _, v) in Dispatcher::embedded().ranges(op, b) {
                assert_eq!(v.implementation, want, "{op} {b:?}: {}", v.id);
                assert!(v.runnable().is_ok());
            }
        }
    }
}

/// Through the embedded dispatcher, the fused forms give exactly what the bias add and the
/// GELU of the same vector family give (both are one f32 add, then the same GELU); sizes
/// below and above the thread split.
#[test]
fn fused_calls_equal_the_unfused_calls() {
    let d = Dispatcher::embedded();
    if d.ranges(Op::GeluTanh, Bucket::All)
        .iter()
        .chain(&d.ranges(Op::BiasGelu, Bucket::All))
        .any(|(_, _, v)| v.implementation == "naive")
    {
        eprintln!("note: a naive GELU is bound; the fused and unfused forms differ in rounding");
        return;
    }
    for (rows, cols) in [(0, 7), (1, 1), (3, 17), (10, 1024), (64, 1023)] {
        let s = Rows::new(rows, cols);
        let x: Vec<f32> = (0..s.len())
            .map(|i| ((i * 37) % 101) as f32 / 10.0 - 5.0)
            .collect();
        let b: Vec<f32> = (0..cols).map(|j| (j % 13) as f32 / 6.0 - 1.0).collect();
        let dy: Vec<f32> = (0..s.len())
            .map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0)
            .collect();
        let mut pre = vec![0.0; s.len()];
        d.add_bias(s, &x, &b, &mut pre).unwrap();
        let mut want_dx = vec![0.0; s.len()];
        d.gelu_backward(GeluKind::Tanh, &pre, &dy, &mut want_dx)
            .unwrap();
        d.gelu_inplace(GeluKind::Tanh, &mut pre).unwrap();

        let mut y = vec![0.0; s.len()];
        d.bias_gelu(s, &x, &b, &mut y).unwrap();
        let mut inpl = x.clone();
        d.bias_gelu_inplace(s, &mut inpl, &b).unwrap();
        let mut dx = vec![0.0; s.len()];
        d.bias_gelu_backward(s, &x, &b, &dy, &mut dx).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&pre), "{rows}x{cols}");
        assert_eq!(bits(&inpl), bits(&pre), "{rows}x{cols} in place");
        assert_eq!(bits(&dx), bits(&want_dx), "{rows}x{cols} backward");
    }
}

/// Wrong lengths through the dispatcher are errors, on the threaded path too.
#[test]
fn fused_calls_refuse_bad_lengths() {
    let d = Dispatcher::embedded();
    let s = Rows::new(16, 1024);
    let (x, b) = (vec![0.5; s.len()], vec![0.0; 1024]);
    let mut y = vec![0.0; s.len()];
    assert!(d.bias_gelu(s, &x, &b[..1023], &mut y).is_err());
    assert!(d.bias_gelu(s, &x[1..], &b, &mut y).is_err());
    assert!(d.bias_gelu(s, &x, &b, &mut y[1..]).is_err());
    assert!(d.bias_gelu_inplace(s, &mut y[1..], &b).is_err());
    assert!(d.bias_gelu_backward(s, &x, &b, &x[1..], &mut y).is_err());
    assert!(y.iter().all(|&v| v == 0.0), "a refused call wrote");
}

/// Each spec's cost model covers its op: MatMul is rated in FLOP, the others in bytes, and
/// a bigger shape never costs less.
#[test]
fn cost_models_cover_every_op() {
    for op in Op::ALL {
        let (small, big) = match op {
            Op::Matmul => ("8", "64"),
            Op::Attention => ("1x3x4x16", "64x64x4x16"),
            _ => ("4x64", "64x64"),
        };
        let small = backends::Shape::parse(op, small).unwrap();
        let big = backends::Shape::parse(op, big).unwrap();
        let (cs, cb) = (op.spec().cost(small), op.spec().cost(big));
        assert_eq!(cs.flop_bound, op == Op::Matmul, "{op}");
        assert!(
            cs.work() > 0.0 && cb.work() > cs.work(),
            "{op}: {cs:?} {cb:?}"
        );
        assert!(
            cs.bytes >= 8.0 * small.elems() as f64,
            "{op} moves at least x and y"
        );
    }
}

/// Attention through the dispatcher: for a shape past the head split's threshold and one
/// below it, the same bits as one call of the bound kernel over every head (a head is
/// computed the same way whichever thread runs it), into a strided output whose gaps stay
/// untouched; wrong lengths are errors that write nothing.
#[test]
fn attention_dispatch_equals_one_call_and_refuses_bad_lengths() {
    use kernels::attention::{Attention, Qkv};
    let d = Dispatcher::embedded();
    for (rows, past) in [(1, 3), (1, 200), (12, 120)] {
        let a = Attention::new(rows, past, 8, 32).with_strides(768, 256, 260);
        assert_eq!(
            backends::Key::attention(&a).size >= backends::exec::ATTENTION_SPLIT_MIN,
            past > 100
        );
        let total = rows + past;
        let f = |i: usize| ((i * 7919) % 31) as f32 / 15.0 - 1.0;
        let q: Vec<f32> = (0..(rows - 1) * 768 + 256).map(f).collect();
        let k: Vec<f32> = (0..total * 256).map(|i| f(i + 3)).collect();
        let v: Vec<f32> = (0..total * 256).map(|i| f(i + 11)).collect();
        let qkv = Qkv {
            q: &q,
            k: &k,
            v: &v,
        };
        let len = (rows - 1) * 260 + 256;
        let mut got = vec![-7.0; len];
        d.attention(&a, 0.2, qkv, &mut got).unwrap();
        let bound = d.lookup(Op::Attention, Key::attention(&a)).variant();
        let kernel = match bound.implementation {
            "avx512" => kernels::attention::avx512::attention,
            "avx2" => kernels::attention::avx2::attention,
            _ => kernels::attention::naive::attention,
        };
        let mut want = vec![-7.0; len];
        kernel(&a, 0.2, 0..8, qkv, &mut want, &mut vec![0.0; total]).unwrap();
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{rows}x{past} by {}", bound.id);
        let mut out = vec![0.0; len];
        let short = Qkv { k: &k[1..], ..qkv };
        assert!(d.attention(&a, 0.2, short, &mut out).is_err());
        assert!(d.attention(&a, 0.2, qkv, &mut out[1..]).is_err());
        assert!(out.iter().all(|&x| x == 0.0), "a refused call wrote");
    }
}
