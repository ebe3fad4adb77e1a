//! The real `experiments` binary under bad input: every case ends with exit code 2 (bad
//! input) and a message on stderr naming the input, quickly (before any long work), never
//! with a panic (101), an abort (134) or a signal; files that existed are left
//! byte-identical; output into a closed pipe ends quietly.

#[path = "../../autotune/tests/common/child.rs"]
mod child;

use child::{blocking_file, check_refusal, dir_names, unchanged, BLOCKING_FILE_TEXT};
use std::process::Command;
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_experiments"));
    c.env_remove("KERNELS_MAX_MEMORY")
        .env_remove("KERNELS_DISABLE")
        .env_remove("EXPERIMENTS_SLOW_SCOPE");
    c
}

fn tmp(name: &str) -> child::TmpDir {
    child::tmp_dir("experiments-bad", name)
}

/// Runs `args` and checks a refusal: exit 2, quickly, stderr naming every one of `names`,
/// no panic.
fn refused(args: &[&str], names: &[&str]) -> String {
    let mut c = bin();
    c.args(args);
    check_refusal(c, &format!("{args:?}"), 2, names)
}

#[test]
fn crossover_sizes_are_checked_before_allocating() {
    for size in ["99999", "4294967296", "18446744073709551615"] {
        refused(&["crossover", "--sizes", size], &[size]);
    }
    refused(
        &["crossover", "--sizes", "16,99999"],
        &["99999", "memory limit"],
    );
    refused(&["crossover", "--sizes", "0"], &["`0`"]);
    refused(&["crossover", "--sizes", "8x9"], &["8x9"]);
    refused(&["crossover", "--sizes", "16,abc"], &["abc"]);
    refused(
        &["crossover", "--sizes", "18446744073709551616"],
        &["18446744073709551616"],
    );
    refused(
        &["crossover", "--sizes", "512", "--max-memory", "1M"],
        &["n = 512", "memory limit"],
    );
    refused(
        &["crossover", "--max-memory=lots"],
        &["--max-memory", "lots"],
    );
    // Hours of naive products: refused with the estimate, unless --force.
    refused(
        &[
            "crossover",
            "--sizes",
            "8192",
            "--implementation",
            "naive",
            "--max-memory",
            "1T",
        ],
        &["8192", "estimated at least", "--force"],
    );
}

#[test]
fn implementations_and_threads_are_not_substituted() {
    for args in [
        &["alloc", "--implementation", "nosuch"][..],
        &["memory", "--implementation", "nosuch"],
        &["crossover", "--implementation", "nosuch", "--sizes", "16"],
    ] {
        refused(args, &["nosuch", "unknown implementation"]);
    }
    refused(
        &["alloc", "--implementation", "gemm", "--threads", "3000"],
        &["3000", "gemm"],
    );
}

#[test]
fn absurd_numbers_are_usage_errors() {
    for (args, name) in [
        (&["alloc", "--threads", "0"][..], "--threads"),
        (&["alloc", "--model-steps", "0"], "--model-steps"),
        (&["memory", "--iters", "0"], "--iters"),
        (&["profile", "--runs", "0"], "--runs"),
        (&["profile", "--top", "0"], "--top"),
        (&["crossover", "--budget", "0"], "--budget"),
        (&["crossover", "--budget", "0.0001"], "--budget"),
        (&["crossover", "--budget", "nan"], "--budget"),
        (&["crossover", "--budget", "1e9"], "--budget"),
        (&["crossover", "--tolerance", "nan"], "--tolerance"),
        (&["crossover", "--tolerance=-1"], "--tolerance"),
        (&["roofline", "--budget", "0"], "--budget"),
        (&["roofline", "--budget=-0.5"], "--budget"),
        (
            &["compare", "a.json", "b.json", "--scope-threshold", "nan"],
            "--scope-threshold",
        ),
        (
            &["compare", "a.json", "b.json", "--total-threshold", "inf"],
            "--total-threshold",
        ),
        (&["compare", "a.json", "b.json", "--bars", "0"], "--bars"),
    ] {
        refused(args, &[name]);
    }
    refused(&["profile", "--scenarios", "matmul,nosuch"], &["nosuch"]);
    refused(&["roofline", "--shapes", "nosuch"], &["nosuch"]);
    refused(
        &["memory", "--dispatch", "/nonexistent/table.json"],
        &["/nonexistent/table.json"],
    );
}

#[test]
fn flags_that_would_do_nothing_are_refused() {
    // Commands without a dispatcher take no dispatch table.
    refused(
        &["compare", "a.json", "b.json", "--dispatch", "t.json"],
        &["--dispatch"],
    );
    refused(&["roofline", "--dispatch", "t.json"], &["--dispatch"]);
    // The table flags belong to the command, not before it.
    refused(&["--dispatch", "t.json", "memory"], &["--dispatch"]);
    // --allow-foreign without a table to allow.
    for cmd in ["profile", "memory", "alloc", "crossover"] {
        refused(&[cmd, "--allow-foreign"], &["--dispatch"]);
    }
    // --bars without a chart; --top without the table it sizes; --list with anything else.
    refused(&["compare", "a.json", "b.json", "--bars", "3"], &["--svg"]);
    refused(&["profile", "--json", "--top", "3"], &["--json", "--top"]);
    refused(&["profile", "--list", "--quick"], &["--list"]);
    // The retired spellings are gone, not aliases.
    for (args, flag) in [
        (&["memory", "--impl", "gemm"][..], "--impl"),
        (&["crossover", "--budget-ms", "100"], "--budget-ms"),
        (&["roofline", "--budget-ms", "100"], "--budget-ms"),
    ] {
        refused(args, &[flag]);
    }
}

#[test]
fn unwritable_outputs_are_refused_before_the_work() {
    let d = tmp("outputs");
    let (file, bad) = blocking_file(&d, "out.md");
    let bad = bad.as_str();
    let profile = d.join("p.json");
    std::fs::write(&profile, b"earlier profile").unwrap();
    for args in [
        &["profile", "--out", bad][..],
        &["memory", "--out", bad],
        &["alloc", "--out", bad],
        &["crossover", "--out", bad],
        &["crossover", "--svg", bad],
        &["roofline", "--out", bad],
        &["roofline", "--svg", bad],
        &["compare", "a.json", "b.json", "--out", bad],
        &["compare", "a.json", "b.json", "--svg", bad],
    ] {
        refused(args, &[bad]);
    }
    refused(
        &["profile", "--out", "/proc/experiments-nonexistent/p.json"],
        &["/proc/experiments-nonexistent/p.json"],
    );
    refused(
        &["profile", "--out", "/dev/null"],
        &["/dev/null", "not a regular file"],
    );
    refused(
        &["memory", "--out", d.to_str().unwrap()],
        &["is a directory"],
    );
    // The Markdown would replace the profile itself.
    let md = d.join("p.md");
    std::fs::write(&md, b"markdown").unwrap();
    refused(&["profile", "--out", md.to_str().unwrap()], &["p.md"]);
    // The Markdown beside the profile cannot be written: the earlier profile stays.
    std::fs::remove_file(&md).unwrap();
    std::fs::create_dir(&md).unwrap();
    refused(&["profile", "--out", profile.to_str().unwrap()], &["p.md"]);
    unchanged(&profile, b"earlier profile");
    unchanged(&file, BLOCKING_FILE_TEXT);
    assert_eq!(
        dir_names(&d),
        ["a-file", "p.json", "p.md"],
        "no probe or temporary files left"
    );
}

/// Runs `args` with stdout into a pipe whose read end closes after `lines` lines; the
/// program must end with 0 or by SIGPIPE, never a panic.
fn closed_pipe(args: &[&str], lines: usize) {
    let mut c = bin();
    c.args(args);
    child::closed_pipe(c, &format!("{args:?}"), lines, Duration::from_secs(120));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for lines in [0, 1] {
        closed_pipe(&["profile", "--list"], lines);
        closed_pipe(&["memory", "--iters", "1"], lines);
    }
}
