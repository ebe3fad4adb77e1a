//! The per-op profile of a decode step: its parts fit within the step time measured around
//! each call, it counts every call, and profiling changes no result.

use models::profile::Part;
use models::{Config, Model, Profile, Sampler, Tokenizer};
use std::time::Instant;

#[test]
fn profiled_decode_parts_sum_within_the_step_and_match_plain_decode() {
    let model = Model::init(Config::small(), Tokenizer::Bytes, 3).unwrap();
    let prompt: Vec<u32> = b"ROMEO:\n".iter().map(|&b| b as u32).collect();
    let mut plain = model.session();
    let mut profiled = model.session();
    let mut s = Sampler::greedy();
    let mut tok = s.sample(model.prefill(&mut plain, &prompt).unwrap());
    model.prefill(&mut profiled, &prompt).unwrap();
    let mut p = Profile::new();
    let mut outside_ns = 0u64;
    let steps = 20;
    for _ in 0..steps {
        let expect = model.decode(&mut plain, tok).unwrap().to_vec();
        let t = Instant::now();
        let got = model.decode_profiled(&mut profiled, tok, &mut p).unwrap();
        outside_ns += t.elapsed().as_nanos() as u64;
        assert_eq!(got, &expect[..], "profiling changed the logits");
        tok = s.sample(&expect);
    }
    assert_eq!(p.passes(), steps);
    let total = p.total_ns();
    assert!(
        total <= outside_ns,
        "parts {total} ns > step {outside_ns} ns"
    );
    assert!(total > 0);
    let sum: u64 = Part::ALL.iter().map(|&part| p.ns(part)).sum();
    assert_eq!(sum, total);
    for part in [Part::QkvMatmul, Part::LmHead] {
        assert!(p.ns(part) > 0, "{part:?} not timed");
    }
    // The MLP is timed op by op, or as one part where the table runs it fused.
    let by_op = p.ns(Part::MlpUpMatmul) > 0 && p.ns(Part::MlpDownMatmul) > 0;
    assert!(by_op || p.ns(Part::MlpFused) > 0, "the MLP was not timed");
    p.reset();
    assert_eq!((p.passes(), p.total_ns()), (0, 0));
}
