//! Named, nested timing scopes with allocation counts.
//!
//! A [`Profiler`] keeps a stack of open scopes. Closing one adds its duration to its record
//! and to its parent's *child time*, so a scope's **self time** is its total minus the time
//! spent in its child scopes, and no time is counted twice when summing self times. Scopes
//! are keyed by their path (`matmul_512/run`): the same name under different parents stays
//! separate. Allocation counts come from [`crate::alloc_counter`] (process-wide, so work a
//! scope hands to other threads is included); the profiler's own bookkeeping allocations are
//! excluded.

use crate::alloc_counter::{self, Counts};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::time::Instant;

struct Frame {
    record: usize,
    start: Instant,
    allocs_at_start: Counts,
    overhead_at_start: Counts,
    child_ns: u64,
    child_allocs: Counts,
}

#[derive(Debug, Clone, Default)]
struct Record {
    path: String,
    parent: Option<String>,
    depth: usize,
    durations: Vec<u64>,
    self_ns: u64,
    allocs: u64,
    bytes: u64,
    self_allocs: u64,
    self_bytes: u64,
}

struct State {
    stack: Vec<Frame>,
    records: Vec<Record>,
    start: Instant,
    /// Allocations made by the profiler's own bookkeeping, excluded from every scope.
    overhead: Counts,
}

fn add(a: Counts, b: Counts) -> Counts {
    Counts {
        allocs: a.allocs + b.allocs,
        bytes: a.bytes + b.bytes,
        frees: a.frees + b.frees,
    }
}

/// Collects scopes; single-threaded (open and close scopes on one thread).
pub struct Profiler {
    state: RefCell<State>,
}

/// Closes its scope when dropped.
#[must_use = "the scope closes when this guard is dropped"]
pub struct Guard<'a> {
    profiler: &'a Profiler,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.profiler.close();
    }
}

impl Default for Profiler {
    fn default() -> Self {
        Profiler::new()
    }
}

impl Profiler {
    /// A profiler whose wall clock starts now.
    pub fn new() -> Profiler {
        Profiler {
            state: RefCell::new(State {
                stack: Vec::new(),
                records: Vec::new(),
                start: Instant::now(),
                overhead: Counts::default(),
            }),
        }
    }

    /// Opens scope `name` inside the innermost open scope.
    pub fn scope(&self, name: &str) -> Guard<'_> {
        let entry = alloc_counter::snapshot();
        let mut st = self.state.borrow_mut();
        let parent = st.stack.last().map(|f| st.records[f.record].path.clone());
        let path = match &parent {
            Some(p) => format!("{p}/{name}"),
            None => name.to_string(),
        };
        let depth = st.stack.len();
        let record = match st.records.iter().position(|r| r.path == path) {
            Some(i) => i,
            None => {
                st.records.push(Record {
                    path,
                    parent,
                    depth,
                    ..Record::default()
                });
                st.records.len() - 1
            }
        };
        let stack_len = st.stack.len();
        st.stack.reserve(1);
        if stack_len == 0 {
            // Nothing to attribute to; keep the vector from reallocating later.
            st.stack.reserve(16);
        }
        let allocs_at_start = alloc_counter::snapshot();
        st.overhead = add(st.overhead, allocs_at_start.since(entry));
        let overhead_at_start = st.overhead;
        st.stack.push(Frame {
            record,
            start: Instant::now(),
            allocs_at_start,
            overhead_at_start,
            child_ns: 0,
            child_allocs: Counts::default(),
        });
        Guard { profiler: self }
    }

    /// Runs `f` inside scope `name` and returns its result.
    pub fn run<T>(&self, name: &str, f: impl FnOnce() -> T) -> T {
        let _g = self.scope(name);
        f()
    }

    fn close(&self) {
        let end = Instant::now();
        let allocs_now = alloc_counter::snapshot();
        let mut st = self.state.borrow_mut();
        let Some(frame) = st.stack.pop() else { return };
        let ns = end.duration_since(frame.start).as_nanos() as u64;
        let excluded = st.overhead.since(frame.overhead_at_start);
        let raw = allocs_now.since(frame.allocs_at_start);
        let used = Counts {
            allocs: raw.allocs.saturating_sub(excluded.allocs),
            bytes: raw.bytes.saturating_sub(excluded.bytes),
            frees: raw.frees.saturating_sub(excluded.frees),
        };
        let r = &mut st.records[frame.record];
        r.durations.push(ns);
        r.self_ns += ns.saturating_sub(frame.child_ns);
        r.allocs += used.allocs;
        r.bytes += used.bytes;
        r.self_allocs += used.allocs.saturating_sub(frame.child_allocs.allocs);
        r.self_bytes += used.bytes.saturating_sub(frame.child_allocs.bytes);
        if let Some(parent) = st.stack.last_mut() {
            parent.child_ns += ns;
            parent.child_allocs.allocs += used.allocs;
            parent.child_allocs.bytes += used.bytes;
        }
        // Growing the durations vector is bookkeeping too.
        let exit = alloc_counter::snapshot();
        st.overhead = add(st.overhead, exit.since(allocs_now));
    }

    /// Nanoseconds since the profiler was created.
    pub fn wall_ns(&self) -> u64 {
        self.state.borrow().start.elapsed().as_nanos() as u64
    }

    /// The figures of every scope so far, in the order scopes were first opened; `wall_ns`
    /// is the denominator of the shares.
    pub fn stats(&self, wall_ns: u64) -> Vec<ScopeStats> {
        let st = self.state.borrow();
        st.records
            .iter()
            .filter(|r| !r.durations.is_empty())
            .map(|r| ScopeStats::from_record(r, wall_ns))
            .collect()
    }
}

/// The figures of one scope, as written to the profile JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeStats {
    /// Path of names from the outermost scope, joined by `/`.
    pub name: String,
    /// The enclosing scope's path (absent at the top level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub depth: usize,
    pub calls: u64,
    /// Sum of all calls' durations.
    pub total_ns: u64,
    /// Total minus the time spent in child scopes.
    pub self_ns: u64,
    pub mean_ns: f64,
    pub median_ns: f64,
    pub min_ns: u64,
    pub max_ns: u64,
    /// Median absolute deviation of the calls' durations (0 for a single call).
    pub mad_ns: f64,
    /// `total_ns` as a fraction of the run's wall time.
    pub share: f64,
    /// `self_ns` as a fraction of the run's wall time.
    pub self_share: f64,
    /// Heap allocations during the scope (children included) and their bytes.
    pub allocs: u64,
    pub alloc_bytes: u64,
    /// Allocations not inside a child scope.
    pub self_allocs: u64,
    pub self_alloc_bytes: u64,
}

impl ScopeStats {
    fn from_record(r: &Record, wall_ns: u64) -> ScopeStats {
        let xs: Vec<f64> = r.durations.iter().map(|&d| d as f64).collect();
        let total: u64 = r.durations.iter().sum();
        let wall = wall_ns.max(1) as f64;
        ScopeStats {
            name: r.path.clone(),
            parent: r.parent.clone(),
            depth: r.depth,
            calls: r.durations.len() as u64,
            total_ns: total,
            self_ns: r.self_ns,
            mean_ns: total as f64 / r.durations.len() as f64,
            median_ns: backends::timing::median(&xs),
            min_ns: r.durations.iter().copied().min().unwrap_or(0),
            max_ns: r.durations.iter().copied().max().unwrap_or(0),
            mad_ns: backends::timing::mad(&xs),
            share: total as f64 / wall,
            self_share: r.self_ns as f64 / wall,
            allocs: r.allocs,
            alloc_bytes: r.bytes,
            self_allocs: r.self_allocs,
            self_alloc_bytes: r.self_bytes,
        }
    }
}
