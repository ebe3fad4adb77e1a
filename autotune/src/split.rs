//! The thread split as a tuned dimension: after the kernel-parameter search, every MatMul
//! range bound to a threaded variant races the splits that fit its measured shape
//! ([`backends::exec::Split::fits`]: over k, C's rows or, for one row, C's columns), the
//! rule's first ([`Split::rule`]), each with the entry's kernel parameters, in the cache
//! state of the range's race. The entry records a split only when it beats the rule's beyond
//! the noise; a range whose shape only one split fits (or none) is not raced.
//!
//! Which split is faster depends on the machine: the k-split has each thread read its own
//! slab of B but adds the partial rows after the join, the column split reads a piece of
//! every row of B with nothing to add, the row split reads all of B per thread but writes
//! disjoint rows. The rule's order was measured on two machines (ARCHITECTURE.md,
//! "Threads"); the race confirms or replaces it here, per range.

use crate::counters::CounterSource;
use crate::measure::Cand;
use crate::tune::{shapes_at, Config, Progress, Run};
use backends::exec::Split;
use backends::problem::Problem;
use backends::spec::Tuning;
use backends::table::Table;
use backends::{catalog, Op, Shape};
use kernels::matmul::Gemm;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One contender of a split race.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitTrial {
    pub split: Split,
    /// Whether it is the rule's split for the shape (the default).
    pub rule: bool,
    pub median_ns: f64,
    pub spread_ns: f64,
}

/// The split race of one table entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitSearch {
    /// Index of the entry in the table.
    pub entry: usize,
    pub variant: String,
    pub shape: String,
    /// Every split raced, the rule's first.
    pub trials: Vec<SplitTrial>,
    /// The split written to the entry; `None`: the rule's stood.
    pub chosen: Option<Split>,
    pub note: String,
}

/// The splits to race for `threads` threads at `g`, the rule's first; empty when fewer than
/// two fit.
pub fn contenders(threads: usize, g: &Gemm) -> Vec<Split> {
    let Some(rule) = Split::rule(threads, g) else {
        return Vec::new();
    };
    let mut out = vec![rule];
    out.extend(
        Split::ALL
            .into_iter()
            .filter(|s| *s != rule && s.fits(threads, g)),
    );
    if out.len() < 2 {
        out.clear();
    }
    out
}

/// Races the thread splits of every MatMul entry of `table` bound to a threaded variant
/// (see the module docs), until `deadline`, and writes a winner that beats the rule's split
/// beyond the noise into its entry. Returns one record per race.
pub fn search(
    table: &mut Table,
    run: &Run,
    cfg: &Config,
    source: &mut dyn CounterSource,
    progress: &mut Progress,
    deadline: Instant,
) -> Vec<SplitSearch> {
    // (entry, variant, shape, splits) of every entry with something to race.
    let todo: Vec<_> = table
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.op == Op::Matmul.name())
        .filter_map(|(i, e)| {
            let (_, v) = catalog().find(&e.variant)?;
            if v.threads < 2 || v.runnable().is_err() {
                return None;
            }
            let size = e.evidence.measured_size.unwrap_or(e.min);
            let shape = shapes_at(run, Op::Matmul, e.bucket, size).first()?.shape();
            let Shape::MatMul(g) = shape else {
                return None;
            };
            let splits = contenders(v.threads, &g);
            (!splits.is_empty()).then_some((i, v, shape, splits))
        })
        .collect();
    progress.add(todo.len() as u64);
    let mut out = Vec::new();
    for (j, (i, v, shape, splits)) in todo.iter().enumerate() {
        let label = format!("matmul {} at {shape}", v.id);
        let now = Instant::now();
        if now >= deadline {
            progress.end(&format!("{label}: thread split not raced (budget spent)"));
            continue;
        }
        progress.begin(&format!("{label}: thread splits"));
        let Ok(problem) = Problem::random(Op::Matmul, *shape, cfg.seed) else {
            continue;
        };
        let params = table.entries[*i].params.map(|p| p.to_kernel());
        let cands: Vec<Cand> = splits
            .iter()
            .enumerate()
            .map(|(k, &s)| {
                let label = if k == 0 {
                    format!("split {s} (rule)")
                } else {
                    format!("split {s}")
                };
                let tuning = Tuning {
                    params,
                    split: Some(s),
                };
                Cand::tuned(v, tuning, &label)
            })
            .collect();
        let soft = crate::tune::fair_share(now, deadline, todo.len() - j);
        let o = crate::params::race_step(&problem, &cands, cfg, &mut *source, (soft, deadline));
        let trials: Vec<SplitTrial> = splits
            .iter()
            .zip(&cands)
            .enumerate()
            .filter_map(|(k, (s, c))| {
                o.get(&c.id).map(|r| SplitTrial {
                    split: *s,
                    rule: k == 0,
                    median_ns: r.timing.median_ns,
                    spread_ns: r.timing.spread_ns,
                })
            })
            .collect();
        let Some(rule) = trials.first().filter(|t| t.rule) else {
            progress.end(&format!(
                "{label}: the rule's split did not finish its race"
            ));
            continue;
        };
        let rule_fig = (rule.median_ns, rule.spread_ns);
        let winner = trials[1..]
            .iter()
            .filter(|t| crate::params::faster(cfg, (t.median_ns, t.spread_ns), Some(rule_fig)))
            .min_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
        let fmt = backends::timing::fmt_ns;
        let note = match winner {
            Some(w) => format!(
                "thread split raced at {shape}: {} ({}) beat the rule's {} ({})",
                w.split,
                fmt(w.median_ns),
                rule.split,
                fmt(rule.median_ns)
            ),
            None => format!(
                "thread split raced at {shape}: the rule's {} stood ({} splits)",
                rule.split,
                trials.len()
            ),
        };
        let entry = &mut table.entries[*i];
        entry.split = winner.map(|w| w.split);
        crate::params::append_note(&mut entry.evidence, &note);
        progress.end(&format!("{label}: {note}"));
        out.push(SplitSearch {
            entry: *i,
            variant: v.id.clone(),
            shape: shape.to_string(),
            chosen: winner.map(|w| w.split),
            trials,
            note,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is raced: the rule's split first, then the others that fit; nothing where one
    /// split or none fits (one thread, a wide product's rows only, a transposed B's columns
    /// only).
    #[test]
    fn contenders_start_with_the_rule_and_need_two() {
        assert_eq!(
            contenders(2, &Gemm::new(1, 1024, 1024)),
            [Split::K, Split::Cols]
        );
        assert_eq!(
            contenders(2, &Gemm::new(10, 1024, 1024)),
            [Split::K, Split::Rows]
        );
        assert!(contenders(1, &Gemm::new(1, 1024, 1024)).is_empty());
        assert!(contenders(2, &Gemm::new(512, 512, 512)).is_empty());
        assert!(contenders(2, &Gemm::new(1, 128, 8192).with_trans(false, true)).is_empty());
    }
}
