//! Choosing the next token from logits: greedy, temperature and top-k, seeded.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A seeded sampler. `temperature == 0` is greedy (argmax, ties to the lowest id);
/// `top_k == 0` keeps every id. The same seed, settings and logits give the same tokens.
/// Scratch is allocated once, so sampling allocates nothing.
#[derive(Debug, Clone)]
pub struct Sampler {
    temperature: f32,
    top_k: usize,
    rng: StdRng,
    probs: Vec<f32>,
    order: Vec<u32>,
}

impl Sampler {
    /// Greedy decoding.
    pub fn greedy() -> Sampler {
        Sampler::new(0.0, 0, 0)
    }

    /// A sampler with `temperature` (≤ 0 or not finite: greedy), `top_k` (0: all) and `seed`.
    pub fn new(temperature: f32, top_k: usize, seed: u64) -> Sampler {
        Sampler {
            temperature: if temperature.is_finite() {
                temperature.max(0.0)
            } else {
                0.0
            },
            top_k,
            rng: StdRng::seed_from_u64(seed),
            probs: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Reserves scratch for `vocab` logits, so that [`sample`](Self::sample) never allocates.
    pub fn with_vocab(mut self, vocab: usize) -> Sampler {
        self.probs.reserve(vocab);
        self.order.reserve(vocab);
        self
    }

    /// Whether this sampler is greedy.
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0 || self.top_k == 1
    }

    /// Picks the next token id from `logits`.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.is_greedy() || logits.len() <= 1 {
            return argmax(logits) as u32;
        }
        let n = logits.len();
        let k = if self.top_k == 0 {
            n
        } else {
            self.top_k.min(n)
        };
        // Candidate ids, the k largest first (NaN sorts last).
        self.order.clear();
        self.order.extend(0..n as u32);
        let key = |i: &u32| {
            let x = logits[*i as usize];
            if x.is_nan() {
                f32::NEG_INFINITY
            } else {
                x
            }
        };
        if k < n {
            self.order
                .select_nth_unstable_by(k - 1, |a, b| key(b).total_cmp(&key(a)).then(a.cmp(b)));
            self.order.truncate(k);
        }
        self.order.sort_unstable();
        let max = self.order.iter().map(key).fold(f32::NEG_INFINITY, f32::max);
        self.probs.clear();
        let mut sum = 0.0f64;
        for i in &self.order {
            let e = ((key(i) - max) / self.temperature).exp();
            sum += e as f64;
            self.probs.push(e);
        }
        if !(sum > 0.0 && sum.is_finite()) {
            return argmax(logits) as u32;
        }
        let mut r = self.rng.random::<f64>() * sum;
        for (j, &p) in self.probs.iter().enumerate() {
            r -= p as f64;
            if r < 0.0 {
                return self.order[j];
            }
        }
        *self.order.last().expect("k ≥ 1")
    }
}

/// Index of the largest value (the first on ties; NaN never wins unless all are NaN).
pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    let mut bv = f32::NEG_INFINITY;
    for (i, &v) in x.iter().enumerate() {
        if v > bv {
            bv = v;
            best = i;
        }
    }
    best
}
