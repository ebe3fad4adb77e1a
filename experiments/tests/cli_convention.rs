//! The workspace's one command-line convention, checked on the real binaries of all three
//! tools (`experiments`, `autotune`, `models`): every subcommand's `--help` is read, its long
//! flags collected, and each concept must use its one spelling:
//!
//! | concept | spelling |
//! | --- | --- |
//! | force an implementation | `--implementation NAME` |
//! | threads | `--threads N` |
//! | a time budget | `--budget SECONDS` |
//! | JSON on stdout instead of the text report | `--json` (takes no value) |
//! | JSON into a file (atomically) | `--json-out PATH` |
//! | a dispatch table to load | `--dispatch PATH` |
//! | a table tuned on another machine | `--allow-foreign` (no value) |
//! | a model preset | `--preset NAME` |
//!
//! The retired spellings (`--impl`, `--forced`, `--presets`, `--budget-ms`, `--time-budget`,
//! `--allow-foreign-table`, `--table`, a visible `--model`, `--json` taking a value) must not
//! appear, and an unknown flag must be a usage error (exit code 2) everywhere.
//!
//! `autotune` and `models` are looked for beside the `experiments` binary (the same target
//! folder); `cargo test --workspace` builds them. A missing one fails the test with that
//! advice rather than passing silently.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Spellings that the convention replaced, with their replacement.
const RETIRED: [(&str, &str); 8] = [
    ("impl", "--implementation NAME"),
    ("forced", "--implementation NAME"),
    ("presets", "--preset NAME"),
    ("budget-ms", "--budget SECONDS"),
    ("time-budget", "--budget SECONDS"),
    ("allow-foreign-table", "--allow-foreign"),
    ("table", "--dispatch PATH"),
    ("model", "--preset NAME (a hidden alias at most)"),
];

/// One long flag as a help text shows it.
#[derive(Debug, Clone, PartialEq)]
struct Flag {
    /// Without the dashes.
    name: String,
    /// The value placeholder (`SECONDS` of `--budget <SECONDS>`), if it takes a value.
    value: Option<String>,
}

fn binary(name: &str) -> PathBuf {
    let experiments = PathBuf::from(env!("CARGO_BIN_EXE_experiments"));
    if name == "experiments" {
        return experiments;
    }
    let dir = experiments
        .parent()
        .expect("the experiments binary lies in a folder");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: this test checks all three tools of the workspace; run `cargo test --workspace` (or `cargo build -p {name}` with the same profile) so that it is built next to {}",
        path.display(),
        experiments.display()
    );
    path
}

fn help(bin: &Path, path: &[String]) -> String {
    let o = Command::new(bin)
        .args(path)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        o.status.success(),
        "{} {} --help failed: {}",
        bin.display(),
        path.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The lines of the section headed `title:` (up to the next heading at column 0).
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| l.trim_end() != title);
    if lines.next().is_none() {
        return Vec::new();
    }
    lines
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect()
}

/// The subcommands listed under `Commands:` (without `help`).
fn subcommands(text: &str) -> Vec<String> {
    section(text, "Commands:")
        .iter()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The long flags of the `Options:` section: lines that start (after at most 6 spaces) with
/// a dash, so that flags named in descriptions are not taken for flags.
fn flags(text: &str) -> Vec<Flag> {
    let mut out = Vec::new();
    for line in section(text, "Options:") {
        let indent = line.len() - line.trim_start().len();
        let l = line.trim_start();
        if indent > 6 || !l.starts_with('-') {
            continue;
        }
        // `-h, --help`, `--budget <SECONDS>`, `--seq-len <SEQ_LEN>  Tokens…`.
        let mut words = l.split_whitespace().peekable();
        while let Some(w) = words.next() {
            let w = w.trim_end_matches(',');
            if let Some(long) = w.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let value = inline.or_else(|| {
                    words
                        .peek()
                        .filter(|v| v.starts_with('<') || v.starts_with("[<"))
                        .map(|v| v.trim_matches(|c| "[]<>.".contains(c)).to_string())
                });
                out.push(Flag {
                    name: name.to_string(),
                    value: value.map(|v| v.trim_matches(|c| "[]<>.".contains(c)).to_string()),
                });
                break;
            } else if !w.starts_with('-') {
                break;
            }
        }
    }
    out
}

/// What `flag` breaks of the convention, if anything.
fn violation(flag: &Flag) -> Option<String> {
    let n = flag.name.as_str();
    if let Some((_, instead)) = RETIRED.iter().find(|(old, _)| *old == n) {
        return Some(format!(
            "--{n} is a retired spelling; the convention: {instead}"
        ));
    }
    let takes = |want: Option<&str>| -> Option<String> {
        match (want, &flag.value) {
            (None, Some(v)) => Some(format!("--{n} takes a value <{v}>; it must be a bare flag")),
            (Some(_), None) => Some(format!("--{n} must take a value")),
            (Some(w), Some(v)) if !w.is_empty() && v != w => Some(format!(
                "--{n} <{v}>: the value must be <{w}> (the convention's unit)"
            )),
            _ => None,
        }
    };
    let is = |concept: &str| n.contains(concept);
    if is("impl") || (n.starts_with("force") && n != "force") {
        return if n == "implementation" {
            takes(Some(""))
        } else {
            Some(format!(
                "--{n}: an implementation is forced with --implementation NAME"
            ))
        };
    }
    if is("thread") {
        return if n == "threads" {
            takes(Some(""))
        } else {
            Some(format!("--{n}: threads are --threads N"))
        };
    }
    if is("budget") {
        return if n == "budget" {
            takes(Some("SECONDS"))
        } else {
            Some(format!("--{n}: a budget is --budget SECONDS"))
        };
    }
    if is("json") {
        return match n {
            "json" => takes(None),
            "json-out" => takes(Some("")),
            _ => Some(format!("--{n}: JSON is --json (stdout) or --json-out PATH")),
        };
    }
    if is("foreign") {
        return if n == "allow-foreign" {
            takes(None)
        } else {
            Some(format!(
                "--{n}: a foreign table is allowed with --allow-foreign"
            ))
        };
    }
    if is("table") || is("dispatch") {
        return if n == "dispatch" {
            takes(Some(""))
        } else {
            Some(format!("--{n}: a dispatch table is --dispatch PATH"))
        };
    }
    if is("preset") || n == "model" {
        return if n == "preset" {
            takes(Some(""))
        } else {
            Some(format!("--{n}: a model preset is --preset NAME"))
        };
    }
    None
}

/// Every command of `tool` (the top level and each subcommand, recursively) with its flags.
fn commands(bin: &Path) -> Vec<(Vec<String>, Vec<Flag>)> {
    let mut out = Vec::new();
    let mut todo: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = todo.pop() {
        let text = help(bin, &path);
        for sub in subcommands(&text) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        out.push((path, flags(&text)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Everything in `tool` that breaks the convention, one line each.
fn violations(tool: &str) -> Vec<String> {
    let bin = binary(tool);
    let mut found = Vec::new();
    let cmds = commands(&bin);
    assert!(
        cmds.len() > 1,
        "{tool}: no subcommands found in its --help (the `Commands:` section)"
    );
    for (path, flags) in &cmds {
        let name = if path.is_empty() {
            tool.to_string()
        } else {
            format!("{tool} {}", path.join(" "))
        };
        assert!(
            flags.iter().any(|f| f.name == "help"),
            "{name}: no flags parsed from its --help"
        );
        for f in flags {
            if let Some(v) = violation(f) {
                found.push(format!("{name}: {v}"));
            }
        }
        // An unknown flag is a usage error: exit code 2.
        let o = Command::new(&bin)
            .args(path)
            .arg("--no-such-flag-for-the-convention-test")
            .output()
            .unwrap();
        if o.status.code() != Some(2) {
            found.push(format!(
                "{name}: an unknown flag exits with {:?}, not 2",
                o.status.code()
            ));
        }
    }
    found
}

fn check(tool: &str) {
    let found = violations(tool);
    assert!(
        found.is_empty(),
        "{tool} breaks the command-line convention ({} finding(s)):\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

#[test]
fn experiments_follows_the_convention() {
    check("experiments");
}

#[test]
fn autotune_follows_the_convention() {
    check("autotune");
}

#[test]
fn models_follows_the_convention() {
    check("models");
}

#[test]
fn the_checker_catches_the_retired_spellings() {
    let flag = |name: &str, value: Option<&str>| Flag {
        name: name.into(),
        value: value.map(str::to_string),
    };
    for (name, value) in [
        ("impl", Some("NAME")),
        ("forced", Some("NAME")),
        ("presets", Some("PRESETS")),
        ("budget-ms", Some("MS")),
        ("time-budget", Some("MINUTES")),
        ("allow-foreign-table", None),
        ("table", Some("TABLE")),
        ("model", Some("PRESET")),
        ("json", Some("JSON")),
        ("budget", Some("BUDGET")),
        ("thread-count", Some("N")),
        ("implementation", None),
    ] {
        assert!(
            violation(&flag(name, value)).is_some(),
            "--{name} {value:?} passed"
        );
    }
    for (name, value) in [
        ("implementation", Some("NAME")),
        ("threads", Some("N")),
        ("budget", Some("SECONDS")),
        ("json", None),
        ("json-out", Some("PATH")),
        ("dispatch", Some("PATH")),
        ("allow-foreign", None),
        ("preset", Some("PRESET")),
        ("force", None),
        ("out", Some("PATH")),
    ] {
        assert_eq!(violation(&flag(name, value)), None, "--{name}");
    }
    let text = "Usage: x\n\nOptions:\n      --budget <SECONDS>  The budget; see --table\n          more text --impl\n  -h, --help  Print help\n      --json\n      --out=<PATH>\n";
    assert_eq!(
        flags(text),
        [
            flag("budget", Some("SECONDS")),
            flag("help", None),
            flag("json", None),
            flag("out", Some("PATH")),
        ]
    );
    let text =
        "Commands:\n  tune   Tune\n         more\n  list   List\n  help   Help\n\nOptions:\n";
    assert_eq!(subcommands(text), ["tune", "list"]);
}
