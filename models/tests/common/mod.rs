//! Fixtures shared by the integration tests (each test crate uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

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

/// A tiny config (context 16) and 20 kB of text in `dir`: (config path, data path).
pub fn tiny_setup(dir: &Path) -> (String, String) {
    let cfg = dir.join("tiny.json");
    std::fs::write(
        &cfg,
        r#"{"vocab_size":256,"context":16,"width":16,"layers":1,"heads":2,"mlp_hidden":32}"#,
    )
    .unwrap();
    (
        cfg.to_string_lossy().into_owned(),
        data(dir).to_string_lossy().into_owned(),
    )
}
