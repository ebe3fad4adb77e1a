//! The embedded default table loads through the same loader as any table: cleanly where this
//! machine can run every variant it names, and with one warning naming the skipped entries
//! (never a bound variant that cannot run) where a CPU feature is missing or masked
//! (`KERNELS_DISABLE=avx512`, a CPU without AVX-512).

use backends::table::Table;
use backends::{catalog, Bucket, Dispatcher, LoadOptions, Op};
use std::path::Path;

#[test]
fn embedded_default_table_loads_cleanly() {
    let t = Table::parse(backends::dispatch::DEFAULT_TABLE, Path::new("<embedded>")).unwrap();
    let unrunnable: Vec<&str> = t
        .entries
        .iter()
        .map(|e| {
            assert!(Op::from_name(&e.op).is_some(), "{}", e.op);
            catalog().find(&e.variant).expect("known variant").1
        })
        .filter(|v| v.runnable().is_err())
        .map(|v| v.id.as_str())
        .collect();
    for d in [
        Dispatcher::embedded().clone(),
        Dispatcher::from_table(
            &t,
            Path::new("<embedded>"),
            LoadOptions {
                allow_foreign: true,
            },
        )
        .unwrap(),
    ] {
        let skipped: Vec<&String> = d
            .warnings()
            .iter()
            .filter(|w| w.contains("skipped"))
            .collect();
        if unrunnable.is_empty() {
            assert!(skipped.is_empty(), "{skipped:?}");
        } else {
            assert_eq!(skipped.len(), 1, "one warning: {:?}", d.warnings());
            for id in &unrunnable {
                assert!(skipped[0].contains(id), "{id} not named in {}", skipped[0]);
            }
        }
        for op in Op::ALL {
            for b in Bucket::ALL {
                for (_, _, v) in d.ranges(op, b) {
                    assert!(v.runnable().is_ok(), "{} bound but not runnable", v.id);
                }
            }
        }
    }
}
