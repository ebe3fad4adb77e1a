//! The real binary under bad input: every case ends with exit code 1 or 2 and a message on
//! stderr naming the input, quickly (before any long work), never with a panic (101), an
//! abort (134) or a signal; files that existed are left byte-identical; output into a closed
//! pipe ends quietly.

mod common;

use common::child::{blocking_file, check_refusal, dir_names, unchanged, BLOCKING_FILE_TEXT};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autotune"));
    c.env("AUTOTUNE_COUNTERS", "software")
        .env_remove("KERNELS_MAX_MEMORY")
        .env_remove("KERNELS_DISABLE");
    c
}

fn tmp(name: &str) -> common::child::TmpDir {
    common::child::tmp_dir("autotune-bad", name)
}

/// Whether this CPU has AVX-512F (the error then says the feature is masked, not missing).
fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `args` (with `env`) and checks a refusal: exit `code`, quickly, stderr naming every
/// one of `names`, no panic.
fn refused(args: &[&str], env: &[(&str, &str)], code: i32, names: &[&str]) -> String {
    let mut c = bin();
    c.args(args).envs(env.iter().copied());
    check_refusal(c, &format!("{args:?} {env:?}"), code, names)
}

#[test]
fn shapes_that_overflow_or_do_not_fit_memory_are_refused() {
    for (op, shape) in [
        ("matmul", "18446744073709551615"),
        ("matmul", "4294967296"),
        ("matmul", "18446744073709551616"),
        ("matmul", "1x18446744073709551615x2"),
        ("softmax", "18446744073709551615x2"),
        ("gelu_tanh", "18446744073709551615"),
        ("add", "4611686018427387904"),
        ("layernorm", "99999999999x99999999999"),
    ] {
        refused(&["measure", "--op", op, "--shape", shape], &[], 2, &[shape]);
    }
    // Representable, but far beyond the memory limit: refused before allocating.
    for (op, shape) in [
        ("matmul", "99999999x99999999x9"),
        ("matmul", "65536x65536x65536"),
        ("gelu_tanh", "4000000000000"),
        ("softmax", "100000x100000000"),
    ] {
        refused(
            &["measure", "--op", op, "--shape", shape],
            &[],
            2,
            &[shape, "memory limit"],
        );
    }
    // The limit can be set (flag or environment), and a bad setting is named.
    refused(
        &[
            "measure",
            "--op",
            "matmul",
            "--shape",
            "64",
            "--max-memory",
            "1K",
        ],
        &[],
        2,
        &["64x64x64", "1.0 KiB"],
    );
    refused(
        &["measure", "--op", "add", "--shape", "100000"],
        &[("KERNELS_MAX_MEMORY", "100K")],
        2,
        &["add 100000", "KERNELS_MAX_MEMORY"],
    );
    refused(
        &["measure", "--op", "add", "--shape", "10"],
        &[("KERNELS_MAX_MEMORY", "lots")],
        2,
        &["lots"],
    );
    for bad in ["--max-memory=lots", "--max-memory=0", "--max-memory=-1G"] {
        refused(
            &["measure", "--op", "add", "--shape", "10", bad],
            &[],
            2,
            &["--max-memory"],
        );
    }
    refused(
        &["--quick", "--max-square", "512", "--max-memory", "1M"],
        &[],
        2,
        &["memory limit"],
    );
}

#[test]
fn work_estimated_at_hours_is_refused_unless_forced() {
    let err = refused(
        &[
            "measure",
            "--op",
            "matmul",
            "--shape",
            "65536x65536x65536",
            "--max-memory",
            "1T",
        ],
        &[],
        2,
        &["65536x65536x65536", "estimated at least", "--force"],
    );
    assert!(err.contains("days") || err.contains(" h "), "{err}");
    refused(
        &[
            "measure",
            "--op",
            "add",
            "--shape",
            "8",
            "--samples",
            "1000000000",
        ],
        &[],
        2,
        &["--force", "1000000000"],
    );
}

#[test]
fn absurd_numbers_are_usage_errors() {
    fn m<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["measure", "--op", "add", "--shape", "100"];
        v.extend_from_slice(extra);
        v
    }
    for (args, name) in [
        (m(&["--samples", "0"]), "--samples"),
        (m(&["--samples", "-3"]), "-3"),
        (m(&["--threads", "0"]), "--threads"),
        (m(&["--threads", "3000"]), "--threads 3000"),
        (m(&["--threads", "1,0"]), "--threads"),
        (vec!["--threads", "0", "--quick"], "--threads"),
        (vec!["tune", "--threads", "0", "--quick"], "--threads"),
        (vec!["--budget", "0"], "--budget"),
        (vec!["--budget", "nan"], "--budget"),
        (vec!["--budget", "inf"], "--budget"),
        (vec!["--budget", "1e300"], "--budget"),
        (vec!["--quick", "--max-square", "0"], "--max-square"),
        (vec!["--quick", "--max-square", "1000000"], "--max-square"),
        (vec!["validate", "--budget", "0"], "--budget"),
        (vec!["validate", "--budget", "nan"], "--budget"),
        (vec!["validate", "--threads", "0"], "--threads"),
        (
            vec!["compare", "a.json", "b.json", "--lead", "nan"],
            "--lead",
        ),
        (
            vec!["compare", "a.json", "b.json", "--lead", "inf"],
            "--lead",
        ),
    ] {
        refused(&args, &[], 2, &[name]);
    }
}

#[test]
fn variants_that_match_nothing_or_cannot_run_are_errors() {
    /// `measure --op matmul --shape 8` with `extra` flags must be a usage error naming `names`.
    fn refused_measure(extra: &[&str], env: &[(&str, &str)], names: &[&str]) {
        let mut args = vec!["measure", "--op", "matmul", "--shape", "8"];
        args.extend_from_slice(extra);
        refused(&args, env, 2, names);
    }
    let masked = [("KERNELS_DISABLE", "avx512")];
    refused_measure(
        &["--variants", "tiled,nosuch"],
        &[],
        &["`nosuch`", "matches no matmul variant"],
    );
    refused_measure(
        &["--variants", "avx512"],
        &masked,
        // Named as masked where the CPU has AVX-512; as lacking it elsewhere.
        if cpu_has_avx512() {
            &["avx512", "cannot run here", "masked"]
        } else {
            &["avx512", "cannot run here", "lacks avx512"]
        },
    );
    // One pattern that cannot run is an error even beside one that can.
    refused_measure(
        &["--variants", "naive,avx512"],
        &masked,
        &["avx512", "cannot run here"],
    );
    refused_measure(
        &["--variants", "naive", "--threads", "2"],
        &[],
        &["`naive`", "--threads"],
    );
    refused_measure(
        &["--splits", "k,diagonal"],
        &[],
        &["--splits", "`diagonal`", "known: k, rows, cols"],
    );
    refused(
        &["measure", "--op", "add", "--shape", "100", "--splits", "k"],
        &[],
        2,
        &["--splits", "only matmul"],
    );
}

#[test]
fn unwritable_outputs_are_refused_before_measuring() {
    let d = tmp("outputs");
    let table = d.join("dispatch.json");
    std::fs::write(&table, b"earlier table").unwrap();
    let (file, under_file) = blocking_file(&d, "out.json");
    let under_file = under_file.as_str();
    refused(&["--quick", "--out", under_file], &[], 2, &[under_file]);
    refused(
        &["tune", "--quick", "--out", under_file],
        &[],
        2,
        &[under_file],
    );
    refused(
        &["--quick", "--out", "/proc/autotune-nonexistent/t.json"],
        &[],
        2,
        &["/proc/autotune-nonexistent/t.json"],
    );
    refused(
        &["--quick", "--out", d.to_str().unwrap()],
        &[],
        2,
        &["is a directory"],
    );
    refused(
        &["--quick", "--out", "/dev/null"],
        &[],
        2,
        &["/dev/null", "not a regular file"],
    );
    // The report beside the table: its folder is a file here, so the run is refused and the
    // earlier table stays as it was.
    std::fs::write(d.join("dispatch-report"), b"not a folder").unwrap();
    refused(
        &["--quick", "--out", table.to_str().unwrap()],
        &[],
        2,
        &["dispatch-report", "not a folder"],
    );
    unchanged(&table, b"earlier table");
    unchanged(&d.join("dispatch-report"), b"not a folder");
    // The report's Markdown would be the table itself.
    let md = d.join("t.md");
    std::fs::write(&md, b"markdown").unwrap();
    refused(
        &["--quick", "--out", md.to_str().unwrap()],
        &[],
        2,
        &["t.md"],
    );
    unchanged(&md, b"markdown");
    // validate --json-out is checked before the table is even read.
    refused(
        &[
            "validate",
            "--dispatch",
            "missing.json",
            "--json-out",
            under_file,
        ],
        &[],
        2,
        &[under_file],
    );
    unchanged(&file, BLOCKING_FILE_TEXT);
    // Nothing was left behind (no probe or temporary files).
    assert_eq!(
        dir_names(&d),
        ["a-file", "dispatch-report", "dispatch.json", "t.md"]
    );
}

/// Runs `args` with stdout into a pipe whose read end closes after `lines` lines; the
/// program must end with 0 or by SIGPIPE, never a panic.
fn closed_pipe(args: &[&str], lines: usize) {
    let mut c = bin();
    c.args(args);
    common::child::closed_pipe(c, &format!("{args:?}"), lines, Duration::from_secs(60));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backends/src/default_table.json");
    let table = table.to_str().unwrap();
    for lines in [0, 1] {
        closed_pipe(&["list"], lines);
        closed_pipe(&["list", "--json"], lines);
        closed_pipe(&["inspect", table, "--allow-foreign"], lines);
        closed_pipe(
            &[
                "measure",
                "--op",
                "add",
                "--shape",
                "1000",
                "--samples",
                "2",
            ],
            lines,
        );
    }
}
