//! The `models` binary: help, info, generate (text on stdout only), and clean errors.

use std::process::Command;

mod common;
use common::{tiny_setup, train_args};

fn models(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_models"))
        .args(args)
        .output()
        .expect("run models");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_prints_exact_parameter_counts() {
    let (ok, out, _) = models(&["info", "--preset", "small"]);
    assert!(ok);
    assert!(out.contains("parameters: 470,528"), "{out}");
    let (ok, out, _) = models(&["info", "--preset", "medium"]);
    assert!(ok);
    assert!(out.contains("parameters: 3,454,464"), "{out}");
    let gpt2 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/gpt2-tiny-shakespeare"
    );
    let (ok, out, _) = models(&["info", "--checkpoint", gpt2]);
    assert!(ok);
    assert!(out.contains("parameters: 437,760"), "{out}");
}

#[test]
fn generate_writes_only_the_text_to_stdout() {
    let gpt2 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/gpt2-tiny-shakespeare"
    );
    let (ok, out, err) = models(&[
        "generate",
        "--checkpoint",
        gpt2,
        "--prompt",
        "ROMEO:\n",
        "--tokens",
        "57",
        "--temperature",
        "0",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "ROMEO:\nThe shall be some the shall be the shall be son.\n\nBRUTUS:\n"
    );
    assert!(err.contains("tok/s"), "{err}");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let (ok, _, err) = models(&["generate", "--checkpoint", "/no/such/dir"]);
    assert!(!ok);
    assert!(
        err.starts_with("error:") && err.contains("/no/such/dir"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    let (ok, _, err) = models(&["generate", "--dispatch", "/no/table.json"]);
    assert!(!ok);
    assert!(
        err.contains("/no/table.json") && !err.contains("panicked"),
        "{err}"
    );
    let (ok, _, err) = models(&["info", "--preset", "huge"]);
    assert!(!ok && err.contains("unknown preset"), "{err}");
    let (ok, out, _) = models(&["--help"]);
    assert!(ok && out.contains("generate") && out.contains("train"));
}

fn tmp(name: &str) -> common::TmpDir {
    common::tmp_dir("models-cli", name)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn info_json_describes_config_tensors_checkpoint_and_dispatch() {
    let (ok, out, err) = models(&["info", "--preset", "small", "--json"]);
    assert!(ok, "{err}");
    let j = json(&out);
    assert_eq!(j["preset"], "small");
    assert_eq!(j["parameters"], 470_528);
    assert_eq!(j["config"]["width"], 128);
    assert_eq!(j["dispatch"]["source"], "embedded");
    let tensors = j["tensors"].as_array().unwrap();
    // wte, wpe, 12 per layer × 2, ln_f weight and bias, the untied head.
    assert_eq!(tensors.len(), 29);
    assert_eq!(tensors[0]["name"], "wte");
    assert_eq!(tensors[0]["shape"], serde_json::json!([256, 128]));
    let sum: u64 = tensors
        .iter()
        .map(|t| t["elements"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 470_528);

    // A checkpoint, forced dispatch, and --json-out written beside the text report.
    let gpt2 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/gpt2-tiny-shakespeare"
    );
    let d = tmp("info-json");
    let file = d.join("info.json");
    let (ok, out, err) = models(&[
        "info",
        "--checkpoint",
        gpt2,
        "--implementation",
        "naive",
        "--json-out",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("parameters: 437,760"), "{out}");
    assert!(out.contains("dispatch: forced naive"), "{out}");
    let j = json(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(j["checkpoint"], gpt2);
    assert_eq!(j["format"], "hugging_face");
    assert_eq!(j["parameters"], 437_760);
    assert_eq!(j["dispatch"]["source"], "forced");
    assert!(j["weights"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(j["tokenizer"]["kind"], "bytes");
}

#[test]
fn generate_names_the_dispatch_table_on_stderr() {
    let (ok, out, err) = models(&["generate", "--tokens", "3", "--temperature", "0"]);
    assert!(ok, "{err}");
    assert!(err.contains("dispatch: embedded default table"), "{err}");
    assert!(!out.contains("dispatch"), "{out}");
    let (ok, _, err) = models(&["generate", "--tokens", "3", "--implementation", "naive"]);
    assert!(ok, "{err}");
    assert!(err.contains("dispatch: forced naive"), "{err}");
}

#[test]
fn bench_json_has_every_forced_family_the_best_fixed_and_a_breakdown() {
    let d = tmp("bench");
    let svg = d.join("chart.svg");
    let (ok, out, err) = models(&[
        "bench",
        "--preset",
        "small",
        "--reps",
        "1",
        "--json",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let j = json(&out);
    // Every family that runs here, at every thread count it has.
    let names: Vec<&str> = j["dispatchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "default (embedded)");
    for v in backends::catalog().variants() {
        if v.runnable().is_ok()
            && v.op == backends::Op::Matmul
            && v.memory == backends::Memory::Pooled
        {
            let name = format!("{} t{}", v.implementation, v.threads);
            assert!(names.contains(&name.as_str()), "{name} missing: {names:?}");
        }
    }
    // Best fixed per mode, naming a forced family, and the fastest of them.
    for mode in ["full_recompute", "kv_cache", "kv_decode", "train_step"] {
        let b = j["best_fixed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["mode"] == mode && b["preset"] == "small")
            .unwrap_or_else(|| panic!("no best fixed for {mode}"));
        let name = b["dispatch"].as_str().unwrap();
        assert!(
            name != "default (embedded)" && names.contains(&name),
            "{name}"
        );
        assert!(b["tok_per_s"].as_f64().unwrap() > 0.0);
    }
    // KV results: prefill, decode, bound and a breakdown that fits in the step.
    let mut kv_seen = 0;
    for r in j["results"].as_array().unwrap() {
        if r["mode"] != "kv_cache" {
            assert!(r.get("kv").is_none());
            continue;
        }
        kv_seen += 1;
        let kv = &r["kv"];
        assert!(kv["prefill_us"].as_f64().unwrap() > 0.0);
        assert!(kv["decode_us_per_token"].as_f64().unwrap() > 0.0);
        let b = &kv["breakdown"];
        assert_eq!(b["tokens"], 24);
        let step = b["step_us"].as_f64().unwrap();
        let parts: f64 = b["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["us_per_token"].as_f64().unwrap())
            .sum();
        assert!(
            parts > 0.0 && parts <= step * (1.0 + 1e-9),
            "{parts} > {step}"
        );
    }
    assert_eq!(kv_seen, names.len());
    // A training step per dispatcher, in steps per second.
    assert_eq!(j["train_batch"], 8);
    let train: Vec<&serde_json::Value> = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mode"] == "train_step")
        .collect();
    assert_eq!(train.len(), names.len());
    assert!(train.iter().all(|r| r["tok_per_s"].as_f64().unwrap() > 0.0));
    let p = &j["presets"][0];
    assert_eq!(p["weight_bytes"], 470_528 * 4);
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.contains("<svg") && chart.contains("avx") || chart.contains("<svg"));
    assert!(
        chart.contains("default (embedded)"),
        "chart lacks the labels"
    );
}

#[test]
fn train_prints_progress_lines_when_stderr_is_not_a_terminal() {
    let d = tmp("train-lines");
    let (cfg, data) = tiny_setup(&d);
    let out = d.join("ck");
    let args = train_args(&cfg, &data, &out, "4", &["--eval-every", "2"]);
    // Default: a line at the first step, then every 10 s (and at each evaluation).
    let (ok, _, err) = models(&args);
    assert!(ok, "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("step 1/4"))
        .unwrap_or_else(|| panic!("no progress line: {err}"));
    for field in ["loss", "tok/s", "elapsed", "eta"] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(
        err.lines()
            .any(|l| l.starts_with("step 2/4") && l.contains("val") && l.contains("saved")),
        "{err}"
    );
    // --log-every 0: every step.
    let mut every = args.clone();
    every.extend_from_slice(&["--force", "--log-every", "0"]);
    let (ok, _, err) = models(&every);
    assert!(ok, "{err}");
    for s in ["step 1/4", "step 3/4", "step 4/4"] {
        assert!(err.lines().any(|l| l.starts_with(s)), "{s}: {err}");
    }
}

#[test]
fn every_save_records_a_validation_loss() {
    use std::io::{BufRead, BufReader};
    let d = tmp("train-record");
    let (cfg, data) = tiny_setup(&d);
    let out = d.join("ck");
    // A long run, stopped after its first periodic save: that save's record is complete.
    let mut child = Command::new(env!("CARGO_BIN_EXE_models"))
        .args(train_args(
            &cfg,
            &data,
            &out,
            "100000",
            &["--eval-every", "2", "--log-every", "0"],
        ))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        seen += &line;
        seen.push('\n');
        if line.contains("saved") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen.contains("step 2/100000"), "{seen}");
    let rec =
        |dir: &std::path::Path| json(&std::fs::read_to_string(dir.join("training.json")).unwrap());
    let r = rec(&out);
    assert_eq!(r["steps"], 2, "{r}");
    assert!(r["val_loss"].as_f64().is_some_and(|v| v > 0.0), "{r}");
    assert!(r["val_loss_per_byte"].as_f64().is_some(), "{r}");
    assert!(r["val_tokens"].as_u64().unwrap() > 0, "{r}");
    // And the final save of a finished run.
    let (ok, _, err) = models(&train_args(&cfg, &data, &out, "3", &["--force"]));
    assert!(ok, "{err}");
    let r = rec(&out);
    assert_eq!(r["steps"], 3);
    assert!(r["val_loss"].as_f64().is_some_and(|v| v > 0.0), "{r}");
}
