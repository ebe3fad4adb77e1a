//! `models`: generate text, inspect, benchmark and train the GPT-style models of this
//! workspace. Run `models --help` or `models <command> --help`.
//!
//! Exit status: 0 on success, 2 for a usage error (a flag's value or a combination of flags
//! that cannot work, as clap does for the errors it finds itself), 1 for any other failure.
//! Every error is one line on stderr naming the input at fault.

use anyhow::{Context, Result};
use backends::{Dispatcher, LoadOptions, Memory};
use clap::{Args, Parser, Subcommand};
use models::checkpoint::{self, Format};
use models::optim::AdamWConfig;
use models::train::{train, Existing, TrainOptions, MAX_LR, MAX_STEPS};
use models::{Config, Mode, Model, Sampler, UsageError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A small GPT-style language model whose every op runs through the kernel dispatcher.
///
/// Quick start (from the workspace root):
///
///   cargo run --release -p models -- generate --prompt "ROMEO:" --tokens 200
///
///   cargo run --release -p models -- info --preset small
///
///   cargo run --release -p models -- bench
///
///   cargo run --release -p models -- train --data models/data/tinyshakespeare.txt --preset small
///
/// Exit status: 0 success, 1 failure, 2 usage error.
#[derive(Parser)]
#[command(name = "models", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text from a prompt. The text alone goes to stdout (pipeable); statistics go
    /// to stderr.
    Generate(GenerateArgs),
    /// Print a checkpoint's or preset's config and exact parameter count (reads the config
    /// only; the weights are not loaded).
    Info(InfoArgs),
    /// Tokens per second of the small and medium presets: full recompute (the original
    /// study's method: 10-token prompt, 25 new tokens) and KV cache, under the naive
    /// kernels, the embedded default table and optionally a tuned table, side by side.
    Bench(BenchArgs),
    /// Train a model on a text file (the last 10 % is held out for validation), with live
    /// progress, and save checkpoints.
    Train(TrainArgs),
}

/// The memory limit for a command that allocates.
#[derive(Args, Clone)]
struct MemoryArgs {
    /// The most memory this command may plan to allocate (e.g. 512M, 16G, or bytes); larger
    /// models, caches and training buffers are refused before allocation. Default: the
    /// KERNELS_MAX_MEMORY environment variable, else 80 % of the available memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    max_memory: Option<String>,
}

impl MemoryArgs {
    /// Sets the process's memory limit (before anything is checked against it).
    fn apply(&self) -> Result<()> {
        if let Some(m) = &self.max_memory {
            backends::limits::set(m).map_err(|e| UsageError(format!("--max-memory: {e}")))?;
        }
        Ok(())
    }
}

/// Where the kernels come from.
#[derive(Args, Clone)]
struct DispatchArgs {
    /// A dispatch table (`dispatch.json` from `cargo run --release -p autotune`); the
    /// embedded default table serves when omitted.
    #[arg(long, value_name = "PATH")]
    dispatch: Option<PathBuf>,
    /// Load a dispatch table tuned on another machine (its choices may be slow here).
    #[arg(long)]
    allow_foreign_table: bool,
}

impl DispatchArgs {
    fn dispatcher(&self) -> Result<Dispatcher> {
        match &self.dispatch {
            None => Ok(Dispatcher::embedded().clone()),
            Some(p) => {
                let d = Dispatcher::from_file(
                    p,
                    LoadOptions {
                        allow_foreign: self.allow_foreign_table,
                    },
                )
                .with_context(|| format!("loading dispatch table {}", p.display()))?;
                print_warnings(&d);
                Ok(d)
            }
        }
    }
}

#[derive(Args)]
struct GenerateArgs {
    /// The text to continue (at least one character).
    #[arg(long, default_value = "ROMEO:\n")]
    prompt: String,
    /// How many tokens to generate (at least 1). Past the context, the KV cache keeps the
    /// last half of the window and prefills it again.
    #[arg(long, default_value_t = 200, value_parser = at_least_one, allow_negative_numbers = true)]
    tokens: usize,
    /// A checkpoint directory: this project's (config.json + model.safetensors) or a Hugging
    /// Face GPT-2 one. Default: the shipped small model trained on tiny Shakespeare, looked
    /// for beside the executable and in the current directory (or $MODELS_CHECKPOINT).
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    #[command(flatten)]
    dispatch: DispatchArgs,
    /// Sampling temperature (a finite number ≥ 0); 0 is greedy (always the most likely token).
    #[arg(long, default_value_t = 0.8, value_parser = temperature, allow_negative_numbers = true)]
    temperature: f32,
    /// Sample only among the K most likely tokens (0: all).
    #[arg(long, default_value_t = 40, allow_negative_numbers = true)]
    top_k: usize,
    /// Random seed: the same seed, prompt and settings give the same text.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Recompute the whole window for every token instead of using the KV cache (the
    /// original study's method; slower).
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    memory: MemoryArgs,
}

#[derive(Args)]
struct InfoArgs {
    /// A preset: small or medium.
    #[arg(long, conflicts_with = "checkpoint")]
    preset: Option<String>,
    /// A checkpoint directory (default: the shipped one when no preset is given).
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
}

/// The most repetitions `bench` accepts.
const MAX_REPS: usize = 10_000;

#[derive(Args)]
struct BenchArgs {
    /// Also measure under this tuned dispatch table.
    #[arg(long, value_name = "PATH")]
    dispatch: Option<PathBuf>,
    /// Load a table tuned on another machine.
    #[arg(long)]
    allow_foreign_table: bool,
    /// Print the results as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// Also measure with every op forced to this implementation family (single-threaded,
    /// pooled), e.g. `--forced avx512 --forced gemm`; repeatable. A family that cannot run
    /// on this CPU is an error.
    #[arg(long, value_name = "NAME")]
    forced: Vec<String>,
    /// Repetitions per measurement (the median is reported), 1 to 10000.
    #[arg(long, default_value_t = 5, value_parser = reps, allow_negative_numbers = true)]
    reps: usize,
    /// Presets to measure.
    #[arg(long, value_delimiter = ',', default_value = "small,medium")]
    presets: Vec<String>,
    #[command(flatten)]
    memory: MemoryArgs,
}

#[derive(Args)]
struct TrainArgs {
    /// The training text (its last 10 % is held out for validation).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// The model shape: small (the default) or medium (medium learns 256 BPE merges for its
    /// vocab of 512).
    #[arg(long, conflicts_with = "config")]
    preset: Option<String>,
    /// A JSON config file for any other shape.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to save checkpoints (saved at every evaluation and at the end, each save
    /// atomically replacing the previous one). An existing checkpoint there is refused
    /// unless --resume or --force is given.
    #[arg(long, value_name = "DIR", default_value = "checkpoints/run")]
    out: PathBuf,
    /// Continue training the checkpoint in --out: its weights, step count and optimiser
    /// state (its config and tokenizer; --steps is the total to reach). With the same flags
    /// as the run that made it, the result equals an uninterrupted run.
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Replace the checkpoint in --out with a new run (at its first save).
    #[arg(long)]
    force: bool,
    /// Optimiser steps of the schedule (1 to 2147483647).
    #[arg(long, default_value_t = 3000, value_parser = steps, allow_negative_numbers = true)]
    steps: usize,
    /// Stop after this many minutes even if steps remain (the schedule still assumes --steps).
    #[arg(long, value_name = "MINUTES", value_parser = minutes, allow_negative_numbers = true)]
    time_budget: Option<Duration>,
    /// Sequences per batch (at least 1).
    #[arg(long, default_value_t = 32, value_parser = at_least_one, allow_negative_numbers = true)]
    batch: usize,
    /// Tokens per sequence, 1 to the model's context (default: the context).
    #[arg(long, value_parser = at_least_one, allow_negative_numbers = true)]
    seq_len: Option<usize>,
    /// Peak learning rate (AdamW; linear warm-up, cosine decay to 10 %); above 0, at most 10.
    #[arg(long, default_value_t = 3e-3, value_parser = learning_rate, allow_negative_numbers = true)]
    lr: f32,
    /// Decoupled weight decay on matrices (≥ 0; lr × weight decay below 1).
    #[arg(long, default_value_t = 0.1, value_parser = non_negative, allow_negative_numbers = true)]
    weight_decay: f32,
    /// Warm-up steps.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Clip the gradient's global norm to this (> 0; inf: no clipping).
    #[arg(long, default_value_t = 1.0, value_parser = clip, allow_negative_numbers = true)]
    clip: f32,
    /// Evaluate (8 held-out batches) and save every N steps (0: only at the end).
    #[arg(long, default_value_t = 250)]
    eval_every: usize,
    #[arg(long, default_value_t = 1337)]
    seed: u64,
    #[command(flatten)]
    dispatch: DispatchArgs,
    /// Force one implementation family for every op (e.g. gemm, avx512, naive) instead of a
    /// table; pooled memory. A family that cannot run on this CPU is an error.
    #[arg(long, value_name = "NAME", conflicts_with = "dispatch")]
    implementation: Option<String>,
    /// Threads for --implementation (default 1).
    #[arg(long, requires = "implementation", value_parser = at_least_one, allow_negative_numbers = true)]
    threads: Option<usize>,
    #[command(flatten)]
    memory: MemoryArgs,
}

// Value parsers: a bad value is a clap usage error (exit status 2) naming the flag.

fn at_least_one(s: &str) -> std::result::Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n == 0 {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

fn steps(s: &str) -> std::result::Result<usize, String> {
    let n = at_least_one(s)?;
    if n > MAX_STEPS {
        return Err(format!("must be at most {MAX_STEPS}"));
    }
    Ok(n)
}

fn reps(s: &str) -> std::result::Result<usize, String> {
    let n = at_least_one(s)?;
    if n > MAX_REPS {
        return Err(format!("must be at most {MAX_REPS}"));
    }
    Ok(n)
}

fn finite(s: &str) -> std::result::Result<f32, String> {
    let x: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if !x.is_finite() {
        return Err("must be a finite number".into());
    }
    Ok(x)
}

fn temperature(s: &str) -> std::result::Result<f32, String> {
    let x = finite(s)?;
    if x < 0.0 {
        return Err("must be at least 0 (0: greedy)".into());
    }
    Ok(x)
}

fn learning_rate(s: &str) -> std::result::Result<f32, String> {
    let x = finite(s)?;
    if !(x > 0.0 && x <= MAX_LR) {
        return Err(format!("must be above 0 and at most {MAX_LR}"));
    }
    Ok(x)
}

fn non_negative(s: &str) -> std::result::Result<f32, String> {
    let x = finite(s)?;
    if x < 0.0 {
        return Err("must be at least 0".into());
    }
    Ok(x)
}

fn clip(s: &str) -> std::result::Result<f32, String> {
    let x: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if x.is_nan() || x <= 0.0 {
        return Err("must be above 0 (inf: no clipping)".into());
    }
    Ok(x)
}

fn minutes(s: &str) -> std::result::Result<Duration, String> {
    let x: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(x.is_finite() && x > 0.0) {
        return Err("must be a positive number of minutes".into());
    }
    Duration::try_from_secs_f64(x * 60.0).map_err(|_| "is too long".to_string())
}

fn parse_memory(s: &str) -> std::result::Result<String, String> {
    match backends::limits::parse_size(s) {
        Some(b) if b > 0 => Ok(s.to_string()),
        _ => Err("not a size (use e.g. 512M, 16G or a number of bytes above 0)".into()),
    }
}

fn main() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any other thread exists; restoring the default
    // disposition of SIGPIPE (which Rust's runtime sets to "ignore") only changes what a write
    // to a closed pipe does: the process ends quietly, as Unix tools do (`models info | head`),
    // instead of `println!` panicking on EPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Generate(a) => generate(a),
        Command::Info(a) => info(a),
        Command::Bench(a) => bench(a),
        Command::Train(a) => train_cmd(a),
    };
    if let Err(e) = r {
        eprintln!("error: {}", report(&e));
        std::process::exit(exit_code(&e));
    }
}

/// The error and its causes on one line, each cause once: a cause whose text an outer
/// message already includes (an error that prints its source itself) is not repeated.
fn report(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if c.is_empty() || msg.contains(&c) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&c);
    }
    msg
}

/// 2 for usage errors (anywhere in the chain), 1 for other failures.
fn exit_code(e: &anyhow::Error) -> i32 {
    let usage = e.chain().any(|c| {
        c.is::<UsageError>()
            || c.is::<backends::ForceError>()
            || matches!(
                c.downcast_ref::<backends::limits::LimitError>(),
                Some(backends::limits::LimitError::BadSetting { .. })
            )
    });
    if usage {
        2
    } else {
        1
    }
}

/// Prints a dispatcher's warnings to stderr, once.
fn print_warnings(d: &Dispatcher) {
    for w in d.warnings() {
        eprintln!("warning: {w}");
    }
}

/// A forced dispatcher that runs as named here, or a usage error saying why not.
fn forced(flag: &str, name: &str, threads: usize) -> Result<Dispatcher> {
    let d = Dispatcher::try_forced(name, Memory::Pooled, threads)
        .map_err(|e| UsageError(format!("{flag} {name}: {e}")))?;
    print_warnings(&d);
    Ok(d)
}

/// The checkpoint directory to use: the one given, else the shipped one.
fn checkpoint_dir(dir: Option<&Path>) -> Result<PathBuf> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => models::find_shipped_checkpoint(),
    }
}

fn generate(a: GenerateArgs) -> Result<()> {
    a.memory.apply()?;
    let dispatch = a.dispatch.dispatcher()?;
    if a.prompt.is_empty() {
        return Err(UsageError("--prompt is empty: give at least one character".into()).into());
    }
    let dir = checkpoint_dir(a.checkpoint.as_deref())?;
    let model = Model::load(&dir)?.with_dispatch(dispatch);
    let prompt = model.tokenizer.encode(a.prompt.as_bytes());
    let vocab = model.config.vocab_size;
    if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= vocab) {
        return Err(UsageError(format!(
            "--prompt: token {bad} (from the prompt's text) is outside the vocabulary of {vocab} of checkpoint {}",
            dir.display()
        ))
        .into());
    }
    let mut sampler = Sampler::new(a.temperature, a.top_k, a.seed).with_vocab(vocab);
    let mode = if a.no_cache {
        Mode::FullRecompute
    } else {
        Mode::KvCache
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut io_err = out.write_all(a.prompt.as_bytes()).err();
    let mut buf = Vec::new();
    let start = Instant::now();
    let ids = model.generate(&prompt, a.tokens, &mut sampler, mode, |t| {
        buf.clear();
        model.tokenizer.decode_into(t, &mut buf);
        if io_err.is_none() {
            if let Err(e) = out.write_all(&buf).and_then(|_| out.flush()) {
                io_err = Some(e);
            }
        }
    })?;
    let secs = start.elapsed().as_secs_f64();
    if let Some(e) = io_err {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        return Err(e).context("writing to stdout");
    }
    writeln!(out).context("writing to stdout")?;
    eprintln!(
        "{} tokens in {:.3} s: {:.1} tok/s ({}, prompt {} tokens)",
        ids.len(),
        secs,
        ids.len() as f64 / secs.max(1e-9),
        if a.no_cache {
            "full recompute"
        } else {
            "KV cache"
        },
        prompt.len()
    );
    Ok(())
}

/// A preset by name, unknown names being usage errors.
fn preset(name: &str) -> Result<Config> {
    Config::preset(name).map_err(|e| UsageError(format!("{e:#}")).into())
}

fn info(a: InfoArgs) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(p) = &a.preset {
        let cfg = preset(p)?;
        writeln!(out, "preset {p}")?;
        writeln!(out, "{}", serde_json::to_string_pretty(&cfg)?)?;
        writeln!(out, "parameters: {}", group(cfg.checked_param_count()?))?;
        return Ok(());
    }
    let dir = checkpoint_dir(a.checkpoint.as_deref())?;
    let h = checkpoint::inspect(&dir)?;
    writeln!(out, "checkpoint {}", dir.display())?;
    writeln!(out, "{}", serde_json::to_string_pretty(&h.config)?)?;
    writeln!(
        out,
        "parameters: {}",
        group(h.config.checked_param_count()?)
    )?;
    writeln!(
        out,
        "format: {}",
        match h.format {
            Format::Native => "this project's",
            Format::HuggingFace => "Hugging Face GPT-2",
        }
    )?;
    match &h.weights {
        (p, Some(size)) => writeln!(out, "weights: {} ({size} bytes)", p.display())?,
        (p, None) => writeln!(out, "weights: {} is missing", p.display())?,
    }
    match &h.tokenizer {
        Ok(models::Tokenizer::Bytes) => writeln!(out, "tokenizer: bytes (256 ids)")?,
        Ok(models::Tokenizer::Bpe { merges }) => writeln!(
            out,
            "tokenizer: byte-level BPE, 256 bytes + {} merges",
            merges.len()
        )?,
        Err(why) => writeln!(out, "tokenizer: none usable ({why})")?,
    }
    let tf = dir.join(checkpoint::TRAINING_FILE);
    if let Ok(text) = std::fs::read_to_string(&tf) {
        writeln!(out, "training ({}):\n{}", tf.display(), text.trim_end())?;
    }
    Ok(())
}

/// 470528 → "470,528".
fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn bench(a: BenchArgs) -> Result<()> {
    a.memory.apply()?;
    let mut presets = Vec::new();
    for p in &a.presets {
        presets.push((p.clone(), preset(p)?));
    }
    let mut tables = vec![
        (
            "naive".to_string(),
            Dispatcher::forced("naive", Memory::Direct, 1),
        ),
        ("default".to_string(), Dispatcher::embedded().clone()),
    ];
    if let Some(p) = &a.dispatch {
        let d = Dispatcher::from_file(
            p,
            LoadOptions {
                allow_foreign: a.allow_foreign_table,
            },
        )
        .with_context(|| format!("loading dispatch table {}", p.display()))?;
        print_warnings(&d);
        tables.push((format!("tuned ({})", p.display()), d));
    }
    for name in &a.forced {
        tables.push((format!("forced {name}"), forced("--forced", name, 1)?));
    }
    let results = models::bench::run(&presets, &tables, a.reps, !a.json)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&results)?)?;
    } else {
        write!(out, "{}", models::bench::table(&results))?;
    }
    Ok(())
}

fn train_cmd(a: TrainArgs) -> Result<()> {
    a.memory.apply()?;
    let given = match (&a.config, &a.preset) {
        (Some(p), _) => Some(Config::load(p)?),
        (None, Some(name)) => Some(preset(name)?),
        (None, None) => None,
    };
    // A resumed run keeps the checkpoint's shape; a shape given with --resume must match it.
    let config = if a.resume && checkpoint::holds_checkpoint(&a.out) {
        let (_, saved, _) = checkpoint::read_config(&a.out)?;
        if given.as_ref().is_some_and(|g| *g != saved) {
            return Err(UsageError(format!(
                "--resume: {} was trained with another config than the --preset/--config given; omit them to resume it",
                a.out.display()
            ))
            .into());
        }
        saved
    } else {
        given.unwrap_or_else(Config::small)
    };
    let dispatch = match &a.implementation {
        Some(name) => forced("--implementation", name, a.threads.unwrap_or(1))?,
        None => a.dispatch.dispatcher()?,
    };
    let mut opts = TrainOptions::new(a.data, config, a.out);
    opts.steps = a.steps;
    opts.time_budget = a.time_budget;
    opts.batch = a.batch;
    opts.seq_len = a.seq_len;
    opts.adamw = AdamWConfig {
        lr: a.lr,
        weight_decay: a.weight_decay,
        ..AdamWConfig::default()
    };
    opts.warmup = a.warmup;
    opts.clip = a.clip;
    opts.eval_every = a.eval_every;
    opts.seed = a.seed;
    opts.dispatch = dispatch;
    opts.existing = match (a.resume, a.force) {
        (true, _) => Existing::Resume,
        (_, true) => Existing::Replace,
        _ => Existing::Refuse,
    };
    train(&opts)?;
    Ok(())
}
