//! The training loop behind `models train`: random windows of a text file, AdamW with
//! warm-up and cosine decay, gradient clipping, a held-out split (the last 10 %), live
//! progress and checkpoints.

use crate::backward::{forward_backward, loss, Workspace};
use crate::checkpoint::{save, TrainingInfo};
use crate::config::Config;
use crate::model::Model;
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig};
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;
use anyhow::{bail, Context, Result};
use backends::Dispatcher;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Everything a training run needs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub config: Config,
    pub out: PathBuf,
    pub steps: usize,
    /// Stop early when this much time has passed (the checkpoint is still saved).
    pub time_budget: Option<Duration>,
    pub batch: usize,
    /// Tokens per training sequence (≤ context; the context when `None`).
    pub seq_len: Option<usize>,
    pub adamw: AdamWConfig,
    pub warmup: usize,
    /// Final learning rate as a fraction of the peak (cosine decay).
    pub min_lr_ratio: f32,
    pub clip: f32,
    pub eval_every: usize,
    /// Batches used by the periodic evaluation (the final one uses the whole split).
    pub eval_batches: usize,
    pub seed: u64,
    pub dispatch: Dispatcher,
    pub progress: bool,
}

impl TrainOptions {
    /// Defaults for `config` trained on `data`, saved to `out`.
    pub fn new(data: PathBuf, config: Config, out: PathBuf) -> TrainOptions {
        TrainOptions {
            data,
            config,
            out,
            steps: 3000,
            time_budget: None,
            batch: 32,
            seq_len: None,
            adamw: AdamWConfig::default(),
            warmup: 100,
            min_lr_ratio: 0.1,
            clip: 1.0,
            eval_every: 250,
            eval_batches: 8,
            seed: 1337,
            dispatch: Dispatcher::embedded().clone(),
            progress: true,
        }
    }
}

/// What a run achieved.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub info: TrainingInfo,
    pub model: Model,
}

/// The learning rate at `step` (0-based): linear warm-up, then cosine to `min_ratio·peak`.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f32, min_ratio: f32) -> f32 {
    if step < warmup {
        return peak * (step + 1) as f32 / warmup as f32;
    }
    let span = total.saturating_sub(warmup).max(1);
    let t = ((step - warmup) as f32 / span as f32).min(1.0);
    let cos = 0.5 * (1.0 + (std::f32::consts::PI * t).cos());
    peak * (min_ratio + (1.0 - min_ratio) * cos)
}

/// Mean loss over consecutive non-overlapping windows of `ids` (at most `max_batches`
/// batches; all when `None`): (nats per token, number of tokens scored).
pub fn evaluate(
    model: &Model,
    ws: &mut Workspace,
    ids: &[u32],
    max_batches: Option<usize>,
) -> Result<(f64, usize)> {
    let (batch, seq) = ws.shape();
    let windows = ids.len().saturating_sub(1) / seq;
    let batches = (windows / batch).min(max_batches.unwrap_or(usize::MAX));
    if batches == 0 {
        bail!(
            "the held-out split ({} tokens) is shorter than one batch of {batch}×{seq}",
            ids.len()
        );
    }
    let mut tokens = vec![0u32; batch * seq];
    let mut targets = vec![0u32; batch * seq];
    let mut total = 0.0f64;
    for bi in 0..batches {
        for r in 0..batch {
            let start = (bi * batch + r) * seq;
            tokens[r * seq..(r + 1) * seq].copy_from_slice(&ids[start..start + seq]);
            targets[r * seq..(r + 1) * seq].copy_from_slice(&ids[start + 1..start + seq + 1]);
        }
        total += loss(model, ws, &tokens, &targets)? as f64;
    }
    Ok((total / batches as f64, batches * batch * seq))
}

/// Trains a model as `opts` says, saving checkpoints to `opts.out`.
pub fn train(opts: &TrainOptions) -> Result<TrainReport> {
    let cfg = &opts.config;
    cfg.validate()?;
    let text = std::fs::read(&opts.data)
        .with_context(|| format!("reading training data {}", opts.data.display()))?;
    let split = text.len() * 9 / 10;
    let (train_text, val_text) = text.split_at(split);
    let tokenizer = if cfg.vocab_size > 256 {
        let t = Tokenizer::train_bpe(train_text, cfg.vocab_size - 256);
        eprintln!(
            "learned {} BPE merges on the training split",
            t.vocab_size() - 256
        );
        t
    } else {
        Tokenizer::Bytes
    };
    let train_ids = tokenizer.encode(train_text);
    let val_ids = tokenizer.encode(val_text);
    let seq = opts.seq_len.unwrap_or(cfg.context).min(cfg.context);
    if train_ids.len() < seq + 2 {
        bail!(
            "{}: too little text ({} tokens) for sequences of {seq}",
            opts.data.display(),
            train_ids.len()
        );
    }
    let bytes_per_token = val_text.len() as f64 / val_ids.len().max(1) as f64;

    let mut model =
        Model::init(cfg.clone(), tokenizer, opts.seed)?.with_dispatch(opts.dispatch.clone());
    let mut grads = Weights::zeros(cfg);
    let mut opt = AdamW::new(cfg, opts.adamw);
    let mut ws = Workspace::new(cfg, opts.batch, seq);
    let mut eval_ws = Workspace::new(cfg, opts.batch, seq);
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x5eed);
    let n = opts.batch * seq;
    let mut tokens = vec![0u32; n];
    let mut targets = vec![0u32; n];

    let bar = if opts.progress {
        ProgressBar::new(opts.steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} steps, ETA {eta}  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let dispatch_name = match opts.dispatch.source() {
        backends::dispatch::Source::Embedded => "embedded default table".to_string(),
        backends::dispatch::Source::File(p) => format!("table {p}"),
        backends::dispatch::Source::Forced(f) => format!("forced {f}"),
    };
    let start = Instant::now();
    let mut info = TrainingInfo {
        data: opts.data.display().to_string(),
        batch: opts.batch,
        seq_len: seq,
        dispatch: dispatch_name,
        ..TrainingInfo::default()
    };
    let mut smooth = None::<f32>;
    let mut last_val = None::<f32>;
    let mut step = 0;
    while step < opts.steps {
        if opts.time_budget.is_some_and(|b| start.elapsed() >= b) {
            bar.println(format!("time budget reached after {step} steps"));
            break;
        }
        for r in 0..opts.batch {
            let s = rng.random_range(0..train_ids.len() - seq - 1);
            tokens[r * seq..(r + 1) * seq].copy_from_slice(&train_ids[s..s + seq]);
            targets[r * seq..(r + 1) * seq].copy_from_slice(&train_ids[s + 1..s + seq + 1]);
        }
        grads.zero();
        let l = forward_backward(&model, &mut ws, &tokens, &targets, &mut grads)?;
        if !l.is_finite() {
            bail!("the loss diverged (became {l}) at step {step}");
        }
        clip_grad_norm(&mut grads, opts.clip);
        let lr = lr_at(
            step,
            opts.steps,
            opts.warmup,
            opts.adamw.lr,
            opts.min_lr_ratio,
        );
        opt.step(&mut model.weights, &grads, lr);
        step += 1;
        smooth = Some(smooth.map_or(l, |s| 0.95 * s + 0.05 * l));
        let secs = start.elapsed().as_secs_f64();
        let tps = (step * n) as f64 / secs.max(1e-9);
        bar.set_position(step as u64);
        bar.set_message(format!(
            "loss {:.3}  val {}  lr {lr:.2e}  {tps:.0} tok/s",
            smooth.unwrap_or(l),
            last_val.map_or("-".to_string(), |v| format!("{v:.3}")),
        ));
        info.train_loss = smooth.unwrap_or(l);
        if opts.eval_every > 0 && step % opts.eval_every == 0 && step < opts.steps {
            let (v, _) = evaluate(&model, &mut eval_ws, &val_ids, Some(opts.eval_batches))?;
            last_val = Some(v as f32);
            info.steps = step;
            info.tokens_seen = step * n;
            info.seconds = start.elapsed().as_secs_f64();
            save(&model, &opts.out, Some(&info))?;
        }
    }
    bar.finish_and_clear();
    info.steps = step;
    info.tokens_seen = step * n;
    info.seconds = start.elapsed().as_secs_f64();
    let (v, scored) = evaluate(&model, &mut eval_ws, &val_ids, None)?;
    info.val_loss = Some(v as f32);
    info.val_loss_per_byte = Some((v / bytes_per_token) as f32);
    eprintln!(
        "{step} steps in {:.1} s; train loss {:.4}; validation loss {:.4} nats/token ({:.4} nats/byte) over {scored} held-out tokens",
        info.seconds,
        info.train_loss,
        v,
        v / bytes_per_token
    );
    save(&model, &opts.out, Some(&info))?;
    eprintln!("saved {}", opts.out.display());
    Ok(TrainReport { info, model })
}
