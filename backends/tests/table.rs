//! Every bad-table case the loader must survive: malformed JSON, unknown format or version,
//! unknown variants (skipped with a warning), foreign machines (opt-in), bad figures,
//! unsorted or overlapping ranges — and a proptest that mutated tables give errors, never
//! panics. (A variant needing a masked CPU feature is in `table_masked.rs`, its own process.)

mod common;

use backends::table::{Entry, Evidence, RunnerUp, Table, TableError};
use backends::{catalog, Bucket, Dispatcher, Key, LoadOptions, Op};
use proptest::prelude::*;
use std::path::Path;

const PATH: &str = "/tmp/some-dir/bad-table.json";

fn path() -> &'static Path {
    Path::new(PATH)
}

fn entry(op: Op, bucket: Bucket, min: u64, max: Option<u64>, variant: &str) -> Entry {
    Entry {
        op: op.name().into(),
        bucket,
        min,
        max,
        variant: variant.into(),
        params: None,
        split: None,
        evidence: Evidence {
            median_ns: 1000.0,
            spread_ns: 10.0,
            samples: 9,
            measured_size: Some(min.max(1)),
            task_clock_ns: Some(1100.0),
            page_faults: Some(0.0),
            runner_up: Some(RunnerUp {
                variant: catalog().reference(op).1.id.clone(),
                median_ns: 1500.0,
            }),
            note: Some("test".into()),
            ..Evidence::default()
        },
    }
}

/// A valid table for this machine: reference variants, several ranges per op.
fn valid() -> Table {
    let mut t = common::empty_table(Some("test"));
    for op in Op::ALL {
        let r = catalog().reference(op).1.id.clone();
        for &b in op.buckets() {
            t.entries.push(entry(op, b, 0, Some(999), &r));
            t.entries.push(entry(op, b, 1000, Some(99_999), &r));
            t.entries.push(entry(op, b, 100_000, None, &r));
        }
    }
    t
}

fn parse(text: &str) -> Result<Table, TableError> {
    Table::parse(text, path())
}

fn load(t: &Table, allow_foreign: bool) -> Result<Dispatcher, TableError> {
    Dispatcher::from_table(t, path(), LoadOptions { allow_foreign })
}

/// Each table of `cases` must fail to load with an error about one entry, naming the file,
/// whose text contains its string.
fn assert_entry_errors<const N: usize>(cases: [(Table, &str); N]) {
    for (t, want) in cases {
        let e = parse(&t.to_json())
            .and_then(|t| load(&t, false).map(|_| ()))
            .unwrap_err();
        assert!(matches!(e, TableError::Entry { .. }), "{e}");
        assert!(e.to_string().contains(want), "{e} lacks {want}");
        assert_names_file(&e);
    }
}

fn assert_names_file(e: &TableError) {
    assert!(
        e.to_string().contains(PATH),
        "error does not name the file: {e}"
    );
}

#[test]
fn the_valid_table_round_trips_and_loads_without_warnings() {
    let t = valid();
    let back = parse(&t.to_json()).unwrap();
    assert_eq!(back, t);
    let d = load(&back, false).unwrap();
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    let v = d.lookup(Op::Matmul, Key::matmul(1, 64, 64)).variant();
    assert!(v.is_reference());
}

#[test]
fn malformed_json() {
    for text in [
        "",
        "{",
        "[1,2,3]",
        "{\"format\": \"kernel-dispatch\", \"version\": 1,",
        "null",
    ] {
        let e = parse(text).unwrap_err();
        assert!(
            matches!(e, TableError::Malformed { .. } | TableError::Format { .. }),
            "{text}: {e}"
        );
        assert_names_file(&e);
    }
    // Valid header, broken body.
    let mut v: serde_json::Value = serde_json::from_str(&valid().to_json()).unwrap();
    v["entries"] = serde_json::json!("not a list");
    let e = parse(&v.to_string()).unwrap_err();
    assert!(matches!(e, TableError::Malformed { .. }), "{e}");
    assert_names_file(&e);
}

#[test]
fn unknown_format_and_version() {
    let mut v: serde_json::Value = serde_json::from_str(&valid().to_json()).unwrap();
    v["format"] = serde_json::json!("criterion-baseline");
    let e = parse(&v.to_string()).unwrap_err();
    assert!(matches!(e, TableError::Format { .. }), "{e}");
    assert!(e.to_string().contains("criterion-baseline"));
    assert_names_file(&e);

    let mut v: serde_json::Value = serde_json::from_str(&valid().to_json()).unwrap();
    v["version"] = serde_json::json!(3);
    let e = parse(&v.to_string()).unwrap_err();
    assert!(matches!(e, TableError::Version { found: 3, .. }), "{e}");
    assert_names_file(&e);
    // Version 1 (no kernel parameters) still loads.
    v["version"] = serde_json::json!(1);
    parse(&v.to_string()).unwrap();

    v["version"] = serde_json::json!("1");
    assert!(matches!(
        parse(&v.to_string()).unwrap_err(),
        TableError::Malformed { .. }
    ));
    v["version"] = serde_json::json!(-1);
    assert!(parse(&v.to_string()).is_err());
}

#[test]
fn unknown_variant_is_skipped_with_one_warning_and_the_default_serves() {
    let mut t = valid();
    // Replace the middle gelu range and one matmul range with ids this build lacks.
    let gi = t
        .entries
        .iter()
        .position(|e| e.op == "gelu_tanh" && e.min == 1000)
        .unwrap();
    t.entries[gi].variant = "gelu_tanh/quantum/pooled/t1".into();
    let mi = t
        .entries
        .iter()
        .position(|e| e.op == "matmul" && e.bucket == Bucket::M1)
        .unwrap();
    t.entries[mi].variant = "not-a-variant-id".into();
    // A variant of the wrong op in an entry.
    let ai = t.entries.iter().position(|e| e.op == "add").unwrap();
    t.entries[ai].variant = catalog().reference(Op::Softmax).1.id.clone();
    // An op this build does not know (a newer build's table).
    let mut future = entry(Op::Add, Bucket::All, 0, None, "conv2d/naive/direct/t1");
    future.op = "conv2d".into();
    t.entries.push(future);
    let d = load(&parse(&t.to_json()).unwrap(), false).unwrap();
    assert_eq!(d.warnings().len(), 1, "{:?}", d.warnings());
    let w = &d.warnings()[0];
    for needle in [
        "gelu_tanh/quantum/pooled/t1",
        "not-a-variant-id",
        "conv2d",
        "4 table entries skipped",
    ] {
        assert!(w.contains(needle), "{needle} not in {w}");
    }
    // The skipped gelu range falls through to the next range of the table.
    let v = d.lookup(Op::GeluTanh, Key::elems(5000)).variant();
    assert!(catalog().find(&v.id).is_some());
    // A bucket whose every entry was skipped takes the embedded default's choice.
    let mut t = valid();
    for e in t.entries.iter_mut().filter(|e| e.op == "layernorm") {
        e.variant = "layernorm/missing/pooled/t1".into();
    }
    let d = load(&t, false).unwrap();
    for size in [1u64, 5000, 10_000_000] {
        let got = d.lookup(Op::Layernorm, Key::elems(size as usize)).variant();
        let want = Dispatcher::embedded()
            .lookup(Op::Layernorm, Key::elems(size as usize))
            .variant();
        assert_eq!(got.id, want.id);
    }
}

#[test]
fn foreign_fingerprint_needs_the_opt_in() {
    let mut t = valid();
    t.machine.fingerprint = "x86_64-0000000000000000".into();
    t.machine.cpu = "Some Other CPU".into();
    let e = load(&t, false).unwrap_err();
    assert!(matches!(e, TableError::Foreign { .. }), "{e}");
    assert!(e.to_string().contains("Some Other CPU"));
    assert_names_file(&e);
    let d = load(&t, true).unwrap();
    assert!(
        d.warnings().iter().any(|w| w.contains("another machine")),
        "{:?}",
        d.warnings()
    );
}

fn with_entry_value(f: impl Fn(&mut serde_json::Value)) -> Result<Table, TableError> {
    let mut v: serde_json::Value = serde_json::from_str(&valid().to_json()).unwrap();
    f(&mut v["entries"][4]);
    parse(&v.to_string())
}

#[test]
fn negative_huge_and_non_numeric_figures() {
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("median_ns", serde_json::json!(-1.0)),
        ("spread_ns", serde_json::json!(-0.5)),
        ("cycles", serde_json::json!(-3)),
        ("ipc", serde_json::json!(-1e-9)),
        ("median_ns", serde_json::json!("NaN")),
        ("median_ns", serde_json::json!("inf")),
        ("samples", serde_json::json!(-4)),
        ("samples", serde_json::json!(1e30)),
        ("median_ns", serde_json::Value::Null),
    ];
    for (field, value) in cases {
        let e = with_entry_value(|e| e["evidence"][field] = value.clone()).unwrap_err();
        assert_names_file(&e);
        let _ = e.to_string();
    }
    // A runner-up with a negative time.
    let e = with_entry_value(|e| e["evidence"]["runner_up"]["median_ns"] = serde_json::json!(-2))
        .unwrap_err();
    assert!(matches!(e, TableError::Entry { .. }), "{e}");
    // Numbers beyond f64 in the text: 1e400 is not a finite figure.
    let text = valid()
        .to_json()
        .replacen("\"median_ns\": 1000.0", "\"median_ns\": 1e400", 1);
    assert!(parse(&text).is_err());
    // Sizes beyond u64 or negative.
    assert!(with_entry_value(|e| e["min"] = serde_json::json!(-1)).is_err());
    let text = valid()
        .to_json()
        .replacen("\"min\": 1000", "\"min\": 18446744073709551616", 1);
    assert!(parse(&text).is_err());
    // Unknown bucket.
    assert!(with_entry_value(|e| e["bucket"] = serde_json::json!("medium_m")).is_err());
}

#[test]
fn overlapping_unsorted_and_reversed_ranges() {
    let base = valid();
    let gelu: Vec<usize> = (0..base.entries.len())
        .filter(|&i| base.entries[i].op == "gelu_erf")
        .collect();
    // Reversed range.
    let mut t = base.clone();
    t.entries[gelu[1]].min = 5000;
    t.entries[gelu[1]].max = Some(10);
    let e = parse(&t.to_json()).unwrap_err();
    assert!(e.to_string().contains("reversed"), "{e}");
    // Overlap.
    let mut t = base.clone();
    t.entries[gelu[1]].min = 500;
    let e = parse(&t.to_json()).unwrap_err();
    assert!(e.to_string().contains("overlaps"), "{e}");
    assert_names_file(&e);
    // Unsorted.
    let mut t = base.clone();
    t.entries.swap(gelu[0], gelu[2]);
    let e = parse(&t.to_json()).unwrap_err();
    assert!(e.to_string().contains("not sorted"), "{e}");
    // Duplicate entry.
    let mut t = base.clone();
    let dup = t.entries[gelu[0]].clone();
    t.entries.insert(gelu[0], dup);
    assert!(parse(&t.to_json()).is_err());
    // An open range followed by another range in the same bucket.
    let mut t = base.clone();
    t.entries[gelu[1]].max = None;
    assert!(parse(&t.to_json()).is_err());
    // from_table checks too (a table built in code, not parsed).
    let mut t = base;
    t.entries[gelu[1]].min = 500;
    assert!(load(&t, false).is_err());
}

#[test]
fn holes_between_ranges_are_served() {
    let mut t = valid();
    for e in t.entries.iter_mut().filter(|e| e.op == "add") {
        if e.min == 1000 {
            e.min = 5000; // hole 1000..5000
        }
    }
    let d = load(&parse(&t.to_json()).unwrap(), false).unwrap();
    let _ = d.lookup(Op::Add, Key::elems(2000)).variant();
}

/// Mutations of a valid table's JSON text.
#[derive(Debug, Clone)]
enum Mutation {
    DropEntry(usize),
    DuplicateEntry(usize),
    SwapEntries(usize, usize),
    SetNumber(usize, f64),
    SetInt(usize, i64),
    SetField(usize, usize, u8),
    Truncate(usize),
    ReplaceByte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DropEntry),
        any::<usize>().prop_map(Mutation::DuplicateEntry),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapEntries(a, b)),
        (
            any::<usize>(),
            prop_oneof![any::<f64>(), -1e300..1e300f64, Just(-0.0), Just(1e308)]
        )
            .prop_map(|(i, x)| Mutation::SetNumber(i, x)),
        (any::<usize>(), any::<i64>()).prop_map(|(i, x)| Mutation::SetInt(i, x)),
        (any::<usize>(), any::<usize>(), any::<u8>())
            .prop_map(|(i, f, k)| Mutation::SetField(i, f, k)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::ReplaceByte(i, b)),
    ]
}

const FIELDS: [&str; 9] = [
    "params",
    "min",
    "max",
    "variant",
    "op",
    "bucket",
    "median_ns",
    "spread_ns",
    "samples",
];

fn apply(text: &mut String, v: &mut serde_json::Value, m: &Mutation) {
    let n = v["entries"].as_array().map_or(0, |a| a.len());
    let entries = v["entries"].as_array_mut();
    match (m, entries) {
        (Mutation::DropEntry(i), Some(es)) if n > 0 => {
            es.remove(i % n);
        }
        (Mutation::DuplicateEntry(i), Some(es)) if n > 0 => {
            let e = es[i % n].clone();
            es.insert(i % n, e);
        }
        (Mutation::SwapEntries(a, b), Some(es)) if n > 0 => es.swap(a % n, b % n),
        (Mutation::SetNumber(i, x), Some(es)) if n > 0 => {
            let e = &mut es[i % n];
            let value =
                serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into);
            match i % 4 {
                0 => e["evidence"]["median_ns"] = value,
                1 => e["evidence"]["spread_ns"] = value,
                2 => e["evidence"]["cycles"] = value,
                _ => e["evidence"]["runner_up"]["median_ns"] = value,
            }
        }
        (Mutation::SetInt(i, x), Some(es)) if n > 0 => {
            let e = &mut es[i % n];
            match i % 3 {
                0 => e["min"] = (*x).into(),
                1 => e["max"] = (*x).into(),
                _ => e["evidence"]["samples"] = (*x).into(),
            }
        }
        (Mutation::SetField(i, f, k), Some(es)) if n > 0 => {
            let e = &mut es[i % n];
            let field = FIELDS[f % FIELDS.len()];
            let val: serde_json::Value = match k % 7 {
                0 => serde_json::Value::Null,
                5 => {
                    serde_json::json!({"mr": 6, "nr": 16, "kc": 0, "mc": 6, "nc": 16, "row": "stream"})
                }
                1 => "matmul/naive/direct/t1".into(),
                2 => "large_m".into(),
                3 => serde_json::json!(u64::MAX),
                4 => serde_json::json!([1, 2]),
                _ => serde_json::json!({"x": 1}),
            };
            if ["median_ns", "spread_ns", "samples"].contains(&field) {
                e["evidence"][field] = val;
            } else {
                e[field] = val;
            }
        }
        _ => {}
    }
    *text = serde_json::to_string_pretty(v).unwrap();
    match m {
        Mutation::Truncate(i) if !text.is_empty() => {
            let mut at = i % text.len();
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
        }
        Mutation::ReplaceByte(i, b) if !text.is_empty() && b.is_ascii() => {
            let at = i % text.len();
            if text.is_char_boundary(at) && text.is_char_boundary(at + 1) {
                text.replace_range(at..at + 1, &(*b as char).to_string());
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mutated_tables_give_errors_never_panics(muts in proptest::collection::vec(mutation(), 1..5)) {
        let base = valid();
        let mut v: serde_json::Value = serde_json::from_str(&base.to_json()).unwrap();
        let mut text = base.to_json();
        for m in &muts {
            apply(&mut text, &mut v, m);
            if let Ok(nv) = serde_json::from_str::<serde_json::Value>(&text) {
                v = nv;
            }
        }
        match Table::parse(&text, path()) {
            Ok(t) => {
                for opts in [false, true] {
                    if let Ok(d) = Dispatcher::from_table(&t, path(), LoadOptions { allow_foreign: opts }) {
                        for op in Op::ALL {
                            for b in Bucket::ALL {
                                for size in [0u64, 1, 999, 1000, 123_456, u64::MAX] {
                                    let _ = d.lookup(op, Key { bucket: b, size }).variant();
                                }
                            }
                        }
                    }
                }
            }
            Err(e) => prop_assert!(e.to_string().contains(PATH)),
        }
    }

    #[test]
    fn random_text_gives_errors_never_panics(s in ".{0,200}") {
        prop_assert!(Table::parse(&s, path()).is_err());
    }
}

/// Kernel parameters (version 2): bound with their entry's variant and handed to its kernel;
/// rejected, naming the file and entry, on a version-1 table, on another op, on a kernel
/// that takes none, and when they fail the kernel's check (a micro-tile it lacks, kc = 0).
#[test]
fn kernel_parameters_bind_or_are_errors_naming_the_entry() {
    use backends::table::Params;
    use kernels::matmul::RowSweep;
    let Some((_, v)) = catalog()
        .of(Op::Matmul)
        .find(|v| v.implementation == "avx2" && v.runnable().is_ok())
        .map(|v| ((), v))
    else {
        eprintln!("note: AVX2 unavailable here; the parameter-binding test is skipped");
        return;
    };
    let defaults = kernels::matmul::avx2::default_params();
    let good = Params {
        kc: 128,
        row: RowSweep::Windows,
        ..Params::of(&defaults)
    };
    let with = |op: Op, variant: &str, p: Params, version: u32| {
        let mut t = valid();
        t.version = version;
        let i = t
            .entries
            .iter()
            .position(|e| e.op == op.name() && e.bucket == op.buckets()[0])
            .unwrap();
        t.entries[i].variant = variant.into();
        t.entries[i].params = Some(p);
        t
    };
    let t = with(Op::Matmul, &v.id, good, 2);
    let back = parse(&t.to_json()).unwrap();
    assert_eq!(back, t);
    // The stream's rows a pass are written only when not the default (older tables lack
    // them and load with the default).
    assert!(!t.to_json().contains("\"rows\""));
    let six = with(Op::Matmul, &v.id, Params { rows: 6, ..good }, 2);
    assert!(six.to_json().contains("\"rows\": 6"));
    assert_eq!(parse(&six.to_json()).unwrap(), six);
    // So is the few-row path (`by_level` by default).
    assert!(!t.to_json().contains("\"few\""));
    for few in kernels::matmul::FewRows::CONCRETE {
        let f = with(Op::Matmul, &v.id, Params { few, ..good }, 2);
        assert!(f
            .to_json()
            .contains(&format!("\"few\": \"{}\"", few.name())));
        assert_eq!(parse(&f.to_json()).unwrap(), f);
    }
    // So is the column window (12 vectors by default).
    assert!(!t.to_json().contains("\"window\""));
    let eight = with(Op::Matmul, &v.id, Params { window: 8, ..good }, 2);
    assert!(eight.to_json().contains("\"window\": 8"));
    assert_eq!(parse(&eight.to_json()).unwrap(), eight);
    let slabs = with(
        Op::Matmul,
        &v.id,
        Params {
            few: kernels::matmul::FewRows::Slabs,
            ..good
        },
        2,
    );
    let e = parse(&slabs.to_json().replace("\"slabs\"", "\"stripes\"")).unwrap_err();
    assert!(matches!(e, TableError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("stripes"), "{e}");
    let d = load(&back, false).unwrap();
    let b = d.lookup(Op::Matmul, Key::matmul(1, 8, 8));
    assert_eq!(b.variant().id, v.id);
    assert_eq!(b.tuning.params, Some(good.to_kernel()));
    // The bound parameters reach the kernel: the product is right with them.
    let (a, bm) = (vec![0.5f32; 8], vec![0.25f32; 64]);
    let mut c = vec![0.0; 8];
    d.matmul(
        &kernels::matmul::Gemm::new(1, 8, 8),
        1.0,
        &a,
        &bm,
        0.0,
        &mut c,
    )
    .unwrap();
    assert!(c.iter().all(|&x| x == 1.0), "{c:?}");

    let cases = [
        (with(Op::Matmul, &v.id, good, 1), "version 2"),
        (
            with(Op::Softmax, &catalog().reference(Op::Softmax).1.id, good, 2),
            "only MatMul",
        ),
        (
            with(Op::Matmul, &catalog().reference(Op::Matmul).1.id, good, 2),
            "takes no kernel parameters",
        ),
        (
            with(Op::Matmul, &v.id, Params { nr: 64, ..good }, 2),
            "micro-tile",
        ),
        (with(Op::Matmul, &v.id, Params { kc: 0, ..good }, 2), "kc"),
        (
            with(Op::Matmul, &v.id, Params { rows: 0, ..good }, 2),
            "rows",
        ),
        (
            with(Op::Matmul, &v.id, Params { window: 0, ..good }, 2),
            "window",
        ),
        (
            with(Op::Matmul, &v.id, Params { window: 17, ..good }, 2),
            "window",
        ),
    ];
    assert_entry_errors(cases);
    // An unknown sweep name is malformed JSON for a table.
    let text = t.to_json().replace("\"windows\"", "\"sideways\"");
    assert!(matches!(
        parse(&text).unwrap_err(),
        TableError::Malformed { .. }
    ));
}

/// A threaded MatMul's split (version 2): written by name only when chosen, bound with its
/// entry and handed to the split (the product is right with each); rejected, naming the file
/// and entry, on a version-1 table, on another op and on a single-threaded variant; an unknown
/// name is malformed JSON.
#[test]
fn thread_splits_bind_or_are_errors_naming_the_entry() {
    use backends::exec::Split;
    let single = "matmul/tiled/direct/t1";
    let Some(threaded) = catalog()
        .of(Op::Matmul)
        .find(|v| v.implementation == "tiled" && v.threads >= 2)
        .map(|v| v.id.clone())
    else {
        eprintln!("note: one thread here, no threaded variant; the split test is skipped");
        return;
    };
    let with = |op: Op, variant: &str, split: Split, version: u32| {
        let mut t = valid();
        t.version = version;
        for e in t
            .entries
            .iter_mut()
            .filter(|e| e.op == op.name() && e.bucket == op.buckets()[0])
        {
            e.variant = variant.into();
            e.split = Some(split);
        }
        t
    };
    assert!(!valid().to_json().contains("\"split\""));
    for split in Split::ALL {
        let t = with(Op::Matmul, &threaded, split, 2);
        assert!(t
            .to_json()
            .contains(&format!("\"split\": \"{}\"", split.name())));
        let back = parse(&t.to_json()).unwrap();
        assert_eq!(back, t);
        let d = load(&back, false).unwrap();
        // m = 1, k = 70 (≥ 2·16·2 for the k-split), n = 130 (over two blocks of columns):
        // k and columns fit, rows fall back to the rule's k.
        let g = kernels::matmul::Gemm::new(1, 70, 130);
        let b = d.lookup(Op::Matmul, Key::matmul(g.m, g.k, g.n));
        assert_eq!(
            (b.variant().id.as_str(), b.tuning.split),
            (threaded.as_str(), Some(split))
        );
        let (a, bm) = (vec![0.5f32; 70], vec![0.25f32; 70 * 130]);
        let mut c = vec![1.0; 130];
        d.matmul(&g, 2.0, &a, &bm, 1.0, &mut c).unwrap();
        assert!(c.iter().all(|&x| x == 18.5), "{split}: {c:?}");
    }
    let cases = [
        (with(Op::Matmul, &threaded, Split::K, 1), "version 2"),
        (
            with(
                Op::Softmax,
                &catalog().reference(Op::Softmax).1.id,
                Split::K,
                2,
            ),
            "only MatMul",
        ),
        (with(Op::Matmul, single, Split::Rows, 2), "single-threaded"),
    ];
    assert_entry_errors(cases);
    let text = with(Op::Matmul, &threaded, Split::Cols, 2)
        .to_json()
        .replace("\"cols\"", "\"diagonal\"");
    let e = parse(&text).unwrap_err();
    assert!(matches!(e, TableError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("diagonal"), "{e}");
}
