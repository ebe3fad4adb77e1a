//! A table entry whose variant needs a CPU feature this process lacks is replaced with one
//! warning by a runnable variant (its nearest sibling, as the embedded table does). Its own
//! test binary: `cpu::disable` masks for the whole process and cannot be undone.

mod common;

use backends::table::{Entry, Evidence, Table};
use backends::{catalog, Bucket, Dispatcher, Key, LoadOptions, Op};
use kernels::cpu::Feature;
use std::path::Path;

#[test]
fn entry_needing_a_masked_feature_is_skipped_with_a_warning() {
    // Any variant that needs a feature: mask that feature for this process.
    let Some(v) = catalog().variants().iter().find(|v| v.requires.is_some()) else {
        eprintln!("no feature-gated variant in this build; nothing to test");
        return;
    };
    let feature: Feature = v.requires.unwrap();
    kernels::cpu::disable(feature);
    assert!(v.runnable().is_err());
    let size = 4096u64;
    let mut t = common::empty_table(None);
    let bucket = Key::elems(1).bucket;
    let bucket = if v.op == Op::Matmul {
        Bucket::LargeM
    } else {
        bucket
    };
    t.entries.push(Entry {
        op: v.op.name().into(),
        bucket,
        min: 0,
        max: None,
        variant: v.id.clone(),
        // A tunable MatMul entry carries its kernel's parameters, which its sibling (another
        // kernel) must not be handed.
        params: tunable_params(v),
        split: None,
        evidence: Evidence {
            median_ns: 1.0,
            samples: 1,
            ..Evidence::default()
        },
    });
    let path = Path::new("masked.json");
    let d = Dispatcher::from_table(&t, path, LoadOptions::default()).unwrap();
    assert_eq!(d.warnings().len(), 1, "{:?}", d.warnings());
    assert!(d.warnings()[0].contains(&v.id), "{:?}", d.warnings());
    assert!(
        d.warnings()[0].contains(feature.name()),
        "{:?}",
        d.warnings()
    );
    let got = d.lookup(v.op, Key { bucket, size }).variant();
    assert!(
        got.runnable().is_ok(),
        "{} bound although not runnable",
        got.id
    );
    assert_ne!(got.id, v.id);
    if t.entries[0].params.is_some() {
        let b = d.lookup(v.op, Key { bucket, size });
        assert_eq!(
            b.tuning.params, None,
            "{} was handed {}'s parameters",
            got.id, v.id
        );
        assert!(
            d.warnings()[0].contains("default parameters"),
            "{:?}",
            d.warnings()
        );
    }
}

/// The default parameters of `v`'s kernel when it takes any, as a table records them.
fn tunable_params(v: &backends::Variant) -> Option<backends::table::Params> {
    use backends::spec::{matmul::Matmul, Registered};
    let t = Matmul::unwrap(&v.kernel)?.tunable?;
    Some(backends::table::Params::of(&(t.default_params)()))
}

#[test]
fn a_masked_entry_of_a_file_table_binds_its_sibling_not_a_neighbouring_range() {
    // The same mask as the test above (whichever runs first), so the order does not matter.
    let Some(gated) = catalog().variants().iter().find(|v| v.requires.is_some()) else {
        eprintln!("no feature-gated variant in this build; nothing to test");
        return;
    };
    kernels::cpu::disable(gated.requires.unwrap());
    // The embedded default's entries, loaded as a file: what a preset run writes when it
    // keeps the default. Before, an unrunnable range's sizes went to the range above it
    // (another implementation and thread count), unlike the embedded dispatcher itself.
    let path = Path::new("default-as-file.json");
    let t = Table::parse(backends::dispatch::DEFAULT_TABLE, path).unwrap();
    let d = Dispatcher::from_table(
        &t,
        path,
        LoadOptions {
            allow_foreign: true,
        },
    )
    .unwrap();
    let mut checked = 0;
    for e in &t.entries {
        let Some((_, v)) = catalog().find(&e.variant) else {
            continue;
        };
        if v.runnable().is_ok() {
            continue;
        }
        let got = d
            .lookup(
                v.op,
                Key {
                    bucket: e.bucket,
                    size: e.upper(),
                },
            )
            .variant();
        assert!(got.runnable().is_ok(), "{} bound for {}", got.id, v.id);
        assert_eq!(got.memory, v.memory, "{} for {}", got.id, v.id);
        if got.implementation != "naive" {
            assert_eq!(got.threads, v.threads, "{} for {}", got.id, v.id);
        }
        checked += 1;
    }
    eprintln!("{checked} masked entries bound to their siblings");
}
