//! The real `models` binary under bad input: every case ends with exit status 1 (a failure)
//! or 2 (a usage error) and a one-line message on stderr naming the input at fault — never a
//! panic (101), an abort (134) or death by a signal — and files that existed before are
//! byte-identical after. Tiny configs and few steps keep the whole file fast.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::{tiny_setup, train_args};

const BIN: &str = env!("CARGO_BIN_EXE_models");

/// What a run of the binary left behind.
struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The error line (a training run announces itself on stderr before it can fail).
    fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or("")
    }
}

#[cfg(unix)]
fn signal_of(s: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    s.signal()
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

fn run_in(dir: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("KERNELS_MAX_MEMORY")
        .env_remove("MODELS_CHECKPOINT");
    for (k, v) in env {
        c.env(k, v);
    }
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c.output().expect("run models");
    Run {
        code: out.status.code(),
        signal: signal_of(&out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_in(None, &[], args)
}

/// Asserts a clean failure: status `code` (1 or 2), no panic, no signal, and one error line
/// on stderr mentioning every one of `needles`.
#[track_caller]
fn fails(r: &Run, code: i32, needles: &[&str]) {
    let ctx = format!(
        "status {:?} signal {:?}\nstderr:\n{}",
        r.code, r.signal, r.stderr
    );
    assert_eq!(r.signal, None, "killed by a signal: {ctx}");
    assert_eq!(r.code, Some(code), "{ctx}");
    assert!(!r.stderr.contains("panicked"), "{ctx}");
    assert_eq!(r.stderr.matches("error:").count(), 1, "{ctx}");
    let line = r.error_line();
    for n in needles {
        assert!(line.contains(n), "`{n}` not in the error line: {ctx}");
    }
}

#[track_caller]
fn succeeds(r: &Run) {
    assert_eq!((r.code, r.signal), (Some(0), None), "stderr:\n{}", r.stderr);
}

fn tmp(name: &str) -> common::TmpDir {
    common::tmp_dir("models-cli-bad", name)
}

/// Every file under `dir` (recursively) and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn steps_of(ckpt: &Path) -> u64 {
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("training.json")).unwrap())
            .unwrap();
    info["steps"].as_u64().unwrap()
}

/// A fresh directory `name` holding the tiny config and data: (the directory, the config's
/// path, the data's path, `ck` in it for a run's checkpoint).
fn tiny_dir(name: &str) -> (common::TmpDir, String, String, PathBuf) {
    let d = tmp(name);
    let (cfg, data) = tiny_setup(&d);
    let out = d.join("ck");
    (d, cfg, data, out)
}

/// Trains the tiny config for `steps` steps into `out` with `extra` flags.
fn train_tiny(cfg: &str, data: &str, out: &Path, steps: &str, extra: &[&str]) -> Run {
    let mut args = train_args(cfg, data, out, steps, &["--eval-every", "2"]);
    args.extend_from_slice(extra);
    run(&args)
}

/// A copy of the shipped checkpoint's config in a new directory, with `field` set to `value`.
fn shipped_config_with(name: &str, field: &str, value: serde_json::Value) -> common::TmpDir {
    let d = tmp(name);
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/config.json", models::SHIPPED_CHECKPOINT)).unwrap(),
    )
    .unwrap();
    cfg[field] = value;
    std::fs::write(d.join("config.json"), cfg.to_string()).unwrap();
    std::fs::copy(
        format!("{}/model.safetensors", models::SHIPPED_CHECKPOINT),
        d.join("model.safetensors"),
    )
    .unwrap();
    d
}

#[test]
fn absurd_width_is_refused_before_allocation_and_info_reads_only_the_config() {
    let d = shipped_config_with("width", "width", 1_000_000_000u64.into());
    let dir = d.to_str().unwrap();
    // info needs no weights: it prints what the config says, counted exactly.
    let r = run(&["info", "--checkpoint", dir]);
    succeeds(&r);
    assert!(r.stdout.contains("\"width\": 1000000000"), "{}", r.stdout);
    assert!(
        r.stdout.contains("parameters: 8,000,002,644,000,001,024"),
        "{}",
        r.stdout
    );
    // generate would need terabytes: refused by the memory check, naming the checkpoint.
    fails(
        &run(&["generate", "--checkpoint", dir, "--tokens", "3"]),
        1,
        &[dir],
    );
    // A width whose parameter count overflows: an error naming the sizes, even for info.
    let d = shipped_config_with("width-overflow", "width", (1u64 << 40).into());
    let dir = d.to_str().unwrap();
    fails(&run(&["info", "--checkpoint", dir]), 1, &["overflows", dir]);
    fails(
        &run(&["generate", "--checkpoint", dir]),
        1,
        &["overflows", dir],
    );
    // A GPT-2 config whose default n_inner (4 × n_embd) overflows.
    let hf = tmp("hf-overflow");
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/gpt2-tiny-shakespeare/config.json"
        ))
        .unwrap(),
    )
    .unwrap();
    cfg["n_embd"] = (1u64 << 62).into();
    std::fs::write(hf.join("config.json"), cfg.to_string()).unwrap();
    fails(
        &run(&["info", "--checkpoint", hf.to_str().unwrap()]),
        1,
        &["overflows"],
    );
}

#[test]
fn memory_limit_flag_and_variable() {
    // The shipped model needs a few MB: 1 KiB is too little for generate, bench and train.
    // The environment, the arguments, the exit code and what the error line names.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], i32, &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &[],
            &["generate", "--max-memory", "1K", "--tokens", "2"],
            1,
            &["memory limit"],
        ),
        (
            &[],
            &[
                "bench",
                "--max-memory",
                "1K",
                "--reps",
                "1",
                "--preset",
                "small",
            ],
            1,
            &["memory limit"],
        ),
        (
            &[("KERNELS_MAX_MEMORY", "1K")],
            &["generate", "--tokens", "2"],
            1,
            &["memory limit"],
        ),
        (
            &[],
            &["generate", "--max-memory", "lots"],
            2,
            &["lots", "--max-memory"],
        ),
        (
            &[("KERNELS_MAX_MEMORY", "bogus")],
            &["generate", "--tokens", "2"],
            2,
            &["bogus"],
        ),
        // Absurd token counts are refused by the same check.
        (
            &[],
            &["generate", "--tokens", "100000000000000"],
            1,
            &["100000000000000"],
        ),
    ];
    for &(env, args, code, needles) in cases {
        fails(&run_in(None, env, args), code, needles);
    }
    let (_dir, cfg, data, out) = tiny_dir("train-memory");
    fails(
        &train_tiny(&cfg, &data, &out, "2", &["--max-memory", "1K"]),
        1,
        &["memory limit"],
    );
    assert!(!out.exists());
}

#[test]
fn bad_training_numbers_are_usage_errors_before_anything_is_written() {
    let (d, cfg, data, out) = tiny_dir("train-usage");
    let cases: &[(&[&str], &[&str])] = &[
        (&["--seq-len", "0"], &["--seq-len"]),
        (&["--seq-len", "17"], &["--seq-len 17", "context of 16"]),
        (&["--batch", "0"], &["--batch"]),
        (&["--batch", "-1"], &["--batch"]),
        (&["--lr", "nan"], &["--lr", "nan"]),
        (&["--lr", "inf"], &["--lr", "inf"]),
        (&["--lr", "1e9"], &["--lr", "1e9"]),
        (&["--lr", "0"], &["--lr"]),
        (&["--lr", "-1"], &["--lr"]),
        (&["--weight-decay", "-1"], &["--weight-decay"]),
        (&["--weight-decay", "nan"], &["--weight-decay"]),
        (&["--lr", "2", "--weight-decay", "0.5"], &["--weight-decay"]),
        (&["--clip", "0"], &["--clip"]),
        (&["--clip", "nan"], &["--clip"]),
        (&["--budget", "0"], &["--budget"]),
        (&["--budget", "nan"], &["--budget"]),
        (&["--budget", "1e300"], &["--budget"]),
        (&["--log-every", "-1"], &["--log-every"]),
        (&["--allow-foreign"], &["--dispatch"]),
        (
            &["--implementation", "naive", "--dispatch", "t.json"],
            &["--dispatch", "--implementation"],
        ),
        (&["--implementation", "nosuch"], &["nosuch"]),
        (
            &["--implementation", "naive", "--threads", "0"],
            &["--threads"],
        ),
        (
            &["--implementation", "naive", "--threads", "100000"],
            &["100000"],
        ),
        (&["--threads", "2"], &["required"]),
        (&["--resume", "--force"], &["--resume"]),
        (&["--resume"], &["--resume", "no checkpoint"]),
        (&["--max-memory", "x"], &["--max-memory"]),
        (&["--preset", "small"], &["--config", "--preset"]),
    ];
    for (extra, needles) in cases {
        let r = train_tiny(&cfg, &data, &out, "2", extra);
        let ctx = format!("{extra:?}");
        assert_eq!(r.code, Some(2), "{ctx}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{ctx}: {}", r.stderr);
        for n in *needles {
            assert!(r.stderr.contains(n), "{ctx}: `{n}` not in {}", r.stderr);
        }
        assert!(!out.exists(), "{ctx} wrote {}", out.display());
    }
    // An unknown preset.
    let o = out.to_str().unwrap();
    fails(
        &run(&["train", "--data", &data, "--preset", "huge", "--out", o]),
        2,
        &["huge"],
    );
    let short = d.join("short.txt");
    std::fs::write(&short, "tiny").unwrap();
    // The config, the data, --steps, the exit code and what the error line names.
    type Case<'a> = (&'a str, &'a str, &'a str, i32, &'a [&'a str]);
    let cases: &[Case] = &[
        // --steps 0 and an absurd --steps.
        (&cfg, &data, "0", 2, &["--steps"]),
        (&cfg, &data, "99999999999", 2, &["--steps"]),
        // Missing or unusable data and config files are failures naming them.
        (
            &cfg,
            "/no/such/data.txt",
            "2",
            1,
            &["/no/such/data.txt", "does not exist"],
        ),
        (&cfg, d.to_str().unwrap(), "2", 1, &["is a directory"]),
        ("/no/such/cfg.json", &data, "2", 1, &["/no/such/cfg.json"]),
        (
            &cfg,
            short.to_str().unwrap(),
            "2",
            1,
            &["short.txt", "too little text"],
        ),
    ];
    for &(cfg, data, steps, code, needles) in cases {
        fails(&train_tiny(cfg, data, &out, steps, &[]), code, needles);
    }
    assert!(!out.exists());
}

#[test]
fn an_existing_checkpoint_is_refused_resumed_or_replaced_never_lost() {
    let (d, cfg, data, out) = tiny_dir("existing");
    succeeds(&train_tiny(&cfg, &data, &out, "4", &[]));
    assert_eq!(steps_of(&out), 4);
    assert!(out.join("optimizer.safetensors").exists());
    let before = snapshot(&out);
    let o = out.to_str().unwrap();

    // Without --resume or --force: refused, byte-identical.
    fails(
        &train_tiny(&cfg, &data, &out, "4", &[]),
        2,
        &[o, "--resume", "--force"],
    );
    assert_eq!(snapshot(&out), before);
    // With --resume but nothing left to do: refused, byte-identical.
    fails(
        &train_tiny(&cfg, &data, &out, "4", &["--resume"]),
        2,
        &["step 4", "--steps"],
    );
    // With --resume and another shape: refused.
    fails(
        &run(&[
            "train", "--data", &data, "--preset", "small", "--out", o, "--resume", "--steps", "8",
        ]),
        2,
        &["--resume", o],
    );
    // Every refusal happened before training, and before any output was touched.
    assert_eq!(snapshot(&out), before);
    // No temporary directories are left beside it.
    let siblings: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        siblings
            .iter()
            .all(|s| !s.contains(".tmp-") && !s.contains(".old-")),
        "{siblings:?}"
    );

    // --resume continues: 4 more steps.
    let r = train_tiny(&cfg, &data, &out, "8", &["--resume"]);
    succeeds(&r);
    assert!(r.stderr.contains("resuming at step 4"), "{}", r.stderr);
    assert_eq!(steps_of(&out), 8);
    assert_ne!(snapshot(&out), before);

    // --force replaces it with a new run.
    succeeds(&train_tiny(&cfg, &data, &out, "2", &["--force"]));
    assert_eq!(steps_of(&out), 2);

    // A directory holding anything else is never replaced, even with --force.
    let other = d.join("notes");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("thesis.txt"), "precious").unwrap();
    let keep = snapshot(&other);
    for extra in [&[][..], &["--force"][..]] {
        fails(
            &train_tiny(&cfg, &data, &other, "2", extra),
            2,
            &["thesis.txt"],
        );
        assert_eq!(snapshot(&other), keep);
    }
    // Nor is a file.
    let file = d.join("file.txt");
    std::fs::write(&file, "x").unwrap();
    fails(
        &train_tiny(&cfg, &data, &file, "2", &["--force"]),
        2,
        &["file.txt"],
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_diverging_run_fails_and_never_saves_its_weights() {
    let (_dir, cfg, data, out) = tiny_dir("diverge");
    succeeds(&train_tiny(&cfg, &data, &out, "2", &[]));
    // Weights so large that the first forward overflows: a resumed run must diverge at once.
    let mut m = models::Model::load(&out).unwrap();
    for t in m.weights.tensors_mut() {
        t.iter_mut().for_each(|x| *x = 3e38);
    }
    let info = models::checkpoint::read_training_info(&out).unwrap();
    let opt = models::checkpoint::load_optimizer(&out, &m.config, Default::default()).unwrap();
    models::checkpoint::save_with(&m, &out, info.as_ref(), opt.as_ref()).unwrap();
    let before = snapshot(&out);
    fails(
        &train_tiny(&cfg, &data, &out, "6", &["--resume"]),
        1,
        &["diverged", "NaN", "kept"],
    );
    assert_eq!(snapshot(&out), before);
}

#[test]
fn an_unwritable_output_fails_before_training() {
    let (d, cfg, data, _) = tiny_dir("unwritable");
    let file = d.join("file.txt");
    std::fs::write(&file, "x").unwrap();
    // The parent of --out is a file: it cannot be created (root or not).
    let out = file.join("ck");
    let r = train_tiny(&cfg, &data, &out, "2", &[]);
    fails(&r, 1, &["file.txt"]);
    assert!(
        !r.stderr.contains("steps in"),
        "trained first: {}",
        r.stderr
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_forced_implementation_that_cannot_run_here_is_an_error() {
    let (_dir, cfg, data, out) = tiny_dir("forced");
    let masked = [("KERNELS_DISABLE", "avx512")];
    let r = run_in(
        None,
        &masked,
        &train_args(&cfg, &data, &out, "2", &["--implementation", "avx512"]),
    );
    fails(&r, 2, &["--implementation avx512", "cannot run"]);
    assert!(!out.exists());
    let r = run_in(
        None,
        &masked,
        &[
            "bench",
            "--implementation",
            "avx512",
            "--reps",
            "1",
            "--preset",
            "small",
        ],
    );
    fails(&r, 2, &["--implementation avx512", "cannot run"]);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    fails(
        &run(&["bench", "--implementation", "nosuch", "--reps", "1"]),
        2,
        &["--implementation nosuch", "unknown implementation"],
    );
    // The same in generate, which runs it.
    fails(
        &run_in(
            None,
            &masked,
            &["generate", "--implementation", "avx512", "--tokens", "2"],
        ),
        2,
        &["--implementation avx512", "cannot run"],
    );
}

#[test]
fn absurd_generate_bench_and_info_values_are_usage_errors() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["generate", "--temperature", "-1"], &["--temperature"]),
        (&["generate", "--temperature", "nan"], &["--temperature"]),
        (&["generate", "--temperature", "inf"], &["--temperature"]),
        (&["generate", "--tokens", "0"], &["--tokens"]),
        (&["generate", "--tokens", "-5"], &["--tokens"]),
        (&["generate", "--top-k", "-1"], &["--top-k"]),
        (&["generate", "--prompt", ""], &["--prompt"]),
        (&["bench", "--reps", "0"], &["--reps"]),
        (&["bench", "--reps", "100000"], &["--reps"]),
        (&["bench", "--preset", "huge"], &["huge"]),
        (&["bench", "--preset", ""], &["preset"]),
        (&["bench", "--threads", "0"], &["--threads"]),
        (&["bench", "--threads", "100000"], &["--threads 100000"]),
        (&["bench", "--allow-foreign"], &["--dispatch"]),
        (&["bench", "--svg", "/"], &["--svg", "directory"]),
        (&["generate", "--allow-foreign"], &["--dispatch"]),
        (&["generate", "--threads", "2"], &["--implementation"]),
        (&["info", "--json-out", "/"], &["--json-out", "directory"]),
        // The old spellings are gone.
        (&["bench", "--forced", "naive"], &["--forced"]),
        (&["bench", "--presets", "small"], &["--presets"]),
        (
            &["generate", "--allow-foreign-table"],
            &["--allow-foreign-table"],
        ),
        (
            &["train", "--data", "x", "--time-budget", "1"],
            &["--time-budget"],
        ),
        (&["info", "--preset", "huge"], &["huge"]),
    ];
    for (args, needles) in cases {
        let r = run(args);
        // clap names a missing required flag on the line after its error line.
        fails(&r, 2, &[]);
        for n in *needles {
            assert!(r.stderr.contains(n), "{args:?}: `{n}` not in {}", r.stderr);
        }
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    // A family named with a thread count it lacks (naive is single-threaded).
    if backends::threads::counts().contains(&2) {
        let r = run(&["bench", "--implementation", "naive", "--threads", "2,1"]);
        fails(&r, 2, &["--implementation naive --threads 2"]);
    }
    // top-k 0 means "all ids" (documented), so it runs.
    succeeds(&run(&["generate", "--top-k", "0", "--tokens", "3"]));
}

#[test]
fn a_table_from_another_machine_needs_allow_foreign() {
    let d = tmp("foreign");
    let mut t: serde_json::Value = serde_json::from_str(backends::dispatch::DEFAULT_TABLE).unwrap();
    t["machine"]["fingerprint"] = "another-machine".into();
    let table = d.join("foreign.json");
    std::fs::write(&table, t.to_string()).unwrap();
    let p = table.to_str().unwrap();
    let r = run(&["generate", "--dispatch", p, "--tokens", "2"]);
    fails(&r, 2, &[p, "another machine", "pass --allow-foreign"]);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let r = run(&[
        "generate",
        "--dispatch",
        p,
        "--allow-foreign",
        "--tokens",
        "2",
    ]);
    succeeds(&r);
    assert!(
        r.stderr.contains(&format!("dispatch: table {p}")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("warning:"), "{}", r.stderr);
}

#[test]
fn missing_and_malformed_checkpoints_name_the_path_once() {
    let r = run(&["generate", "--checkpoint", "/no/such/ckpt"]);
    fails(&r, 1, &["/no/such/ckpt", "does not exist"]);
    fails(
        &run(&["info", "--checkpoint", "/no/such/ckpt"]),
        1,
        &["/no/such/ckpt", "does not exist"],
    );
    let d = tmp("malformed");
    let file = d.join("model.bin");
    std::fs::write(&file, "x").unwrap();
    fails(
        &run(&["generate", "--checkpoint", file.to_str().unwrap()]),
        1,
        &["model.bin", "not a checkpoint directory"],
    );
    fails(
        &run(&["generate", "--checkpoint", d.to_str().unwrap()]),
        1,
        &["config.json"],
    );
    // A cause that its error already prints is not printed twice.
    let r = run(&["generate", "--dispatch", "/no/table.json"]);
    fails(&r, 1, &["/no/table.json"]);
    assert_eq!(r.stderr.matches("os error 2").count(), 1, "{}", r.stderr);
    let r = run(&[
        "train",
        "--data",
        "/no/data.txt",
        "--out",
        d.join("o").to_str().unwrap(),
    ]);
    fails(&r, 1, &["/no/data.txt"]);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn a_gpt2_vocabulary_the_tokenizer_cannot_decode_is_an_error() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/gpt2-tiny-shakespeare");
    let d = tmp("gpt2-vocab");
    std::fs::copy(src.join("model.safetensors"), d.join("model.safetensors")).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    cfg["vocab_size"] = 50257.into();
    std::fs::write(d.join("config.json"), cfg.to_string()).unwrap();
    let dir = d.to_str().unwrap();
    let r = run(&["generate", "--checkpoint", dir, "--tokens", "30"]);
    fails(&r, 1, &[dir, "50257", "tokenizer"]);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    // info still describes it, and says why no tokenizer fits.
    let r = run(&["info", "--checkpoint", dir]);
    succeeds(&r);
    assert!(r.stdout.contains("tokenizer: none usable"), "{}", r.stdout);
}

#[test]
fn the_shipped_checkpoint_is_found_beside_a_moved_binary() {
    let d = tmp("moved");
    let bin_dir = d.join("bin");
    let ck = bin_dir.join("checkpoints").join("small-shakespeare");
    std::fs::create_dir_all(&ck).unwrap();
    let exe = bin_dir.join("models");
    std::fs::copy(BIN, &exe).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(format!("{}/{f}", models::SHIPPED_CHECKPOINT), ck.join(f)).unwrap();
    }
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = Command::new(&exe)
        .arg("info")
        .current_dir(&elsewhere)
        .env_remove("MODELS_CHECKPOINT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .next()
            .unwrap_or("")
            .contains(&*ck.to_string_lossy()),
        "{stdout}"
    );
    // A default that is not there is an error naming the --checkpoint flag.
    let r = run_in(
        Some(&elsewhere),
        &[("MODELS_CHECKPOINT", "/no/default/here")],
        &["generate", "--tokens", "2"],
    );
    fails(&r, 1, &["/no/default/here", "--checkpoint"]);
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    for args in [
        &["info"][..],
        &["info", "--preset", "medium"][..],
        &["generate", "--tokens", "5000", "--temperature", "0"][..],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Either it finished before noticing, or SIGPIPE (13) ended it, as for Unix tools.
        let quiet = out.status.success() || signal_of(&out.status) == Some(13);
        assert!(quiet, "{args:?}: {:?} {stderr}", out.status);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "{args:?}: {stderr}"
        );
    }
    // Through a shell pipeline the status is head's: 0.
    #[cfg(unix)]
    for cmd in ["info | head -1", "generate --tokens 2000 | head -c 10"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("'{BIN}' {cmd} >/dev/null"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd}: {stderr}");
        assert!(!stderr.contains("panicked"), "{cmd}: {stderr}");
    }
}
