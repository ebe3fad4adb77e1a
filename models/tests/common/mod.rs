//! Fixtures shared by the integration tests (each test crate uses some of them).
#![allow(dead_code)]

use models::Config;
use std::path::{Path, PathBuf};

// The temporary folders are the other test crates' (autotune's, shared by path).
#[path = "../../../autotune/tests/common/child.rs"]
mod child;
#[allow(unused_imports)]
pub use child::{tmp_dir, TmpDir};

/// The tiny config the tests train: vocab 256, context 16, width 16, one block of two heads.
pub fn tiny_config() -> Config {
    Config {
        vocab_size: 256,
        context: 16,
        width: 16,
        layers: 1,
        heads: 2,
        mlp_hidden: 32,
        layer_norm_eps: 1e-5,
        tied_lm_head: false,
    }
}

/// The first 20 kB of the tiny Shakespeare corpus, written to `dir/data.txt`.
pub fn data(dir: &Path) -> PathBuf {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/tinyshakespeare.txt"
    ))
    .unwrap();
    let p = dir.join("data.txt");
    std::fs::write(&p, &text[..20_000]).unwrap();
    p
}

/// [`tiny_config`] as a JSON file and 20 kB of text in `dir`: (config path, data path).
pub fn tiny_setup(dir: &Path) -> (String, String) {
    let cfg = dir.join("tiny.json");
    std::fs::write(&cfg, serde_json::to_string(&tiny_config()).unwrap()).unwrap();
    (
        cfg.to_string_lossy().into_owned(),
        data(dir).to_string_lossy().into_owned(),
    )
}

/// The arguments of `models train` on the tiny config and data of [`tiny_setup`]: `steps`
/// steps of batch 2 written to `out`, then `extra`.
pub fn train_args<'a>(
    cfg: &'a str,
    data: &'a str,
    out: &'a Path,
    steps: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "train", "--data", data, "--config", cfg, "--steps", steps, "--batch", "2", "--out", out,
    ];
    args.extend_from_slice(extra);
    args
}
