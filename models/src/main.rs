//! `models`: generate text, inspect, benchmark and train the GPT-style models of this
//! workspace. Run `models --help` or `models <command> --help`.

use anyhow::{bail, Context, Result};
use backends::{Dispatcher, LoadOptions, Memory};
use clap::{Args, Parser, Subcommand};
use models::checkpoint::TRAINING_FILE;
use models::optim::AdamWConfig;
use models::train::{train, TrainOptions};
use models::{Config, Mode, Model, Sampler};
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
    /// Print a model's config and exact parameter count.
    Info(InfoArgs),
    /// Tokens per second of the small and medium presets: full recompute (the original
    /// study's method: 10-token prompt, 25 new tokens) and KV cache, under the naive
    /// kernels, the embedded default table and optionally a tuned table, side by side.
    Bench(BenchArgs),
    /// Train a model on a text file (the last 10 % is held out for validation), with live
    /// progress, and save checkpoints.
    Train(TrainArgs),
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
            Some(p) => Dispatcher::from_file(
                p,
                LoadOptions {
                    allow_foreign: self.allow_foreign_table,
                },
            )
            .with_context(|| format!("loading dispatch table {}", p.display())),
        }
    }
}

#[derive(Args)]
struct GenerateArgs {
    /// The text to continue.
    #[arg(long, default_value = "ROMEO:\n")]
    prompt: String,
    /// How many tokens to generate. Past the context, the KV cache keeps the last half of the
    /// window and prefills it again.
    #[arg(long, default_value_t = 200)]
    tokens: usize,
    /// A checkpoint directory: this project's (config.json + model.safetensors) or a Hugging
    /// Face GPT-2 one. Default: the shipped small model trained on tiny Shakespeare.
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    #[command(flatten)]
    dispatch: DispatchArgs,
    /// Sampling temperature; 0 is greedy (always the most likely token).
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Sample only among the K most likely tokens (0: all).
    #[arg(long, default_value_t = 40)]
    top_k: usize,
    /// Random seed: the same seed, prompt and settings give the same text.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Recompute the whole window for every token instead of using the KV cache (the
    /// original study's method; slower).
    #[arg(long)]
    no_cache: bool,
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
    /// pooled), e.g. `--forced avx512 --forced gemm`; repeatable.
    #[arg(long, value_name = "NAME")]
    forced: Vec<String>,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Presets to measure.
    #[arg(long, value_delimiter = ',', default_value = "small,medium")]
    presets: Vec<String>,
}

#[derive(Args)]
struct TrainArgs {
    /// The training text (its last 10 % is held out for validation).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// The model shape: small or medium (medium learns 256 BPE merges for its vocab of 512).
    #[arg(long, default_value = "small")]
    preset: String,
    /// A JSON config file for any other shape (overrides --preset).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to save checkpoints (saved at every evaluation and at the end).
    #[arg(long, value_name = "DIR", default_value = "checkpoints/run")]
    out: PathBuf,
    /// Optimiser steps.
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Stop after this many minutes even if steps remain (the schedule still assumes --steps).
    #[arg(long, value_name = "MINUTES")]
    time_budget: Option<f64>,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Tokens per sequence (default: the model's context).
    #[arg(long)]
    seq_len: Option<usize>,
    /// Peak learning rate (AdamW; linear warm-up, cosine decay to 10 %).
    #[arg(long, default_value_t = 3e-3)]
    lr: f32,
    /// Decoupled weight decay on matrices.
    #[arg(long, default_value_t = 0.1)]
    weight_decay: f32,
    /// Warm-up steps.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Clip the gradient's global norm to this.
    #[arg(long, default_value_t = 1.0)]
    clip: f32,
    /// Evaluate (8 held-out batches) and save every N steps.
    #[arg(long, default_value_t = 250)]
    eval_every: usize,
    #[arg(long, default_value_t = 1337)]
    seed: u64,
    #[command(flatten)]
    dispatch: DispatchArgs,
    /// Force one implementation family for every op (e.g. gemm, avx512, naive) instead of a
    /// table; single-threaded, pooled memory.
    #[arg(long, value_name = "NAME", conflicts_with = "dispatch")]
    implementation: Option<String>,
    /// Threads for --implementation.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Generate(a) => generate(a),
        Command::Info(a) => info(a),
        Command::Bench(a) => bench(a),
        Command::Train(a) => train_cmd(a),
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn load_model(dir: Option<&Path>) -> Result<Model> {
    let dir = dir.map_or_else(
        || PathBuf::from(models::SHIPPED_CHECKPOINT),
        Path::to_path_buf,
    );
    Model::load(&dir).with_context(|| format!("loading checkpoint {}", dir.display()))
}

fn generate(a: GenerateArgs) -> Result<()> {
    let model = load_model(a.checkpoint.as_deref())?.with_dispatch(a.dispatch.dispatcher()?);
    let prompt = model.tokenizer.encode(a.prompt.as_bytes());
    if prompt.is_empty() {
        bail!("the prompt is empty: give at least one character with --prompt");
    }
    let mut sampler =
        Sampler::new(a.temperature, a.top_k, a.seed).with_vocab(model.config.vocab_size);
    let mode = if a.no_cache {
        Mode::FullRecompute
    } else {
        Mode::KvCache
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(a.prompt.as_bytes())?;
    let mut buf = Vec::new();
    let mut io_err = None;
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
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("writing to stdout");
        }
    }
    let _ = writeln!(out);
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

fn info(a: InfoArgs) -> Result<()> {
    let (what, cfg, tok) = match (&a.preset, &a.checkpoint) {
        (Some(p), _) => (format!("preset {p}"), Config::preset(p)?, None),
        (None, dir) => {
            let dir = dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(models::SHIPPED_CHECKPOINT));
            let m = load_model(Some(&dir))?;
            (
                format!("checkpoint {}", dir.display()),
                m.config.clone(),
                Some((m.tokenizer.clone(), dir)),
            )
        }
    };
    println!("{what}");
    println!("{}", serde_json::to_string_pretty(&cfg)?);
    println!("parameters: {}", group(cfg.param_count()));
    if let Some((t, dir)) = tok {
        match t {
            models::Tokenizer::Bytes => println!("tokenizer: bytes (256 ids)"),
            models::Tokenizer::Bpe { merges } => {
                println!(
                    "tokenizer: byte-level BPE, 256 bytes + {} merges",
                    merges.len()
                )
            }
        }
        let tf = dir.join(TRAINING_FILE);
        if let Ok(text) = std::fs::read_to_string(&tf) {
            println!("training ({}):\n{}", tf.display(), text.trim_end());
        }
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
        tables.push((format!("tuned ({})", p.display()), d));
    }
    for name in &a.forced {
        let known = backends::catalog()
            .variants()
            .iter()
            .any(|v| v.implementation == name);
        if !known {
            bail!("no implementation family named `{name}` in the catalog");
        }
        tables.push((
            format!("forced {name}"),
            Dispatcher::forced(name, Memory::Pooled, 1),
        ));
    }
    let mut presets = Vec::new();
    for p in &a.presets {
        presets.push((p.clone(), Config::preset(p)?));
    }
    let results = models::bench::run(&presets, &tables, a.reps.max(1), !a.json)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print!("{}", models::bench::table(&results));
    }
    Ok(())
}

fn train_cmd(a: TrainArgs) -> Result<()> {
    let config = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::preset(&a.preset)?,
    };
    let dispatch = match &a.implementation {
        Some(name) => {
            let known = backends::catalog()
                .variants()
                .iter()
                .any(|v| v.implementation == name);
            if !known {
                bail!("no implementation family named `{name}` in the catalog");
            }
            Dispatcher::forced(name, Memory::Pooled, a.threads.max(1))
        }
        None => a.dispatch.dispatcher()?,
    };
    let mut opts = TrainOptions::new(a.data, config, a.out);
    opts.steps = a.steps;
    opts.time_budget = a.time_budget.map(|m| Duration::from_secs_f64(m * 60.0));
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
    eprintln!(
        "training {} parameters on {} ({} steps of {}×{} tokens) into {}",
        group(opts.config.param_count()),
        opts.data.display(),
        opts.steps,
        opts.batch,
        opts.seq_len.unwrap_or(opts.config.context),
        opts.out.display()
    );
    train(&opts)?;
    Ok(())
}
