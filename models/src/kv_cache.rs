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
    /// The residual stream after a block's attention.
    pub(crate) x2: Vec<f32>,
    /// LayerNorm 1 of a block's input (and the final LayerNorm's output), then LayerNorm 2.
    pub(crate) ln: Vec<f32>,
    pub(crate) ln2: Vec<f32>,
    pub(crate) mean: Vec<f32>,
    pub(crate) rstd: Vec<f32>,
    pub(crate) qkv: Vec<f32>,
    pub(crate) att: Vec<f32>,
    /// The attention output projection, then the MLP's down-projection.
    pub(crate) proj: Vec<f32>,
    pub(crate) fc: Vec<f32>,
    /// Logits of the last row (or of every row, `[rows, vocab]`, after a full-logits pass).
    pub(crate) logits: Vec<f32>,
}

impl KvCache {
    /// f32 elements of a cache for `cfg` (counted exactly, without overflow; `u128::MAX` if
    /// even that overflows): what [`KvCache::try_new`] checks against the memory limit.
    pub fn elements(cfg: &Config) -> u128 {
        let (r, c, h, v, l) = (
            cfg.context as u128,
            cfg.width as u128,
            cfg.mlp_hidden as u128,
            cfg.vocab_size as u128,
            cfg.layers as u128,
        );
        // k and v per layer; x, x2, ln, ln2, att, proj and qkv (9 rows of width); fc;
        // logits; mean and rstd. (Attention's scratch row comes from the dispatcher's pool.)
        let count = || -> Option<u128> {
            let kv = l.checked_mul(2)?.checked_mul(r)?.checked_mul(c)?;
            let rows = r.checked_mul(c)?.checked_mul(9)?;
            [kv, rows, r.checked_mul(h)?, r.checked_mul(v)?, 2 * r]
                .iter()
                .try_fold(0u128, |acc, t| acc.checked_add(*t))
        };
        count().unwrap_or(u128::MAX)
    }

    /// [`KvCache::new`] after checking its size against the memory limit
    /// ([`backends::limits`]): an error naming the context instead of an abort.
    pub fn try_new(cfg: &Config) -> anyhow::Result<KvCache> {
        cfg.validate()?;
        backends::limits::check_f32(
            &format!(
                "a KV cache for a context of {} (width {}, {} layers, vocab {})",
                cfg.context, cfg.width, cfg.layers, cfg.vocab_size
            ),
            &[KvCache::elements(cfg)],
        )?;
        Ok(KvCache::new(cfg))
    }

    /// Buffers for `cfg`'s full context (unchecked; [`KvCache::try_new`] checks the size).
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
            ln2: vec![0.0; r * c],
            mean: vec![0.0; r],
            rstd: vec![0.0; r],
            qkv: vec![0.0; r * 3 * c],
            att: vec![0.0; r * c],
            proj: vec![0.0; r * c],
            fc: vec![0.0; r * h],
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
