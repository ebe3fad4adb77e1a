//! The dispatch table: JSON, format `kernel-dispatch`, version 2 (see ARCHITECTURE.md and the
//! README). Version 2 adds per-entry kernel parameters ([`Params`]) and a threaded MatMul's
//! split (`"split"`, [`Split`]); version-1 tables, which have neither, still load.
//!
//! [`Table::parse`] checks everything that can be checked without a catalog (format, version,
//! figures, range order); the [`crate::dispatch`] loader then resolves variant ids against this
//! build and this CPU. [`Table::write_atomic`] writes through a temporary file and a rename,
//! so an interrupted write never leaves a half table where a good one stood.

use crate::exec::Split;
use crate::machine::Machine;
use crate::op::Bucket;
use crate::spec::Op;
use kernels::matmul::{BlockingParams, FewRows, RowSweep};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `format` field every table carries.
pub const FORMAT: &str = "kernel-dispatch";
/// The version this build writes.
pub const VERSION: u32 = 2;
/// The versions this build reads: 1 (no kernel parameters) and 2.
pub const READS: std::ops::RangeInclusive<u32> = 1..=VERSION;

/// Kernel parameters an entry chose for its variant (version 2): the blocking, micro-tile
/// and one-row sweep of a tunable MatMul kernel (`kernels::matmul::BlockingParams`). Checked
/// against the bound kernel when the table is loaded; parameters it cannot take are an error
/// naming the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub mr: usize,
    pub nr: usize,
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    /// `stream`, `windows`, `by_level` or `stream_ahead` (its [`RowSweep::name`]).
    #[serde(with = "row_sweep")]
    pub row: RowSweep,
    /// Rows of B per pass of the row stream; absent (tables before it, and the default):
    /// the kernels' default, 8.
    #[serde(default = "default_rows", skip_serializing_if = "is_default_rows")]
    pub rows: usize,
    /// `by_level`, `unpacked` or `packed` (its [`FewRows::name`]): how a few rows are
    /// computed; absent (tables before it, and the default): `by_level`.
    #[serde(
        default = "default_few",
        with = "few_rows",
        skip_serializing_if = "is_default_few"
    )]
    pub few: FewRows,
    /// Most vectors per column window of the one-row path; absent (tables before it, and
    /// the default): the kernels' default, 12.
    #[serde(default = "default_window", skip_serializing_if = "is_default_window")]
    pub window: usize,
}

fn default_window() -> usize {
    kernels::matmul::blocking::WINDOW
}

fn is_default_window(window: &usize) -> bool {
    *window == default_window()
}

fn default_few() -> FewRows {
    FewRows::ByLevel
}

fn is_default_few(few: &FewRows) -> bool {
    *few == default_few()
}

fn default_rows() -> usize {
    kernels::matmul::blocking::STREAM_ROWS
}

fn is_default_rows(rows: &usize) -> bool {
    *rows == default_rows()
}

/// A module of `serialize`/`deserialize` functions that write a kernel enum by its name
/// (`name()`, parsed back by `from_name()`, listing `ALL` when unknown), so the kernels need
/// no serde.
macro_rules! by_name {
    ($module:ident, $ty:ty, $what:literal) => {
        mod $module {
            use serde::{Deserialize, Deserializer, Serializer};

            pub fn serialize<S: Serializer>(x: &$ty, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(x.name())
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let name = String::deserialize(d)?;
                <$ty>::from_name(&name).ok_or_else(|| {
                    let known: Vec<&str> = <$ty>::ALL.iter().map(|x| x.name()).collect();
                    serde::de::Error::custom(format!(
                        concat!("unknown ", $what, " `{}` (known: {})"),
                        name,
                        known.join(", ")
                    ))
                })
            }
        }
    };
}

by_name!(row_sweep, kernels::matmul::RowSweep, "one-row sweep");
by_name!(few_rows, kernels::matmul::FewRows, "few-row path");
by_name!(split_name, crate::exec::Split, "thread split");

/// A thread split is written by its name ([`Split::name`]).
impl Serialize for Split {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        split_name::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Split {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Split, D::Error> {
        split_name::deserialize(d)
    }
}

impl Params {
    /// The kernel's form of these parameters.
    pub fn to_kernel(&self) -> BlockingParams {
        BlockingParams {
            mr: self.mr,
            nr: self.nr,
            kc: self.kc,
            mc: self.mc,
            nc: self.nc,
            row: self.row,
            rows: self.rows,
            few: self.few,
            window: self.window,
        }
    }

    /// The table's form of kernel parameters.
    pub fn of(p: &BlockingParams) -> Params {
        Params {
            mr: p.mr,
            nr: p.nr,
            kc: p.kc,
            mc: p.mc,
            nc: p.nc,
            row: p.row,
            rows: p.rows,
            few: p.few,
            window: p.window,
        }
    }
}

impl std::fmt::Display for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let row = self.row.name();
        write!(
            f,
            "{}×{} tile, kc {}, mc {}, nc {}, one row: {row}",
            self.mr, self.nr, self.kc, self.mc, self.nc
        )?;
        if !is_default_rows(&self.rows) {
            write!(f, ", {} rows a pass", self.rows)?;
        }
        if !is_default_few(&self.few) {
            write!(f, ", a few rows {}", self.few.name())?;
        }
        if !is_default_window(&self.window) {
            write!(f, ", windows of {} vectors", self.window)?;
        }
        Ok(())
    }
}

/// What produced a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

/// Which counters backed the evidence, and why hardware ones were missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterInfo {
    /// `hardware` or `software`.
    pub source: String,
    /// The OS's reason when hardware counters were unavailable.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The variants a table was tuned against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogInfo {
    pub checksum: String,
    #[serde(default)]
    pub variants: usize,
}

/// The runner-up of an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerUp {
    pub variant: String,
    pub median_ns: f64,
}

/// Why an entry's variant was chosen: its measurements at the sizes of its range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Evidence {
    pub median_ns: f64,
    /// Median absolute deviation of the samples, in ns.
    pub spread_ns: f64,
    pub samples: u32,
    /// The size (in the range's unit) these figures were measured at.
    #[serde(default)]
    pub measured_size: Option<u64>,
    #[serde(default)]
    pub cycles: Option<f64>,
    #[serde(default)]
    pub instructions: Option<f64>,
    #[serde(default)]
    pub ipc: Option<f64>,
    #[serde(default)]
    pub cache_references: Option<f64>,
    #[serde(default)]
    pub cache_misses: Option<f64>,
    #[serde(default)]
    pub task_clock_ns: Option<f64>,
    #[serde(default)]
    pub page_faults: Option<f64>,
    /// The operands' cache state when the figures were not measured warm (e.g. a preset's
    /// weights rotated over its working set); `None`: warm, in a tight loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_state: Option<String>,
    #[serde(default)]
    pub runner_up: Option<RunnerUp>,
    /// A note from the selection rule (for example, a tie broken by cache misses).
    #[serde(default)]
    pub note: Option<String>,
}

/// One range of one op: sizes `min..=max` of `bucket` use `variant`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The op's name. Kept as text so that a table from a newer build with more ops loads,
    /// skipping what it does not know.
    pub op: String,
    pub bucket: Bucket,
    /// Smallest size covered (elements, or m·k·n for MatMul).
    pub min: u64,
    /// Largest size covered; `null` for no upper bound.
    #[serde(default)]
    pub max: Option<u64>,
    pub variant: String,
    /// Kernel parameters for the variant (version 2; `None`: its defaults on the machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Params>,
    /// How a threaded MatMul variant shares its work (version 2; `None`: the rule,
    /// [`Split::rule`]). A split that does not fit a call's shape falls back to the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    #[serde(default)]
    pub evidence: Evidence,
}

impl Entry {
    /// The inclusive upper bound (`u64::MAX` when open).
    pub fn upper(&self) -> u64 {
        self.max.unwrap_or(u64::MAX)
    }
}

/// How a preset run's table fared on the workload it is for (`autotune --preset`): the
/// end-to-end race that kept it, its rate per workload (a KV decode with another core busy
/// among them, so a threaded choice's behaviour on a shared machine is on record) beside the
/// fastest contender's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndToEnd {
    pub preset: String,
    /// The contender whose choices the table holds.
    pub kept: String,
    /// Why it was kept.
    pub why: String,
    pub workloads: Vec<WorkloadFigure>,
}

/// One workload of [`EndToEnd`]: the kept table's median rate ± its spread, and the fastest
/// contender's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadFigure {
    pub workload: String,
    /// `tok/s` or `steps/s`.
    pub unit: String,
    pub rate: f64,
    pub spread: f64,
    pub fastest: f64,
    pub fastest_contender: String,
}

/// A whole dispatch table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub format: String,
    pub version: u32,
    pub generator: Generator,
    pub created: String,
    pub machine: Machine,
    pub counters: CounterInfo,
    pub catalog: CatalogInfo,
    pub entries: Vec<Entry>,
    /// The end-to-end race of a preset run, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end: Option<EndToEnd>,
}

/// Why a table could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid dispatch-table JSON: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("{path}: not a dispatch table: format is `{found}`, expected `{FORMAT}`")]
    Format { path: PathBuf, found: String },
    #[error("{path}: dispatch-table version {found} is not supported (this build reads versions 1 and {VERSION})")]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: entry {index} ({op} {bucket}): {problem}")]
    Entry {
        path: PathBuf,
        index: usize,
        op: String,
        bucket: String,
        problem: String,
    },
    #[error(
        "{path}: tuned on another machine (fingerprint {theirs}, {their_cpu}; this one is {ours}); \
         retune here, or pass the opt-in to load it anyway"
    )]
    Foreign {
        path: PathBuf,
        theirs: String,
        their_cpu: String,
        ours: String,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Table {
    /// A new, empty table for this machine.
    pub fn new(
        generator: &str,
        generator_version: &str,
        machine: Machine,
        counters: CounterInfo,
    ) -> Table {
        let cat = crate::catalog::catalog();
        Table {
            format: FORMAT.into(),
            version: VERSION,
            generator: Generator {
                name: generator.into(),
                version: generator_version.into(),
            },
            created: now_rfc3339(),
            machine,
            counters,
            catalog: CatalogInfo {
                checksum: cat.checksum(),
                variants: cat.variants().len(),
            },
            entries: Vec::new(),
            end_to_end: None,
        }
    }

    /// Parses and checks a table's text; `path` is used in messages only.
    pub fn parse(text: &str, path: &Path) -> Result<Table, TableError> {
        let p = || path.to_path_buf();
        // Read the header loosely first, so a foreign JSON file is called what it is
        // rather than reported as a missing field.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| TableError::Malformed {
                path: p(),
                message: e.to_string(),
            })?;
        let format = value
            .get("format")
            .and_then(|f| f.as_str())
            .unwrap_or("(none)");
        if format != FORMAT {
            return Err(TableError::Format {
                path: p(),
                found: format.chars().take(80).collect(),
            });
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if READS.contains(&(v.min(u32::MAX as u64) as u32)) => {}
            Some(v) => {
                return Err(TableError::Version {
                    path: p(),
                    found: v.min(u32::MAX as u64) as u32,
                })
            }
            None => {
                return Err(TableError::Malformed {
                    path: p(),
                    message: "`version` is missing or not an integer".into(),
                })
            }
        }
        let table: Table = serde_json::from_value(value).map_err(|e| TableError::Malformed {
            path: p(),
            message: e.to_string(),
        })?;
        table.check_entries(path)?;
        Ok(table)
    }

    /// Reads and parses a table file.
    pub fn load(path: &Path) -> Result<Table, TableError> {
        let text = std::fs::read_to_string(path).map_err(|source| TableError::Io {
            path: path.into(),
            source,
        })?;
        Table::parse(&text, path)
    }

    /// Figures are finite and non-negative; ranges are ordered (`min ≤ max`) and, within one
    /// op and bucket, sorted and non-overlapping; kernel parameters appear only in version-2
    /// tables, only on MatMul entries, and pass [`BlockingParams::check`] for their own
    /// micro-tile (whether the bound kernel has that tile is checked when the table is bound).
    pub fn check_entries(&self, path: &Path) -> Result<(), TableError> {
        if let Some(e2e) = &self.end_to_end {
            for w in &e2e.workloads {
                for (name, v) in [
                    ("rate", w.rate),
                    ("spread", w.spread),
                    ("fastest", w.fastest),
                ] {
                    if !v.is_finite() || v < 0.0 {
                        return Err(TableError::Malformed {
                            path: path.into(),
                            message: format!(
                                "end_to_end {} {name} is {v}; figures must be finite and non-negative",
                                w.workload
                            ),
                        });
                    }
                }
            }
        }
        let err = |index: usize, e: &Entry, problem: String| TableError::Entry {
            path: path.into(),
            index,
            op: e.op.clone(),
            bucket: e.bucket.name().into(),
            problem,
        };
        for (i, e) in self.entries.iter().enumerate() {
            if e.min > e.upper() {
                return Err(err(
                    i,
                    e,
                    format!("range is reversed: min {} > max {}", e.min, e.upper()),
                ));
            }
            // Kernel parameters and a thread split (version 2) belong to MatMul entries.
            let choices = [
                e.params.map(|_| "kernel parameters".to_string()),
                e.split.map(|s| format!("thread split `{s}`")),
            ];
            for what in choices.into_iter().flatten() {
                if self.version < 2 {
                    return Err(err(
                        i,
                        e,
                        format!(
                            "{what}: needs table version 2 (this table says {})",
                            self.version
                        ),
                    ));
                }
                if e.op != Op::Matmul.name() {
                    return Err(err(i, e, format!("{what}: only MatMul entries take one")));
                }
            }
            if let Some(p) = &e.params {
                let k = p.to_kernel();
                if let Err(why) = k.check(&[(k.mr, k.nr)]) {
                    return Err(err(i, e, format!("kernel parameters: {why}")));
                }
            }
            let ev = &e.evidence;
            let figures = [
                ("median_ns", Some(ev.median_ns)),
                ("spread_ns", Some(ev.spread_ns)),
                ("cycles", ev.cycles),
                ("instructions", ev.instructions),
                ("ipc", ev.ipc),
                ("cache_references", ev.cache_references),
                ("cache_misses", ev.cache_misses),
                ("task_clock_ns", ev.task_clock_ns),
                ("page_faults", ev.page_faults),
                (
                    "runner_up.median_ns",
                    ev.runner_up.as_ref().map(|r| r.median_ns),
                ),
            ];
            for (name, v) in figures {
                if let Some(v) = v {
                    if !v.is_finite() || v < 0.0 {
                        return Err(err(
                            i,
                            e,
                            format!("{name} is {v}; figures must be finite and non-negative"),
                        ));
                    }
                }
            }
            // Earlier entries of the same op and bucket must lie strictly below this one.
            if let Some((j, prev)) = self.entries[..i]
                .iter()
                .enumerate()
                .rev()
                .find(|(_, p)| p.op == e.op && p.bucket == e.bucket)
            {
                if prev.min >= e.min {
                    return Err(err(
                        i,
                        e,
                        format!(
                            "ranges are not sorted: starts at {} after entry {j} starting at {}",
                            e.min, prev.min
                        ),
                    ));
                }
                if prev.upper() >= e.min {
                    return Err(err(
                        i,
                        e,
                        format!(
                            "overlaps entry {j}: {}..={} and {}..={}",
                            prev.min,
                            prev.upper(),
                            e.min,
                            e.upper()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The pretty JSON text of this table.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a table always serialises") + "\n"
    }

    /// Writes the table to `path` atomically (temporary file in the same directory, then rename).
    pub fn write_atomic(&self, path: &Path) -> Result<(), TableError> {
        write_atomic(path, self.to_json().as_bytes()).map_err(|source| TableError::Write {
            path: path.into(),
            source,
        })
    }

    /// The entries of one op, in order.
    pub fn entries_of(&self, op: Op) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.op == op.name())
    }
}

/// Writes `bytes` to `path` through a sibling temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The current UTC time in RFC 3339.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}
