//! The model scenarios: the `models` crate's small and medium presets, created and run
//! through the dispatcher under study.
//!
//! * [`scenarios`] for the profiler: `model_small` and `model_medium`, each with `create`
//!   (building the model with random weights, 3 calls) and `inference` (a 10-token prompt
//!   then 25 greedily sampled tokens through the KV cache: a warm-up, then 3 runs), the
//!   latter split into `prefill` and `decode` (one call per token) scopes.
//! * [`training_step`] for the allocation study: one forward + backward + AdamW step of the
//!   small model.

use crate::memory::ExtraWorkload;
use crate::profile::Scenario;
use crate::scope::Profiler;
use anyhow::Result;
use backends::Dispatcher;
use models::backward::{forward_backward, Workspace};
use models::optim::{clip_grad_norm, AdamW, AdamWConfig};
use models::{Config, Model, Sampler, Tokenizer, Weights};
use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;

/// Prompt length and generated tokens of the inference scenario.
pub const PROMPT: usize = 10;
pub const GENERATE: usize = 25;

fn prompt(vocab: usize) -> Vec<u32> {
    (0..PROMPT)
        .map(|i| ((i * 37 + 11) % vocab) as u32)
        .collect()
}

fn inference(prof: &Profiler, model: &Model) -> Result<()> {
    let mut sampler = Sampler::greedy();
    let mut cache = model.session();
    let p = prompt(model.config.vocab_size);
    let mut t = {
        let _s = prof.scope("prefill");
        let logits = model.prefill(&mut cache, &p)?;
        sampler.sample(logits)
    };
    for _ in 1..GENERATE {
        let _s = prof.scope("decode");
        let logits = model.decode(&mut cache, t)?;
        t = sampler.sample(logits);
    }
    black_box(t);
    Ok(())
}

fn model_scenario(name: &str, config: Config, runs: usize) -> Scenario {
    Scenario::custom(name, false, move |prof, d| {
        let mut model = None;
        for _ in 0..3 {
            let m = prof.run("create", || {
                Model::init(config.clone(), Tokenizer::Bytes, 42)
                    .map(|m| m.with_dispatch(d.clone()))
            })?;
            model = Some(m);
        }
        let model = model.expect("created above");
        prof.run("warmup", || inference(prof, &model))?;
        for _ in 0..runs {
            prof.run("inference", || inference(prof, &model))?;
        }
        Ok(())
    })
}

/// The profiler's model scenarios (`model_small`, `model_medium`).
pub fn scenarios() -> Vec<Scenario> {
    vec![
        model_scenario("model_small", Config::small(), 3),
        model_scenario("model_medium", Config::medium(), 3),
    ]
}

/// One training step of the small model (batch 8 × the full context), for the allocation
/// study: forward, backward, gradient clipping and AdamW.
pub fn training_step(iters: usize) -> Result<ExtraWorkload> {
    let cfg = Config::small();
    let (batch, seq) = (8, cfg.context);
    let model = Model::init(cfg.clone(), Tokenizer::Bytes, 7)?;
    let n = batch * seq;
    let v = cfg.vocab_size;
    struct State {
        model: Model,
        grads: Weights,
        opt: AdamW,
        ws: Workspace,
        tokens: Vec<u32>,
        targets: Vec<u32>,
    }
    let state = Rc::new(RefCell::new(State {
        grads: Weights::zeros(&cfg),
        opt: AdamW::new(&cfg, AdamWConfig::default()),
        ws: Workspace::new(&cfg, batch, seq),
        tokens: (0..n).map(|i| ((i * 31 + 7) % v) as u32).collect(),
        targets: (0..n).map(|i| ((i * 31 + 38) % v) as u32).collect(),
        model,
    }));
    let s2 = Rc::clone(&state);
    Ok(ExtraWorkload {
        name: format!("small model training step, batch {batch}×{seq}"),
        samples_per_iter: batch,
        iters,
        set_dispatch: Box::new(move |d: &Dispatcher| s2.borrow_mut().model.set_dispatch(d.clone())),
        step: Box::new(move || {
            let mut guard = state.borrow_mut();
            let st = &mut *guard;
            st.grads.zero();
            let loss = forward_backward(
                &st.model,
                &mut st.ws,
                &st.tokens,
                &st.targets,
                &mut st.grads,
            )?;
            clip_grad_norm(&mut st.grads, 1.0);
            st.opt.step(&mut st.model.weights, &st.grads, 1e-3);
            black_box(loss);
            Ok(())
        }),
    })
}
