//! Training forward (saving activations), cross-entropy and the backward of every op.
//!
//! A batch is `batch` independent sequences of `seq` tokens (positions 0..seq), `N = batch ·
//! seq` rows. Matrix products, GELU, softmax, LayerNorm and adds (and their backwards) run
//! through the model's dispatcher; the embedding gather/scatter, cross-entropy and bias
//! gradients (column sums) are computed here.
//!
//! Weight gradients **accumulate** into the `grads` passed in (zero them between steps with
//! [`Weights::zero`]), so micro-batches can be summed.

use crate::config::Config;
use crate::model::{block, embed, lm_head, BlockBufs, Model};
use crate::profile::NoProfile;
use crate::weights::{Dense, Norm, Weights};
use anyhow::{bail, Result};
use backends::Dispatcher;
use kernels::layernorm::{LayerNormOut, Saved};
use kernels::matmul::Gemm;
use kernels::Rows;

/// A LayerNorm's output, `[N, C]`, and the row statistics its backward reads, `[N]` each.
#[derive(Debug, Clone)]
struct Normed {
    y: Vec<f32>,
    mean: Vec<f32>,
    rstd: Vec<f32>,
}

impl Normed {
    /// Zeroed buffers for `n` rows of width `c`.
    fn new(n: usize, c: usize) -> Normed {
        Normed {
            y: vec![0.0; n * c],
            mean: vec![0.0; n],
            rstd: vec![0.0; n],
        }
    }

    /// The buffers as the LayerNorm kernels write them.
    fn out(&mut self) -> LayerNormOut<'_> {
        LayerNormOut {
            y: &mut self.y,
            mean: &mut self.mean,
            rstd: &mut self.rstd,
        }
    }

    /// LayerNorm of the `rows` of `x` with the parameters `p` into these buffers.
    fn forward(&mut self, d: &Dispatcher, rows: Rows, eps: f32, x: &[f32], p: &Norm) -> Result<()> {
        d.layernorm(rows, eps, x, p.affine(), self.out())?;
        Ok(())
    }

    /// What the backward of that LayerNorm reads: its input `x`, the gain of `p` and the
    /// statistics saved here.
    fn saved<'a>(&'a self, x: &'a [f32], p: &'a Norm) -> Saved<'a> {
        Saved {
            x,
            gamma: &p.g,
            mean: &self.mean,
            rstd: &self.rstd,
        }
    }
}

/// One layer's saved activations.
#[derive(Debug, Clone)]
struct LayerActs {
    /// Input of the block (the residual stream), `[N, C]`.
    res: Vec<f32>,
    ln1: Normed,
    qkv: Vec<f32>,
    /// Attention probabilities, `[batch, heads, seq, seq]`.
    probs: Vec<f32>,
    att: Vec<f32>,
    /// The residual stream after attention (LayerNorm 2's input).
    mid: Vec<f32>,
    ln2: Normed,
    /// The MLP's up-projection before its bias, and the GELU output, `[N, hidden]`.
    fc_pre: Vec<f32>,
    fc_act: Vec<f32>,
}

/// Saved activations and backward scratch for one batch shape.
#[derive(Debug, Clone)]
pub struct Workspace {
    batch: usize,
    seq: usize,
    layers: Vec<LayerActs>,
    /// The final residual stream (ln_f's input) and ln_f's output.
    res_f: Vec<f32>,
    lnf: Normed,
    /// Logits, then probabilities, then their gradient: `[N, vocab]`.
    logits: Vec<f32>,
    // Backward scratch.
    d_res: Vec<f32>,
    d_mid: Vec<f32>,
    d_ln: Vec<f32>,
    d_tmp: Vec<f32>,
    d_att: Vec<f32>,
    d_qkv: Vec<f32>,
    d_fc: Vec<f32>,
    d_fc_pre: Vec<f32>,
    d_p: Vec<f32>,
    d_z: Vec<f32>,
    tmp: Vec<f32>,
}

impl Workspace {
    /// f32 elements of a workspace for `batch` sequences of `seq` tokens of `cfg`, counted
    /// without overflow (`u128::MAX` if even that overflows): what
    /// [`Workspace::try_new`] checks against the memory limit.
    pub fn elements(cfg: &Config, batch: usize, seq: usize) -> u128 {
        let count = || -> Option<u128> {
            let (b, t) = (batch as u128, seq as u128);
            let (c, h, v) = (
                cfg.width as u128,
                cfg.mlp_hidden as u128,
                cfg.vocab_size as u128,
            );
            let (nh, l) = (cfg.heads as u128, cfg.layers as u128);
            let n = b.checked_mul(t)?;
            let nc = n.checked_mul(c)?;
            let nh_rows = n.checked_mul(h)?;
            // Per layer: res, ln1, att, mid, ln2 and qkv (8 rows of width), 4 statistics,
            // the attention probabilities, fc_pre and fc_act.
            let per_layer = [
                nc.checked_mul(8)?,
                n.checked_mul(4)?,
                b.checked_mul(nh)?.checked_mul(t)?.checked_mul(t)?,
                nh_rows.checked_mul(2)?,
            ]
            .iter()
            .try_fold(0u128, |a, x| a.checked_add(*x))?;
            // res_f, lnf, d_res, d_mid, d_ln, d_tmp, d_att, d_qkv (10 rows of width), the
            // final statistics, logits, d_fc and d_fc_pre, d_p and d_z, tmp.
            [
                l.checked_mul(per_layer)?,
                nc.checked_mul(10)?,
                n.checked_mul(2)?,
                n.checked_mul(v)?,
                nh_rows.checked_mul(2)?,
                t.checked_mul(t)?.checked_mul(2)?,
                n.checked_mul(c.max(h))?,
            ]
            .iter()
            .try_fold(0u128, |a, x| a.checked_add(*x))
        };
        count().unwrap_or(u128::MAX)
    }

    /// [`Workspace::new`] after checking that the shape is usable (batch and seq at least 1,
    /// seq within the context) and that its size fits the memory limit.
    pub fn try_new(cfg: &Config, batch: usize, seq: usize) -> Result<Workspace> {
        cfg.validate()?;
        if batch == 0 || seq == 0 {
            bail!("a training batch needs at least one sequence of at least one token (got {batch}×{seq})");
        }
        if seq > cfg.context {
            bail!("sequence length {seq} exceeds the context {}", cfg.context);
        }
        backends::limits::check_f32(
            &format!("training buffers for batches of {batch}×{seq} tokens"),
            &[Workspace::elements(cfg, batch, seq)],
        )?;
        Ok(Workspace::new(cfg, batch, seq))
    }

    /// Buffers for `batch` sequences of `seq` tokens of `cfg` (unchecked; see
    /// [`Workspace::try_new`]).
    pub fn new(cfg: &Config, batch: usize, seq: usize) -> Workspace {
        let n = batch * seq;
        let (c, h, v, nh) = (cfg.width, cfg.mlp_hidden, cfg.vocab_size, cfg.heads);
        let z = |len: usize| vec![0.0f32; len];
        Workspace {
            batch,
            seq,
            layers: (0..cfg.layers)
                .map(|_| LayerActs {
                    res: z(n * c),
                    ln1: Normed::new(n, c),
                    qkv: z(n * 3 * c),
                    probs: z(batch * nh * seq * seq),
                    att: z(n * c),
                    mid: z(n * c),
                    ln2: Normed::new(n, c),
                    fc_pre: z(n * h),
                    fc_act: z(n * h),
                })
                .collect(),
            res_f: z(n * c),
            lnf: Normed::new(n, c),
            logits: z(n * v),
            d_res: z(n * c),
            d_mid: z(n * c),
            d_ln: z(n * c),
            d_tmp: z(n * c),
            d_att: z(n * c),
            d_qkv: z(n * 3 * c),
            d_fc: z(n * h),
            d_fc_pre: z(n * h),
            d_p: z(seq * seq),
            d_z: z(seq * seq),
            tmp: z(n * c.max(h)),
        }
    }

    /// (batch, seq) this workspace was made for.
    pub fn shape(&self) -> (usize, usize) {
        (self.batch, self.seq)
    }
}

/// Column sums of the `rows × cols` matrix `dy`, accumulated into `db`.
fn add_colsum(dy: &[f32], cols: usize, db: &mut [f32]) {
    for row in dy.chunks_exact(cols) {
        for (d, &g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
}

/// The backward of a dense layer `y = x·W + b` over `n` rows (`x` n×`inp`, W `inp`×`out`),
/// given `dy`: `grads.b += Σ_rows dy`, `grads.w += xᵀ·dy`, `dx = dy·Wᵀ`.
#[allow(clippy::too_many_arguments)]
fn dense_backward(
    d: &Dispatcher,
    n: usize,
    inp: usize,
    out: usize,
    x: &[f32],
    w: &Dense,
    dy: &[f32],
    grads: &mut Dense,
    dx: &mut [f32],
) -> Result<()> {
    add_colsum(dy, out, &mut grads.b);
    d.matmul(
        &Gemm::new(inp, n, out).with_trans(true, false),
        1.0,
        x,
        dy,
        1.0,
        &mut grads.w,
    )?;
    d.matmul(
        &Gemm::new(n, out, inp).with_trans(false, true),
        1.0,
        dy,
        &w.w,
        0.0,
        dx,
    )?;
    Ok(())
}

/// The backward of a pre-norm residual's LayerNorm: `dx` (scratch) = LayerNorm's input
/// gradient from `d_ln`, its γ and β gradients accumulated into `grads`, then
/// `d_in = d_out + dx` (the residual branch and the normalised one).
#[allow(clippy::too_many_arguments)]
fn layernorm_residual_backward(
    d: &Dispatcher,
    rows: Rows,
    saved: Saved<'_>,
    d_ln: &[f32],
    dx: &mut [f32],
    grads: &mut Norm,
    d_out: &[f32],
    d_in: &mut [f32],
) -> Result<()> {
    d.layernorm_backward(rows, saved, d_ln, grads.grads(dx))?;
    d.add(d_out, dx, d_in)?;
    Ok(())
}

/// Mean cross-entropy (nats per token) of the batch, forward only.
pub fn loss(model: &Model, ws: &mut Workspace, tokens: &[u32], targets: &[u32]) -> Result<f32> {
    forward(model, ws, tokens, targets)
}

/// Forward and backward: returns the mean cross-entropy and accumulates the gradient of that
/// mean into `grads`.
pub fn forward_backward(
    model: &Model,
    ws: &mut Workspace,
    tokens: &[u32],
    targets: &[u32],
    grads: &mut Weights,
) -> Result<f32> {
    let loss = forward(model, ws, tokens, targets)?;
    backward(model, ws, tokens, targets, grads)?;
    Ok(loss)
}

/// The training forward: saves activations, leaves the softmax probabilities in
/// `ws.logits`, returns the mean cross-entropy.
fn forward(model: &Model, ws: &mut Workspace, tokens: &[u32], targets: &[u32]) -> Result<f32> {
    let cfg = &model.config;
    let d = model.dispatch();
    let w = &model.weights;
    let (bsz, t) = (ws.batch, ws.seq);
    let n = bsz * t;
    let (c, v, nh, hd) = (cfg.width, cfg.vocab_size, cfg.heads, cfg.head_dim());
    if n == 0 {
        bail!("batch: a workspace of {bsz}×{t} holds no tokens");
    }
    if tokens.len() != n || targets.len() != n {
        bail!(
            "batch: {} tokens and {} targets for a workspace of {bsz}×{t}",
            tokens.len(),
            targets.len()
        );
    }
    if t > cfg.context {
        bail!("sequence length {t} exceeds the context {}", cfg.context);
    }
    if let Some(&bad) = tokens.iter().chain(targets).find(|&&x| x as usize >= v) {
        bail!("token id {bad} is outside the vocabulary of {v}");
    }
    let eps = cfg.layer_norm_eps;
    let rows = Rows::new(n, c);
    let scale = 1.0 / (hd as f32).sqrt();

    // Embeddings into the first block's input, sequence by sequence (positions 0..t each).
    for (b, seq) in tokens.chunks_exact(t).enumerate() {
        let x = &mut ws.layers[0].res[b * t * c..(b + 1) * t * c];
        embed(d, cfg, w, seq, 0, x, &mut NoProfile)?;
    }

    for l in 0..cfg.layers {
        let blk = &w.blocks[l];
        let (cur, rest) = ws.layers.split_at_mut(l + 1);
        let a = &mut cur[l];
        a.ln1.forward(d, rows, eps, &a.res, &blk.ln1)?;
        let probs = &mut a.probs;
        let io = BlockBufs {
            ln1: &a.ln1.y,
            qkv: &mut a.qkv,
            att: &mut a.att,
            x: &mut a.res,
            out: &mut ws.tmp[..n * c],
            mid: &mut a.mid,
            ln2: a.ln2.out(),
            fc: &mut a.fc_pre,
            fc_act: Some(&mut a.fc_act),
        };
        // Attention unfused, head by head, keeping the probabilities for the backward.
        block(d, cfg, blk, n, io, &mut NoProfile, |qkv, att, _, _| {
            for b in 0..bsz {
                for hh in 0..nh {
                    let base = b * t * 3 * c + hh * hd;
                    let p = &mut probs[(b * nh + hh) * t * t..(b * nh + hh + 1) * t * t];
                    d.matmul(
                        &Gemm::new(t, hd, t)
                            .with_trans(false, true)
                            .with_strides(3 * c, 3 * c, t),
                        1.0,
                        &qkv[base..],
                        &qkv[base + c..],
                        0.0,
                        p,
                    )?;
                    d.softmax_causal_inplace(Rows::new(t, t), scale, 0, p)?;
                    d.matmul(
                        &Gemm::new(t, t, hd).with_strides(t, 3 * c, c),
                        1.0,
                        p,
                        &qkv[base + 2 * c..],
                        0.0,
                        &mut att[b * t * c + hh * hd..],
                    )?;
                }
            }
            Ok(n)
        })?;
        let next = match rest.first_mut() {
            Some(nx) => &mut nx.res,
            None => &mut ws.res_f,
        };
        d.add(&ws.tmp[..n * c], &a.mid, next)?;
    }

    ws.lnf.forward(d, rows, eps, &ws.res_f, &w.lnf)?;
    lm_head(d, cfg, w, n, &ws.lnf.y, &mut ws.logits)?;
    d.softmax_inplace(Rows::new(n, v), &mut ws.logits)?;
    let mut total = 0.0f64;
    for (i, &y) in targets.iter().enumerate() {
        // NaN stays NaN (`max` would hide it), so a diverged model reports a NaN loss.
        let p = ws.logits[i * v + y as usize];
        let p = if p.is_nan() {
            p
        } else {
            p.max(f32::MIN_POSITIVE)
        };
        total -= (p as f64).ln();
    }
    Ok((total / n as f64) as f32)
}

/// The backward of [`forward`] (which must have just run on the same batch).
fn backward(
    model: &Model,
    ws: &mut Workspace,
    tokens: &[u32],
    targets: &[u32],
    g: &mut Weights,
) -> Result<()> {
    let cfg = &model.config;
    let d = model.dispatch();
    let w = &model.weights;
    let (bsz, t) = (ws.batch, ws.seq);
    let n = bsz * t;
    let (c, h, v, nh, hd) = cfg.dims();
    let rows = Rows::new(n, c);
    let scale = 1.0 / (hd as f32).sqrt();

    // Cross-entropy: dlogits = (p - onehot) / N.
    let inv = 1.0 / n as f32;
    for (i, &y) in targets.iter().enumerate() {
        let row = &mut ws.logits[i * v..(i + 1) * v];
        row[y as usize] -= 1.0;
        row.iter_mut().for_each(|x| *x *= inv);
    }
    // LM head: dW += dlogitsᵀ·lnf, dlnf = dlogits·W.
    {
        let dhead = match &mut g.lm_head {
            Some(hd) => hd,
            None => &mut g.wte,
        };
        d.matmul(
            &Gemm::new(v, n, c).with_trans(true, false),
            1.0,
            &ws.logits,
            &ws.lnf.y,
            1.0,
            dhead,
        )?;
    }
    d.matmul(
        &Gemm::new(n, v, c),
        1.0,
        &ws.logits,
        w.head(),
        0.0,
        &mut ws.d_ln,
    )?;
    d.layernorm_backward(
        rows,
        ws.lnf.saved(&ws.res_f, &w.lnf),
        &ws.d_ln,
        g.lnf.grads(&mut ws.d_res),
    )?;

    for l in (0..cfg.layers).rev() {
        let blk = &w.blocks[l];
        let gb = &mut g.blocks[l];
        let a = &ws.layers[l];
        // MLP: out = mid + fc2(gelu(fc(ln2(mid)))); d_res holds d(out).
        dense_backward(
            d,
            n,
            h,
            c,
            &a.fc_act,
            &blk.fc2,
            &ws.d_res,
            &mut gb.fc2,
            &mut ws.d_fc,
        )?;
        d.bias_gelu_backward(
            Rows::new(n, h),
            &a.fc_pre,
            &blk.fc.b,
            &ws.d_fc,
            &mut ws.d_fc_pre,
        )?;
        dense_backward(
            d,
            n,
            c,
            h,
            &a.ln2.y,
            &blk.fc,
            &ws.d_fc_pre,
            &mut gb.fc,
            &mut ws.d_ln,
        )?;
        layernorm_residual_backward(
            d,
            rows,
            a.ln2.saved(&a.mid, &blk.ln2),
            &ws.d_ln,
            &mut ws.d_tmp,
            &mut gb.ln2,
            &ws.d_res,
            &mut ws.d_mid,
        )?;

        // Attention: mid = res + proj(att(ln1(res))); d_mid holds d(mid).
        dense_backward(
            d,
            n,
            c,
            c,
            &a.att,
            &blk.proj,
            &ws.d_mid,
            &mut gb.proj,
            &mut ws.d_att,
        )?;
        for b in 0..bsz {
            for hh in 0..nh {
                let base = b * t * 3 * c + hh * hd;
                let obase = b * t * c + hh * hd;
                let p = &a.probs[(b * nh + hh) * t * t..(b * nh + hh + 1) * t * t];
                // dP = dO·Vᵀ
                d.matmul(
                    &Gemm::new(t, hd, t)
                        .with_trans(false, true)
                        .with_strides(c, 3 * c, t),
                    1.0,
                    &ws.d_att[obase..],
                    &a.qkv[base + 2 * c..],
                    0.0,
                    &mut ws.d_p,
                )?;
                // dV = Pᵀ·dO
                d.matmul(
                    &Gemm::new(t, t, hd)
                        .with_trans(true, false)
                        .with_strides(t, c, 3 * c),
                    1.0,
                    p,
                    &ws.d_att[obase..],
                    0.0,
                    &mut ws.d_qkv[base + 2 * c..],
                )?;
                // dZ: gradient of the scaled, masked scores (masked entries have P = 0).
                d.softmax_backward(Rows::new(t, t), p, &ws.d_p, &mut ws.d_z)?;
                // dQ = scale·dZ·K, dK = scale·dZᵀ·Q
                d.matmul(
                    &Gemm::new(t, t, hd).with_strides(t, 3 * c, 3 * c),
                    scale,
                    &ws.d_z,
                    &a.qkv[base + c..],
                    0.0,
                    &mut ws.d_qkv[base..],
                )?;
                d.matmul(
                    &Gemm::new(t, t, hd)
                        .with_trans(true, false)
                        .with_strides(t, 3 * c, 3 * c),
                    scale,
                    &ws.d_z,
                    &a.qkv[base..],
                    0.0,
                    &mut ws.d_qkv[base + c..],
                )?;
            }
        }
        dense_backward(
            d,
            n,
            c,
            3 * c,
            &a.ln1.y,
            &blk.qkv,
            &ws.d_qkv,
            &mut gb.qkv,
            &mut ws.d_ln,
        )?;
        layernorm_residual_backward(
            d,
            rows,
            a.ln1.saved(&a.res, &blk.ln1),
            &ws.d_ln,
            &mut ws.d_tmp,
            &mut gb.ln1,
            &ws.d_mid,
            &mut ws.d_res,
        )?;
    }

    // Embeddings: scatter-add into the token and position rows.
    for (i, &tok) in tokens.iter().enumerate() {
        let (tok, pos) = (tok as usize, i % t);
        let dr = &ws.d_res[i * c..(i + 1) * c];
        for (x, &gv) in g.wte[tok * c..(tok + 1) * c].iter_mut().zip(dr) {
            *x += gv;
        }
        for (x, &gv) in g.wpe[pos * c..(pos + 1) * c].iter_mut().zip(dr) {
            *x += gv;
        }
    }
    Ok(())
}
