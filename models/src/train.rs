//! The training loop behind `models train`: random windows of a text file, AdamW with
//! warm-up and cosine decay, gradient clipping, a held-out split (the last 10 %), live
//! progress and checkpoints.

use crate::backward::{forward_backward, loss, Workspace};
use crate::checkpoint::{self, TrainingInfo};
use crate::config::Config;
use crate::group;
use crate::model::Model;
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig};
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;
use crate::UsageError;
use anyhow::{bail, Context, Result};
use backends::Dispatcher;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What [`train`] does when its output directory already holds a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Existing {
    /// Refuse to start (a [`UsageError`]), so that a trained checkpoint is never lost.
    #[default]
    Refuse,
    /// Continue training it: its weights, step count and optimiser state (`--resume`).
    Resume,
    /// Start afresh and replace it at the first save (`--force`).
    Replace,
}

/// How [`train`] shows its progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A live progress bar (for a terminal).
    Bar,
    /// A plain line (step, loss, tokens/s, elapsed, ETA) whenever `every` has passed since
    /// the last one, and one at each evaluation: for logs and pipes, where a bar shows
    /// nothing until the end. `Duration::ZERO`: a line every step.
    Lines { every: Duration },
    /// Nothing but the start and end summaries.
    Off,
}

/// The largest `--steps` (AdamW's bias correction counts steps in an `i32`).
pub const MAX_STEPS: usize = i32::MAX as usize;
/// The largest peak learning rate accepted; far above any that trains.
pub const MAX_LR: f32 = 10.0;

/// Everything a training run needs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub config: Config,
    pub out: PathBuf,
    /// The steps of the schedule; a resumed run continues up to this total.
    pub steps: usize,
    /// Stop early when this much time has passed (the checkpoint is still saved).
    pub time_budget: Option<Duration>,
    /// Stop when this step is reached, as if interrupted (the schedule still assumes
    /// `steps`; the checkpoint is saved, and resuming continues it exactly).
    pub stop_at: Option<usize>,
    pub batch: usize,
    /// Tokens per training sequence (≤ context; the context when `None`).
    pub seq_len: Option<usize>,
    pub adamw: AdamWConfig,
    pub warmup: usize,
    /// Final learning rate as a fraction of the peak (cosine decay).
    pub min_lr_ratio: f32,
    pub clip: f32,
    /// Evaluate and save every this many steps (0: only at the end).
    pub eval_every: usize,
    /// Batches used by the periodic evaluation (the final one uses the whole split).
    pub eval_batches: usize,
    pub seed: u64,
    pub dispatch: Dispatcher,
    pub progress: Progress,
    /// What to do when `out` already holds a checkpoint.
    pub existing: Existing,
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
            stop_at: None,
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
            progress: Progress::Bar,
            existing: Existing::Refuse,
        }
    }

    /// The sequence length this run trains on.
    pub fn seq(&self) -> usize {
        self.seq_len.unwrap_or(self.config.context)
    }

    /// Checks every option that needs no data: a value that cannot train (a zero batch or
    /// sequence, a sequence longer than the context, a learning rate that is not a positive
    /// number of at most [`MAX_LR`], ...) is a [`UsageError`] naming the option and value.
    pub fn validate(&self) -> Result<()> {
        let usage = |m: String| Err(UsageError(m).into());
        self.config.validate()?;
        if self.steps == 0 || self.steps > MAX_STEPS {
            return usage(format!(
                "--steps {} must be between 1 and {MAX_STEPS}",
                self.steps
            ));
        }
        if self.batch == 0 {
            return usage("--batch 0: a batch needs at least one sequence".into());
        }
        let seq = self.seq();
        if seq == 0 {
            return usage("--seq-len 0: a sequence needs at least one token".into());
        }
        if seq > self.config.context {
            return usage(format!(
                "--seq-len {seq} exceeds the model's context of {}",
                self.config.context
            ));
        }
        if self.batch.checked_mul(seq).is_none() {
            return usage(format!(
                "--batch {} × --seq-len {seq} overflows the address space",
                self.batch
            ));
        }
        let hp = &self.adamw;
        if !(hp.lr.is_finite() && hp.lr > 0.0 && hp.lr <= MAX_LR) {
            return usage(format!(
                "--lr {}: the learning rate must be a positive number of at most {MAX_LR}",
                hp.lr
            ));
        }
        if !(hp.weight_decay.is_finite() && hp.weight_decay >= 0.0 && hp.lr * hp.weight_decay < 1.0)
        {
            return usage(format!(
                "--weight-decay {}: must be at least 0, with the learning rate times it below 1 (lr {})",
                hp.weight_decay, hp.lr
            ));
        }
        if !((0.0..1.0).contains(&hp.beta1) && (0.0..1.0).contains(&hp.beta2)) {
            return usage(format!(
                "AdamW betas ({}, {}) must lie in [0, 1)",
                hp.beta1, hp.beta2
            ));
        }
        if !(hp.eps.is_finite() && hp.eps > 0.0) {
            return usage(format!("AdamW eps {} must be positive and finite", hp.eps));
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return usage(format!(
                "the final learning-rate ratio {} must lie in [0, 1]",
                self.min_lr_ratio
            ));
        }
        if self.clip.is_nan() || self.clip <= 0.0 {
            return usage(format!(
                "--clip {}: the gradient-norm limit must be positive (inf: no clipping)",
                self.clip
            ));
        }
        if self.eval_batches == 0 {
            return usage("the periodic evaluation needs at least one batch".into());
        }
        if self.time_budget.is_some_and(|b| b.is_zero()) {
            return usage("--budget must be more than 0 seconds".into());
        }
        Ok(())
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

/// The step a resumed run starts at (0 for a fresh one).
fn start_step_of<A, B, C>(resumed: &Option<(A, B, usize, C)>) -> usize {
    resumed.as_ref().map_or(0, |r| r.2)
}

/// `secs` as `h:mm:ss`.
fn clock(secs: f64) -> String {
    let s = if secs.is_finite() {
        secs.max(0.0) as u64
    } else {
        0
    };
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Whether the validation loss `v` measured at `step` is a number: the [`diverged`] error
/// if not.
fn finite_val(v: f64, step: usize, opts: &TrainOptions, saved: Option<usize>) -> Result<()> {
    if v.is_finite() {
        return Ok(());
    }
    Err(diverged("validation loss", v as f32, step, opts, saved))
}

/// Why a run stopped because its numbers stopped being numbers.
fn diverged(
    what: &str,
    value: f32,
    step: usize,
    opts: &TrainOptions,
    saved: Option<usize>,
) -> anyhow::Error {
    let kept = match saved {
        Some(s) => format!(
            "the checkpoint saved at step {s} in {} is kept",
            opts.out.display()
        ),
        None if checkpoint::holds_checkpoint(&opts.out) => {
            format!("nothing was saved ({} is unchanged)", opts.out.display())
        }
        None => "nothing was saved".to_string(),
    };
    anyhow::anyhow!(
        "training diverged at step {step}: the {what} became {value} (learning rate {}; try a lower --lr); {kept}",
        opts.adamw.lr
    )
}

/// The batch positions of `step`: a generator seeded by the run's seed and the step alone,
/// so that a resumed run draws exactly the batches the uninterrupted one would have.
fn batch_rng(seed: u64, step: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ 0x5eed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Trains a model as `opts` says, saving checkpoints to `opts.out` (atomically, with the
/// optimiser state, at every evaluation and at the end).
///
/// Before any long work: the options are validated ([`TrainOptions::validate`]), an existing
/// checkpoint in `out` is refused, resumed or replaced as [`TrainOptions::existing`] says, the
/// output location is probed for writability, and the memory every buffer needs is checked
/// against the limit. A loss, gradient or weight that becomes non-finite stops the run with
/// an error and is never saved.
pub fn train(opts: &TrainOptions) -> Result<TrainReport> {
    opts.validate()?;
    let cfg = &opts.config;
    // Resolved once, so that saves go to the same place even if the run's own output
    // directory was the current one (`--out .`) and has been replaced since.
    let out_abs = std::path::absolute(&opts.out)
        .with_context(|| format!("resolving {}", opts.out.display()))?;
    let out = &out_abs;
    let usage = |m: String| -> anyhow::Error { UsageError(m).into() };
    let existing = checkpoint::holds_checkpoint(out);
    match (existing, opts.existing) {
        (true, Existing::Refuse) => {
            let step = checkpoint::read_training_info(out)
                .ok()
                .flatten()
                .map_or(String::new(), |i| format!(" (step {})", i.steps));
            return Err(usage(format!(
                "{} already holds a checkpoint{step}; pass --resume to continue training it or --force to replace it",
                out.display()
            )));
        }
        (false, Existing::Resume) => {
            return Err(usage(format!(
                "--resume: {} holds no checkpoint to resume",
                out.display()
            )))
        }
        _ => {}
    }
    crate::files::check_writable(out)?;
    checkpoint::check_replaceable(out).map_err(|e| usage(format!("{e:#}")))?;

    // The resumed state: model, optimiser, steps and the record so far.
    let resumed = if opts.existing == Existing::Resume {
        let model = checkpoint::load(out)
            .with_context(|| format!("loading {} to resume it", out.display()))?;
        if model.config != *cfg {
            return Err(usage(format!(
                "--resume: {} has a different config than the one given ({})",
                out.display(),
                serde_json::to_string(&model.config)?
            )));
        }
        let info = checkpoint::read_training_info(out)?.unwrap_or_default();
        let opt = checkpoint::load_optimizer(out, cfg, opts.adamw)?;
        let step = match &opt {
            Some(o) => o.steps() as usize,
            None => info.steps,
        };
        if step >= opts.steps {
            return Err(usage(format!(
                "--resume: {} is already at step {step}, not below --steps {}; give a larger --steps to train further",
                out.display(),
                opts.steps
            )));
        }
        if opt.is_none() {
            eprintln!(
                "warning: {} has no optimiser state; AdamW's moments start from zero at step {step} (the run is not an exact continuation)",
                out.display()
            );
        }
        Some((model, opt, step, info))
    } else {
        None
    };

    let seq = opts.seq();
    let n = opts.batch * seq;
    // Everything held at once: weights, gradients and two moments, a save's buffers (up to
    // four copies), the training and evaluation workspaces, the token buffers.
    backends::limits::check_f32(
        &format!(
            "training {} parameters in batches of {}×{seq}",
            cfg.param_count(),
            opts.batch
        ),
        &[
            cfg.weight_elements().saturating_mul(8),
            Workspace::elements(cfg, opts.batch, seq).saturating_mul(2),
            (n as u128) * 2,
        ],
    )?;
    let data_len = crate::files::metadata(&opts.data, "training data")?.len();
    // The text, its token ids (two copies while BPE merges are applied) for both splits.
    backends::limits::check(
        &format!("the training data {}", opts.data.display()),
        u128::from(data_len) * 9,
        1,
    )?;
    let text = crate::files::read(&opts.data, "training data")?;
    let split = text.len() * 9 / 10;
    let (train_text, val_text) = text.split_at(split);
    let tokenizer = match &resumed {
        Some((m, ..)) => m.tokenizer.clone(),
        None if cfg.vocab_size > 256 => {
            let t = Tokenizer::train_bpe(train_text, cfg.vocab_size - 256);
            eprintln!(
                "learned {} BPE merges on the training split",
                t.vocab_size() - 256
            );
            t
        }
        None => Tokenizer::Bytes,
    };
    let train_ids = tokenizer.encode(train_text);
    let val_ids = tokenizer.encode(val_text);
    if train_ids.len() < seq + 2 {
        bail!(
            "{}: too little text ({} tokens in the training split) for sequences of {seq}",
            opts.data.display(),
            train_ids.len()
        );
    }
    if val_ids.len() < n + 1 {
        bail!(
            "{}: the held-out 10 % ({} tokens) is shorter than one evaluation batch of {}×{seq}; give more text or a smaller --batch/--seq-len",
            opts.data.display(),
            val_ids.len(),
            opts.batch
        );
    }
    let bytes_per_token = val_text.len() as f64 / val_ids.len().max(1) as f64;
    let dispatch_name = match opts.dispatch.source() {
        backends::dispatch::Source::Embedded => "embedded default table".to_string(),
        backends::dispatch::Source::File(p) => format!("table {p}"),
        backends::dispatch::Source::Forced(f) => format!("forced {f}"),
    };
    eprintln!(
        "training {} parameters on {} ({} steps of {}×{seq} tokens{}) into {} (dispatch: {dispatch_name})",
        group(cfg.param_count()),
        opts.data.display(),
        opts.steps,
        opts.batch,
        if start_step_of(&resumed) > 0 {
            format!(", resuming at step {}", start_step_of(&resumed))
        } else {
            String::new()
        },
        out.display()
    );

    let (model, opt, start_step, prev) = match resumed {
        Some((m, o, s, i)) => (m, o, s, Some(i)),
        None => (
            Model::init(cfg.clone(), tokenizer, opts.seed)?,
            None,
            0,
            None,
        ),
    };
    let mut model = model.with_dispatch(opts.dispatch.clone());
    let mut opt = opt.unwrap_or_else(|| AdamW::new(cfg, opts.adamw));
    opt.hp = opts.adamw;
    let mut grads = Weights::zeros(cfg);
    let mut ws = Workspace::new(cfg, opts.batch, seq);
    let mut eval_ws = Workspace::new(cfg, opts.batch, seq);
    let mut tokens = vec![0u32; n];
    let mut targets = vec![0u32; n];

    let bar = if opts.progress == Progress::Bar {
        ProgressBar::new(opts.steps as u64)
    } else {
        ProgressBar::hidden()
    };
    let line_every = match opts.progress {
        Progress::Lines { every } => Some(every),
        _ => None,
    };
    let mut last_line: Option<Instant> = None;
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} steps, ETA {eta}  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position(start_step as u64);
    let start = Instant::now();
    let (prev_tokens, prev_seconds) = prev
        .as_ref()
        .map_or((0, 0.0), |i| (i.tokens_seen, i.seconds));
    let mut info = TrainingInfo {
        data: opts.data.display().to_string(),
        schedule_steps: opts.steps,
        batch: opts.batch,
        seq_len: seq,
        dispatch: dispatch_name,
        train_loss: prev.as_ref().map_or(0.0, |i| i.train_loss),
        ..TrainingInfo::default()
    };
    // The running totals a save and the final record carry (a resumed run adds its own).
    let set_progress = |info: &mut TrainingInfo, step: usize| {
        info.steps = step;
        info.tokens_seen = prev_tokens + (step - start_step) * n;
        info.seconds = prev_seconds + start.elapsed().as_secs_f64();
    };
    // An evaluation's held-out loss: per token, per byte, and over how many tokens.
    let set_val = |info: &mut TrainingInfo, v: f64, scored| {
        info.val_loss = Some(v as f32);
        info.val_loss_per_byte = Some((v / bytes_per_token) as f32);
        info.val_tokens = scored;
    };
    let mut smooth = None::<f32>;
    let mut last_val = None::<f32>;
    let mut last_saved = prev.as_ref().map(|_| start_step);
    let mut step = start_step;
    let stop = opts.stop_at.map_or(opts.steps, |s| s.min(opts.steps));
    while step < opts.steps {
        if opts.time_budget.is_some_and(|b| start.elapsed() >= b) {
            let m = format!(
                "time budget of {} s reached after {step} steps",
                opts.time_budget.map_or(0.0, |b| b.as_secs_f64())
            );
            // A hidden bar prints nothing, not even this.
            if opts.progress == Progress::Bar {
                bar.println(m);
            } else {
                eprintln!("{m}");
            }
            break;
        }
        if step >= stop {
            break;
        }
        let mut rng = batch_rng(opts.seed, step);
        for r in 0..opts.batch {
            let s = rng.random_range(0..train_ids.len() - seq - 1);
            tokens[r * seq..(r + 1) * seq].copy_from_slice(&train_ids[s..s + seq]);
            targets[r * seq..(r + 1) * seq].copy_from_slice(&train_ids[s + 1..s + seq + 1]);
        }
        grads.zero();
        let l = forward_backward(&model, &mut ws, &tokens, &targets, &mut grads)?;
        if !l.is_finite() {
            bar.finish_and_clear();
            return Err(diverged("loss", l, step, opts, last_saved));
        }
        let norm = clip_grad_norm(&mut grads, opts.clip);
        if !norm.is_finite() {
            bar.finish_and_clear();
            return Err(diverged("gradient norm", norm, step, opts, last_saved));
        }
        let lr = lr_at(
            step,
            opts.steps,
            opts.warmup,
            opts.adamw.lr,
            opts.min_lr_ratio,
        );
        opt.step(&mut model.weights, &grads, lr);
        if let Some((name, _, x)) = model.weights.first_non_finite(cfg) {
            bar.finish_and_clear();
            return Err(diverged(
                &format!("weight tensor `{name}`"),
                x,
                step,
                opts,
                last_saved,
            ));
        }
        step += 1;
        smooth = Some(smooth.map_or(l, |s| 0.95 * s + 0.05 * l));
        let secs = start.elapsed().as_secs_f64();
        let tps = ((step - start_step) * n) as f64 / secs.max(1e-9);
        bar.set_position(step as u64);
        bar.set_message(format!(
            "loss {:.3}  val {}  lr {lr:.2e}  {tps:.0} tok/s",
            smooth.unwrap_or(l),
            last_val.map_or("-".to_string(), |v| format!("{v:.3}")),
        ));
        info.train_loss = smooth.unwrap_or(l);
        let evaluating = opts.eval_every > 0 && step % opts.eval_every == 0 && step < stop;
        // A plain progress line when its interval has passed (evaluations print their own).
        let line = |val: Option<f32>| {
            // Time left: the steps still to run at this run's pace, capped by the budget.
            let mut eta = (stop - step) as f64 * secs / (step - start_step) as f64;
            if let Some(b) = opts.time_budget {
                eta = eta.min((b.as_secs_f64() - secs).max(0.0));
            }
            format!(
                "step {step}/{}  loss {:.4}{}  lr {lr:.2e}  {tps:.0} tok/s  elapsed {}  eta {}",
                opts.steps,
                smooth.unwrap_or(l),
                val.map_or(String::new(), |v| format!("  val {v:.4}")),
                clock(secs),
                clock(eta)
            )
        };
        if let Some(every) = line_every {
            if !evaluating && last_line.is_none_or(|t| t.elapsed() >= every) {
                eprintln!("{}", line(None));
                last_line = Some(Instant::now());
            }
        }
        if evaluating {
            let (v, scored) = evaluate(&model, &mut eval_ws, &val_ids, Some(opts.eval_batches))?;
            if let Err(e) = finite_val(v, step, opts, last_saved) {
                bar.finish_and_clear();
                return Err(e);
            }
            last_val = Some(v as f32);
            // The record of this save is complete: the periodic estimate of the held-out loss.
            set_val(&mut info, v, scored);
            set_progress(&mut info, step);
            checkpoint::save_with(&model, out, Some(&info), Some(&opt))?;
            last_saved = Some(step);
            if line_every.is_some() {
                eprintln!("{}  saved", line(last_val));
                last_line = Some(Instant::now());
            }
        }
    }
    bar.finish_and_clear();
    set_progress(&mut info, step);
    let (v, scored) = evaluate(&model, &mut eval_ws, &val_ids, None)?;
    finite_val(v, step, opts, last_saved)?;
    set_val(&mut info, v, scored);
    eprintln!(
        "{step} steps in {:.1} s; train loss {:.4}; validation loss {:.4} nats/token ({:.4} nats/byte) over {scored} held-out tokens",
        info.seconds,
        info.train_loss,
        v,
        v / bytes_per_token
    );
    checkpoint::save_with(&model, out, Some(&info), Some(&opt))?;
    eprintln!("saved {}", out.display());
    Ok(TrainReport { info, model })
}
