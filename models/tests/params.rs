//! Exact parameter counts of the presets, and the config's JSON round trip.

use models::weights::specs;
use models::{Config, Model, Tokenizer, Weights};

#[test]
fn small_preset_has_470_528_parameters() {
    let c = Config::small();
    assert_eq!(c.param_count(), 470_528);
    // The issue's formula, term by term.
    let block =
        2 * 256 + (128 * 384 + 384) + (128 * 128 + 128) + (128 * 512 + 512) + (512 * 128 + 128);
    assert_eq!(256 * 128 + 64 * 128 + 2 * block + 256 + 128 * 256, 470_528);
    assert_eq!(Weights::zeros(&c).len(), 470_528);
    assert_eq!(specs(&c).iter().map(|s| s.len()).sum::<usize>(), 470_528);
}

#[test]
fn medium_preset_has_3_454_464_parameters() {
    let c = Config::medium();
    assert_eq!(c.param_count(), 3_454_464);
    assert_eq!(Weights::zeros(&c).len(), 3_454_464);
    let m = Model::init(c, Tokenizer::Bytes, 0).unwrap();
    assert_eq!(m.param_count(), 3_454_464);
}

#[test]
fn presets_match_the_issue() {
    let s = Config::preset("small").unwrap();
    assert_eq!(
        (
            s.vocab_size,
            s.context,
            s.width,
            s.layers,
            s.heads,
            s.mlp_hidden
        ),
        (256, 64, 128, 2, 4, 512)
    );
    assert!(!s.tied_lm_head);
    let m = Config::preset("medium").unwrap();
    assert_eq!(
        (
            m.vocab_size,
            m.context,
            m.width,
            m.layers,
            m.heads,
            m.mlp_hidden
        ),
        (512, 128, 256, 4, 8, 1024)
    );
    assert!(Config::preset("large").is_err());
}

#[test]
fn config_round_trips_through_json_and_is_validated() {
    let c = Config {
        vocab_size: 300,
        context: 32,
        width: 48,
        layers: 3,
        heads: 6,
        mlp_hidden: 100,
        layer_norm_eps: 1e-6,
        tied_lm_head: true,
    };
    let json = serde_json::to_string(&c).unwrap();
    let back: Config = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.param_count(), Weights::zeros(&c).len());
    let bad = Config {
        heads: 5,
        ..c.clone()
    };
    assert!(bad.validate().is_err());
    let bad = Config { layers: 0, ..c };
    assert!(bad.validate().is_err());
}
