//! The exported call lists ([`models::calls`]) are exactly what the model dispatches: the
//! real forward and training passes run under the dispatcher's trace, for both presets.

use models::backward::{forward_backward, Workspace};
use models::calls::{calls, Workload};
use models::{Config, Mode, Model, Sampler, Tokenizer, Weights};

/// What `run` dispatches through `model`'s dispatcher, in order.
fn traced(model: &Model, run: impl FnOnce()) -> Vec<backends::dispatch::Call> {
    model.dispatch().start_trace();
    run();
    model.dispatch().take_trace()
}

/// The list `calls` exports for `w`, as the trace records calls.
fn expected(cfg: &Config, w: Workload) -> Vec<backends::dispatch::Call> {
    calls(cfg, w).unwrap().iter().map(|c| c.traced()).collect()
}

fn tokens(n: usize) -> Vec<u32> {
    (0..n).map(|i| (i * 37 + 11) as u32 % 256).collect()
}

#[test]
fn inference_dispatches_exactly_the_exported_calls() {
    for cfg in [Config::small(), Config::medium()] {
        let model = Model::init(cfg.clone(), Tokenizer::Bytes, 3).unwrap();
        let ctx = cfg.context;
        for len in [1, 10, ctx] {
            let mut cache = model.session();
            let got = traced(&model, || {
                model.prefill(&mut cache, &tokens(len)).unwrap();
            });
            let want = expected(&cfg, Workload::Prefill { prompt_len: len });
            assert_eq!(got, want, "prefill of {len}");
        }
        for pos in [1, 9, ctx - 1] {
            let mut cache = model.session();
            model.prefill(&mut cache, &tokens(pos)).unwrap();
            let got = traced(&model, || {
                model.decode(&mut cache, 7).unwrap();
            });
            assert_eq!(
                got,
                expected(&cfg, Workload::DecodeStep { pos }),
                "decode at {pos}"
            );
        }
        // One token of full recompute over a window of `len`.
        for len in [3, ctx] {
            let got = traced(&model, || {
                let mut s = Sampler::greedy();
                model
                    .generate(&tokens(len), 1, &mut s, Mode::FullRecompute, |_| {})
                    .unwrap();
            });
            assert_eq!(
                got,
                expected(&cfg, Workload::FullRecompute { len }),
                "{len}"
            );
        }
    }
}

#[test]
fn a_training_step_dispatches_exactly_the_exported_calls() {
    for (cfg, batch, seq) in [(Config::small(), 2, 9), (Config::medium(), 1, 16)] {
        let model = Model::init(cfg.clone(), Tokenizer::Bytes, 4).unwrap();
        let mut ws = Workspace::new(&cfg, batch, seq);
        let mut grads = Weights::zeros(&cfg);
        let n = batch * seq;
        let (x, y) = (tokens(n), tokens(n + 1)[1..].to_vec());
        let got = traced(&model, || {
            forward_backward(&model, &mut ws, &x, &y, &mut grads).unwrap();
        });
        assert_eq!(got, expected(&cfg, Workload::TrainStep { batch, seq }));
    }
}
