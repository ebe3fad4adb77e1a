//! Two profiles side by side: per scope old, new, delta, delta % and a status, noise-aware.
//!
//! The figure compared is each scope's **median time per call**. A change is judged only
//! when it is
//! 1. larger than the scope threshold (percent of the old median), and
//! 2. outside the measured spread of *both* runs: the new median lies outside the old run's
//!    noise band and the old median outside the new run's. A run's band is its median ±
//!    [`NOISE_MADS`] × MAD (median absolute deviation of the calls), clipped to the calls'
//!    [min, max]: robust to one preempted call, which min/max alone is not.
//!
//! A scope with a single call in either run has no measured spread, so it is shown but not
//! judged (status `unchanged`, with a note). The run's total wall time is judged against the
//! total threshold alone. Everything (times, machines, parameters) comes from the files.
//!
//! Two runs are only comparable when they were taken the same way: the [`Settings`] check
//! lists every setting ([`crate::profile::SETTINGS`], the machine fingerprint, allocation
//! counting) in which they differ, and those an older profile did not record. The binary
//! refuses differing settings unless asked to compare anyway, and then says so everywhere.

use crate::plot::{self, Bar, BarKind};
use crate::profile::{plain, Profile, SETTINGS};
use crate::report::markdown_table;
use anyhow::Result;
use backends::timing::{fmt_ns_precise, fmt_pct};
use std::path::Path;

/// Half-width of a run's noise band, in MADs of its calls.
pub const NOISE_MADS: f64 = 3.0;

/// The noise band of a scope: median ± [`NOISE_MADS`]·MAD, clipped to [min, max].
pub fn band(s: &crate::scope::ScopeStats) -> (f64, f64) {
    let half = NOISE_MADS * s.mad_ns;
    (
        (s.median_ns - half).max(s.min_ns as f64),
        (s.median_ns + half).min(s.max_ns as f64),
    )
}

/// Thresholds in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// A scope regresses (or improves) only beyond this change of its median, in percent.
    pub scope_pct: f64,
    /// The run's total wall time regresses beyond this change, in percent.
    pub total_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            scope_pct: 5.0,
            total_pct: 10.0,
        }
    }
}

/// The verdict on one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Improved,
    Regressed,
    Unchanged,
    /// Only in the new run.
    Added,
    /// Only in the old run.
    Removed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Improved => "improved",
            Status::Regressed => "regressed",
            Status::Unchanged => "unchanged",
            Status::Added => "added",
            Status::Removed => "removed",
        }
    }
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub scope: String,
    pub old_calls: u64,
    pub new_calls: u64,
    /// Median per call, ns (None when absent from that run).
    pub old_ns: Option<f64>,
    pub new_ns: Option<f64>,
    pub delta_ns: f64,
    /// Delta over the old median, in percent (NaN when not comparable).
    pub delta_pct: f64,
    pub status: Status,
    /// Why the status is what it is, when that is not obvious (noise, single call).
    pub note: String,
}

/// One setting in which the two runs differ.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingDiff {
    /// The setting, as the user knows it (`--quick`, `machine`, ...).
    pub name: String,
    pub old: String,
    pub new: String,
}

/// How the two runs' settings relate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Settings that differ: the runs are not comparable.
    pub differing: Vec<SettingDiff>,
    /// Settings a profile did not record (an older profile), with which one lacks it.
    pub unknown: Vec<String>,
}

impl Settings {
    /// The differing settings in one line: `--quick (old true, new false), --runs (...)`.
    pub fn differing_text(&self) -> String {
        self.differing
            .iter()
            .map(|d| format!("{} (old {}, new {})", d.name, d.old, d.new))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The differing settings' names: `--quick, --runs`.
    pub fn differing_names(&self) -> String {
        self.differing
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The unknown settings in one line.
    pub fn unknown_text(&self) -> String {
        self.unknown.join(", ")
    }
}

/// How two values of a setting differ, in words: lists (the scenarios) by what only one of
/// them has, at most [`LIST_SHOWN`] names each; anything else by both values.
fn value_diff(name: &str, a: &serde_json::Value, b: &serde_json::Value) -> SettingDiff {
    let (old, new) = match (a.as_array(), b.as_array()) {
        (Some(x), Some(y)) => {
            // `p`'s length, and the members `q` lacks.
            let only = |p: &[serde_json::Value], q: &[serde_json::Value], other: &str| {
                let names: Vec<String> = p.iter().filter(|v| !q.contains(v)).map(plain).collect();
                match names.len() {
                    0 => p.len().to_string(),
                    k if k > LIST_SHOWN => format!(
                        "{}, {k} not in {other}: {} …",
                        p.len(),
                        names[..LIST_SHOWN].join(", ")
                    ),
                    k => format!("{}, {k} not in {other}: {}", p.len(), names.join(", ")),
                }
            };
            let same_members = x.iter().all(|v| y.contains(v)) && y.iter().all(|v| x.contains(v));
            if same_members {
                // Another order (or repeats): show both whole.
                (plain(a), plain(b))
            } else {
                (only(x, y, "new"), only(y, x, "old"))
            }
        }
        _ => (plain(a), plain(b)),
    };
    SettingDiff {
        name: name.to_string(),
        old,
        new,
    }
}

/// How many names of a list setting a difference shows.
pub const LIST_SHOWN: usize = 4;

/// Compares how `old` and `new` were taken: every setting of [`SETTINGS`] (from the
/// parameters), the machine fingerprint and allocation counting. A setting absent from a
/// profile (written before it was recorded) is unknown, not different.
pub fn settings(old: &Profile, new: &Profile) -> Settings {
    let mut out = Settings::default();
    let missing = |a: bool, b: bool| match (a, b) {
        (true, true) => "not recorded in either profile",
        (true, false) => "not recorded in the old profile",
        _ => "not recorded in the new profile",
    };
    for (key, name) in SETTINGS {
        match (old.parameters.get(key), new.parameters.get(key)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => out.differing.push(value_diff(name, a, b)),
            (a, b) => out
                .unknown
                .push(format!("{name} ({})", missing(a.is_none(), b.is_none()))),
        }
    }
    let (fo, fnew) = (&old.machine.fingerprint, &new.machine.fingerprint);
    if fo.is_empty() || fnew.is_empty() {
        out.unknown.push(format!(
            "the machine fingerprint ({})",
            missing(fo.is_empty(), fnew.is_empty())
        ));
    } else if fo != fnew {
        let m = |p: &Profile| {
            format!(
                "{}, {} threads, fingerprint {}",
                p.machine.cpu, p.machine.threads, p.machine.fingerprint
            )
        };
        out.differing.push(SettingDiff {
            name: "the machine".into(),
            old: m(old),
            new: m(new),
        });
    }
    if old.allocations_counted != new.allocations_counted {
        out.differing.push(SettingDiff {
            name: "allocation counting".into(),
            old: old.allocations_counted.to_string(),
            new: new.allocations_counted.to_string(),
        });
    }
    out
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub old_name: String,
    pub new_name: String,
    pub thresholds: Thresholds,
    pub rows: Vec<Row>,
    /// The total wall time row.
    pub total: Row,
    /// Settings in which the runs differ or that are unknown: when any differ, the runs are
    /// not comparable (the binary refuses them unless told to compare anyway).
    pub settings: Settings,
    /// Plain notes about what else differs between the runs besides the code (parameters
    /// that are not settings, such as the slow switch; the generator).
    pub notes: Vec<String>,
    pub old_when: String,
    pub new_when: String,
    pub old_machine: String,
    pub new_machine: String,
}

/// Judges one figure pair. `spread` is `Some((old_lo, old_hi, new_lo, new_hi))`, the two
/// runs' noise bands, when both runs measured a spread.
pub fn judge(
    old: f64,
    new: f64,
    spread: Option<(f64, f64, f64, f64)>,
    threshold_pct: f64,
) -> (Status, String) {
    let delta = new - old;
    let pct = if old > 0.0 {
        100.0 * delta / old
    } else {
        f64::NAN
    };
    if !pct.is_finite() {
        return (Status::Unchanged, "old time is zero: not judged".into());
    }
    if pct.abs() <= threshold_pct {
        return (Status::Unchanged, String::new());
    }
    match spread {
        None => (
            Status::Unchanged,
            "single call: no spread measured, not judged".into(),
        ),
        Some((omin, omax, nmin, nmax)) => {
            let in_old = new >= omin && new <= omax;
            let in_new = old >= nmin && old <= nmax;
            if in_old || in_new {
                (
                    Status::Unchanged,
                    format!(
                        "within the noise band of the {} run",
                        if in_old { "old" } else { "new" }
                    ),
                )
            } else if delta > 0.0 {
                (Status::Regressed, String::new())
            } else {
                (Status::Improved, String::new())
            }
        }
    }
}

/// Compares `old` with `new`; `old_name` and `new_name` label them (usually file paths).
pub fn compare(
    old: &Profile,
    new: &Profile,
    old_name: &str,
    new_name: &str,
    t: Thresholds,
) -> Comparison {
    let mut rows = Vec::new();
    for n in &new.scopes {
        let row = match old.scope(&n.name) {
            Some(o) => {
                let spread = (o.calls >= 2 && n.calls >= 2).then(|| {
                    let ((olo, ohi), (nlo, nhi)) = (band(o), band(n));
                    (olo, ohi, nlo, nhi)
                });
                let (status, note) = judge(o.median_ns, n.median_ns, spread, t.scope_pct);
                Row {
                    scope: n.name.clone(),
                    old_calls: o.calls,
                    new_calls: n.calls,
                    old_ns: Some(o.median_ns),
                    new_ns: Some(n.median_ns),
                    delta_ns: n.median_ns - o.median_ns,
                    delta_pct: pct(o.median_ns, n.median_ns),
                    status,
                    note,
                }
            }
            None => Row {
                scope: n.name.clone(),
                old_calls: 0,
                new_calls: n.calls,
                old_ns: None,
                new_ns: Some(n.median_ns),
                delta_ns: 0.0,
                delta_pct: f64::NAN,
                status: Status::Added,
                note: "only in the new run".into(),
            },
        };
        rows.push(row);
    }
    for o in &old.scopes {
        if new.scope(&o.name).is_none() {
            rows.push(Row {
                scope: o.name.clone(),
                old_calls: o.calls,
                new_calls: 0,
                old_ns: Some(o.median_ns),
                new_ns: None,
                delta_ns: 0.0,
                delta_pct: f64::NAN,
                status: Status::Removed,
                note: "only in the old run".into(),
            });
        }
    }
    let (ow, nw) = (old.wall_ns as f64, new.wall_ns as f64);
    let (tstatus, tnote) = {
        let p = pct(ow, nw);
        if !p.is_finite() {
            (Status::Unchanged, "old wall time is zero".to_string())
        } else if p > t.total_pct {
            (Status::Regressed, String::new())
        } else if p < -t.total_pct {
            (Status::Improved, String::new())
        } else {
            (Status::Unchanged, String::new())
        }
    };
    let total = Row {
        scope: "total (wall time)".into(),
        old_calls: 1,
        new_calls: 1,
        old_ns: Some(ow),
        new_ns: Some(nw),
        delta_ns: nw - ow,
        delta_pct: pct(ow, nw),
        status: tstatus,
        note: tnote,
    };

    let mut notes = Vec::new();
    let mut keys: Vec<&String> = old.parameters.keys().chain(new.parameters.keys()).collect();
    keys.sort();
    keys.dedup();
    // The settings are judged by `settings`; the other parameters are stated here.
    keys.retain(|k| !SETTINGS.iter().any(|(s, _)| s == k));
    for k in keys {
        let (a, b) = (old.parameters.get(k), new.parameters.get(k));
        if a != b {
            let show = |v: Option<&serde_json::Value>| v.map_or("(absent)".to_string(), plain);
            notes.push(format!(
                "Parameter `{k}` differs: old {}, new {}.",
                show(a),
                show(b)
            ));
        }
    }
    if old.generator != new.generator {
        notes.push(format!(
            "Written by different tools: old {} {}, new {} {}.",
            old.generator.name, old.generator.version, new.generator.name, new.generator.version
        ));
    }
    Comparison {
        old_name: old_name.into(),
        new_name: new_name.into(),
        thresholds: t,
        rows,
        total,
        settings: settings(old, new),
        notes,
        old_when: old.timestamp.clone(),
        new_when: new.timestamp.clone(),
        old_machine: old.machine.cpu.clone(),
        new_machine: new.machine.cpu.clone(),
    }
}

fn pct(old: f64, new: f64) -> f64 {
    if old > 0.0 {
        100.0 * (new - old) / old
    } else {
        f64::NAN
    }
}

impl Comparison {
    /// Scopes (and the total) that regressed beyond their thresholds.
    pub fn regressions(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .chain(std::iter::once(&self.total))
            .filter(|r| r.status == Status::Regressed)
            .collect()
    }

    /// Whether anything regressed beyond its threshold (the exit code is 1 then).
    pub fn regressed(&self) -> bool {
        !self.regressions().is_empty()
    }

    fn count(&self, s: Status) -> usize {
        self.rows.iter().filter(|r| r.status == s).count()
    }

    /// Whether the runs were taken with different settings (their deltas mix settings and
    /// code).
    pub fn not_comparable(&self) -> bool {
        !self.settings.differing.is_empty()
    }

    /// The loud warning about differing settings, when they differ.
    pub fn settings_warning(&self) -> Option<String> {
        self.not_comparable().then(|| {
            format!(
                "NOT COMPARABLE: the runs were taken with different settings: {}. Compared anyway (--allow-different-settings): every delta mixes the settings with the code.",
                self.settings.differing_text()
            )
        })
    }

    /// The warning about settings a profile did not record, when there are any.
    pub fn unknown_warning(&self) -> Option<String> {
        (!self.settings.unknown.is_empty()).then(|| {
            format!(
                "Unknown settings: {} (an older profile?); the runs may not be comparable.",
                self.settings.unknown_text()
            )
        })
    }

    /// The warnings every form of the report leads with, those that apply, in order, each
    /// dressed as that form shows it: the settings warning by `loud` (the runs are not
    /// comparable), the one about unknown settings by `plain`.
    fn warnings<T>(
        &self,
        loud: impl FnOnce(String) -> T,
        plain: impl FnOnce(String) -> T,
    ) -> Vec<T> {
        let settings = self.settings_warning().map(loud);
        let unknown = self.unknown_warning().map(plain);
        settings.into_iter().chain(unknown).collect()
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::from("# Profile comparison\n\n");
        s.extend(self.warnings(
            |w| format!("> **⚠ {w}**\n\n"),
            |w| format!("> **Warning:** {w}\n\n"),
        ));
        s.push_str(&format!(
            "- old: `{}` ({}, {})\n- new: `{}` ({}, {})\n- thresholds: scope {}%, total {}%; a change inside either run's noise band (median ± {}·MAD of the calls) counts as unchanged\n",
            self.old_name,
            self.old_when,
            self.old_machine,
            self.new_name,
            self.new_when,
            self.new_machine,
            self.thresholds.scope_pct,
            self.thresholds.total_pct,
            NOISE_MADS
        ));
        s.push_str(&format!(
            "- scopes: {} regressed, {} improved, {} unchanged, {} added, {} removed\n",
            self.count(Status::Regressed),
            self.count(Status::Improved),
            self.count(Status::Unchanged),
            self.count(Status::Added),
            self.count(Status::Removed)
        ));
        s.push_str(&format!(
            "- total wall time: {} → {} ({}), {}\n",
            fmt_ns_precise(self.total.old_ns.unwrap_or(0.0)),
            fmt_ns_precise(self.total.new_ns.unwrap_or(0.0)),
            fmt_pct(self.total.delta_pct),
            self.total.status.name()
        ));
        s.push_str(&format!("\n**Verdict: {}**\n", self.verdict()));
        if self.not_comparable() {
            s.push_str("\n## Settings that differ (the runs are not comparable)\n\n");
            for d in &self.settings.differing {
                s.push_str(&format!("- {}: old {}, new {}\n", d.name, d.old, d.new));
            }
        }
        if !self.notes.is_empty() {
            s.push_str("\n## Differences besides the code\n\n");
            for n in &self.notes {
                s.push_str(&format!("- {n}\n"));
            }
        }
        s.push_str("\n## Scopes (median time per call)\n\n");
        let mut table = vec![vec![
            "scope".to_string(),
            "calls".into(),
            "old".into(),
            "new".into(),
            "delta".into(),
            "delta %".into(),
            "status".into(),
            "note".into(),
        ]];
        for r in self.rows.iter().chain(std::iter::once(&self.total)) {
            table.push(vec![
                r.scope.clone(),
                if r.old_calls == r.new_calls {
                    r.new_calls.to_string()
                } else {
                    format!("{}→{}", r.old_calls, r.new_calls)
                },
                r.old_ns.map_or("-".into(), fmt_ns_precise),
                r.new_ns.map_or("-".into(), fmt_ns_precise),
                if r.old_ns.is_some() && r.new_ns.is_some() {
                    fmt_ns_precise(r.delta_ns)
                } else {
                    "-".into()
                },
                fmt_pct(r.delta_pct),
                if r.status == Status::Regressed {
                    "**regressed**".into()
                } else {
                    r.status.name().into()
                },
                r.note.clone(),
            ]);
        }
        s.push_str(&markdown_table(&table));
        s
    }

    /// One line: what the exit code says.
    pub fn verdict(&self) -> String {
        let regs = self.regressions();
        let prefix = if self.not_comparable() {
            "(NOT COMPARABLE: different settings) "
        } else {
            ""
        };
        if regs.is_empty() {
            format!("{prefix}no regression beyond the thresholds")
        } else {
            format!(
                "{prefix}REGRESSION in {}",
                regs.iter()
                    .map(|r| format!("{} ({})", r.scope, fmt_pct(r.delta_pct)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }

    /// A short terminal summary.
    pub fn summary(&self) -> String {
        let mut s = self
            .warnings(|w| format!("WARNING: {w}\n"), |w| format!("warning: {w}\n"))
            .concat();
        s.push_str(&format!(
            "compare {} -> {}: {} regressed, {} improved, {} unchanged; total {} ({})\n",
            self.old_name,
            self.new_name,
            self.count(Status::Regressed),
            self.count(Status::Improved),
            self.count(Status::Unchanged),
            fmt_pct(self.total.delta_pct),
            self.total.status.name()
        ));
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        let mut changed = self.changed();
        changed.sort_by(|a, b| b.delta_pct.abs().total_cmp(&a.delta_pct.abs()));
        for r in changed.iter().take(10) {
            s.push_str(&format!(
                "  {:<9} {:<40} {} -> {} ({})\n",
                r.status.name(),
                r.scope,
                fmt_ns_precise(r.old_ns.unwrap_or(0.0)),
                fmt_ns_precise(r.new_ns.unwrap_or(0.0)),
                fmt_pct(r.delta_pct)
            ));
        }
        s.push_str(&format!("verdict: {}\n", self.verdict()));
        s
    }

    /// The scopes judged regressed or improved (the total not included).
    pub fn changed(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| matches!(r.status, Status::Regressed | Status::Improved))
            .collect()
    }

    /// The bars of the chart: the (at most) `n` changed scopes with the largest |delta %|,
    /// sorted by change (most regressed first, most improved last). Unchanged scopes are
    /// left out: their deltas are noise, warm-ups or single calls, and would set the scale.
    pub fn chart_bars(&self, n: usize) -> Vec<Bar> {
        let mut rows = self.changed();
        rows.retain(|r| r.delta_pct.is_finite());
        rows.sort_by(|a, b| b.delta_pct.abs().total_cmp(&a.delta_pct.abs()));
        rows.truncate(n);
        rows.sort_by(|a, b| b.delta_pct.total_cmp(&a.delta_pct));
        rows.iter()
            .map(|r| Bar {
                label: r.scope.clone(),
                value: r.delta_pct,
                text: format!(
                    "{} ({} → {})",
                    plot::signed_percent(r.delta_pct),
                    fmt_ns_precise(r.old_ns.unwrap_or(0.0)),
                    fmt_ns_precise(r.new_ns.unwrap_or(0.0))
                ),
                kind: if r.status == Status::Regressed {
                    BarKind::Bad
                } else {
                    BarKind::Good
                },
            })
            .collect()
    }

    /// An SVG bar chart of the changed scopes (at most `n`, the largest changes), coloured
    /// by status and sorted by change; the total wall time, the verdict and any warning
    /// about settings sit above it, and what it leaves out is said below it.
    pub fn svg(&self, path: &Path, n: usize) -> Result<()> {
        let bars = self.chart_bars(n);
        let changed = self.changed().len();
        let mut notes = self.warnings(|w| (w, BarKind::Bad), |w| (w, BarKind::Bad));
        let t = &self.total;
        notes.push((
            format!(
                "Total wall time {} → {} ({}): {}{}",
                fmt_ns_precise(t.old_ns.unwrap_or(0.0)),
                fmt_ns_precise(t.new_ns.unwrap_or(0.0)),
                fmt_pct(t.delta_pct),
                t.status.name(),
                match t.status {
                    Status::Regressed | Status::Improved =>
                        format!(" (beyond {} %)", self.thresholds.total_pct),
                    _ => String::new(),
                }
            ),
            match t.status {
                Status::Regressed => BarKind::Bad,
                Status::Improved => BarKind::Good,
                _ => BarKind::Neutral,
            },
        ));
        let scopes = self.count(Status::Regressed);
        let verdict = if !self.regressed() {
            "no regression beyond the thresholds".to_string()
        } else {
            let mut parts = Vec::new();
            if scopes > 0 {
                parts.push(format!(
                    "{scopes} scope{} (red bars)",
                    if scopes == 1 { "" } else { "s" }
                ));
            }
            if self.total.status == Status::Regressed {
                parts.push("the total wall time".into());
            }
            format!("REGRESSION in {} (exit code 1)", parts.join(" and "))
        };
        notes.push((
            format!("Verdict: {verdict}"),
            if self.regressed() {
                BarKind::Bad
            } else {
                BarKind::Neutral
            },
        ));
        let title = if self.not_comparable() {
            format!(
                "NOT COMPARABLE (different settings: {}): {} vs {}",
                self.settings.differing_names(),
                self.new_name,
                self.old_name
            )
        } else {
            format!("Profile comparison: {} vs {}", self.new_name, self.old_name)
        };
        let spec = plot::BarChart {
            title,
            notes,
            key: vec![
                (BarKind::Bad, format!("regressed ({})", self.count(Status::Regressed))),
                (BarKind::Good, format!("improved ({})", self.count(Status::Improved))),
            ],
            x_label: "change of the median time per call (old → new)".into(),
            footer: format!(
                "{} of {} changed scopes shown (beyond {} % and outside both runs' noise bands). Not shown: {} unchanged (within the threshold or the noise, or single calls such as warm-ups), {} added, {} removed.",
                bars.len(),
                changed,
                self.thresholds.scope_pct,
                self.count(Status::Unchanged),
                self.count(Status::Added),
                self.count(Status::Removed)
            ),
            bars,
            empty: format!(
                "No scope changed beyond {} % and the noise",
                self.thresholds.scope_pct
            ),
        };
        plot::bar_chart(path, &spec)
    }
}
