//! Helpers shared by the criterion benches: choosing the variants to time (every runnable one
//! that passes the reference check) and a compact summary table computed from the benches' own
//! timings (criterion's per-benchmark output is long).

use backends::problem::Problem;
use backends::{catalog, Op, Shape, Variant};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every variant of `op` that can run here and matches the reference on `shapes` (checked once
/// per variant before any timing, as ARCHITECTURE.md's measurement rules ask). Variants that cannot
/// run or disagree with the reference are reported on stderr and left out.
pub fn checked_variants(op: Op, shapes: &[Shape]) -> Vec<&'static Variant> {
    let mut out = Vec::new();
    for v in catalog().of(op) {
        if let Err(why) = v.runnable() {
            eprintln!("skip {}: {why}", v.id);
            continue;
        }
        let bad = shapes.iter().find_map(|&s| {
            let p = Problem::random(op, s, 7).ok()?;
            p.verify(v).err()
        });
        match bad {
            Some(why) => eprintln!("EXCLUDED {} (wrong result): {why}", v.id),
            None => out.push(v),
        }
    }
    out
}

/// Runs `v` on `p` `iters` times back to back and returns the time they took: the timed
/// loop of the criterion benches (`iter_custom`). The outputs go through `black_box`.
pub fn time_calls(p: &mut Problem, v: &Variant, iters: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        black_box(p.execute(v).expect("verified variant runs"));
    }
    t.elapsed()
}

/// How a summary figure is derived from the median time of one call.
#[derive(Debug, Clone, Copy)]
pub enum Rate {
    /// Operations per call: the table shows GFLOP/s.
    Flops(u64),
    /// Bytes moved per call: the table shows GB/s.
    Bytes(u64),
}

impl Rate {
    fn unit(self) -> &'static str {
        match self {
            Rate::Flops(_) => "GFLOP/s",
            Rate::Bytes(_) => "GB/s",
        }
    }

    fn per_ns(self) -> f64 {
        match self {
            Rate::Flops(f) | Rate::Bytes(f) => f as f64,
        }
    }
}

#[derive(Default)]
struct Cell {
    per_call_ns: Vec<f64>,
    rate: Option<Rate>,
}

/// Collects the per-call times each bench measures (through `iter_custom`) and prints one
/// table per group: rows are variants, columns sizes, cells the median rate.
#[derive(Default)]
pub struct Summary {
    inner: Mutex<Inner>,
    keep_last: usize,
}

/// One group: its name, row order, column order and cells.
type Group = (
    String,
    Vec<String>,
    Vec<String>,
    BTreeMap<(String, String), Cell>,
);

#[derive(Default)]
struct Inner {
    // group -> (row order, column order, cells)
    groups: Vec<Group>,
}

impl Summary {
    /// A summary that keeps every sample.
    pub fn new() -> Summary {
        Summary::default()
    }

    /// A summary that uses only the last `n` samples of each cell: criterion's warm-up calls
    /// come first, so with `n` = the sample size only measured samples count.
    pub fn keep_last(n: usize) -> Summary {
        Summary {
            keep_last: n,
            ..Summary::default()
        }
    }

    /// Records one criterion sample: `iters` calls took `elapsed`.
    pub fn record(
        &self,
        group: &str,
        row: &str,
        col: &str,
        rate: Rate,
        iters: u64,
        elapsed: Duration,
    ) {
        if iters == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let idx = match inner.groups.iter().position(|g| g.0 == group) {
            Some(i) => i,
            None => {
                inner
                    .groups
                    .push((group.to_string(), vec![], vec![], BTreeMap::new()));
                inner.groups.len() - 1
            }
        };
        let g = &mut inner.groups[idx];
        if !g.1.iter().any(|r| r == row) {
            g.1.push(row.to_string());
        }
        if !g.2.iter().any(|c| c == col) {
            g.2.push(col.to_string());
        }
        let cell = g.3.entry((row.to_string(), col.to_string())).or_default();
        cell.per_call_ns
            .push(elapsed.as_nanos() as f64 / iters as f64);
        cell.rate = Some(rate);
    }

    /// The Markdown tables (one per group), or an empty string when nothing ran.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = String::new();
        for (group, rows, cols, cells) in &inner.groups {
            let unit = cells.values().find_map(|c| c.rate).map_or("", |r| r.unit());
            s.push_str(&format!(
                "\n{group}: median {unit} per variant and size (from this run's samples)\n\n"
            ));
            let mut header = vec!["variant".to_string()];
            header.extend(cols.iter().cloned());
            let mut table = vec![header];
            for r in rows {
                let mut line = vec![r.clone()];
                for c in cols {
                    line.push(match cells.get(&(r.clone(), c.clone())) {
                        Some(cell) if !cell.per_call_ns.is_empty() => {
                            let all = &cell.per_call_ns;
                            let from = if self.keep_last > 0 {
                                all.len().saturating_sub(self.keep_last)
                            } else {
                                0
                            };
                            let med = backends::timing::median(&all[from..]);
                            let rate = cell.rate.map_or(0.0, |r| r.per_ns());
                            format!("{:.2}", rate / med)
                        }
                        _ => "-".into(),
                    });
                }
                table.push(line);
            }
            s.push_str(&crate::report::markdown_table(&table));
        }
        s
    }
}
