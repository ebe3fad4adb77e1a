//! The binary end to end: `list`, `measure --json`, `inspect` on good and bad tables, a tiny
//! tuning run with the software fallback forced, and that an interrupted/failed run leaves an
//! earlier table untouched.

mod common;

use common::child::dir_names;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autotune"));
    c.env("AUTOTUNE_COUNTERS", "software");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("runs the binary")
}

fn tmp(name: &str) -> common::child::TmpDir {
    common::child::tmp_dir("autotune-cli", name)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `o`, which must be a success (its output is shown when it is not).
#[track_caller]
fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

/// A quick single-thread tuning run of `ops` within `budget` seconds, with `extra` flags,
/// that writes its table to `out`: it must succeed. Returns its output (stdout and stderr).
fn tune(ops: &str, budget: &str, extra: &[&str], out: &Path) -> String {
    let mut args = vec![
        "--quick",
        "--threads",
        "1",
        "--ops",
        ops,
        "--budget",
        budget,
    ];
    args.extend_from_slice(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    text(&ok(run(&args)))
}

#[test]
fn list_shows_every_variant_with_a_summary() {
    let o = ok(run(&["list"]));
    let out = String::from_utf8_lossy(&o.stdout);
    for v in backends::catalog().variants() {
        assert!(out.contains(&v.id), "{} missing", v.id);
    }
    assert!(out.contains("RUNNABLE") && out.contains("total"));
    let o = run(&["list", "--json", "--ops", "add"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(rows.iter().all(|r| r["op"] == "add"));
    assert!(!rows.is_empty());
}

#[test]
fn measure_json_has_the_promised_fields() {
    let o = ok(run(&[
        "measure",
        "--op",
        "matmul",
        "--shape",
        "16x32x8",
        "--json",
        "--samples",
        "3",
    ]));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!rows.is_empty());
    for r in rows.iter().filter(|r| r.get("excluded").is_none()) {
        assert!(r["variant"].is_string());
        assert!(r["median_ns"].as_f64().unwrap() > 0.0);
        assert!(r["spread_ns"].as_f64().unwrap() >= 0.0);
        assert!(r["gflops"].as_f64().unwrap() > 0.0);
    }
    let o = run(&[
        "measure",
        "--op",
        "gelu_tanh",
        "--shape",
        "1000",
        "--json",
        "--samples",
        "3",
        "--variants",
        "naive",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(rows
        .iter()
        .all(|r| r["variant"].as_str().unwrap().contains("naive")));
    assert!(rows[0]["gbps"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_arguments_are_clear_errors_not_panics() {
    for args in [
        &["measure", "--op", "nope", "--shape", "8"][..],
        &["measure", "--op", "matmul", "--shape", "8x"],
        &["measure", "--op", "softmax", "--shape", "100"],
        &["--ops", "frobnicate", "--quick"],
        &["--preset", "huge", "--quick"],
        &["--model", "huge", "--quick"],
        &["--budget", "-3"],
        &["--threads", "3000", "--quick"],
    ] {
        let o = run(args);
        let code = o.status.code().unwrap();
        assert!(code == 2 || code == 1, "{args:?}: {code}");
        let t = text(&o);
        assert!(t.contains("error"), "{args:?}: {t}");
        assert!(!t.contains("panicked"), "{args:?}: {t}");
    }
}

fn inspect(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["inspect", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn inspect_rejects_bad_tables_naming_the_file() {
    let d = tmp("inspect");
    let cases = [
        ("malformed.json", "{ not json".to_string()),
        (
            "format.json",
            r#"{"format":"other","version":1}"#.to_string(),
        ),
        (
            "version.json",
            r#"{"format":"kernel-dispatch","version":99}"#.to_string(),
        ),
    ];
    for (name, body) in cases {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        let o = inspect(&p, &[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains(name), "{name}: {}", text(&o));
        assert!(!text(&o).contains("panicked"));
    }
    let o = inspect(&d.join("missing.json"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("missing.json"));
}

#[test]
fn tuning_with_forced_software_counters_writes_a_loadable_table_and_report() {
    let d = tmp("tune");
    let out = d.join("t.json");
    // Enough budget that the confirmation pass runs on a loaded machine too.
    let extra = ["--refine", "1", "--confirm", "1", "--max-square", "32"];
    let said = tune("add,matmul", "20", &extra, &out);
    assert!(
        said.contains("(confirm 1)"),
        "a confirmation pass ran: {said}"
    );
    let table = backends::table::Table::load(&out).unwrap();
    assert_eq!(table.counters.source, "software");
    assert!(table
        .counters
        .reason
        .as_deref()
        .unwrap()
        .contains("AUTOTUNE_COUNTERS"));
    assert!(table.entries.iter().any(|e| e.op == "add"));
    assert!(table.entries.iter().any(|e| e.op == "matmul"));
    // Confirmation races run without counters, so an entry whose evidence a confirmation
    // race decided may lack them (seen once); the coarse-grid races always have them.
    assert!(table
        .entries
        .iter()
        .any(|e| e.evidence.task_clock_ns.is_some()));
    for e in &table.entries {
        assert!(e.evidence.median_ns > 0.0);
        assert!(
            e.evidence.cache_misses.is_none(),
            "no hardware figures from software counters"
        );
    }
    let md = std::fs::read_to_string(d.join("t.md")).unwrap();
    let lines: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("Counters: software"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one counter-source line");
    assert!(md.contains("## add"));
    assert!(d.join("t-report").join("add-all.svg").exists());
    assert!(d.join("t-report").join("measurements.json").exists());
    // The table loads the way models load it.
    let o = ok(inspect(&out, &[]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("warnings: none"));
}

#[test]
fn a_failed_run_leaves_the_earlier_table_untouched() {
    let d = tmp("untouched");
    let out = d.join("dispatch.json");
    std::fs::write(&out, "earlier table").unwrap();
    // Invalid op: fails before measuring.
    let o = run(&["--ops", "nope", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "earlier table");
    // Killed mid-run (as by Ctrl-C): the table is only ever replaced by a rename at the end.
    let mut child = bin()
        .args(["--quick", "--budget", "30", "--out", out.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "earlier table");
}

#[test]
fn a_preset_run_races_its_table_end_to_end_and_reports_it() {
    let d = tmp("e2e");
    let out = d.join("t.json");
    let extra = ["--preset", "small", "--end-to-end-rounds", "1"];
    let said = tune("add_bias", "5", &extra, &out);
    assert!(said.contains("end to end (small): kept"), "{said}");
    let md = std::fs::read_to_string(d.join("t.md")).unwrap();
    assert!(md.contains("## End to end (small preset)"), "{md}");
    for contender in ["tuned (per-call search)", "embedded default", "tiled/t1"] {
        assert!(md.contains(contender), "{contender} raced: {md}");
    }
    assert_eq!(md.matches("**(kept)**").count(), 1, "{md}");
    // Whatever won, the written table loads the way models load it.
    ok(inspect(&out, &[]));
}

/// The embedded default table.
fn default_table() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../backends/src/default_table.json")
}

/// A copy of the default table in `dir` that claims another machine, so it loads only with
/// `--allow-foreign` (with a warning).
fn foreign_table(dir: &Path) -> PathBuf {
    let mut t = backends::table::Table::load(&default_table()).unwrap();
    t.machine.fingerprint = "elsewhere-0000000000000000".into();
    t.machine.cpu = "Another CPU".into();
    let p = dir.join("foreign.json");
    t.write_atomic(&p).unwrap();
    p
}

#[test]
fn inspect_json_has_the_header_entries_and_warnings_and_warns_once() {
    let dir = tmp("inspect-json");
    let table = foreign_table(&dir);
    let o = ok(inspect(&table, &["--allow-foreign", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["header"]["format"], "kernel-dispatch");
    assert!(v["header"]["machine"]["fingerprint"].is_string());
    let entries = v["entries"].as_array().unwrap();
    let parsed = backends::table::Table::load(&table).unwrap();
    assert_eq!(entries.len(), parsed.entries.len());
    assert!(entries.iter().all(|e| e["variant"].is_string()));
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("another machine")),
        "{warnings:?}"
    );
    assert!(v["served"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["op"] == "matmul" && s["bucket"] == "m1"));
    // Text: each load warning appears once in all the output, not on stdout and stderr both.
    let o = ok(inspect(&table, &["--allow-foreign"]));
    let all = text(&o);
    assert_eq!(all.matches("tuned on another machine").count(), 1, "{all}");
    // One warning here (another machine); more where KERNELS_DISABLE makes entries skip.
    let count = format!("warnings: {}", warnings.len());
    assert!(String::from_utf8_lossy(&o.stdout).contains(&count), "{all}");
}

#[test]
fn a_foreign_table_is_refused_naming_the_flag() {
    let dir = tmp("foreign");
    let table = foreign_table(&dir);
    let o = inspect(&table, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("pass --allow-foreign"), "{}", text(&o));
    let o = run(&["validate", "--dispatch", table.to_str().unwrap(), "--quick"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("pass --allow-foreign"), "{}", text(&o));
}

#[test]
fn compare_json_lists_differing_ranges_and_the_agreement() {
    let d = tmp("compare");
    let a = default_table();
    // `compare A B --json`, parsed.
    let compare_with = |b: &Path| -> serde_json::Value {
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let o = ok(run(&["compare", a, b, "--json"]));
        serde_json::from_slice(&o.stdout).expect("stdout is JSON")
    };
    let v = compare_with(&a);
    assert!(v["counted"].as_u64().unwrap() > 0);
    assert_eq!(v["agreement"].as_f64(), Some(1.0));
    assert!(v["differing"].as_array().unwrap().is_empty());
    // B changes the choice of the first range A counts.
    let mut tb = backends::table::Table::load(&a).unwrap();
    let first = v["ranges"][0].clone();
    let e = tb
        .entries
        .iter_mut()
        .find(|e| {
            e.op == first["op"].as_str().unwrap()
                && e.bucket.name() == first["bucket"].as_str().unwrap()
                && e.variant == first["a_variant"].as_str().unwrap()
        })
        .unwrap();
    let other = e.evidence.runner_up.clone().unwrap().variant;
    e.variant = other.clone();
    let b = d.join("b.json");
    tb.write_atomic(&b).unwrap();
    let v = compare_with(&b);
    let diff = v["differing"].as_array().unwrap();
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert_eq!(diff[0]["a_variant"], first["a_variant"]);
    assert_eq!(diff[0]["b_variant"], other.as_str());
    assert!(diff[0]["a_lead"].as_f64().unwrap() > 0.10);
    let (n, agree) = (v["counted"].as_f64().unwrap(), v["agree"].as_f64().unwrap());
    assert_eq!(agree, n - 1.0);
    assert!((v["agreement"].as_f64().unwrap() - agree / n).abs() < 1e-12);
}

#[test]
fn validate_writes_json_out_and_prints_json() {
    let d = tmp("validate");
    let out = d.join("v.json");
    let table = foreign_table(&d);
    let o = ok(run(&[
        "validate",
        "--dispatch",
        table.to_str().unwrap(),
        "--allow-foreign",
        "--quick",
        "--ops",
        "add",
        "--threads",
        "1",
        "--budget",
        "3",
        "--json",
        "--json-out",
        out.to_str().unwrap(),
    ]));
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(printed, written);
    assert!(!written["shapes"].as_array().unwrap().is_empty());
    assert!(written["dispatched_vs_oracle"].as_f64().unwrap() >= 1.0 - 1e-9);
}

#[test]
fn renamed_flags_take_the_new_spellings() {
    // The old spellings of validate are gone (a usage error, not silently ignored).
    for args in [
        &["validate", "--table", "t.json"][..],
        &["validate", "--json", "out.json"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
    // --preset (and its old spelling --model) is checked and named as --preset.
    for flag in ["--preset", "--model"] {
        let o = run(&[flag, "huge", "--quick"]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("--preset huge"), "{}", text(&o));
    }
    // A preset measures its own shapes: a square cap would be accepted and ignored.
    let o = run(&["--preset", "small", "--max-square", "64", "--quick"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--max-square"), "{}", text(&o));
    assert!(text(&o).contains("--preset"), "{}", text(&o));
}

#[test]
fn the_report_folder_holds_only_this_runs_files() {
    let d = tmp("stale");
    let out = d.join("t.json");
    let tune_ops = |ops: &str| tune(ops, "4", &["--refine", "0", "--max-square", "32"], &out);
    let report = d.join("t-report");
    tune_ops("add,gelu_tanh,matmul");
    let first = dir_names(&report);
    assert!(first.iter().any(|n| n.starts_with("matmul-")), "{first:?}");
    assert!(first.contains(&"gelu_tanh-all.svg".to_string()));
    // Files the report does not write are the user's: they stay.
    std::fs::write(report.join("notes.txt"), "mine").unwrap();
    std::fs::write(report.join("my-plot.svg"), "<svg/>").unwrap();
    tune_ops("add");
    assert_eq!(
        dir_names(&report),
        [
            "add-all.svg",
            "measurements.json",
            "my-plot.svg",
            "notes.txt"
        ]
    );
    let md = std::fs::read_to_string(d.join("t.md")).unwrap();
    assert!(md.contains("t-report/add-all.svg") && !md.contains("matmul-"));
}

/// A two-thread preset run races the thread splits of its threaded MatMul ranges (the small
/// preset's decoded rows fit the k-split and the column split), reports each split's time,
/// and writes a table that loads; any split it records is on a threaded MatMul entry.
#[test]
fn a_threaded_run_races_thread_splits_and_reports_them() {
    if !backends::threads::counts().contains(&2) {
        eprintln!("note: fewer than two threads here; the thread-split run is skipped");
        return;
    }
    let d = tmp("splits");
    let out = d.join("t.json");
    let o = ok(run(&[
        "--quick",
        "--threads",
        "2",
        "--ops",
        "matmul",
        "--preset",
        "small",
        "--budget",
        "20",
        "--no-end-to-end",
        "--no-context",
        "--out",
        out.to_str().unwrap(),
    ]));
    let said = text(&o);
    assert!(said.contains("thread splits raced for"), "{said}");
    let md = std::fs::read_to_string(d.join("t.md")).unwrap();
    assert!(md.contains("## Thread splits"), "{md}");
    assert!(md.contains("k (rule)"), "{md}");
    let table = backends::table::Table::load(&out).unwrap();
    for e in table.entries.iter().filter(|e| e.split.is_some()) {
        assert_eq!(e.op, "matmul");
        assert!(e.variant.ends_with("/t2"), "{}", e.variant);
    }
    ok(inspect(&out, &[]));
}
