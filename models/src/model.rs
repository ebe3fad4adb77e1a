//! The model and its inference forward pass (batched prefill, KV-cache decoding, full
//! recompute). Every op goes through the attached [`Dispatcher`].

use crate::config::Config;
use crate::kv_cache::KvCache;
use crate::profile::{NoProfile, Part, Profile, Profiler};
use crate::sample::Sampler;
use crate::tokenizer::Tokenizer;
use crate::weights::{Block, Weights};
use anyhow::{bail, Context, Result};
use backends::fused::MlpWeights;
use backends::Dispatcher;
use kernels::attention::{Attention, Qkv};
use kernels::layernorm::LayerNormOut;
use kernels::matmul::Gemm;
use kernels::Rows;

/// A GPT-style decoder: shape, weights, tokenizer and the dispatcher its ops run through.
#[derive(Debug, Clone)]
pub struct Model {
    pub config: Config,
    pub weights: Weights,
    pub tokenizer: Tokenizer,
    dispatch: Dispatcher,
}

/// How [`Model::generate`] runs the forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Batched prefill of the prompt, then one row per token with the KV cache.
    KvCache,
    /// The original study's method: the whole (windowed) sequence recomputed for every token.
    FullRecompute,
}

/// Gathers the embedding rows of `tokens` into `x` (`[tokens.len(), width]`) and adds the
/// position rows from `pos` on: the first step of the inference and the training forward.
/// An id outside the vocabulary is an error.
pub(crate) fn embed<P: Profiler>(
    d: &Dispatcher,
    cfg: &Config,
    w: &Weights,
    tokens: &[u32],
    pos: usize,
    x: &mut [f32],
    prof: &mut P,
) -> Result<()> {
    let (c, v, n) = (cfg.width, cfg.vocab_size, tokens.len());
    for (i, &t) in tokens.iter().enumerate() {
        let t = t as usize;
        if t >= v {
            bail!("token id {t} is outside the vocabulary of {v}");
        }
        x[i * c..(i + 1) * c].copy_from_slice(&w.wte[t * c..(t + 1) * c]);
    }
    prof.lap(Part::Embedding);
    d.add_inplace(&mut x[..n * c], &w.wpe[pos * c..(pos + n) * c])?;
    prof.lap(Part::Adds);
    Ok(())
}

/// The LM head: `logits[..m·vocab] = ln · headᵀ` for `m` rows of the final LayerNorm's output.
pub(crate) fn lm_head(
    d: &Dispatcher,
    cfg: &Config,
    w: &Weights,
    m: usize,
    ln: &[f32],
    logits: &mut [f32],
) -> Result<()> {
    let (c, v) = (cfg.width, cfg.vocab_size);
    d.matmul(
        &Gemm::new(m, c, v).with_trans(false, true),
        1.0,
        ln,
        w.head(),
        0.0,
        &mut logits[..m * v],
    )?;
    Ok(())
}

/// The buffers one block's forward pass ([`block`]) reads and writes, `n` rows each. The
/// inference pass reuses one set for every layer; the training pass gives each layer its
/// own, which keeps the activations its backward reads.
pub(crate) struct BlockBufs<'a> {
    /// LayerNorm 1 of the block's input, `[n, width]`: the QKV projection's input.
    pub ln1: &'a [f32],
    /// The QKV projection with its bias, `[n, 3·width]`.
    pub qkv: &'a mut [f32],
    /// The attention output, `[n, width]`.
    pub att: &'a mut [f32],
    /// The block's input (the residual stream), `[n, width]`.
    pub x: &'a mut [f32],
    /// The output projection with its bias, then (on return) the MLP's down-projection
    /// with its bias, `[n, width]`: the caller adds it to `mid`.
    pub out: &'a mut [f32],
    /// The residual stream after attention (`x + out`), `[n, width]`.
    pub mid: &'a mut [f32],
    /// LayerNorm 2 of `mid`, with its statistics.
    pub ln2: LayerNormOut<'a>,
    /// The MLP's up-projection, `[n, hidden]`: without its bias when `fc_act` is given (the
    /// training pass keeps it for the backward), else overwritten by the activation.
    pub fc: &'a mut [f32],
    /// Where the activation `gelu(fc + bias)` goes, `[n, hidden]`; `None`: in place in `fc`.
    pub fc_act: Option<&'a mut [f32]>,
}

/// The first `m` rows (`c` wide) of a LayerNorm's output `y` and of its statistics `mean`
/// and `rstd`: what a LayerNorm over `m` rows writes of buffers that may hold more.
fn ln_rows<'a>(
    y: &'a mut [f32],
    mean: &'a mut [f32],
    rstd: &'a mut [f32],
    m: usize,
    c: usize,
) -> LayerNormOut<'a> {
    LayerNormOut {
        y: &mut y[..m * c],
        mean: &mut mean[..m],
        rstd: &mut rstd[..m],
    }
}

/// One transformer block's forward pass over `n` rows, through the dispatcher: the QKV
/// projection and its bias, then `attend` (given the QKV rows, the attention output and the
/// residual `x`; it returns the rows the rest of the block runs, `n` or fewer, those rows
/// first in `att` and `x`), the output projection, bias, residual add and LayerNorm 2, and
/// the MLP up to its down-projection's bias (left in `io.out`). Returns the rows run.
pub(crate) fn block<P: Profiler>(
    d: &Dispatcher,
    cfg: &Config,
    b: &Block,
    n: usize,
    io: BlockBufs<'_>,
    prof: &mut P,
    attend: impl FnOnce(&[f32], &mut [f32], &mut [f32], &mut P) -> Result<usize>,
) -> Result<usize> {
    let (c, h, eps) = (cfg.width, cfg.mlp_hidden, cfg.layer_norm_eps);
    d.matmul(
        &Gemm::new(n, c, 3 * c),
        1.0,
        &io.ln1[..n * c],
        &b.qkv.w,
        0.0,
        &mut io.qkv[..n * 3 * c],
    )?;
    prof.lap(Part::QkvMatmul);
    d.add_bias_inplace(Rows::new(n, 3 * c), &mut io.qkv[..n * 3 * c], &b.qkv.b)?;
    prof.lap(Part::Adds);
    let m = attend(io.qkv, io.att, io.x, prof)?.min(n);
    let (rows, mc, mh) = (Rows::new(m, c), m * c, m * h);
    let out = &mut io.out[..mc];
    d.matmul(&Gemm::new(m, c, c), 1.0, &io.att[..mc], &b.proj.w, 0.0, out)?;
    prof.lap(Part::ProjMatmul);
    d.add_bias_inplace(rows, out, &b.proj.b)?;
    prof.lap(Part::Adds);
    let LayerNormOut { y: ln2, mean, rstd } = io.ln2;
    d.add_layernorm(
        rows,
        eps,
        out,
        &io.x[..mc],
        &mut io.mid[..mc],
        b.ln2.affine(),
        ln_rows(ln2, mean, rstd, m, c),
    )?;
    let ln2 = &ln2[..mc];
    prof.lap(Part::LayerNorm);
    let fc = &mut io.fc[..mh];
    if io.fc_act.is_none() && d.fuses_mlp(m, c, h) {
        // Inference on a few rows with a threaded table: the MLP in one team call. Its hidden
        // activations are not kept (training, which needs them, takes the path below).
        let w = MlpWeights {
            w1: &b.fc.w,
            b1: &b.fc.b,
            w2: &b.fc2.w,
            b2: &b.fc2.b,
        };
        d.mlp(m, (c, h), ln2, w, fc, out)?;
        prof.lap(Part::MlpFused);
        return Ok(m);
    }
    d.matmul(&Gemm::new(m, c, h), 1.0, ln2, &b.fc.w, 0.0, fc)?;
    prof.lap(Part::MlpUpMatmul);
    // The up-projection's bias and the activation, fused: one pass over the hidden rows.
    // Kept apart, `fc` holds the product without its bias; the fused backward adds it again,
    // the same f32 sum, so the gradient is exactly the unfused one.
    let act: &[f32] = match io.fc_act {
        None => {
            d.bias_gelu_inplace(Rows::new(m, h), fc, &b.fc.b)?;
            fc
        }
        Some(act) => {
            let act = &mut act[..mh];
            d.bias_gelu(Rows::new(m, h), fc, &b.fc.b, act)?;
            act
        }
    };
    prof.lap(Part::Gelu);
    d.matmul(&Gemm::new(m, h, c), 1.0, act, &b.fc2.w, 0.0, out)?;
    prof.lap(Part::MlpDownMatmul);
    d.add_bias_inplace(rows, out, &b.fc2.b)?;
    prof.lap(Part::Adds);
    Ok(m)
}

impl Model {
    /// A model from its parts, with the embedded default dispatch table.
    pub fn new(config: Config, weights: Weights, tokenizer: Tokenizer) -> Result<Model> {
        config.validate()?;
        let expect = crate::weights::specs(&config);
        let got = weights.tensors();
        if expect.len() != got.len() {
            bail!(
                "weights have {} tensors, the config needs {}",
                got.len(),
                expect.len()
            );
        }
        for (s, t) in expect.iter().zip(got) {
            if s.len() != t.len() {
                bail!(
                    "tensor `{}` has {} elements, the config needs {} (shape {:?})",
                    s.name,
                    t.len(),
                    s.len(),
                    s.shape
                );
            }
        }
        tokenizer.validate()?;
        // A byte tokenizer with a smaller vocab is allowed (tests use tiny vocabularies: an
        // id out of range is an error at the forward); a BPE tokenizer must fit.
        if matches!(tokenizer, Tokenizer::Bpe { .. }) && tokenizer.vocab_size() > config.vocab_size
        {
            bail!(
                "the tokenizer has {} ids but the model's vocab is {}",
                tokenizer.vocab_size(),
                config.vocab_size
            );
        }
        Ok(Model {
            config,
            weights,
            tokenizer,
            dispatch: Dispatcher::embedded().clone(),
        })
    }

    /// A freshly initialised model (GPT-2 initialisation, seeded). The weights' size is
    /// checked against the memory limit first.
    pub fn init(config: Config, tokenizer: Tokenizer, seed: u64) -> Result<Model> {
        config.check_memory("the model's weights", 1)?;
        let w = Weights::init(&config, seed);
        Model::new(config, w, tokenizer)
    }

    /// Attaches a dispatcher (e.g. a tuned table from [`Dispatcher::from_file`]).
    pub fn with_dispatch(mut self, dispatch: Dispatcher) -> Model {
        self.dispatch = dispatch;
        self
    }

    /// Replaces the dispatcher in place.
    pub fn set_dispatch(&mut self, dispatch: Dispatcher) {
        self.dispatch = dispatch;
    }

    /// The dispatcher every op goes through.
    pub fn dispatch(&self) -> &Dispatcher {
        &self.dispatch
    }

    /// A KV cache (and forward scratch) for this model's full context (unchecked; see
    /// [`Model::try_session`]).
    pub fn session(&self) -> KvCache {
        KvCache::new(&self.config)
    }

    /// [`Model::session`] after checking the cache's size against the memory limit.
    pub fn try_session(&self) -> Result<KvCache> {
        KvCache::try_new(&self.config)
    }

    /// Runs `tokens` (in one batch) at the cache's next positions and returns the logits of
    /// the last one. Errors if the cache would overflow the context or an id is out of range.
    pub fn prefill<'c>(&self, cache: &'c mut KvCache, tokens: &[u32]) -> Result<&'c [f32]> {
        self.forward(cache, tokens, false, &mut NoProfile)?;
        let v = self.config.vocab_size;
        Ok(&cache.logits[..v])
    }

    /// Runs one token at the next position (allocation-free) and returns its logits.
    pub fn decode<'c>(&self, cache: &'c mut KvCache, token: u32) -> Result<&'c [f32]> {
        self.prefill(cache, std::slice::from_ref(&token))
    }

    /// [`Model::decode`] with the time of each op family added to `profile` (one clock
    /// reading per op; allocation-free like `decode`).
    pub fn decode_profiled<'c>(
        &self,
        cache: &'c mut KvCache,
        token: u32,
        profile: &mut Profile,
    ) -> Result<&'c [f32]> {
        self.forward(cache, std::slice::from_ref(&token), false, profile)?;
        let v = self.config.vocab_size;
        Ok(&cache.logits[..v])
    }

    /// The logits `[tokens.len(), vocab]` of every position of `tokens` (one forward pass
    /// from position 0, no cache kept).
    pub fn logits(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        let mut cache = self.try_session()?;
        self.forward(&mut cache, tokens, true, &mut NoProfile)?;
        Ok(cache.logits[..tokens.len() * self.config.vocab_size].to_vec())
    }

    /// The forward pass of `tokens` at positions `cache.pos..`; logits of every row when
    /// `all_logits`, else of the last row only (in `cache.logits[..vocab]`). `prof` is told
    /// which [`Part`] each stretch of work belongs to ([`NoProfile`]: compiled away).
    fn forward<P: Profiler>(
        &self,
        s: &mut KvCache,
        tokens: &[u32],
        all_logits: bool,
        prof: &mut P,
    ) -> Result<()> {
        let cfg = &self.config;
        let d = &self.dispatch;
        let w = &self.weights;
        let n = tokens.len();
        let p = s.pos;
        if n == 0 {
            bail!("forward: no tokens");
        }
        if p + n > s.capacity {
            bail!(
                "forward: {} cached + {} new positions exceed the context of {}",
                p,
                n,
                s.capacity
            );
        }
        let (c, h) = (cfg.width, cfg.mlp_hidden);
        let (nh, hd) = (cfg.heads, cfg.head_dim());
        let eps = cfg.layer_norm_eps;
        prof.begin();

        embed(d, cfg, w, tokens, p, &mut s.x[..n * c], prof)?;
        d.layernorm(
            Rows::new(n, c),
            eps,
            &s.x[..n * c],
            w.blocks[0].ln1.affine(),
            ln_rows(&mut s.ln, &mut s.mean, &mut s.rstd, n, c),
        )?;
        prof.lap(Part::LayerNorm);

        let total = p + n;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut m = n;
        for (l, b) in w.blocks.iter().enumerate() {
            // Past the cache append, the last layer of a pass that wants only the last row's
            // logits runs that row alone (trimmed prefill): the query row n - 1 attends to
            // every key, its output and residual go to row 0, and the rest of the layer runs
            // one row, which the LM head then reads.
            let first = if !all_logits && l + 1 == w.blocks.len() {
                n - 1
            } else {
                0
            };
            let (k, v) = (&mut s.k[l], &mut s.v[l]);
            let io = BlockBufs {
                ln1: &s.ln[..n * c],
                qkv: &mut s.qkv[..n * 3 * c],
                att: &mut s.att[..n * c],
                x: &mut s.x[..n * c],
                out: &mut s.proj[..n * c],
                mid: &mut s.x2[..n * c],
                ln2: ln_rows(&mut s.ln2, &mut s.mean, &mut s.rstd, n, c),
                fc: &mut s.fc[..n * h],
                fc_act: None,
            };
            m = block(d, cfg, b, n, io, prof, |qkv, att, x, prof| {
                // Append keys and values to the cache.
                for i in 0..n {
                    let row = &qkv[i * 3 * c..(i + 1) * 3 * c];
                    let t = p + i;
                    k[t * c..(t + 1) * c].copy_from_slice(&row[c..2 * c]);
                    v[t * c..(t + 1) * c].copy_from_slice(&row[2 * c..]);
                }
                prof.lap(Part::KvCopy);
                let m = n - first;
                // Fused attention: every head of the query rows `first..n` (positions
                // `p + first..p + n`) against the `total` cached keys and values.
                d.attention(
                    &Attention::new(m, p + first, nh, hd).with_strides(3 * c, c, c),
                    scale,
                    Qkv {
                        q: &qkv[first * 3 * c..n * 3 * c],
                        k: &k[..total * c],
                        v: &v[..total * c],
                    },
                    &mut att[..m * c],
                )?;
                if first > 0 {
                    x.copy_within(first * c..n * c, 0);
                }
                prof.lap(Part::Attention);
                Ok(m)
            })?;
            // Residual add and the next LayerNorm (the next block's first, or the final one).
            let norm = match w.blocks.get(l + 1) {
                Some(next) => &next.ln1,
                None => &w.lnf,
            };
            d.add_layernorm(
                Rows::new(m, c),
                eps,
                &s.proj[..m * c],
                &s.x2[..m * c],
                &mut s.x[..m * c],
                norm.affine(),
                ln_rows(&mut s.ln, &mut s.mean, &mut s.rstd, m, c),
            )?;
            prof.lap(Part::LayerNorm);
        }
        s.pos = total;

        // LM head (the last row is row 0 after a trimmed pass).
        lm_head(d, cfg, w, m, &s.ln[..m * c], &mut s.logits)?;
        prof.lap(Part::LmHead);
        prof.end();
        Ok(())
    }

    /// Encodes `prompt`, generates `n` tokens with `sampler` and returns the new ids.
    ///
    /// With [`Mode::KvCache`] the prompt is prefilled in one batch and each token is one
    /// cached row; when the cache reaches the context, its last half is prefilled again (a
    /// sliding window that moves by half a context at a time). With [`Mode::FullRecompute`]
    /// every token re-runs the last `context` tokens from scratch (the window slides by one).
    pub fn generate(
        &self,
        prompt: &[u32],
        n: usize,
        sampler: &mut Sampler,
        mode: Mode,
        mut on_token: impl FnMut(u32),
    ) -> Result<Vec<u32>> {
        if prompt.is_empty() {
            bail!("generate: the prompt is empty (give at least one token)");
        }
        let ctx = self.config.context;
        // The returned ids and the running sequence: checked before they are reserved.
        let total = prompt.len().checked_add(n).ok_or_else(|| {
            anyhow::anyhow!(
                "generate: {n} tokens after a prompt of {} overflow",
                prompt.len()
            )
        })?;
        backends::limits::check(
            &format!("a buffer for the ids of {n} generated tokens"),
            (n as u128) + (total as u128),
            std::mem::size_of::<u32>(),
        )?;
        let mut out = Vec::with_capacity(n);
        let mut cache = self.try_session()?;
        match mode {
            Mode::KvCache => {
                // The tokens so far (for re-prefilling when the context is full).
                let mut seq = Vec::with_capacity(total);
                seq.extend_from_slice(prompt);
                let start = prompt.len().saturating_sub(ctx);
                let mut logits = self.prefill(&mut cache, &seq[start..]).context("prefill")?;
                while out.len() < n {
                    let t = sampler.sample(logits);
                    out.push(t);
                    seq.push(t);
                    on_token(t);
                    if out.len() == n {
                        break;
                    }
                    if cache.len() >= ctx {
                        // Context full: keep the last half and prefill it again in one batch.
                        cache.reset();
                        let keep = (ctx / 2).max(1);
                        logits = self.prefill(&mut cache, &seq[seq.len() - keep..])?;
                    } else {
                        logits = self.decode(&mut cache, t)?;
                    }
                }
            }
            Mode::FullRecompute => {
                let mut seq = prompt.to_vec();
                for _ in 0..n {
                    let start = seq.len().saturating_sub(ctx);
                    cache.reset();
                    let logits = self.prefill(&mut cache, &seq[start..])?;
                    let t = sampler.sample(logits);
                    seq.push(t);
                    out.push(t);
                    on_token(t);
                }
            }
        }
        Ok(out)
    }

    /// The exact number of parameters.
    pub fn param_count(&self) -> usize {
        self.weights.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit patterns, so that NaN compares and -0 differs from 0.
    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    /// The trimmed forward (last row only past the last layer's cache append) against the
    /// full one: the same last-row logits within f32 rounding, the same cache bit for bit, from
    /// an empty cache and after a cached prefix.
    #[test]
    fn trimmed_prefill_matches_the_full_forward_and_caches_the_same() {
        let model = Model::init(Config::small(), Tokenizer::Bytes, 5).unwrap();
        let (ctx, c, vocab) = (
            model.config.context,
            model.config.width,
            model.config.vocab_size,
        );
        for len in [1, 2, 7, ctx - 1] {
            let tokens: Vec<u32> = (0..len).map(|i| (i * 37 + 11) as u32 % 256).collect();
            for prefix in [0, len / 2] {
                let (mut full, mut trim) = (model.session(), model.session());
                if prefix > 0 {
                    for s in [&mut full, &mut trim] {
                        model
                            .forward(s, &tokens[..prefix], false, &mut NoProfile)
                            .unwrap();
                    }
                }
                let rest = &tokens[prefix..];
                model
                    .forward(&mut full, rest, true, &mut NoProfile)
                    .unwrap();
                model
                    .forward(&mut trim, rest, false, &mut NoProfile)
                    .unwrap();
                let n = rest.len();
                let want = &full.logits[(n - 1) * vocab..n * vocab];
                let got = &trim.logits[..vocab];
                let scale = want.iter().fold(1.0f32, |m, x| m.max(x.abs()));
                for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
                    // The trimmed layer's MatMuls may be served by another kernel (m = 1
                    // instead of n) summing in another order: a few ulps of the largest
                    // logit, far below 1e-5 of it.
                    assert!(
                        (g - w).abs() <= 1e-5 * scale,
                        "len {len} prefix {prefix}: logit {j}: {g} vs {w}"
                    );
                }
                assert_eq!(full.pos, trim.pos);
                let used = full.pos * c;
                for l in 0..model.config.layers {
                    assert_eq!(bits(&full.k[l][..used]), bits(&trim.k[l][..used]), "k {l}");
                    assert_eq!(bits(&full.v[l][..used]), bits(&trim.v[l][..used]), "v {l}");
                }
            }
        }
    }
}
