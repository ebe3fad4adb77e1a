//! Finite-difference check of every parameter tensor's gradient on a tiny config.
//!
//! Method: for each tensor, a random unit direction `u` confined to that tensor; the analytic
//! directional derivative `g·u` is compared with the central difference
//! `(L(θ + h·u) − L(θ − h·u)) / 2h`, all in f32. Choice of `h` and tolerance: the loss (≈ 3
//! nats) is computed with f32 products, so it carries a rounding error of roughly
//! `δ ≈ 1e-6` (measured: repeated evaluations and reordered sums agree to a few 1e-7); the
//! central difference adds `δ/h` of noise and `h²·|L'''|/6` of truncation error. With
//! `h = 1e-2` both terms are ≲ 5e-5 (observed differences: 1e-7 to 1.3e-5), so we accept
//! `|num − ana| ≤ 1e-4 + 5e-3·|ana|`, while a wrong gradient (a missing term, a transposed
//! product, a wrong scale) is off by O(|ana|) — 1e-3 to 1e-1 here — and fails.

use backends::{Dispatcher, Memory};
use models::backward::{forward_backward, loss, Workspace};
use models::weights::specs;
use models::{Config, Model, Tokenizer, Weights};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn tiny(tied: bool) -> Config {
    Config {
        vocab_size: 20,
        context: 8,
        width: 16,
        layers: 2,
        heads: 2,
        mlp_hidden: 32,
        layer_norm_eps: 1e-5,
        tied_lm_head: tied,
    }
}

fn randomised(cfg: &Config, seed: u64) -> Model {
    let mut w = Weights::zeros(cfg);
    let mut rng = StdRng::seed_from_u64(seed);
    for (s, t) in specs(cfg).iter().zip(w.tensors_mut()) {
        let gain = s.name.ends_with("ln_1.weight")
            || s.name.ends_with("ln_2.weight")
            || s.name == "ln_f.weight";
        for x in t.iter_mut() {
            let r: f32 = rng.random::<f32>() * 2.0 - 1.0;
            *x = if gain { 1.0 + 0.3 * r } else { 0.4 * r };
        }
    }
    let m = Model::new(cfg.clone(), w, Tokenizer::Bytes).unwrap();
    m.with_dispatch(Dispatcher::forced("naive", Memory::Direct, 1))
}

fn check(tied: bool) {
    let cfg = tiny(tied);
    let mut model = randomised(&cfg, 7);
    let (batch, seq) = (2, 6);
    let mut rng = StdRng::seed_from_u64(3);
    let tokens: Vec<u32> = (0..batch * seq).map(|_| rng.random_range(0..20)).collect();
    let targets: Vec<u32> = (0..batch * seq).map(|_| rng.random_range(0..20)).collect();
    let mut ws = Workspace::new(&cfg, batch, seq);
    let mut grads = Weights::zeros(&cfg);
    let l0 = forward_backward(&model, &mut ws, &tokens, &targets, &mut grads).unwrap();
    assert!(l0.is_finite());
    let h = 1e-2f32;
    let mut worst = 0.0f32;
    for (ti, spec) in specs(&cfg).iter().enumerate() {
        let n = spec.len();
        let mut u: Vec<f32> = (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
        let norm = u.iter().map(|x| x * x).sum::<f32>().sqrt();
        u.iter_mut().for_each(|x| *x /= norm);
        let ana: f32 = grads.tensors()[ti].iter().zip(&u).map(|(g, u)| g * u).sum();
        let mut eval = |sign: f32| {
            let t = &mut model.weights.tensors_mut()[ti];
            for (x, d) in t.iter_mut().zip(&u) {
                *x += sign * h * d;
            }
            let l = loss(&model, &mut ws, &tokens, &targets).unwrap();
            let t = &mut model.weights.tensors_mut()[ti];
            for (x, d) in t.iter_mut().zip(&u) {
                *x -= sign * h * d;
            }
            l
        };
        let num = (eval(1.0) - eval(-1.0)) / (2.0 * h);
        let err = (num - ana).abs();
        let tol = 1e-4 + 5e-3 * ana.abs();
        println!(
            "{:<24} analytic {ana:+.6e}  numeric {num:+.6e}  |diff| {err:.2e}  tol {tol:.2e}",
            spec.name
        );
        worst = worst.max(err / tol);
        assert!(err <= tol, "{}: analytic {ana} vs numeric {num}", spec.name);
    }
    println!("worst |diff|/tol = {worst:.3}");
}

#[test]
fn gradients_match_central_differences_untied() {
    check(false);
}

#[test]
fn gradients_match_central_differences_tied() {
    check(true);
}

#[test]
fn training_loss_equals_inference_cross_entropy() {
    let cfg = tiny(false);
    let model = randomised(&cfg, 11);
    let tokens: Vec<u32> = vec![1, 5, 9, 3, 3, 17, 0, 8];
    let targets: Vec<u32> = vec![5, 9, 3, 3, 17, 0, 8, 2];
    let mut ws = Workspace::new(&cfg, 1, 8);
    let l = loss(&model, &mut ws, &tokens, &targets).unwrap();
    let logits = model.logits(&tokens).unwrap();
    let v = cfg.vocab_size;
    let mut ce = 0.0f64;
    for (i, &y) in targets.iter().enumerate() {
        let row = &logits[i * v..(i + 1) * v];
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = row
            .iter()
            .map(|&x| (x as f64 - max).exp())
            .sum::<f64>()
            .ln()
            + max;
        ce += lse - row[y as usize] as f64;
    }
    let ce = (ce / 8.0) as f32;
    assert!((l - ce).abs() < 1e-5, "{l} vs {ce}");
}

#[test]
fn a_few_adamw_steps_reduce_the_loss() {
    use models::optim::{clip_grad_norm, AdamW, AdamWConfig};
    let cfg = tiny(false);
    let mut model = randomised(&cfg, 5);
    let tokens: Vec<u32> = (0..16).map(|i| (i * 7 % 20) as u32).collect();
    let targets: Vec<u32> = (0..16).map(|i| ((i * 7 + 3) % 20) as u32).collect();
    let mut ws = Workspace::new(&cfg, 2, 8);
    let mut grads = Weights::zeros(&cfg);
    let mut opt = AdamW::new(&cfg, AdamWConfig::default());
    let first = loss(&model, &mut ws, &tokens, &targets).unwrap();
    for _ in 0..30 {
        grads.zero();
        forward_backward(&model, &mut ws, &tokens, &targets, &mut grads).unwrap();
        clip_grad_norm(&mut grads, 1.0);
        opt.step(&mut model.weights, &grads, 1e-2);
    }
    let last = loss(&model, &mut ws, &tokens, &targets).unwrap();
    assert!(last < 0.5 * first, "{first} -> {last}");
}
