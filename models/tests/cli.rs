//! The `models` binary: help, info, generate (text on stdout only), and clean errors.

use std::process::Command;

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
