//! The comparison: its rules on synthetic profiles, the end-to-end slowed-variant check
//! through the binary, and bad input.

#[path = "../../autotune/tests/common/child.rs"]
mod child;

use backends::machine::Machine;
use experiments::compare::{compare, judge, Status, Thresholds};
use experiments::profile::{Generator, Profile, FORMAT, VERSION};
use experiments::scope::ScopeStats;
use std::path::Path;
use std::process::{Command, Output};

fn scope(name: &str, calls: u64, median: f64, min: u64, max: u64, mad: f64) -> ScopeStats {
    ScopeStats {
        name: name.into(),
        parent: None,
        depth: 0,
        calls,
        total_ns: (median * calls as f64) as u64,
        self_ns: (median * calls as f64) as u64,
        mean_ns: median,
        median_ns: median,
        min_ns: min,
        max_ns: max,
        mad_ns: mad,
        share: 0.1,
        self_share: 0.1,
        allocs: 1,
        alloc_bytes: 64,
        self_allocs: 1,
        self_alloc_bytes: 64,
    }
}

/// The settings a profile of this build records, all equal between the test profiles.
fn settings() -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("quick".into(), false.into());
    m.insert("runs".into(), "default".into());
    m.insert("scenarios".into(), serde_json::json!(["a"]));
    m.insert("dispatch".into(), "embedded".into());
    m.insert("build".into(), "release".into());
    m.insert("kernels_disable".into(), "none".into());
    m
}

fn profile(scopes: Vec<ScopeStats>, wall_ns: u64) -> Profile {
    Profile {
        format: FORMAT.into(),
        version: VERSION,
        generator: Generator {
            name: "test".into(),
            version: "0".into(),
        },
        timestamp: "2026-01-01T00:00:00Z".into(),
        machine: Machine::detect(),
        parameters: settings(),
        wall_ns,
        allocations_counted: true,
        scopes,
    }
}

/// A scope's figures in one run: calls, median, min, max and MAD (ns), as [`scope`] takes them.
type Figures = (u64, f64, u64, u64, f64);

/// A steady scope's figures: 5 calls within ±10 ns of `median`, MAD 5 ns.
fn steady(median: f64) -> Figures {
    (5, median, median as u64 - 10, median as u64 + 10, 5.0)
}

/// A scope called once: no spread.
fn single(ns: f64) -> Figures {
    (1, ns, ns as u64, ns as u64, 0.0)
}

/// The old and the new profile of a comparison from one row per scope (its name, then its
/// figures in the old and in the new run), with the two runs' wall times.
fn old_and_new(
    rows: &[(&str, Figures, Figures)],
    (old_wall, new_wall): (u64, u64),
) -> (Profile, Profile) {
    let run = |figures: fn(&(&str, Figures, Figures)) -> Figures| {
        rows.iter()
            .map(|row| {
                let (calls, median, min, max, mad) = figures(row);
                scope(row.0, calls, median, min, max, mad)
            })
            .collect()
    };
    (
        profile(run(|r| r.1), old_wall),
        profile(run(|r| r.2), new_wall),
    )
}

fn status_of(p: &experiments::compare::Comparison, name: &str) -> Status {
    p.rows.iter().find(|r| r.scope == name).unwrap().status
}

#[test]
fn judge_applies_threshold_then_noise() {
    // Below the threshold: unchanged whatever the spread.
    assert_eq!(judge(100.0, 104.0, None, 5.0).0, Status::Unchanged);
    // Beyond it, outside both bands: regressed / improved.
    let tight = Some((99.0, 101.0, 119.0, 121.0));
    assert_eq!(judge(100.0, 120.0, tight, 5.0).0, Status::Regressed);
    assert_eq!(
        judge(100.0, 80.0, Some((99.0, 101.0, 79.0, 81.0)), 5.0).0,
        Status::Improved
    );
    // Inside the old run's band, or the old median inside the new run's: unchanged.
    let (s, note) = judge(100.0, 120.0, Some((80.0, 125.0, 119.0, 121.0)), 5.0);
    assert_eq!(s, Status::Unchanged);
    assert!(note.contains("old"), "{note}");
    let (s, note) = judge(100.0, 120.0, Some((99.0, 101.0, 95.0, 130.0)), 5.0);
    assert_eq!(s, Status::Unchanged);
    assert!(note.contains("new"), "{note}");
    // A single call has no spread: shown, not judged.
    let (s, note) = judge(100.0, 300.0, None, 5.0);
    assert_eq!(s, Status::Unchanged);
    assert!(note.contains("single call"), "{note}");
    // A zero baseline cannot give a percentage.
    assert_eq!(judge(0.0, 10.0, tight, 5.0).0, Status::Unchanged);
}

#[test]
fn compare_flags_regressions_beyond_thresholds_and_noise() {
    let (mut old, mut new) = old_and_new(
        &[
            ("a/run", steady(1000.0), steady(1200.0)), // +20%, clean: regressed
            // Noisy, and +20% but inside its old band.
            (
                "b/run",
                (5, 1000.0, 900, 1500, 200.0),
                (5, 1200.0, 1100, 1300, 50.0),
            ),
            ("c/run", steady(1000.0), steady(800.0)), // −20%: improved
            ("d", single(1000.0), single(3000.0)),    // single call: not judged
        ],
        (1_000_000, 1_050_000),
    );
    old.scopes.push(scope("gone", 3, 10.0, 10, 10, 0.0));
    new.scopes.push(scope("fresh", 3, 10.0, 10, 10, 0.0));
    let c = compare(&old, &new, "old.json", "new.json", Thresholds::default());
    assert_eq!(status_of(&c, "a/run"), Status::Regressed);
    assert_eq!(status_of(&c, "b/run"), Status::Unchanged);
    assert_eq!(status_of(&c, "c/run"), Status::Improved);
    assert_eq!(status_of(&c, "d"), Status::Unchanged);
    assert_eq!(status_of(&c, "fresh"), Status::Added);
    assert_eq!(status_of(&c, "gone"), Status::Removed);
    assert_eq!(c.total.status, Status::Unchanged); // +5% < 10%
    assert!(c.regressed());
    let a = c.rows.iter().find(|r| r.scope == "a/run").unwrap();
    assert!((a.delta_pct - 20.0).abs() < 1e-9);
    assert!((a.delta_ns - 200.0).abs() < 1e-9);
    let md = c.markdown();
    assert!(
        md.contains("**regressed**") && md.contains("REGRESSION in a/run"),
        "{md}"
    );

    // A higher scope threshold lets a/run pass; the total threshold is separate.
    let lenient = Thresholds {
        scope_pct: 25.0,
        total_pct: 4.0,
    };
    let c = compare(&old, &new, "old.json", "new.json", lenient);
    assert_eq!(status_of(&c, "a/run"), Status::Unchanged);
    assert_eq!(c.total.status, Status::Regressed);
    assert!(c.regressed());

    // Identical profiles: nothing changes, exit code would be 0.
    let c = compare(&old, &old, "old.json", "old.json", Thresholds::default());
    assert!(!c.regressed());
    assert!(c.rows.iter().all(|r| r.status == Status::Unchanged));
    assert!(c.notes.is_empty(), "{:?}", c.notes);
}

#[test]
fn compare_says_when_machines_or_parameters_differ() {
    let old = profile(vec![scope("a", 3, 10.0, 9, 11, 1.0)], 100);
    let mut new = old.clone();
    new.machine.cpu = "Some Other CPU".into();
    new.machine.fingerprint = "x86_64-0000000000000000".into();
    new.parameters
        .insert("dispatch".into(), "tuned.json".into());
    new.parameters
        .insert("slow_scope".into(), "a (work ×3, test switch)".into());
    let c = compare(&old, &new, "o", "n", Thresholds::default());
    // Machine and dispatch table are settings: the runs are not comparable.
    assert!(c.not_comparable());
    let names: Vec<&str> = c
        .settings
        .differing
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["--dispatch", "the machine"], "{:?}", c.settings);
    assert!(c.settings.differing_text().contains("Some Other CPU"));
    assert!(c.settings.differing_text().contains("tuned.json"));
    // The slow switch is not a setting (it stands for a code change): a note.
    assert!(
        c.notes.iter().any(|n| n.contains("`slow_scope`")),
        "{:?}",
        c.notes
    );
    for text in [c.markdown(), c.summary()] {
        assert!(text.contains("NOT COMPARABLE"), "{text}");
        assert!(text.contains("Some Other CPU"), "{text}");
    }
    assert!(c.verdict().contains("NOT COMPARABLE"));
}

#[test]
fn every_setting_is_checked_and_missing_ones_are_unknown() {
    let old = profile(vec![scope("a", 3, 10.0, 9, 11, 1.0)], 100);
    for (key, value, name) in [
        ("quick", serde_json::json!(true), "--quick"),
        ("runs", serde_json::json!(7), "--runs"),
        ("scenarios", serde_json::json!(["a", "b"]), "--scenarios"),
        ("dispatch", serde_json::json!("t.json"), "--dispatch"),
        ("build", serde_json::json!("debug"), "the build"),
        (
            "kernels_disable",
            serde_json::json!("avx512"),
            "KERNELS_DISABLE",
        ),
    ] {
        let mut new = old.clone();
        new.parameters.insert(key.into(), value);
        let c = compare(&old, &new, "o", "n", Thresholds::default());
        assert_eq!(c.settings.differing.len(), 1, "{key}: {:?}", c.settings);
        assert!(c.settings.differing[0].name.starts_with(name), "{key}");
        assert!(c.settings.unknown.is_empty());
    }
    let mut new = old.clone();
    new.allocations_counted = false;
    let c = compare(&old, &new, "o", "n", Thresholds::default());
    assert_eq!(c.settings.differing[0].name, "allocation counting");
    // A list shows what only one run has.
    let mut new = old.clone();
    new.parameters
        .insert("scenarios".into(), serde_json::json!(["a", "b", "c"]));
    let c = compare(&old, &new, "o", "n", Thresholds::default());
    assert_eq!(
        c.settings.differing_text(),
        "--scenarios (old 1, new 3, 2 not in old: b, c)"
    );
    // An older profile that did not record its settings: unknown, a warning, comparable.
    let mut older = old.clone();
    older.parameters.clear();
    let c = compare(&older, &old, "o", "n", Thresholds::default());
    assert!(!c.not_comparable());
    assert_eq!(c.settings.unknown.len(), 6, "{:?}", c.settings);
    assert!(c.settings.unknown[0].contains("not recorded in the old profile"));
    for text in [c.markdown(), c.summary()] {
        assert!(text.contains("Unknown settings: --quick"), "{text}");
    }
}

#[test]
fn chart_bars_are_the_changed_scopes_sorted_by_change() {
    let (old, new) = old_and_new(
        &[
            ("up/run", steady(1000.0), steady(1300.0)),
            ("down/run", steady(1000.0), steady(900.0)),
            ("bigdown/run", steady(1000.0), steady(500.0)),
            (
                "noise/run",
                (5, 1000.0, 500, 5000, 900.0),
                (5, 3000.0, 500, 5000, 900.0),
            ),
            ("warm/up", single(1000.0), single(9000.0)),
        ],
        (1000, 1000),
    );
    let c = compare(&old, &new, "o", "n", Thresholds::default());
    let bars = c.chart_bars(10);
    let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
    // Unchanged scopes (noise, a single-call warm-up at +800 %) are left out.
    assert_eq!(labels, ["up/run", "down/run", "bigdown/run"]);
    use experiments::plot::BarKind;
    let kinds: Vec<BarKind> = bars.iter().map(|b| b.kind).collect();
    assert_eq!(kinds, [BarKind::Bad, BarKind::Good, BarKind::Good]);
    assert!(bars[0].text.starts_with("+30.0 %"), "{}", bars[0].text);
    // With room for two: the two largest changes, still sorted by change.
    let labels: Vec<String> = c.chart_bars(2).into_iter().map(|b| b.label).collect();
    assert_eq!(labels, ["up/run", "bigdown/run"]);
    // The chart: red and green bars, the left-out scopes counted below it.
    let dir = tempdir("bars");
    let path = dir.join("chart.svg");
    c.svg(&path, 10).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(
        svg.contains("#C82828") && svg.contains("#288C46"),
        "red and green"
    );
    assert!(!svg.contains("warm/up") && !svg.contains("noise/run"));
    assert!(svg.contains("2 unchanged"), "{svg}");
}

#[test]
fn svg_chart_is_written() {
    let (old, new) = old_and_new(&[("a/run", steady(1000.0), steady(2000.0))], (1000, 2000));
    let c = compare(&old, &new, "o", "n", Thresholds::default());
    let dir = tempdir("svg");
    let path = dir.join("chart.svg");
    c.svg(&path, 10).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("a/run"), "{svg}");
}

// ---- through the binary ----------------------------------------------------------------

fn tempdir(name: &str) -> child::TmpDir {
    child::tmp_dir("experiments-test", name)
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_experiments"));
    c.env_remove(experiments::profile::SLOW_ENV);
    c
}

fn run_profile(out: &Path, slow: Option<&str>) {
    let mut c = bin();
    c.args([
        "profile",
        "--quick",
        "--scenarios",
        "matmul_64,gelu_1k",
        "--runs",
        "7",
        "--out",
    ])
    .arg(out);
    if let Some(s) = slow {
        c.env(experiments::profile::SLOW_ENV, s);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "profile failed: {}", text(&o));
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run_compare(old: &Path, new: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("compare")
        .arg(old)
        .arg(new)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn slowed_scope_is_flagged_and_identical_runs_pass() {
    let dir = tempdir("e2e");
    let (base, again, slow) = (
        dir.join("base.json"),
        dir.join("again.json"),
        dir.join("slow.json"),
    );
    run_profile(&base, None);
    run_profile(&again, None);
    run_profile(&slow, Some("matmul_64"));

    // The written profile is versioned and has its Markdown beside it.
    let p = Profile::load(&base).unwrap();
    assert_eq!((p.format.as_str(), p.version), (FORMAT, VERSION));
    assert!(p.scope("matmul_64/run").is_some_and(|s| s.calls == 7));
    assert!(base.with_extension("md").exists());

    // The slowed scenario repeats its work 3×: flagged, exit code 1.
    let report = dir.join("report.md");
    let svg = dir.join("chart.svg");
    let mut args = vec![
        "--out",
        report.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ];
    // A ×3 slowdown is far beyond the thresholds, but a base run disturbed by the machine
    // (a shared CI core) can hide it: profile both again, at most twice, before failing.
    let mut o = run_compare(&base, &slow, &args);
    for _ in 0..2 {
        if o.status.code() == Some(1) {
            break;
        }
        run_profile(&base, None);
        run_profile(&slow, Some("matmul_64"));
        o = run_compare(&base, &slow, &args);
    }
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("regressed") && out.contains("matmul_64/run"),
        "{out}"
    );
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.contains("| matmul_64/run") && md.contains("**regressed**"),
        "{md}"
    );
    assert!(md.contains("slow_scope"), "the switch is stated: {md}");
    assert!(svg.exists());

    // The same file against itself: unchanged, exit 0.
    let o = run_compare(&base, &base, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Two separate identical runs compare without error. Whether they pass is a timing
    // question (scope times of a debug build on a shared 2-core machine were seen to differ
    // 2× between two identical runs), so it is not asserted here: the noise model is tested
    // on synthetic profiles above, and the file against itself is exactly "unchanged".
    args = vec!["--scope-threshold", "60", "--total-threshold", "1000"];
    let o = run_compare(&base, &again, &args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert!(text(&o).contains("again.json"), "{}", text(&o));
}

#[test]
fn profiles_with_different_settings_are_refused_unless_allowed() {
    let dir = tempdir("settings");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    for (path, runs) in [(&a, "3"), (&b, "4")] {
        let o = bin()
            .args([
                "profile",
                "--quick",
                "--scenarios",
                "gelu_1k",
                "--runs",
                runs,
                "--out",
            ])
            .arg(path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    // Refused: exit 2, naming the setting and the flag that overrides.
    let report = dir.join("r.md");
    let o = run_compare(&a, &b, &["--out", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--runs (old 3, new 4)") && err.contains("--allow-different-settings"),
        "{err}"
    );
    assert!(!report.exists(), "nothing written on a refusal");
    // Allowed: compared, with the warning in the text, the Markdown and the chart's title.
    let svg = dir.join("c.svg");
    let o = run_compare(
        &a,
        &b,
        &[
            "--allow-different-settings",
            "--out",
            report.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    assert!(
        text(&o).starts_with("WARNING: NOT COMPARABLE"),
        "{}",
        text(&o)
    );
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.contains("NOT COMPARABLE") && md.contains("--runs"),
        "{md}"
    );
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.contains("NOT COMPARABLE (different settings: --runs)"));
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    let dir = tempdir("bad");
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        serde_json::to_string(&profile(vec![scope("a", 3, 10.0, 9, 11, 1.0)], 100)).unwrap(),
    )
    .unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("missing.json", String::new(), "cannot read"),
        ("garbage.json", "{ not json".into(), "not valid JSON"),
        (
            "other.json",
            r#"{"format": "kernel-dispatch", "version": 1}"#.into(),
            "not a profile",
        ),
        (
            "future.json",
            format!(r#"{{"format": "{FORMAT}", "version": 99}}"#),
            "version 99",
        ),
        (
            "partial.json",
            format!(r#"{{"format": "{FORMAT}", "version": 1, "scopes": []}}"#),
            "malformed profile",
        ),
    ];
    for (name, content, expect) in cases {
        let path = dir.join(name);
        if !content.is_empty() {
            std::fs::write(&path, content).unwrap();
        }
        for (old, new) in [(&path, &good), (&good, &path)] {
            let o = run_compare(old, new, &[]);
            let err = String::from_utf8_lossy(&o.stderr).to_string();
            assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
            assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}
