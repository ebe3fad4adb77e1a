//! `models`: generate text, inspect, benchmark and train the GPT-style models of this
//! workspace. Run `models --help` or `models <command> --help`.
//!
//! Exit status: 0 on success, 2 for a usage error (a flag's value or a combination of flags
//! that cannot work, as clap does for the errors it finds itself), 1 for any other failure.
//! Every error is one line on stderr naming the input at fault.

use anyhow::{Context, Result};
use backends::dispatch::Source;
use backends::table::TableError;
use backends::{Dispatcher, LoadOptions, Memory};
use clap::{Args, Parser, Subcommand};
use models::bench::{self, Candidate, Families};
use models::checkpoint::{self, Format};
use models::group;
use models::optim::AdamWConfig;
use models::train::{train, Existing, Progress, TrainOptions, MAX_LR, MAX_STEPS};
use models::{Config, Mode, Model, Sampler, UsageError};
use serde::Serialize;
use std::io::{IsTerminal, Write};
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
///   cargo run --release -p models -- bench --preset small --svg models-bench.svg
///
///   cargo run --release -p models -- train --data models/data/tinyshakespeare.txt --preset small
///
/// Common flags: --implementation NAME (force a family), --threads N, --preset NAME,
/// --dispatch PATH (a tuned table), --allow-foreign, --json, --json-out PATH, --budget SECONDS.
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
    /// Generate text from a prompt. The text alone goes to stdout (pipeable); the dispatch
    /// table that served, its warnings and the statistics go to stderr.
    Generate(GenerateArgs),
    /// Print a checkpoint's or preset's config, exact parameter count, tensor shapes and the
    /// dispatch table that would serve (reads the config only; the weights are not loaded).
    Info(InfoArgs),
    /// Tokens per second of the small and medium presets under the embedded default table,
    /// every forced implementation family at every thread count (and any --dispatch tables):
    /// full recompute and KV cache over the whole call (the original study's method: 10-token
    /// prompt, 25 greedy tokens), KV prefill and per-token decode, training steps per
    /// second, the fraction of the memory-bandwidth bound, the best fixed family, each
    /// table's ratio to the best of everything else, a per-op breakdown of a decode step,
    /// and an SVG chart.
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

/// Where the kernels come from: the embedded default table, a table file, or one forced
/// implementation family.
#[derive(Args, Clone)]
struct DispatchArgs {
    /// A dispatch table (`dispatch.json` from `cargo run --release -p autotune`); the
    /// embedded default table serves when neither this nor --implementation is given.
    #[arg(long, value_name = "PATH", conflicts_with = "implementation")]
    dispatch: Option<PathBuf>,
    /// Load the --dispatch table even if it was tuned on another machine (its choices may be
    /// slow here).
    #[arg(long, requires = "dispatch")]
    allow_foreign: bool,
    /// Force every op to one implementation family (e.g. avx512, gemm, naive) with pooled
    /// memory. A family that cannot run on this CPU is an error.
    #[arg(long, value_name = "NAME")]
    implementation: Option<String>,
    /// Threads for --implementation (default 1).
    #[arg(long, value_name = "N", requires = "implementation", value_parser = at_least_one, allow_negative_numbers = true)]
    threads: Option<usize>,
}

impl DispatchArgs {
    /// The dispatcher the flags name (warnings of a forced family are not printed here).
    fn dispatcher(&self) -> Result<Dispatcher> {
        if let Some(name) = &self.implementation {
            return forced(name, self.threads.unwrap_or(1));
        }
        match &self.dispatch {
            None => Ok(Dispatcher::embedded().clone()),
            Some(p) => load_table(p, self.allow_foreign),
        }
    }
}

/// Loads a table file; one from another machine without --allow-foreign is a usage error
/// saying to pass it.
fn load_table(p: &Path, allow_foreign: bool) -> Result<Dispatcher> {
    match Dispatcher::from_file(p, LoadOptions { allow_foreign }) {
        Ok(d) => Ok(d),
        Err(TableError::Foreign {
            path,
            theirs,
            their_cpu,
            ours,
        }) => Err(UsageError(format!(
            "{}: tuned on another machine (fingerprint {theirs}, {their_cpu}; this one is {ours}); retune here (cargo run --release -p autotune) or pass --allow-foreign to load it anyway",
            path.display()
        ))
        .into()),
        Err(e) => Err(e).with_context(|| format!("loading dispatch table {}", p.display())),
    }
}

/// What served: "embedded default table", "table PATH" or "forced IMPL/MEMORY/tN".
fn describe(d: &Dispatcher) -> String {
    match d.source() {
        Source::Embedded => "embedded default table".into(),
        Source::File(p) => format!("table {p}"),
        Source::Forced(f) => format!("forced {f}"),
    }
}

/// Warnings not yet printed: a table file's were printed by the loader as it bound them.
fn unprinted_warnings(d: &Dispatcher) -> &[String] {
    match d.source() {
        Source::File(_) => &[],
        _ => d.warnings(),
    }
}

/// JSON: printed instead of the text (`--json`) and/or written to a file (`--json-out`).
#[derive(Args, Clone)]
struct JsonArgs {
    /// Print JSON on stdout instead of the text report.
    #[arg(long)]
    json: bool,
    /// Also write the JSON to PATH (atomically: a temporary file renamed into place).
    #[arg(long, value_name = "PATH")]
    json_out: Option<PathBuf>,
}

impl JsonArgs {
    /// Checks, before any long work, that --json-out can be written.
    fn check(&self) -> Result<()> {
        if let Some(p) = &self.json_out {
            check_output("--json-out", p)?;
        }
        Ok(())
    }

    /// Prints `text` or the JSON of `value` to stdout, and writes the JSON to --json-out.
    fn emit(&self, value: &impl Serialize, text: impl FnOnce() -> String) -> Result<()> {
        let json = serde_json::to_string_pretty(value)?;
        if let Some(p) = &self.json_out {
            backends::table::write_atomic(p, format!("{json}\n").as_bytes())
                .with_context(|| format!("writing {}", p.display()))?;
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if self.json {
            writeln!(out, "{json}")?;
        } else {
            write!(out, "{}", text())?;
        }
        out.flush()?;
        Ok(())
    }
}

/// An output file given by `flag`: not a directory, and its directory writable.
fn check_output(flag: &str, p: &Path) -> Result<()> {
    if p.is_dir() {
        return Err(UsageError(format!(
            "{flag} {}: is a directory; give a file path",
            p.display()
        ))
        .into());
    }
    models::files::check_writable(p).with_context(|| format!("{flag} {}", p.display()))
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
    #[arg(long, value_name = "NAME", conflicts_with = "checkpoint")]
    preset: Option<String>,
    /// A checkpoint directory (default: the shipped one when no preset is given).
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// The dispatch table to report (what generate with the same flags would run on).
    #[command(flatten)]
    dispatch: DispatchArgs,
    #[command(flatten)]
    json: JsonArgs,
}

/// The most repetitions `bench` accepts.
const MAX_REPS: usize = 10_000;

#[derive(Args)]
struct BenchArgs {
    /// Forced implementation families to measure, comma-separated, or `all`: every family of
    /// the catalog at every --threads count, those that cannot run here skipped with a note
    /// (a family named here that cannot run is an error).
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        value_delimiter = ',',
        default_value = "all"
    )]
    implementation: Vec<String>,
    /// Thread counts of the forced families, comma-separated (default: every count the
    /// catalog offers on this machine).
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',', value_parser = at_least_one, allow_negative_numbers = true)]
    threads: Vec<usize>,
    /// Also measure under this dispatch table (repeatable); the embedded default is always
    /// measured.
    #[arg(long, value_name = "PATH")]
    dispatch: Vec<PathBuf>,
    /// Load --dispatch tables tuned on another machine.
    #[arg(long, requires = "dispatch")]
    allow_foreign: bool,
    /// Presets to measure, comma-separated.
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        value_delimiter = ',',
        default_value = "small,medium"
    )]
    preset: Vec<String>,
    /// Repetitions per measurement (the median is reported), 1 to 10000.
    #[arg(long, default_value_t = 5, value_parser = reps, allow_negative_numbers = true)]
    reps: usize,
    /// Skip the training-step measurement (one forward + backward of 8 sequences of the full
    /// context per repetition; the slowest part for the naive and tiled families).
    #[arg(long)]
    no_train: bool,
    /// Where to write the chart (SVG, atomically).
    #[arg(long, value_name = "PATH", default_value = "models-bench.svg")]
    svg: PathBuf,
    #[command(flatten)]
    json: JsonArgs,
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
    /// Stop after this many seconds even if steps remain (the schedule still assumes --steps;
    /// the checkpoint is saved and evaluated as at the end).
    #[arg(long, value_name = "SECONDS", value_parser = seconds, allow_negative_numbers = true)]
    budget: Option<Duration>,
    /// Print a plain progress line (step, loss, tokens/s, elapsed, ETA) every SECONDS (0:
    /// every step) instead of the progress bar. Default: the bar on a terminal, else a line
    /// every 10 s.
    #[arg(long, value_name = "SECONDS", value_parser = non_negative_seconds, allow_negative_numbers = true)]
    log_every: Option<Duration>,
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

/// A count from 1 to `max`.
fn count_up_to(s: &str, max: usize) -> std::result::Result<usize, String> {
    let n = at_least_one(s)?;
    if n > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(n)
}

fn steps(s: &str) -> std::result::Result<usize, String> {
    count_up_to(s, MAX_STEPS)
}

fn reps(s: &str) -> std::result::Result<usize, String> {
    count_up_to(s, MAX_REPS)
}

fn finite(s: &str) -> std::result::Result<f32, String> {
    let x: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if !x.is_finite() {
        return Err("must be a finite number".into());
    }
    Ok(x)
}

/// A finite number of at least 0; below 0 the error says `why`.
fn finite_non_negative(s: &str, why: &str) -> std::result::Result<f32, String> {
    let x = finite(s)?;
    if x < 0.0 {
        return Err(why.into());
    }
    Ok(x)
}

fn temperature(s: &str) -> std::result::Result<f32, String> {
    finite_non_negative(s, "must be at least 0 (0: greedy)")
}

fn learning_rate(s: &str) -> std::result::Result<f32, String> {
    let x = finite(s)?;
    if !(x > 0.0 && x <= MAX_LR) {
        return Err(format!("must be above 0 and at most {MAX_LR}"));
    }
    Ok(x)
}

fn non_negative(s: &str) -> std::result::Result<f32, String> {
    finite_non_negative(s, "must be at least 0")
}

fn clip(s: &str) -> std::result::Result<f32, String> {
    let x: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if x.is_nan() || x <= 0.0 {
        return Err("must be above 0 (inf: no clipping)".into());
    }
    Ok(x)
}

fn seconds(s: &str) -> std::result::Result<Duration, String> {
    let x: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(x.is_finite() && x > 0.0) {
        return Err("must be a positive number of seconds".into());
    }
    Duration::try_from_secs_f64(x).map_err(|_| "is too long".to_string())
}

fn non_negative_seconds(s: &str) -> std::result::Result<Duration, String> {
    let x: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err("must be a number of seconds, at least 0".into());
    }
    Duration::try_from_secs_f64(x).map_err(|_| "is too long".to_string())
}

fn parse_memory(s: &str) -> std::result::Result<String, String> {
    match backends::limits::parse_size(s) {
        Some(b) if b > 0 => Ok(s.to_string()),
        _ => Err("not a size (use e.g. 512M, 16G or a number of bytes above 0)".into()),
    }
}

fn main() {
    // A closed pipe (`models info | head`) ends the process quietly, as Unix tools do.
    backends::cli_args::reset_sigpipe();
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

/// Prints the warnings of `d` the loader did not print already.
fn print_warnings(d: &Dispatcher) {
    for w in unprinted_warnings(d) {
        eprintln!("warning: {w}");
    }
}

/// A forced dispatcher that runs as named here, or a usage error saying why not.
fn forced(name: &str, threads: usize) -> Result<Dispatcher> {
    Dispatcher::try_forced(name, Memory::Pooled, threads)
        .map_err(|e| UsageError(format!("--implementation {name}: {e}")).into())
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
    // Which table serves, once everything is checked (a table file's warnings were printed
    // as it loaded).
    eprintln!("dispatch: {}", describe(model.dispatch()));
    print_warnings(model.dispatch());
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

/// `models info --json`.
#[derive(Serialize)]
struct InfoJson {
    /// The preset named, or null for a checkpoint.
    preset: Option<String>,
    /// The checkpoint directory, or null for a preset.
    checkpoint: Option<String>,
    /// `native` or `hugging_face` (checkpoints only).
    format: Option<&'static str>,
    config: Config,
    parameters: usize,
    /// Every tensor's name and shape, as the config implies (omitted past 100,000 tensors).
    tensors: Option<Vec<TensorJson>>,
    /// The weights file and its size in bytes (null: missing), checkpoints only.
    weights: Option<WeightsJson>,
    /// `bytes`, `bpe` (with its merges) or `none` (with the reason), checkpoints only.
    tokenizer: Option<TokenizerJson>,
    /// `training.json`, when present and readable.
    training: Option<checkpoint::TrainingInfo>,
    dispatch: DispatchJson,
}

#[derive(Serialize)]
struct TensorJson {
    name: String,
    shape: Vec<usize>,
    elements: usize,
}

#[derive(Serialize)]
struct WeightsJson {
    path: String,
    bytes: Option<u64>,
}

#[derive(Serialize)]
struct TokenizerJson {
    kind: &'static str,
    ids: Option<usize>,
    merges: Option<usize>,
    error: Option<String>,
}

#[derive(Serialize)]
struct DispatchJson {
    /// `embedded`, `file` or `forced`.
    source: &'static str,
    /// As generate reports it: "embedded default table", "table PATH", "forced NAME".
    description: String,
    warnings: Vec<String>,
}

/// The most tensors `info --json` lists one by one.
const MAX_LISTED_TENSORS: u128 = 100_000;

fn info(a: InfoArgs) -> Result<()> {
    a.json.check()?;
    let d = a.dispatch.dispatcher()?;
    let dispatch = DispatchJson {
        source: match d.source() {
            Source::Embedded => "embedded",
            Source::File(_) => "file",
            Source::Forced(_) => "forced",
        },
        description: describe(&d),
        warnings: d.warnings().to_vec(),
    };
    let tensors = |cfg: &Config| {
        (cfg.tensor_count() <= MAX_LISTED_TENSORS).then(|| {
            models::weights::specs(cfg)
                .into_iter()
                .map(|t| TensorJson {
                    elements: t.len(),
                    name: t.name,
                    shape: t.shape,
                })
                .collect()
        })
    };
    let dispatch_lines = |j: &DispatchJson| {
        let mut t = format!("dispatch: {}\n", j.description);
        for w in &j.warnings {
            t += &format!("dispatch warning: {w}\n");
        }
        t
    };
    if let Some(p) = &a.preset {
        let cfg = preset(p)?;
        let n = cfg.checked_param_count()?;
        let j = InfoJson {
            preset: Some(p.clone()),
            checkpoint: None,
            format: None,
            tensors: tensors(&cfg),
            config: cfg,
            parameters: n,
            weights: None,
            tokenizer: None,
            training: None,
            dispatch,
        };
        return a.json.emit(&j, || {
            format!(
                "preset {p}\n{}\nparameters: {}\n{}",
                serde_json::to_string_pretty(&j.config).unwrap_or_default(),
                group(n),
                dispatch_lines(&j.dispatch)
            )
        });
    }
    let dir = checkpoint_dir(a.checkpoint.as_deref())?;
    let h = checkpoint::inspect(&dir)?;
    let n = h.config.checked_param_count()?;
    let tf = dir.join(checkpoint::TRAINING_FILE);
    let training_text = std::fs::read_to_string(&tf).ok();
    let j = InfoJson {
        preset: None,
        checkpoint: Some(dir.display().to_string()),
        format: Some(match h.format {
            Format::Native => "native",
            Format::HuggingFace => "hugging_face",
        }),
        tensors: tensors(&h.config),
        config: h.config.clone(),
        parameters: n,
        weights: Some(WeightsJson {
            path: h.weights.0.display().to_string(),
            bytes: h.weights.1,
        }),
        tokenizer: Some(match &h.tokenizer {
            Ok(models::Tokenizer::Bytes) => TokenizerJson {
                kind: "bytes",
                ids: Some(256),
                merges: None,
                error: None,
            },
            Ok(models::Tokenizer::Bpe { merges }) => TokenizerJson {
                kind: "bpe",
                ids: Some(256 + merges.len()),
                merges: Some(merges.len()),
                error: None,
            },
            Err(why) => TokenizerJson {
                kind: "none",
                ids: None,
                merges: None,
                error: Some(why.clone()),
            },
        }),
        training: h.training.clone(),
        dispatch,
    };
    a.json.emit(&j, || {
        let mut t = format!(
            "checkpoint {}\n{}\nparameters: {}\n",
            dir.display(),
            serde_json::to_string_pretty(&h.config).unwrap_or_default(),
            group(n)
        );
        t += &format!(
            "format: {}\n",
            match h.format {
                Format::Native => "this project's",
                Format::HuggingFace => "Hugging Face GPT-2",
            }
        );
        match &h.weights {
            (p, Some(size)) => t += &format!("weights: {} ({size} bytes)\n", p.display()),
            (p, None) => t += &format!("weights: {} is missing\n", p.display()),
        }
        match &h.tokenizer {
            Ok(models::Tokenizer::Bytes) => t += "tokenizer: bytes (256 ids)\n",
            Ok(models::Tokenizer::Bpe { merges }) => {
                t += &format!(
                    "tokenizer: byte-level BPE, 256 bytes + {} merges\n",
                    merges.len()
                )
            }
            Err(why) => t += &format!("tokenizer: none usable ({why})\n"),
        }
        if let Some(text) = &training_text {
            t += &format!("training ({}):\n{}\n", tf.display(), text.trim_end());
        }
        t + &dispatch_lines(&j.dispatch)
    })
}

fn bench(a: BenchArgs) -> Result<()> {
    a.memory.apply()?;
    let mut presets: Vec<(String, Config)> = Vec::new();
    for p in &a.preset {
        if !presets.iter().any(|(n, _)| n == p) {
            presets.push((p.clone(), preset(p)?));
        }
    }
    let mut candidates = vec![Candidate::embedded()];
    for p in &a.dispatch {
        let d = load_table(p, a.allow_foreign)?;
        candidates.push(Candidate::file(&p.display().to_string(), d));
    }
    let families = Families::parse(&a.implementation);
    let threads = (!a.threads.is_empty()).then_some(a.threads.as_slice());
    let (forced, skipped) = bench::forced_candidates(&families, threads)?;
    candidates.extend(forced);
    // Outputs are checked before the minutes of measuring.
    check_output("--svg", &a.svg)?;
    a.json.check()?;
    for k in &skipped {
        eprintln!("note: skipping {}: {}", k.name, k.reason);
    }
    for c in &candidates {
        for w in unprinted_warnings(&c.dispatcher) {
            eprintln!("warning: {}: {w}", c.name);
        }
    }
    let report = bench::run(
        &presets,
        &candidates,
        skipped,
        a.reps,
        !a.no_train,
        |line| eprintln!("{line}"),
    )?;
    let svg = bench::chart::svg(&report)?;
    backends::table::write_atomic(&a.svg, svg.as_bytes())
        .with_context(|| format!("writing the chart {}", a.svg.display()))?;
    eprintln!("chart: {}", a.svg.display());
    a.json.emit(&report, || bench::text(&report))
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
    let dispatch = a.dispatch.dispatcher()?;
    if dispatch.source() != &Source::Embedded {
        print_warnings(&dispatch);
    }
    let mut opts = TrainOptions::new(a.data, config, a.out);
    opts.steps = a.steps;
    opts.time_budget = a.budget;
    opts.progress = match a.log_every {
        Some(every) => Progress::Lines { every },
        None if std::io::stderr().is_terminal() => Progress::Bar,
        None => Progress::Lines {
            every: Duration::from_secs(10),
        },
    };
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
