//! Checkpoint save/load round trip, and clear errors (naming the file and the tensor) for
//! corrupt, truncated and mismatched checkpoints.

use models::checkpoint::{save, WEIGHTS_FILE};
use models::{Config, Model, Tokenizer};
use std::path::{Path, PathBuf};

mod common;

/// The tests' tiny config with two blocks, twice as wide.
fn tiny() -> Config {
    Config {
        width: 32,
        layers: 2,
        mlp_hidden: 64,
        ..common::tiny_config()
    }
}

fn tmp(name: &str) -> common::TmpDir {
    let d = std::env::temp_dir().join(format!("models-ckpt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    common::TmpDir(d)
}

fn saved(name: &str) -> (Model, common::TmpDir) {
    let m = Model::init(tiny(), Tokenizer::Bytes, 9).unwrap();
    let dir = tmp(name);
    save(&m, &dir, None).unwrap();
    (m, dir)
}

fn err(dir: &Path) -> String {
    let e = Model::load(dir).expect_err("loading must fail");
    let s = format!("{e:#}");
    println!("{s}");
    s
}

#[test]
fn round_trip_keeps_everything() {
    let (m, dir) = saved("roundtrip");
    let back = Model::load(&dir).unwrap();
    assert_eq!(back.config, m.config);
    assert_eq!(back.weights, m.weights);
    assert_eq!(back.tokenizer, Tokenizer::Bytes);
    // BPE tokenizers are saved alongside.
    let mut m2 = Model::init(
        Config {
            vocab_size: 260,
            ..tiny()
        },
        Tokenizer::train_bpe(b"aaaa bbbb aaaa bbbb abab", 4),
        1,
    )
    .unwrap();
    m2.weights.wte[0] = 0.5;
    let dir2 = tmp("roundtrip-bpe");
    save(&m2, &dir2, None).unwrap();
    let back2 = Model::load(&dir2).unwrap();
    assert_eq!(back2.tokenizer, m2.tokenizer);
    assert_eq!(back2.weights, m2.weights);
}

#[test]
fn truncated_file_names_the_file_and_the_cut_tensor() {
    let (_, dir) = saved("truncated");
    let f = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 1000]).unwrap();
    let e = err(&dir);
    assert!(
        e.contains("model.safetensors") && e.contains("truncated"),
        "{e}"
    );
    assert!(e.contains("tensor `"), "{e}");
    // Truncated inside the header.
    std::fs::write(&f, &bytes[..100]).unwrap();
    let e = err(&dir);
    assert!(
        e.contains("model.safetensors") && e.contains("truncated"),
        "{e}"
    );
    std::fs::write(&f, &bytes[..3]).unwrap();
    assert!(err(&dir).contains("model.safetensors"));
}

#[test]
fn corrupt_header_and_corrupt_values_are_reported() {
    let (_, dir) = saved("corrupt");
    let f = dir.join(WEIGHTS_FILE);
    let good = std::fs::read(&f).unwrap();
    // Garbage in the JSON header.
    let mut bytes = good.clone();
    bytes[10] = b'#';
    bytes[11] = b'!';
    std::fs::write(&f, &bytes).unwrap();
    let e = err(&dir);
    assert!(
        e.contains("model.safetensors") && e.contains("corrupt"),
        "{e}"
    );
    // A NaN in a tensor's data: find `wpe`'s offsets and poison its first element.
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&good[8..8 + n]).unwrap();
    let start = header["wpe"]["data_offsets"][0].as_u64().unwrap() as usize;
    let mut bytes = good.clone();
    bytes[8 + n + start..8 + n + start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&f, &bytes).unwrap();
    let e = err(&dir);
    assert!(
        e.contains("model.safetensors") && e.contains("`wpe`") && e.contains("not finite"),
        "{e}"
    );
}

#[test]
fn mismatched_config_names_the_tensor() {
    let (_, dir) = saved("mismatch");
    // The config now says width 64: every tensor's shape differs; the first is named.
    let cfg = Config {
        width: 64,
        mlp_hidden: 128,
        ..tiny()
    };
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string(&cfg).unwrap(),
    )
    .unwrap();
    let e = err(&dir);
    assert!(
        e.contains("model.safetensors") && e.contains("`wte`") && e.contains("shape"),
        "{e}"
    );
    // A config that disagrees with the file: fewer layers (the extra tensors are named),
    // more layers (the missing tensor is named), tied against an untied file.
    let cases = [
        (
            Config {
                layers: 1,
                ..tiny()
            },
            "unexpected tensor `h.1.",
        ),
        (
            Config {
                layers: 3,
                ..tiny()
            },
            "tensor `h.2.ln_1.weight` is missing",
        ),
        (
            Config {
                tied_lm_head: true,
                ..tiny()
            },
            "unexpected tensor `lm_head.weight`",
        ),
    ];
    for (cfg, want) in cases {
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_string(&cfg).unwrap(),
        )
        .unwrap();
        let e = err(&dir);
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn bad_config_and_missing_files_name_the_file() {
    let (_, dir) = saved("badcfg");
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    let e = err(&dir);
    assert!(e.contains("config.json"), "{e}");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    assert!(err(&dir).contains("config.json"));
    assert!(err(Path::new("/nonexistent/checkpoint")).contains("/nonexistent/checkpoint"));
    let (_, dir) = saved("noweights");
    std::fs::remove_file(dir.join(WEIGHTS_FILE)).unwrap();
    assert!(err(&dir).contains("model.safetensors"));
}

#[test]
fn hf_checkpoint_with_a_wrong_shape_names_the_tensor() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/gpt2-tiny-shakespeare");
    let dir = tmp("hf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(src.join("model.safetensors"), dir.join("model.safetensors")).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    cfg["n_positions"] = 128.into();
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let e = err(&dir);
    assert!(
        e.contains("model.safetensors") && e.contains("`transformer.wpe.weight`"),
        "{e}"
    );
    cfg["n_positions"] = 64.into();
    cfg["n_layer"] = 1.into();
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let e = err(&dir);
    assert!(e.contains("unexpected tensor `transformer.h.1."), "{e}");
}
