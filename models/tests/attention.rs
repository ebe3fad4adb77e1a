//! The model's fused attention and trimmed prefill, end to end through the public API: the
//! fused form the dispatcher binds against the unfused reference computation (the naive
//! attention variant: the three naive ops per head the model ran before), and the logits a
//! trimmed prefill returns against the full forward's.

use backends::{Memory, Op};
use models::{Config, Mode, Model, Sampler, Tokenizer};

fn tokens(len: usize, vocab: usize) -> Vec<u32> {
    (0..len).map(|i| ((i * 53 + 7) % vocab) as u32).collect()
}

/// Relative to the largest logit: the fused kernel sums dot products and the softmax in f32
/// in another order than the unfused ops (a few ulps per attention output, see
/// `kernels/tests/attention.rs`), carried through the layers; 1e-4 of the largest logit is
/// far above that and far below any change of the computation.
/// `model` with its attention on the reference (every other op keeps its choice).
fn unfused(model: &Model) -> Model {
    let d = model
        .dispatch()
        .clone()
        .with_op(Op::Attention, "naive", Memory::Direct, 1)
        .unwrap();
    model.clone().with_dispatch(d)
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(1.0f32, |m, x| m.max(x.abs()));
    for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * scale,
            "{what}: logit {j}: {g} vs {w}"
        );
    }
}

#[test]
fn fused_attention_matches_the_unfused_computation() {
    for cfg in [Config::small(), Config::medium()] {
        let fused = Model::init(cfg.clone(), Tokenizer::Bytes, 11).unwrap();
        let unfused = unfused(&fused);
        let t = tokens(cfg.context - 3, cfg.vocab_size);
        // Every row's logits (no trimming), then prefill + decode steps through the cache.
        let (a, b) = (fused.logits(&t).unwrap(), unfused.logits(&t).unwrap());
        assert_close("all logits", &a, &b);
        let (mut ca, mut cb) = (fused.session(), unfused.session());
        let la = fused.prefill(&mut ca, &t[..5]).unwrap().to_vec();
        assert_close("prefill", &la, unfused.prefill(&mut cb, &t[..5]).unwrap());
        for &tok in &t[5..20] {
            let la = fused.decode(&mut ca, tok).unwrap().to_vec();
            assert_close("decode", &la, unfused.decode(&mut cb, tok).unwrap());
        }
    }
}

#[test]
fn trimmed_prefill_returns_the_full_forwards_last_logits() {
    let model = Model::init(Config::small(), Tokenizer::Bytes, 2).unwrap();
    let (ctx, vocab) = (model.config.context, model.config.vocab_size);
    for len in [1, 2, 7, ctx - 1, ctx] {
        let t = tokens(len, vocab);
        let all = model.logits(&t).unwrap();
        let mut cache = model.session();
        let last = model.prefill(&mut cache, &t).unwrap();
        assert_close(&format!("len {len}"), last, &all[(len - 1) * vocab..]);
        assert_eq!(cache.len(), len);
    }
}

#[test]
fn generation_is_the_same_with_either_attention_form() {
    // Greedy tokens through prefill, decode and the re-prefill past the context.
    let model = Model::load(models::SHIPPED_CHECKPOINT.as_ref()).expect("shipped checkpoint");
    let unfused = unfused(&model);
    let prompt = model.tokenizer.encode(b"ROMEO:\n");
    let n = model.config.context + 20;
    let run = |m: &Model| {
        m.generate(&prompt, n, &mut Sampler::greedy(), Mode::KvCache, |_| {})
            .unwrap()
    };
    assert_eq!(run(&model), run(&unfused));
    // And the dispatcher binds a fused form this CPU runs, never the reference.
    let d = model.dispatch();
    for rows in [1, 10] {
        let shape = kernels::attention::Attention::new(rows, 5, 8, 32);
        let v = d
            .lookup(Op::Attention, backends::Key::attention(&shape))
            .variant();
        assert!(v.runnable().is_ok(), "{}", v.id);
        assert!(
            v.implementation != "naive" || !kernels::cpu::available(kernels::cpu::Feature::Avx2),
            "{}",
            v.id
        );
    }
}
