//! The profiler: the study's scenarios run through a dispatcher as named scopes, written as
//! versioned JSON (`"format": "kernel-profile"`, `"version": 1`) and Markdown.
//!
//! Every scenario is one top-level scope with three children: `setup` (random inputs),
//! `warmup` (one untimed-for-comparison call) and `run` (the measured calls). The hot-path
//! table ranks scopes by self time.
//!
//! Test-only switch: `EXPERIMENTS_SLOW_SCOPE=NAME[,NAME…]` repeats the work of every `run`
//! call of those scenarios three times (a deliberately slowed variant, so that `compare`
//! can be shown to flag it). The switch is recorded in the profile's parameters.

use crate::alloc_counter;
use crate::report::{markdown_table, now_rfc3339};
use crate::scope::{Profiler, ScopeStats};
use crate::study;
use anyhow::{bail, Context, Result};
use backends::machine::Machine;
use backends::timing::{fmt_bytes, fmt_ns_precise};
use backends::{Dispatcher, Memory, Op};
use kernels::gelu::GeluKind;
use kernels::matmul::Gemm;
use kernels::Rows;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::path::Path;

/// The `format` field of a profile file.
pub const FORMAT: &str = "kernel-profile";
/// The `version` field this build writes and reads.
pub const VERSION: u32 = 1;
/// The environment variable of the deliberately slowed variant.
pub const SLOW_ENV: &str = "EXPERIMENTS_SLOW_SCOPE";
/// How many times a slowed scenario repeats each run's work.
pub const SLOW_FACTOR: usize = 3;

/// The parameters that describe *how* a run was taken, as opposed to the code it measured:
/// two profiles whose settings differ are not comparable (`compare` refuses them unless told
/// otherwise). Each is `(key in "parameters", what it is)`. Every profile this build writes
/// records all of them (`runs` is `"default"` without `--runs`, `kernels_disable` is `"none"`
/// without `KERNELS_DISABLE`); older profiles may lack some, which `compare` reports as
/// unknown. The machine fingerprint and allocation counting are settings too, kept in their
/// own fields. The slow switch ([`SLOW_ENV`]) is not a setting: it stands for a code change.
pub const SETTINGS: [(&str, &str); 6] = [
    ("quick", "--quick"),
    ("runs", "--runs"),
    ("scenarios", "--scenarios"),
    ("dispatch", "--dispatch"),
    ("build", "the build (debug or release)"),
    ("kernels_disable", "KERNELS_DISABLE"),
];

/// The tool that wrote a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

/// A profile file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub format: String,
    pub version: u32,
    pub generator: Generator,
    /// When the run started (RFC 3339).
    pub timestamp: String,
    pub machine: Machine,
    /// How the run was configured (free-form: dispatcher, scenarios, runs, build, ...).
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Wall time of the whole run.
    pub wall_ns: u64,
    /// Whether allocation counts were measured (the counting allocator was installed).
    pub allocations_counted: bool,
    pub scopes: Vec<ScopeStats>,
}

impl Profile {
    /// Reads and checks a profile file; errors name the file.
    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the file", path.display()))?;
        Profile::parse(&text, path)
    }

    /// Parses and checks profile JSON; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Profile> {
        let value: serde_json::Value = serde_json::from_str(text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        let format = value.get("format").and_then(|f| f.as_str());
        if format != Some(FORMAT) {
            bail!(
                "{}: not a profile (format is {}, expected \"{FORMAT}\")",
                path.display(),
                format.map_or("missing".to_string(), |f| format!("\"{f}\""))
            );
        }
        let version = value.get("version").and_then(|v| v.as_u64());
        if version != Some(VERSION as u64) {
            bail!(
                "{}: profile version {} is not supported (this build reads version {VERSION})",
                path.display(),
                version.map_or("missing".to_string(), |v| v.to_string())
            );
        }
        let p: Profile = serde_json::from_value(value)
            .with_context(|| format!("{}: malformed profile", path.display()))?;
        for s in &p.scopes {
            if s.calls == 0 || !s.mean_ns.is_finite() || !s.median_ns.is_finite() {
                bail!(
                    "{}: scope `{}` has no calls or a non-finite time",
                    path.display(),
                    s.name
                );
            }
        }
        Ok(p)
    }

    /// The scope named `name`.
    pub fn scope(&self, name: &str) -> Option<&ScopeStats> {
        self.scopes.iter().find(|s| s.name == name)
    }

    /// Writes the JSON to `path` and the Markdown beside it (same name, `.md`), each
    /// atomically (a temporary file, then a rename); errors name the file.
    pub fn write(&self, path: &Path) -> Result<std::path::PathBuf> {
        let json = self.to_json()?;
        crate::guard::write_file(path, (json + "\n").as_bytes())?;
        let md = Profile::markdown_path(path);
        crate::guard::write_file(&md, self.markdown().as_bytes())?;
        Ok(md)
    }

    /// The profile as the JSON [`Profile::write`] writes (pretty-printed, no final newline).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Where [`Profile::write`] puts the Markdown beside `path`.
    pub fn markdown_path(path: &Path) -> std::path::PathBuf {
        path.with_extension("md")
    }

    /// The hot-path table: the `n` scopes with the most self time.
    pub fn hot_path(&self, n: usize) -> String {
        let mut by_self: Vec<&ScopeStats> = self.scopes.iter().collect();
        by_self.sort_by_key(|s| std::cmp::Reverse(s.self_ns));
        let mut rows = vec![vec![
            "#".to_string(),
            "scope".into(),
            "self".into(),
            "% wall".into(),
            "calls".into(),
            "mean".into(),
            "allocs".into(),
            "alloc bytes".into(),
        ]];
        for (i, s) in by_self.iter().take(n).enumerate() {
            rows.push(vec![
                (i + 1).to_string(),
                s.name.clone(),
                fmt_ns_precise(s.self_ns as f64),
                format!("{:.1}", 100.0 * s.self_share),
                s.calls.to_string(),
                fmt_ns_precise(s.mean_ns),
                self.allocs_cell(s.self_allocs),
                self.bytes_cell(s.self_alloc_bytes),
            ]);
        }
        markdown_table(&rows)
    }

    fn allocs_cell(&self, n: u64) -> String {
        if self.allocations_counted {
            n.to_string()
        } else {
            "n/m".into()
        }
    }

    fn bytes_cell(&self, n: u64) -> String {
        if self.allocations_counted {
            fmt_bytes(n as f64)
        } else {
            "n/m".into()
        }
    }

    /// The whole report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("# Kernel profile\n\n");
        s.push_str(&format!(
            "- written by {} {} at {}\n- machine: {} ({}, {} threads, fingerprint `{}`)\n- wall time: {}\n",
            self.generator.name,
            self.generator.version,
            self.timestamp,
            self.machine.cpu,
            self.machine.arch,
            self.machine.threads,
            self.machine.fingerprint,
            fmt_ns_precise(self.wall_ns as f64),
        ));
        for (k, v) in &self.parameters {
            s.push_str(&format!("- {k}: {}\n", plain(v)));
        }
        if !self.allocations_counted {
            s.push_str("- allocations: not measured (counting allocator not installed; n/m)\n");
        }
        s.push_str("\n## Hot path (by self time)\n\n");
        s.push_str(&self.hot_path(10));
        s.push_str("\n## Scopes\n\nSelf time excludes child scopes; % wall is total time over the run's wall time; allocations include children.\n\n");
        let mut rows = vec![vec![
            "scope".to_string(),
            "calls".into(),
            "total".into(),
            "self".into(),
            "mean".into(),
            "min".into(),
            "max".into(),
            "% wall".into(),
            "allocs".into(),
            "alloc bytes".into(),
        ]];
        for sc in &self.scopes {
            rows.push(vec![
                format!("{}{}", "  ".repeat(sc.depth), sc.name),
                sc.calls.to_string(),
                fmt_ns_precise(sc.total_ns as f64),
                fmt_ns_precise(sc.self_ns as f64),
                fmt_ns_precise(sc.mean_ns),
                fmt_ns_precise(sc.min_ns as f64),
                fmt_ns_precise(sc.max_ns as f64),
                format!("{:.1}", 100.0 * sc.share),
                self.allocs_cell(sc.allocs),
                self.bytes_cell(sc.alloc_bytes),
            ]);
        }
        s.push_str(&markdown_table(&rows));
        s
    }
}

/// A JSON value as plain text (strings without quotes).
pub fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The body of a custom scenario: it opens its own child scopes.
pub type Body = Box<dyn Fn(&Profiler, &Dispatcher) -> Result<()>>;

/// What a scenario does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Work {
    /// n×n by n×n.
    MatMul(usize),
    /// GELU (tanh) over n elements.
    Gelu(usize),
    /// Softmax over `SOFTMAX_ROWS` rows of n columns.
    Softmax(usize),
    /// a + b over n elements.
    TensorAdd(usize),
    /// A bias of `cols` added to each of `rows` rows.
    BroadcastAdd(usize, usize),
    /// A custom scenario supplied by the caller (e.g. a model): its name's body runs through
    /// [`Scenario::custom`].
    Custom,
}

/// One named scenario of the profile.
pub struct Scenario {
    pub name: String,
    pub work: Work,
    /// Measured calls after the warm-up.
    pub runs: usize,
    /// Whether `--quick` keeps it.
    pub quick: bool,
    /// The body of a [`Work::Custom`] scenario: it opens its own child scopes.
    pub custom: Option<Body>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("work", &self.work)
            .field("runs", &self.runs)
            .finish()
    }
}

impl Scenario {
    fn new(name: String, work: Work, runs: usize, quick: bool) -> Scenario {
        Scenario {
            name,
            work,
            runs,
            quick,
            custom: None,
        }
    }

    /// A scenario whose body the caller supplies (it opens its own scopes).
    pub fn custom(
        name: &str,
        quick: bool,
        body: impl Fn(&Profiler, &Dispatcher) -> Result<()> + 'static,
    ) -> Scenario {
        Scenario {
            name: name.to_string(),
            work: Work::Custom,
            runs: 1,
            quick,
            custom: Some(Box::new(body)),
        }
    }
}

/// The study's op scenarios: MatMul 64–512 (3 runs), GELU 1K–1M (5 runs), Softmax 256–2048
/// columns (5 runs), TensorAdd 10,000 and BroadcastAdd 100×100 (5 runs each).
pub fn op_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for n in study::MATMUL_SQUARE {
        v.push(Scenario::new(
            format!("matmul_{n}"),
            Work::MatMul(n),
            3,
            n <= 64,
        ));
    }
    for n in study::GELU {
        v.push(Scenario::new(
            format!("gelu_{}", study::short_count(n).to_lowercase()),
            Work::Gelu(n),
            5,
            n <= 1_000,
        ));
    }
    for c in study::SOFTMAX_COLS {
        v.push(Scenario::new(
            format!("softmax_{c}"),
            Work::Softmax(c),
            5,
            c <= 256,
        ));
    }
    v.push(Scenario::new(
        format!(
            "tensor_add_{}",
            study::short_count(study::ADD).to_lowercase()
        ),
        Work::TensorAdd(study::ADD),
        5,
        true,
    ));
    let (r, c) = study::BROADCAST_ADD;
    v.push(Scenario::new(
        format!("broadcast_add_{r}x{c}"),
        Work::BroadcastAdd(r, c),
        5,
        true,
    ));
    v
}

/// How to run the profiler.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep only the scenarios marked quick (seconds instead of tens of seconds).
    pub quick: bool,
    /// Keep only scenarios whose name equals or starts with one of these (empty: all).
    pub filter: Vec<String>,
    /// Override every scenario's measured calls.
    pub runs: Option<usize>,
    /// Where the dispatcher came from, for the parameters (`embedded` or a path).
    pub dispatch: String,
}

/// Whether `name` is selected by `filter` (exact name or prefix; empty selects all).
pub fn selected(name: &str, filter: &[String]) -> bool {
    filter.is_empty()
        || filter
            .iter()
            .any(|f| name == f || name.starts_with(f.as_str()))
}

/// The scenarios slowed by [`SLOW_ENV`].
pub fn slow_scopes() -> Vec<String> {
    std::env::var(SLOW_ENV)
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// Runs one built-in scenario's body inside its already open scope.
fn run_builtin(
    prof: &Profiler,
    d: &Dispatcher,
    work: Work,
    runs: usize,
    repeat: usize,
) -> Result<()> {
    match work {
        Work::MatMul(n) => {
            let g = Gemm::new(n, n, n);
            let (a, b) = prof.run("setup", || (random(n * n, 1), random(n * n, 2)));
            let call = || d.matmul_new(&g, 1.0, &a, &b).map(|c| drop(black_box(c)));
            measured(prof, runs, repeat, call)
        }
        Work::Gelu(n) => {
            let x = prof.run("setup", || random(n, 3));
            let call = || d.gelu_new(GeluKind::Tanh, &x).map(|y| drop(black_box(y)));
            measured(prof, runs, repeat, call)
        }
        Work::Softmax(cols) => {
            let shape = Rows::new(study::SOFTMAX_ROWS, cols);
            let x = prof.run("setup", || random(shape.len(), 4));
            let call = || d.softmax_new(shape, &x).map(|y| drop(black_box(y)));
            measured(prof, runs, repeat, call)
        }
        Work::TensorAdd(n) => {
            let (a, b) = prof.run("setup", || (random(n, 5), random(n, 6)));
            let call = || d.add_new(&a, &b).map(|y| drop(black_box(y)));
            measured(prof, runs, repeat, call)
        }
        Work::BroadcastAdd(rows, cols) => {
            let shape = Rows::new(rows, cols);
            let (x, bias) = prof.run("setup", || (random(shape.len(), 7), random(cols, 8)));
            let bound = d.lookup(Op::AddBias, backends::Key::elems(shape.len()));
            let memory = bound.memory;
            let call = || {
                // The dispatcher has no allocating form of add_bias: take the output the way
                // the bound variant's memory strategy would.
                if memory == Memory::InPlace {
                    let mut y = x.clone();
                    d.add_bias_inplace(shape, &mut y, &bias)?;
                    black_box(y);
                } else {
                    let mut y = backends::exec::alloc(memory, shape.len());
                    d.add_bias(shape, &x, &bias, &mut y)?;
                    black_box(y);
                }
                Ok(())
            };
            measured(prof, runs, repeat, call)
        }
        Work::Custom => Ok(()),
    }
}

fn measured(
    prof: &Profiler,
    runs: usize,
    repeat: usize,
    call: impl Fn() -> kernels::Result<()>,
) -> Result<()> {
    prof.run("warmup", &call)?;
    for _ in 0..runs {
        prof.run("run", || -> kernels::Result<()> {
            for _ in 0..repeat {
                call()?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Runs `scenarios` (already filtered) through `d` and returns the profile.
pub fn run(scenarios: &[Scenario], d: &Dispatcher, opts: &Options) -> Result<Profile> {
    let timestamp = now_rfc3339();
    let slow = slow_scopes();
    let counted = alloc_counter::installed();
    let prof = Profiler::new();
    for sc in scenarios {
        let runs = opts.runs.unwrap_or(sc.runs).max(1);
        let repeat = if slow.iter().any(|s| s == &sc.name) {
            SLOW_FACTOR
        } else {
            1
        };
        let _g = prof.scope(&sc.name);
        match &sc.custom {
            Some(body) => body(&prof, d).with_context(|| format!("scenario {}", sc.name))?,
            None => run_builtin(&prof, d, sc.work, runs, repeat)
                .with_context(|| format!("scenario {}", sc.name))?,
        }
    }
    let wall_ns = prof.wall_ns();
    let mut parameters = serde_json::Map::new();
    let names: Vec<serde_json::Value> = scenarios
        .iter()
        .map(|s| serde_json::Value::String(s.name.clone()))
        .collect();
    parameters.insert("dispatch".into(), opts.dispatch.clone().into());
    parameters.insert("scenarios".into(), names.into());
    parameters.insert("quick".into(), opts.quick.into());
    parameters.insert(
        "runs".into(),
        match opts.runs {
            Some(r) => r.into(),
            None => "default".into(),
        },
    );
    parameters.insert(
        "build".into(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
    );
    parameters.insert(
        "kernels_disable".into(),
        match std::env::var("KERNELS_DISABLE") {
            Ok(mask) if !mask.trim().is_empty() => mask,
            _ => "none".to_string(),
        }
        .into(),
    );
    if !slow.is_empty() {
        parameters.insert(
            "slow_scope".into(),
            format!("{} (work ×{SLOW_FACTOR}, test switch)", slow.join(",")).into(),
        );
    }
    Ok(Profile {
        format: FORMAT.into(),
        version: VERSION,
        generator: Generator {
            name: "experiments profile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        timestamp,
        machine: Machine::detect(),
        parameters,
        wall_ns,
        allocations_counted: counted,
        scopes: prof.stats(wall_ns),
    })
}
