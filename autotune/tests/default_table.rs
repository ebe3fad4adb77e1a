//! The embedded default table loads with no warnings on this machine.

use backends::table::Table;
use backends::{Dispatcher, LoadOptions, Op};
use std::path::Path;

#[test]
fn embedded_default_table_loads_cleanly() {
    let d = Dispatcher::embedded();
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    let t = Table::parse(backends::dispatch::DEFAULT_TABLE, Path::new("<embedded>")).unwrap();
    // Loaded through the strict path too: every entry resolves to a runnable variant here.
    let d2 = Dispatcher::from_table(
        &t,
        Path::new("<embedded>"),
        LoadOptions {
            allow_foreign: true,
        },
    )
    .unwrap();
    let skipped: Vec<&String> = d2
        .warnings()
        .iter()
        .filter(|w| w.contains("skipped"))
        .collect();
    assert!(skipped.is_empty(), "{skipped:?}");
    for e in &t.entries {
        assert!(Op::from_name(&e.op).is_some(), "{}", e.op);
        let (_, v) = backends::catalog().find(&e.variant).expect("known variant");
        assert!(v.runnable().is_ok(), "{} not runnable", v.id);
    }
}
