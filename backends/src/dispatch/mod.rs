//! The dispatcher: a dispatch table bound to function pointers.
//!
//! Loading resolves every entry's variant id against this build's catalog once; a lookup on
//! the hot path is an array index by op and bucket plus a short scan of sorted ranges (no
//! string hashing): 3.3 ns for a MatMul and 1.5 ns for a GELU lookup, medians measured with
//! `cargo bench -p backends --bench dispatch` on the 2-core development VM. Sizes no range
//! covers use the nearest range above, or the last one.
//!
//! Loading rules (ARCHITECTURE.md): unknown format or version, malformed JSON, bad figures and
//! unsorted or overlapping ranges are errors naming the file; an entry whose variant is
//! needs a CPU feature this machine lacks (or that `KERNELS_DISABLE` masks) is replaced by its
//! nearest runnable sibling (AVX2 for AVX-512, same memory and threads), and an entry whose
//! variant is unknown to this build is skipped: its sizes go to the nearest range above, or to
//! the embedded default where a bucket has no usable range; one warning names them all. A
//! table from another machine loads only with [`LoadOptions::allow_foreign`], and then with a
//! warning. The embedded default binds a masked entry the same way (so a file holding the
//! default's entries binds as the default does), and where one of its entries needs more
//! threads than this machine offers, the same implementation with fewer threads serves.

mod add;
mod attention;
mod bias_gelu;
mod gelu;
mod layernorm;
mod matmul;
mod softmax;

use crate::catalog::{catalog, parse_id, Kernel, Memory, Variant, VariantIndex};
use crate::exec;
use crate::op::{Bucket, Key};
use crate::spec::Op;
use crate::spec::{Registered, Run, Tuning};
use crate::table::{Table, TableError};
use kernels::Result;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The embedded default table, produced by the tuner and checked by the same loader.
pub const DEFAULT_TABLE: &str = include_str!("../default_table.json");

/// A variant bound for calling: its kernel, memory strategy and threads, and what its table
/// entry chose besides (kernel parameters, thread split; `None`s: the defaults).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub index: VariantIndex,
    pub kernel: Kernel,
    pub memory: Memory,
    pub threads: usize,
    pub tuning: Tuning,
}

impl Bound {
    fn of(index: VariantIndex, v: &Variant) -> Bound {
        Bound {
            index,
            kernel: v.kernel,
            memory: v.memory,
            threads: v.threads,
            tuning: Tuning::default(),
        }
    }

    /// The bound variant's catalog entry.
    pub fn variant(&self) -> &'static Variant {
        catalog().get(self.index)
    }
}

#[derive(Debug, Clone)]
struct Range {
    max: u64,
    bound: Bound,
}

/// How to load a table.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Load a table whose machine fingerprint differs from this machine's (with a warning).
    pub allow_foreign: bool,
}

/// Where a dispatcher's choices came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Embedded,
    File(String),
    Forced(String),
}

/// Why a forced choice ([`Dispatcher::try_forced`]) cannot run as named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForceError {
    #[error("unknown implementation `{name}` (known: {known})")]
    UnknownImplementation { name: String, known: String },
    #[error("no variant `{id}` in this build (the op's variants: {known})")]
    UnknownVariant { id: String, known: String },
    #[error(
        "`{implementation}` offers no {threads}-thread variant here (thread counts: {offered}; this machine offers {available})"
    )]
    Threads {
        implementation: String,
        threads: usize,
        offered: String,
        available: usize,
    },
    #[error("`{implementation}` cannot run on this CPU: {reason}")]
    Unrunnable {
        implementation: String,
        reason: String,
    },
}

const BUCKETS: usize = Bucket::ALL.len();

/// One dispatched call as the trace records it: the op and the table key it was looked up
/// at (the bucket and size the dispatcher chose its variant by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Call {
    pub op: Op,
    pub key: Key,
    /// Whether the call overwrote its first input (an op's in-place form).
    pub inplace: bool,
}

/// The opt-in call recorder of one dispatcher ([`Dispatcher::start_trace`]). Off, a dispatch
/// pays one relaxed atomic load; on, it appends under a lock. A clone of a dispatcher starts
/// with its own recorder, off, so tracing one dispatcher never records another's calls.
#[derive(Debug, Default)]
struct Trace {
    on: AtomicBool,
    calls: Mutex<Vec<Call>>,
    /// With [`Dispatcher::start_timed_trace`]: when each recorded call was picked.
    timed: AtomicBool,
    times: Mutex<Vec<Instant>>,
    /// Indices of recorded calls that ran inside one team call with others (`crate::fused`),
    /// whose times cannot be told apart.
    fused: Mutex<Vec<usize>>,
}

impl Clone for Trace {
    fn clone(&self) -> Trace {
        Trace::default()
    }
}

impl Trace {
    /// The recorded calls, also after a thread panicked while holding the lock (the list is
    /// only ever pushed to, so it is whole).
    fn calls(&self) -> std::sync::MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Vec<Instant>> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fused(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.fused.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the last `n` recorded calls as run inside one team call.
    fn mark_fused(&self, n: usize) {
        if self.on.load(Ordering::Relaxed) {
            let len = self.calls().len();
            self.fused().extend(len.saturating_sub(n)..len);
        }
    }

    #[inline]
    fn record(&self, call: Call) {
        if self.on.load(Ordering::Relaxed) {
            self.calls().push(call);
            if self.timed.load(Ordering::Relaxed) {
                self.times().push(Instant::now());
            }
        }
    }
}

/// Binds ops and shapes to variants. Cheap to share (`&Dispatcher` is `Sync`).
#[derive(Debug, Clone)]
pub struct Dispatcher {
    slots: Vec<[Vec<Range>; BUCKETS]>,
    warnings: Vec<String>,
    source: Source,
    trace: Trace,
}

fn empty_slots() -> Vec<[Vec<Range>; BUCKETS]> {
    Op::ALL
        .iter()
        .map(|_| std::array::from_fn(|_| Vec::new()))
        .collect()
}

impl Dispatcher {
    /// The embedded default table (a real tuned table, loaded by the same code as any other).
    pub fn embedded() -> &'static Dispatcher {
        static EMBEDDED: OnceLock<Dispatcher> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            let path = Path::new("<embedded default table>");
            let table = Table::parse(DEFAULT_TABLE, path)
                .expect("the embedded default table is valid (tested)");
            let mut d = Dispatcher::bind(&table, None);
            d.source = Source::Embedded;
            d
        })
    }

    /// Loads a table file with the loading rules above.
    pub fn from_file(
        path: &Path,
        opts: LoadOptions,
    ) -> std::result::Result<Dispatcher, TableError> {
        let table = Table::load(path)?;
        Dispatcher::from_table(&table, path, opts)
    }

    /// Binds an already parsed table; `path` names it in messages.
    pub fn from_table(
        table: &Table,
        path: &Path,
        opts: LoadOptions,
    ) -> std::result::Result<Dispatcher, TableError> {
        table.check_entries(path)?;
        let here = crate::machine::Machine::detect();
        let mut foreign = None;
        if table.machine.fingerprint != here.fingerprint {
            if !opts.allow_foreign {
                return Err(TableError::Foreign {
                    path: path.into(),
                    theirs: table.machine.fingerprint.clone(),
                    their_cpu: table.machine.cpu.clone(),
                    ours: here.fingerprint,
                });
            }
            foreign = Some(format!(
                "{}: tuned on another machine ({}, {}); loaded because it was asked for, but its choices may be slow here",
                path.display(),
                table.machine.cpu,
                table.machine.fingerprint
            ));
        }
        check_params(table, path)?;
        let mut d = Dispatcher::bind(table, Some(Dispatcher::embedded()));
        d.source = Source::File(path.display().to_string());
        if let Some(w) = foreign {
            d.warnings.insert(0, w);
        }
        // One summary per skipped-entry kind, so a foreign build's table does not flood.
        if !d.warnings.is_empty() {
            for w in &d.warnings {
                eprintln!("warning: {w}");
            }
        }
        Ok(d)
    }

    /// Binds `table`; holes and skipped entries fall back to `fallback` (or the reference).
    fn bind(table: &Table, fallback: Option<&Dispatcher>) -> Dispatcher {
        let cat = catalog();
        let mut slots = empty_slots();
        let mut warnings = Vec::new();
        let mut skipped = Vec::new();
        for e in &table.entries {
            let Some(op) = Op::from_name(&e.op) else {
                skipped.push(format!("{} (unknown op `{}`)", e.variant, e.op));
                continue;
            };
            let mut resolved = cat.find(&e.variant).filter(|(_, v)| v.op == op);
            if resolved.is_none() && fallback.is_none() {
                // The embedded table was tuned with more threads than this machine may offer:
                // the same implementation with the threads there are beats the reference.
                if let Some((i, s)) = thread_sibling(&e.variant, op) {
                    skipped.push(format!(
                        "{} (needs more threads than the {} this machine offers; {} serves instead)",
                        e.variant,
                        crate::threads::available(),
                        s.id
                    ));
                    resolved = Some((i, s));
                }
            }
            let Some((index, v)) = resolved else {
                let why = match parse_id(&e.variant) {
                    Some((vop, ..)) if vop != op => format!("is a {vop} variant in a {op} entry"),
                    Some(_) => "is not in this build's catalog".into(),
                    None => "is not a variant id (op/implementation/memory/tN)".into(),
                };
                skipped.push(format!("{} ({why})", e.variant));
                continue;
            };
            let params = e.params.as_ref().map(|p| p.to_kernel());
            let (index, v, params) = match v.runnable() {
                Ok(()) => (index, v, params),
                // A variant this CPU cannot run (a missing or masked feature): the nearest
                // portable sibling of the same memory and threads is the closest choice to
                // what was tuned, for the embedded table (no default behind it) and for a
                // file alike, so both bind a masked entry the same way.
                Err(why) => match portable_sibling(v) {
                    Some((i, s)) => {
                        // The entry's parameters were chosen for its own kernel's tiles.
                        let dropped = if params.is_some() {
                            " with its default parameters"
                        } else {
                            ""
                        };
                        skipped.push(format!(
                            "{} ({why}; {}{dropped} serves instead)",
                            e.variant, s.id
                        ));
                        (i, s, None)
                    }
                    None => {
                        skipped.push(format!("{} ({why})", e.variant));
                        continue;
                    }
                },
            };
            // Entries were checked sorted; keep their order.
            slots[op as usize][e.bucket.index()].push(Range {
                max: e.upper(),
                bound: Bound {
                    tuning: Tuning {
                        params,
                        split: e.split,
                    },
                    ..Bound::of(index, v)
                },
            });
            // Ranges are looked up by upper bound: a hole below `min` goes to this entry.
        }
        if !skipped.is_empty() {
            warnings.push(format!(
                "{} table entr{} skipped or replaced (a sibling where named, else the nearest range above, or the default where a bucket has none, serves their sizes): {}",
                skipped.len(),
                if skipped.len() == 1 { "y" } else { "ies" },
                skipped.join("; ")
            ));
        }
        let mut d = Dispatcher {
            slots,
            warnings,
            source: Source::Embedded,
            trace: Trace::default(),
        };
        d.fill_holes(fallback);
        d
    }

    /// Gives every (op, bucket) without a usable range the fallback's ranges. Without a
    /// fallback (the embedded table itself): an op the table has entries for gets its
    /// reference in the buckets it leaves empty (which its keys never reach); an op the
    /// table does not know at all (one added after the table was tuned) gets the fastest own
    /// vector form this CPU runs ([`fastest_own`]) in every bucket, so a new op is not served
    /// by the naive reference until a table is retuned.
    fn fill_holes(&mut self, fallback: Option<&Dispatcher>) {
        let most_threads = self
            .slots
            .iter()
            .flatten()
            .flatten()
            .map(|r| r.bound.threads)
            .max()
            .unwrap_or(1);
        for op in Op::ALL {
            let known = self.slots[op as usize].iter().any(|s| !s.is_empty());
            for b in Bucket::ALL {
                let slot = &mut self.slots[op as usize][b.index()];
                if !slot.is_empty() {
                    continue;
                }
                *slot = match fallback {
                    Some(f) => f.slots[op as usize][b.index()].clone(),
                    None => {
                        let (index, v) = if known {
                            catalog().reference(op)
                        } else {
                            fastest_own(op, most_threads)
                        };
                        vec![Range {
                            max: u64::MAX,
                            bound: Bound::of(index, v),
                        }]
                    }
                };
            }
        }
    }

    /// Like [`Dispatcher::forced`], but refuses a choice that cannot run as named: an unknown
    /// implementation, a thread count the catalog does not offer on this machine, or a family
    /// none of whose variants this CPU can run (the error says why, e.g. AVX-512 missing or
    /// masked). Ops the family does not implement at all (`gemm` has only MatMul) use the
    /// reference, as in `forced`, and [`Dispatcher::warnings`] names them once.
    pub fn try_forced(
        implementation: &str,
        memory: Memory,
        threads: usize,
    ) -> std::result::Result<Dispatcher, ForceError> {
        let cat = catalog();
        let family: Vec<&Variant> = cat
            .variants()
            .iter()
            .filter(|v| v.implementation == implementation)
            .collect();
        if family.is_empty() {
            let mut known: Vec<&str> = cat.variants().iter().map(|v| v.implementation).collect();
            known.sort_unstable();
            known.dedup();
            return Err(ForceError::UnknownImplementation {
                name: implementation.to_string(),
                known: known.join(", "),
            });
        }
        let offered = crate::threads::counts();
        if !family.iter().any(|v| v.threads == threads) {
            let mut counts: Vec<usize> = family.iter().map(|v| v.threads).collect();
            counts.sort_unstable();
            counts.dedup();
            return Err(ForceError::Threads {
                implementation: implementation.to_string(),
                threads,
                offered: counts
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                available: *offered.last().unwrap_or(&1),
            });
        }
        if let Some(reason) = family
            .iter()
            .find_map(|v| v.runnable().err())
            .filter(|_| family.iter().all(|v| v.runnable().is_err()))
        {
            return Err(ForceError::Unrunnable {
                implementation: implementation.to_string(),
                reason,
            });
        }
        let mut d = Dispatcher::forced(implementation, memory, threads);
        let missing: Vec<&str> = Op::ALL
            .iter()
            .filter(|op| !family.iter().any(|v| v.op == **op && v.threads == threads))
            .map(|op| op.name())
            .collect();
        if !missing.is_empty() && implementation != "naive" {
            d.warnings.push(format!(
                "`{implementation}` has no {} variant at t{threads}; those ops run the naive reference",
                missing.join(", ")
            ));
        }
        Ok(d)
    }

    /// Every op uses the given implementation family (`naive`, `avx512`, `gemm`, ...) with the
    /// given memory strategy and thread count where it offers one; other ops, and variants
    /// this CPU cannot run, use the reference's code (naive, one thread) with that memory
    /// strategy where it has it. For tests; a user's choice goes through
    /// [`Dispatcher::try_forced`], which refuses what cannot run as named.
    pub fn forced(implementation: &str, memory: Memory, threads: usize) -> Dispatcher {
        let cat = catalog();
        let mut slots = empty_slots();
        for op in Op::ALL {
            let found = cat
                .variants()
                .iter()
                .enumerate()
                .find(|(_, v)| {
                    v.op == op
                        && v.implementation == implementation
                        && v.memory == memory
                        && v.threads == threads
                        && v.runnable().is_ok()
                })
                .or_else(|| {
                    cat.variants().iter().enumerate().find(|(_, v)| {
                        v.op == op
                            && v.implementation == implementation
                            && v.threads == threads
                            && v.runnable().is_ok()
                    })
                })
                .or_else(|| {
                    // The reference's code with the family's memory strategy (a pooled scratch
                    // for a pooled family), on one thread.
                    cat.variants().iter().enumerate().find(|(_, v)| {
                        v.op == op && v.implementation == "naive" && v.memory == memory
                    })
                })
                .map(|(i, v)| (i as VariantIndex, v))
                .unwrap_or_else(|| cat.reference(op));
            for b in Bucket::ALL {
                slots[op as usize][b.index()] = vec![Range {
                    max: u64::MAX,
                    bound: Bound::of(found.0, found.1),
                }];
            }
        }
        Dispatcher {
            slots,
            warnings: Vec::new(),
            source: Source::Forced(format!("{implementation}/{}/t{threads}", memory.name())),
            trace: Trace::default(),
        }
    }

    /// This dispatcher with `op` bound, in every bucket, to the variant `implementation` /
    /// `memory` / `threads` (e.g. one op on the reference while the others keep their
    /// choices, to compare that op alone); an error when the catalog has no such variant or
    /// it cannot run here.
    pub fn with_op(
        mut self,
        op: Op,
        implementation: &str,
        memory: Memory,
        threads: usize,
    ) -> std::result::Result<Dispatcher, ForceError> {
        let id = crate::catalog::variant_id(op, implementation, memory, threads);
        let (i, v) = runnable_variant(op, &id)?;
        for b in Bucket::ALL {
            self.slots[op as usize][b.index()] = vec![Range {
                max: u64::MAX,
                bound: Bound::of(i, v),
            }];
        }
        Ok(self)
    }

    /// Warnings raised while loading (skipped entries, a foreign machine).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Where this dispatcher's choices came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Starts recording every call dispatched through this dispatcher (from any thread), in
    /// order, dropping what an earlier trace left. For tests and for replaying a workload's
    /// calls; off (the default) a dispatch pays one relaxed atomic load for it.
    pub fn start_trace(&self) {
        self.trace.calls().clear();
        self.trace.on.store(true, Ordering::Relaxed);
    }

    /// Stops recording and returns the calls recorded since [`Dispatcher::start_trace`], in
    /// dispatch order (empty if no trace was started).
    pub fn take_trace(&self) -> Vec<Call> {
        self.trace.on.store(false, Ordering::Relaxed);
        self.trace.timed.store(false, Ordering::Relaxed);
        self.trace.times().clear();
        self.trace.fused().clear();
        std::mem::take(&mut *self.trace.calls())
    }

    /// Notes that the last `n` calls picked run together in one team call (`crate::fused`):
    /// a timed trace cannot time them one by one.
    pub(crate) fn mark_fused(&self, n: usize) {
        self.trace.mark_fused(n);
    }

    /// [`Dispatcher::start_trace`], also noting when each call is picked: a call's time in
    /// [`Dispatcher::take_timed_trace`] runs until the next call is picked, so it is the call's
    /// own work plus whatever the caller did before its next dispatch (a copy, a loop step).
    /// This times each call where it runs, between its real neighbours, at about one clock
    /// reading per call.
    pub fn start_timed_trace(&self) {
        self.start_trace();
        self.trace.times().clear();
        self.trace.timed.store(true, Ordering::Relaxed);
    }

    /// Stops a timed recording and returns each call with its time (until the next call was
    /// picked; the last until now), `None` for calls that ran inside one team call with
    /// others (`Dispatcher::mlp`), which cannot be timed apart. Empty unless
    /// [`Dispatcher::start_timed_trace`] started it.
    pub fn take_timed_trace(&self) -> Vec<(Call, Option<Duration>)> {
        let end = Instant::now();
        let timed = self.trace.timed.swap(false, Ordering::Relaxed);
        let times = std::mem::take(&mut *self.trace.times());
        let fused = std::mem::take(&mut *self.trace.fused());
        let calls = self.take_trace();
        if !timed || times.len() != calls.len() {
            return Vec::new();
        }
        calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let next = times.get(i + 1).copied().unwrap_or(end);
                let t = (!fused.contains(&i)).then(|| next.saturating_duration_since(times[i]));
                (c, t)
            })
            .collect()
    }

    /// This dispatcher with exactly the size `key.size` of `op`'s bucket `key.bucket` bound to
    /// the variant `id` (its other sizes keep their binding): to time one call's candidates
    /// inside a workload. An error when the catalog has no such variant of `op` or it cannot
    /// run here.
    pub fn with_key(
        mut self,
        op: Op,
        key: Key,
        id: &str,
    ) -> std::result::Result<Dispatcher, ForceError> {
        let (i, v) = runnable_variant(op, id)?;
        let slot = &mut self.slots[op as usize][key.bucket.index()];
        let bound = Bound::of(i, v);
        let size = key.size;
        let at = slot.iter().position(|r| size <= r.max);
        let mut out = Vec::with_capacity(slot.len() + 2);
        match at {
            Some(idx) => {
                let lo = if idx == 0 { 0 } else { slot[idx - 1].max + 1 };
                let old = slot[idx].clone();
                out.extend_from_slice(&slot[..idx]);
                if size > lo {
                    out.push(Range {
                        max: size - 1,
                        bound: old.bound,
                    });
                }
                out.push(Range { max: size, bound });
                if old.max > size {
                    out.push(old);
                }
                out.extend_from_slice(&slot[idx + 1..]);
            }
            // Beyond the last range (which then serves every larger size): keep it, and after
            // the one size, its binding again.
            None => {
                let last = slot.last().cloned();
                out.extend_from_slice(slot);
                if let Some(l) = &last {
                    if size > l.max + 1 {
                        out.push(Range {
                            max: size - 1,
                            bound: l.bound,
                        });
                    }
                }
                out.push(Range { max: size, bound });
                if let Some(l) = last {
                    out.push(Range {
                        max: u64::MAX,
                        bound: l.bound,
                    });
                }
            }
        }
        *slot = out;
        Ok(self)
    }

    /// The variant bound to `op` at `key`. This is the hot-path lookup.
    #[inline]
    pub fn lookup(&self, op: Op, key: Key) -> &Bound {
        let ranges = &self.slots[op as usize][key.bucket.index()];
        for r in ranges {
            if key.size <= r.max {
                return &r.bound;
            }
        }
        &ranges[ranges.len() - 1].bound
    }

    /// The ranges bound for `op` in `bucket`: `(min, max, variant)` in order (for reports).
    pub fn ranges(&self, op: Op, bucket: Bucket) -> Vec<(u64, u64, &'static Variant)> {
        let mut lo = 0;
        self.slots[op as usize][bucket.index()]
            .iter()
            .map(|r| {
                let item = (lo, r.max, r.bound.variant());
                lo = r.max.saturating_add(1);
                item
            })
            .collect()
    }

    /// Whether `self` and `other` bind the same variant at every op and size (the same ranges
    /// of every bucket): two such dispatchers run identically, so any difference measured
    /// between them is noise.
    pub fn same_bindings(&self, other: &Dispatcher) -> bool {
        Op::ALL.iter().all(|&op| {
            Bucket::ALL.iter().all(|&b| {
                let ids = |d: &Dispatcher| -> Vec<(u64, u64, &str)> {
                    d.ranges(op, b)
                        .into_iter()
                        .map(|(lo, hi, v)| (lo, hi, v.id.as_str()))
                        .collect()
                };
                ids(self) == ids(other)
            })
        })
    }

    /// The kernel and run of the variant bound to spec `S` at `key`, typed: the per-op call
    /// methods (in each op's spec module) go through here. Binding puts only `S`'s variants
    /// in `S`'s slot, so the `None` arm cannot happen; it is an error, not a panic, all the
    /// same.
    #[inline]
    pub(crate) fn pick<S: Registered>(&self, key: Key) -> Result<(S::Kernel, Run)> {
        self.pick_form::<S>(key, false)
    }

    /// [`Dispatcher::pick`] for a call of the in-place form (`inplace`), as the trace records it.
    #[inline]
    pub(crate) fn pick_form<S: Registered>(
        &self,
        key: Key,
        inplace: bool,
    ) -> Result<(S::Kernel, Run)> {
        self.trace.record(Call {
            op: S::OP,
            key,
            inplace,
        });
        let bd = self.lookup(S::OP, key);
        let run = Run {
            tuning: bd.tuning,
            ..Run::new(bd.memory, bd.threads)
        };
        S::unwrap(&bd.kernel)
            .map(|k| (k, run))
            .ok_or_else(|| exec::mismatch(S::NAME))
    }
}

/// The catalog variant `id` of `op`, or why it cannot be bound: not in this build's catalog
/// (or of another op), or not runnable on this CPU.
fn runnable_variant(
    op: Op,
    id: &str,
) -> std::result::Result<(VariantIndex, &'static Variant), ForceError> {
    let Some((i, v)) = catalog().find(id).filter(|(_, v)| v.op == op) else {
        return Err(ForceError::UnknownVariant {
            id: id.into(),
            known: catalog()
                .of(op)
                .map(|v| v.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    match v.runnable() {
        Ok(()) => Ok((i, v)),
        Err(reason) => Err(ForceError::Unrunnable {
            implementation: id.into(),
            reason,
        }),
    }
}

/// Every entry's kernel parameters and thread split against the variant it names (entries
/// whose variant this build lacks are skipped when bound, choices and all): parameters for a
/// kernel that takes none or that it cannot use (a micro-tile it lacks), or a split for a
/// variant that is not a threaded MatMul, are an error naming the entry.
fn check_params(table: &Table, path: &Path) -> std::result::Result<(), TableError> {
    for (index, e) in table.entries.iter().enumerate() {
        if e.params.is_none() && e.split.is_none() {
            continue;
        }
        let Some((_, v)) = catalog().find(&e.variant) else {
            continue;
        };
        let kernel = crate::spec::matmul::Matmul::unwrap(&v.kernel);
        let why = match (kernel, &e.params) {
            (Some(k), Some(p)) => k.accepts(&p.to_kernel()).err(),
            (None, Some(_)) => Some("only MatMul variants take kernel parameters".into()),
            (_, None) => None,
        }
        .or_else(|| match (kernel, e.split) {
            (None, Some(_)) => Some("only MatMul variants take a thread split".into()),
            (Some(_), Some(s)) if v.threads < 2 => Some(format!(
                "thread split `{s}` for a single-threaded variant (a split needs t2 or more)"
            )),
            _ => None,
        });
        if let Some(problem) = why {
            return Err(TableError::Entry {
                path: path.into(),
                index,
                op: e.op.clone(),
                bucket: e.bucket.name().into(),
                problem: format!("{}: {problem}", e.variant),
            });
        }
    }
    Ok(())
}

/// For a variant id `op/implementation/memory/tN` that this build's catalog lacks because N
/// exceeds the thread counts offered here: the same implementation and memory with the most
/// threads offered below N.
fn thread_sibling(id: &str, op: Op) -> Option<(VariantIndex, &'static Variant)> {
    let (vop, imp, memory, threads) = parse_id(id)?;
    if vop != op {
        return None;
    }
    catalog()
        .variants()
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.op == op && s.implementation == imp && s.memory == memory && s.threads < threads
        })
        .max_by_key(|(_, s)| s.threads)
        .map(|(i, s)| (i as VariantIndex, s))
}

/// For an op no table entry names: its widest own vector form this CPU runs (AVX-512, AVX2,
/// NEON), pooled, with the most threads up to `max_threads` (the most the table binds
/// anywhere; the thread split only engages above its size threshold, so small calls still
/// run on one thread); the reference where none runs.
fn fastest_own(op: Op, max_threads: usize) -> (VariantIndex, &'static Variant) {
    const ORDER: [&str; 3] = ["avx512", "avx2", "neon"];
    ORDER
        .iter()
        .find_map(|name| {
            catalog()
                .variants()
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.op == op
                        && s.implementation == *name
                        && s.memory == Memory::Pooled
                        && s.threads <= max_threads.max(1)
                        && s.runnable().is_ok()
                })
                .max_by_key(|(_, s)| s.threads)
        })
        .map(|(i, s)| (i as VariantIndex, s))
        .unwrap_or_else(|| catalog().reference(op))
}

/// The first runnable variant of `v`'s op, memory strategy and threads in an order of
/// decreasing speed and portability (AVX2 for AVX-512, then the peer crates, tiled, naive).
fn portable_sibling(v: &Variant) -> Option<(VariantIndex, &'static Variant)> {
    const ORDER: [&str; 6] = ["avx2", "neon", "gemm", "matrixmultiply", "tiled", "naive"];
    ORDER
        .iter()
        .find_map(|name| {
            catalog().variants().iter().enumerate().find(|(_, s)| {
                s.op == v.op
                    && s.implementation == *name
                    && s.memory == v.memory
                    && (s.threads == v.threads || *name == "naive")
                    && s.runnable().is_ok()
            })
        })
        .map(|(i, s)| (i as VariantIndex, s))
}

impl Default for Dispatcher {
    fn default() -> Self {
        Dispatcher::embedded().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bindings_tells_identical_dispatchers_from_different_ones() {
        let d = Dispatcher::embedded();
        assert!(d.same_bindings(&d.clone()));
        let naive = Dispatcher::forced("naive", Memory::Pooled, 1);
        assert!(!d.same_bindings(&naive));
        assert!(!naive.same_bindings(d));
    }
    use kernels::matmul::Gemm;

    /// The trace records each dispatched call's op and key in order, only between
    /// `start_trace` and `take_trace`, and a clone does not share the recorder.
    #[test]
    fn the_trace_records_dispatched_calls_in_order_only_when_on() {
        let d = Dispatcher::forced("naive", Memory::Pooled, 1);
        let (a, b) = (vec![1.0f32; 6], vec![2.0f32; 6]);
        let mut out = vec![0.0f32; 6];
        d.add(&a, &b, &mut out).unwrap();
        assert!(d.take_trace().is_empty(), "off by default");
        d.start_trace();
        let other = d.clone();
        other.add(&a, &b, &mut out).unwrap();
        d.add(&a, &b, &mut out).unwrap();
        d.matmul(&Gemm::new(2, 3, 2), 1.0, &a, &b, 0.0, &mut out[..4])
            .unwrap();
        d.add_inplace(&mut out, &b).unwrap();
        let calls = d.take_trace();
        assert_eq!(
            calls,
            [
                Call {
                    op: Op::Add,
                    key: Key::elems(6),
                    inplace: false,
                },
                Call {
                    op: Op::Matmul,
                    key: Key::matmul(2, 3, 2),
                    inplace: false,
                },
                Call {
                    op: Op::Add,
                    key: Key::elems(6),
                    inplace: true,
                },
            ]
        );
        assert!(other.take_trace().is_empty(), "a clone records on its own");
        d.add(&a, &b, &mut out).unwrap();
        assert!(d.take_trace().is_empty(), "take_trace stops the recording");
    }

    /// `with_key` binds exactly one size: the sizes next to it, below the first range and
    /// beyond the last keep their variants.
    #[test]
    fn with_key_binds_exactly_one_size() {
        let base = Dispatcher::forced("naive", Memory::Direct, 1);
        let naive = base.lookup(Op::Add, Key::elems(1)).variant().id.clone();
        let tiled = "add/naive/pooled/t1";
        for size in [0u64, 1, 500, u64::MAX - 1] {
            let d = base
                .clone()
                .with_key(Op::Add, Key::elems(size as usize), tiled)
                .unwrap();
            let at = |s: u64| {
                d.lookup(
                    Op::Add,
                    Key {
                        bucket: Bucket::All,
                        size: s,
                    },
                )
                .variant()
                .id
                .clone()
            };
            assert_eq!(at(size), tiled, "{size}");
            for s in [size.wrapping_sub(1), size + 1] {
                if s != size && s < u64::MAX {
                    assert_eq!(at(s), naive, "{size} neighbour {s}");
                }
            }
        }
        // Twice, at two sizes: both bound, the sizes between keep theirs.
        let d = base
            .clone()
            .with_key(Op::Add, Key::elems(10), tiled)
            .unwrap()
            .with_key(Op::Add, Key::elems(20), tiled)
            .unwrap();
        let id = |n: usize| d.lookup(Op::Add, Key::elems(n)).variant().id.clone();
        assert_eq!(
            (id(10), id(15), id(20), id(21)),
            (tiled.into(), naive.clone(), tiled.into(), naive)
        );
        assert!(base
            .clone()
            .with_key(Op::Add, Key::elems(1), "matmul/naive/direct/t1")
            .is_err());
        assert!(base
            .with_key(Op::Add, Key::elems(1), "add/nope/pooled/t1")
            .is_err());
    }

    /// A timed trace gives every call a time, in order; an untimed one gives none.
    #[test]
    fn timed_trace_times_every_call() {
        let d = Dispatcher::forced("naive", Memory::Pooled, 1);
        let (a, b) = (vec![1.0f32; 64], vec![2.0f32; 64]);
        let mut out = vec![0.0f32; 64];
        d.start_timed_trace();
        d.add(&a, &b, &mut out).unwrap();
        d.add_inplace(&mut out, &b).unwrap();
        let t = d.take_timed_trace();
        assert_eq!(t.len(), 2);
        assert!(!t[0].0.inplace && t[1].0.inplace);
        assert!(t.iter().all(|(_, d)| d.is_some()));
        d.start_trace();
        d.add(&a, &b, &mut out).unwrap();
        assert!(d.take_timed_trace().is_empty());
    }
}
