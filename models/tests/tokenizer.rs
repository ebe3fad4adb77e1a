//! Tokenizer round trips: bytes and learned BPE, on text and on arbitrary bytes.

use models::Tokenizer;

fn corpus() -> Vec<u8> {
    let t = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/tinyshakespeare.txt"
    ))
    .unwrap();
    t[..50_000].to_vec()
}

#[test]
fn bytes_round_trip_any_input() {
    let t = Tokenizer::Bytes;
    let all: Vec<u8> = (0..=255u8).chain([0, 255, 10, 200]).collect();
    let ids = t.encode(&all);
    assert_eq!(ids.len(), all.len());
    assert_eq!(t.decode(&ids), all);
    assert_eq!(t.vocab_size(), 256);
}

#[test]
fn bpe_learns_256_merges_and_round_trips() {
    let text = corpus();
    let t = Tokenizer::train_bpe(&text, 256);
    assert_eq!(t.vocab_size(), 512);
    t.validate().unwrap();
    // Deterministic.
    assert_eq!(t, Tokenizer::train_bpe(&text, 256));
    let sample = "ROMEO:\nBut soft, what light through yonder window breaks?\n".as_bytes();
    let ids = t.encode(sample);
    assert!(
        ids.len() < sample.len(),
        "BPE compresses ({} ids for {} bytes)",
        ids.len(),
        sample.len()
    );
    assert!(ids.iter().all(|&i| i < 512));
    assert_eq!(t.decode(&ids), sample);
    // Arbitrary bytes (not UTF-8, unseen) still round trip.
    let odd: Vec<u8> = (0..=255u8).rev().collect();
    assert_eq!(t.decode(&t.encode(&odd)), odd);
    // Compression on the corpus itself.
    let ratio = text.len() as f64 / t.encode(&text).len() as f64;
    assert!(ratio > 1.5, "bytes per token {ratio}");
}

#[test]
fn tokenizer_json_round_trip_and_invalid_merges_rejected() {
    let t = Tokenizer::train_bpe(b"abababab cdcdcd abab", 3);
    let json = serde_json::to_string(&t).unwrap();
    let back: Tokenizer = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
    let bad = Tokenizer::Bpe {
        merges: vec![(300, 1)],
    };
    assert!(bad.validate().is_err());
}

#[test]
fn a_long_chain_of_merges_decodes_without_overflowing_the_stack() {
    // Merge i joins the previous merge with `a`: the last id decodes to 200,001 bytes, a
    // nesting far deeper than a recursive decoder's stack allows.
    let n = 200_000u32;
    let merges: Vec<(u32, u32)> = (0..n)
        .map(|i| (if i == 0 { b'a' as u32 } else { 255 + i }, b'a' as u32))
        .collect();
    let t = Tokenizer::Bpe { merges };
    t.validate().unwrap();
    let bytes = t.decode(&[255 + n]);
    assert_eq!(bytes.len(), n as usize + 1);
    assert!(bytes.iter().all(|&b| b == b'a'));
}
