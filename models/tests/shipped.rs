//! The shipped small-preset checkpoint loads, has the preset's shape and writes
//! recognisable English-like text.

use models::{Config, Mode, Model, Sampler};

#[test]
fn shipped_checkpoint_generates_recognisable_text() {
    let model = Model::load(models::SHIPPED_CHECKPOINT.as_ref()).expect("shipped checkpoint");
    assert_eq!(model.config, Config::small());
    assert_eq!(model.param_count(), 470_528);
    let prompt = model.tokenizer.encode(b"ROMEO:\n");
    let ids = model
        .generate(&prompt, 57, &mut Sampler::greedy(), Mode::KvCache, |_| {})
        .unwrap();
    let text = String::from_utf8_lossy(&model.tokenizer.decode(&ids)).into_owned();
    println!("{text}");
    let letters = text
        .chars()
        .filter(|c| c.is_ascii_alphabetic() || *c == ' ')
        .count();
    assert!(
        letters * 10 >= text.len() * 7,
        "mostly letters and spaces: {text:?}"
    );
    let words = [
        "the", "and", "to", "of", "my", "I", "you", "that", "a", "is", "me", "not",
    ];
    assert!(
        text.split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| words.contains(&w)),
        "a common word: {text:?}"
    );
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/training.json", models::SHIPPED_CHECKPOINT)).unwrap(),
    )
    .unwrap();
    let val = info["val_loss_per_byte"].as_f64().unwrap();
    assert!(val < 1.75, "validation loss {val} nats/byte");
}
