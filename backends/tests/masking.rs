//! CPU features masked at run time are never dispatched, and the fallbacks still compute the
//! right thing. The masks are process-wide, so this file is its own test binary; the env-var
//! form (`KERNELS_DISABLE`) is exercised by re-running this binary as a child process.

mod common;

use backends::catalog::Memory;
use backends::dispatch::{Dispatcher, LoadOptions};
use backends::op::ShapeKind;
use backends::problem::Problem;
use backends::table::{Entry, Evidence, Table};
use backends::{catalog, Bucket, Op, Shape};
use kernels::cpu::{self, Feature};
use std::path::Path;

/// A shape of `op`'s family, parsed from the text given for it: `[MatMul, attention,
/// element-wise, row op]`.
fn shape_of(op: Op, texts: [&str; 4]) -> Shape {
    let text = match op.spec().shape_kind() {
        ShapeKind::MatMul => texts[0],
        ShapeKind::Attention => texts[1],
        ShapeKind::Elems => texts[2],
        ShapeKind::Rows => texts[3],
    };
    Shape::parse(op, text).unwrap()
}

/// A table on this machine that asks for every variant of every op at once (one per range).
fn greedy_table() -> Table {
    let mut t = common::empty_table(None);
    for op in Op::ALL {
        for &b in op.buckets() {
            for (i, v) in catalog().of(op).enumerate() {
                t.entries.push(Entry {
                    op: op.name().into(),
                    bucket: b,
                    min: i as u64 * 10,
                    max: Some(i as u64 * 10 + 9),
                    variant: v.id.clone(),
                    params: None,
                    split: None,
                    evidence: Evidence::default(),
                });
            }
        }
    }
    t
}

/// Checks that nothing needing a masked feature is bound, whatever a table or a forced
/// family asks for, and that masked variants refuse to run.
fn assert_masked_never_dispatched(masked: &[Feature]) {
    for f in masked {
        assert!(!cpu::available(*f), "{f} should be masked");
    }
    let bad = |id: &str| {
        let v = catalog().find(id).unwrap().1;
        v.requires.is_some_and(|f| masked.contains(&f))
    };
    let table = greedy_table();
    let d =
        Dispatcher::from_table(&table, Path::new("greedy.json"), LoadOptions::default()).unwrap();
    let mut forced: Vec<Dispatcher> = vec![d.clone(), Dispatcher::embedded().clone()];
    for name in ["avx512", "avx2", "neon", "tiled", "gemm"] {
        forced.push(Dispatcher::forced(name, Memory::Pooled, 1));
    }
    for d in &forced {
        for op in Op::ALL {
            for b in Bucket::ALL {
                for (_, _, v) in d.ranges(op, b) {
                    assert!(
                        !bad(&v.id),
                        "{:?} bound {} although its feature is masked",
                        d.source(),
                        v.id
                    );
                }
            }
        }
    }
    // Masked variants say why, and refuse to run when called directly.
    for v in catalog().variants().iter().filter(|v| bad(&v.id)) {
        assert!(v.runnable().is_err());
        let shape = shape_of(v.op, ["4x4x4", "2x3x2x8", "16", "2x8"]);
        let mut p = Problem::random(v.op, shape, 1).unwrap();
        assert!(
            p.execute(v).is_err(),
            "{} ran with its feature masked",
            v.id
        );
    }
    // And every runnable variant still agrees with the reference.
    for v in catalog().variants().iter().filter(|v| v.runnable().is_ok()) {
        let shape = shape_of(v.op, ["37x29x41", "3x40x4x9", "1001", "3x77"]);
        Problem::random(v.op, shape, 7).unwrap().verify(v).unwrap();
    }
}

#[test]
fn runtime_mask_is_never_dispatched() {
    cpu::disable(Feature::Avx512);
    cpu::disable(Feature::Avx2);
    cpu::disable(Feature::Neon);
    assert_masked_never_dispatched(&[Feature::Avx512, Feature::Avx2, Feature::Neon]);
}

/// Run only as a child with `KERNELS_DISABLE` set (see `env_mask_is_honoured`).
#[test]
#[ignore = "run by env_mask_is_honoured in a child process"]
fn child_env_mask() {
    let list = std::env::var("KERNELS_DISABLE").expect("set by the parent");
    let masked: Vec<Feature> = list.split(',').filter_map(Feature::from_name).collect();
    assert_masked_never_dispatched(&masked);
}

#[test]
fn env_mask_is_honoured() {
    for mask in ["avx512", "avx512,avx2"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "child_env_mask", "--nocapture"])
            .env("KERNELS_DISABLE", mask)
            .output()
            .unwrap();
        common::assert_child_passed(&out, 1, &format!("KERNELS_DISABLE={mask}"));
    }
}
