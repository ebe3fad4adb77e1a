//! The profile file and report helpers, in process.

use experiments::alloc_counter::CountingAlloc;
use experiments::profile::{self, Profile};
use std::path::Path;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The allocation counters are process-wide: tests that read them run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn profile_runs_writes_and_reads_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let scenarios: Vec<_> = profile::op_scenarios()
        .into_iter()
        .filter(|s| profile::selected(&s.name, &["gelu_1k".into(), "broadcast".into()]))
        .collect();
    assert_eq!(scenarios.len(), 2);
    let opts = profile::Options {
        runs: Some(2),
        dispatch: "embedded".into(),
        ..Default::default()
    };
    let p = profile::run(&scenarios, backends::Dispatcher::embedded(), &opts).unwrap();
    assert!(p.allocations_counted);
    for name in [
        "gelu_1k",
        "gelu_1k/setup",
        "gelu_1k/warmup",
        "gelu_1k/run",
        "broadcast_add_100x100/run",
    ] {
        assert!(p.scope(name).is_some(), "{name} missing");
    }
    let run = p.scope("gelu_1k/run").unwrap();
    assert_eq!(run.calls, 2);
    // The dispatcher's GELU writes a fresh output per call: at least one allocation each
    // unless the bound variant is pooled (then the pool serves it).
    assert!(run.allocs <= 2 * 4);
    let sum_self: u64 = p.scopes.iter().map(|s| s.self_ns).sum();
    assert!(sum_self <= p.wall_ns, "self times never double count");

    let dir = std::env::temp_dir().join(format!("experiments-profile-{}", std::process::id()));
    let path = dir.join("p.json");
    let md = p.write(&path).unwrap();
    let back = Profile::load(&path).unwrap();
    // Integers survive exactly (floats to within JSON's printing).
    let key = |s: &experiments::scope::ScopeStats| {
        (
            s.name.clone(),
            s.calls,
            s.total_ns,
            s.self_ns,
            s.min_ns,
            s.max_ns,
            s.allocs,
        )
    };
    assert_eq!(
        back.scopes.iter().map(key).collect::<Vec<_>>(),
        p.scopes.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(back.machine, p.machine);
    let text = std::fs::read_to_string(md).unwrap();
    assert!(
        text.contains("## Hot path") && text.contains("gelu_1k/run"),
        "{text}"
    );
    assert!(Profile::load(Path::new("/nonexistent/p.json")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn markdown_tables_align_text_left_and_figures_right() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = experiments::report::markdown_table(&[
        vec!["scope".into(), "ns".into()],
        vec!["a".into(), "1".into()],
        vec!["bb".into(), "22".into()],
    ]);
    assert_eq!(
        t,
        "| scope |  ns |\n| ----- | --: |\n| a     |   1 |\n| bb    |  22 |\n"
    );
}
