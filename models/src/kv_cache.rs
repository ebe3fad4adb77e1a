//! The inference state: the per-layer key/value cache and every activation buffer of a
//! forward pass, allocated once for the full context so that decoding allocates nothing.

use crate::config::Config;

/// Keys and values of the positions seen so far, plus the scratch of a forward pass.
///
/// Create it with [`Model::session`](crate::Model::session); feed it with
/// [`Model::prefill`](crate::Model::prefill) and [`Model::decode`](crate::Model::decode).
#[derive(Debug, Clone)]
pub struct KvCache {
    pub(crate) pos: usize,
    pub(crate) capacity: usize,
    /// Per layer, `[capacity, width]`: row t holds every head's key of position t.
    pub(crate) k: Vec<Vec<f32>>,
    pub(crate) v: Vec<Vec<f32>>,
    // Activations for up to `capacity` rows.
    pub(crate) x: Vec<f32>,
    pub(crate) x2: Vec<f32>,
    pub(crate) ln: Vec<f32>,
    pub(crate) mean: Vec<f32>,
    pub(crate) rstd: Vec<f32>,
    pub(crate) qkv: Vec<f32>,
    pub(crate) scores: Vec<f32>,
    pub(crate) att: Vec<f32>,
    pub(crate) proj: Vec<f32>,
    pub(crate) fc: Vec<f32>,
    pub(crate) fc2: Vec<f32>,
    /// Logits of the last row (or of every row, `[rows, vocab]`, after a full-logits pass).
    pub(crate) logits: Vec<f32>,
}

impl KvCache {
    /// Buffers for `cfg`'s full context.
    pub fn new(cfg: &Config) -> KvCache {
        let (r, c, h, v) = (cfg.context, cfg.width, cfg.mlp_hidden, cfg.vocab_size);
        KvCache {
            pos: 0,
            capacity: r,
            k: (0..cfg.layers).map(|_| vec![0.0; r * c]).collect(),
            v: (0..cfg.layers).map(|_| vec![0.0; r * c]).collect(),
            x: vec![0.0; r * c],
            x2: vec![0.0; r * c],
            ln: vec![0.0; r * c],
            mean: vec![0.0; r],
            rstd: vec![0.0; r],
            qkv: vec![0.0; r * 3 * c],
            scores: vec![0.0; r * r],
            att: vec![0.0; r * c],
            proj: vec![0.0; r * c],
            fc: vec![0.0; r * h],
            fc2: vec![0.0; r * c],
            logits: vec![0.0; r * v],
        }
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// The most positions this cache holds (the model's context).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets every position (keeps the buffers).
    pub fn reset(&mut self) {
        self.pos = 0;
    }
}
