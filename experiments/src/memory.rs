//! Memory and allocation studies.
//!
//! * [`memory_study`] (`experiments memory`): the same implementation with pooled, direct and
//!   (where the op has one) in-place memory, and the fused `add_layernorm` against Add then
//!   LayerNorm: time and heap allocations per iteration.
//! * [`alloc_study`] (`experiments alloc`): the MatMul backward (dA = dC·Bᵀ, dB = Aᵀ·dC at
//!   128×256 @ 256×128, 100 iterations) and the study's training workload (a chain of three
//!   MatMuls, batch 32, hidden 256, forward and backward with SGD, 50 steps), each through
//!   the selected dispatcher and through pooled and direct forms of one implementation:
//!   allocations per iteration and samples per second.
//!
//! Allocation figures need the counting allocator ([`crate::alloc_counter`]), which the
//! `experiments` binary installs.

use crate::alloc_counter;
use crate::report::markdown_table;
use anyhow::{Context, Result};
use backends::problem::Problem;
use backends::timing::{self, fmt_bytes, fmt_ns_precise};
use backends::{catalog, Buf, Dispatcher, Key, Memory, Op, Shape, Variant};
use kernels::layernorm::{Affine, LayerNormOut};
use kernels::matmul::Gemm;
use kernels::Rows;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Instant;

/// Time and allocations of a repeated piece of work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub iters: usize,
    /// Median time of one iteration.
    pub median_ns: f64,
    /// Median absolute deviation of the iterations' times.
    pub mad_ns: f64,
    /// Total time of all iterations.
    pub total_ns: f64,
    pub allocs_per_iter: f64,
    pub bytes_per_iter: f64,
}

/// Runs `f` once untimed, then `iters` timed iterations, counting allocations over them.
pub fn measure(iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<Measured> {
    f()?;
    let iters = iters.max(1);
    let mut times = Vec::with_capacity(iters);
    let before = alloc_counter::snapshot();
    let start = Instant::now();
    timing::sample_into(1, iters, &mut times, f)?;
    let total_ns = start.elapsed().as_nanos() as f64;
    let used = alloc_counter::snapshot().since(before);
    // The times vector was allocated before the snapshot, so it is not counted.
    Ok(Measured {
        iters,
        median_ns: timing::median(&times),
        mad_ns: timing::mad(&times),
        total_ns,
        allocs_per_iter: used.allocs as f64 / iters as f64,
        bytes_per_iter: used.bytes as f64 / iters as f64,
    })
}

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// The catalog variant with `v`'s op, implementation and threads but memory `m`.
pub fn sibling(v: &Variant, m: Memory) -> Option<&'static Variant> {
    catalog().of(v.op).find(|s| {
        s.implementation == v.implementation
            && s.threads == v.threads
            && s.memory == m
            && s.runnable().is_ok()
    })
}

/// The variant the dispatcher binds for `op` at `shape`, or, with `implementation`, that
/// implementation's single-threaded pooled variant (falling back to the dispatcher's pick
/// when the op has no such implementation).
pub fn chosen(
    d: &Dispatcher,
    op: Op,
    shape: Shape,
    implementation: Option<&str>,
) -> &'static Variant {
    let picked = d.lookup(op, shape.key()).variant();
    implementation
        .and_then(|imp| {
            catalog().of(op).find(|v| {
                v.implementation == imp
                    && v.memory == Memory::Pooled
                    && v.threads == 1
                    && v.runnable().is_ok()
            })
        })
        .unwrap_or(picked)
}

fn row(label: String, variant: &str, m: &Measured, counted: bool) -> Vec<String> {
    vec![
        label,
        variant.to_string(),
        fmt_ns_precise(m.median_ns),
        format!("{:.1}", 100.0 * m.mad_ns / m.median_ns.max(1.0)),
    ]
    .into_iter()
    .chain(alloc_cells(m, counted, 2))
    .collect()
}

/// The allocations (with `decimals`) and bytes per iteration, or `n/m` (not measured) twice
/// when the counting allocator is not installed.
fn alloc_cells(m: &Measured, counted: bool, decimals: usize) -> [String; 2] {
    if counted {
        [
            format!("{:.decimals$}", m.allocs_per_iter),
            fmt_bytes(m.bytes_per_iter),
        ]
    } else {
        ["n/m".into(), "n/m".into()]
    }
}

fn header(first: &str) -> Vec<String> {
    vec![
        first.to_string(),
        "variant".into(),
        "time/iter (median)".into(),
        "MAD %".into(),
        "allocs/iter".into(),
        "bytes/iter".into(),
    ]
}

/// `experiments memory`: pooled vs direct vs in place per op, and fused vs separate
/// LayerNorm. Returns Markdown.
pub fn memory_study(d: &Dispatcher, implementation: Option<&str>, iters: usize) -> Result<String> {
    let counted = alloc_counter::installed();
    let mut out = String::from("# Memory study\n\n");
    out.push_str(&format!(
        "Each figure: one untimed call, then {iters} timed iterations (median time, allocations averaged). Implementation: {}.\n\n",
        implementation.map_or("the dispatcher's choice per op and size".to_string(), |i| format!("`{i}` where the op has it"))
    ));
    out.push_str("## Pooled vs direct vs in place\n\n");
    let cases: [(Op, &str); 6] = [
        (Op::Matmul, "128"),
        (Op::GeluTanh, "100000"),
        (Op::Softmax, "64x1024"),
        (Op::Layernorm, "32x512"),
        (Op::Add, "10000"),
        (Op::AddBias, "100x100"),
    ];
    let mut table = vec![header("op / size / memory")];
    for (op, text) in cases {
        let shape = Shape::parse(op, text).map_err(anyhow::Error::msg)?;
        let base = chosen(d, op, shape, implementation);
        let problem = Problem::random(op, shape, 21).map_err(anyhow::Error::msg)?;
        for mem in Memory::ALL {
            let Some(v) = sibling(base, mem) else {
                continue;
            };
            let mut p = problem.clone();
            let m = if mem == Memory::InPlace {
                // Restore the input each time (repeating GELU on its own output would reach
                // denormals); the copy allocates nothing and is part of the timed figure.
                measure(iters, || {
                    p.inputs[0].copy_from_slice(&problem.inputs[0]);
                    black_box(p.execute(v)?);
                    Ok(())
                })?
            } else {
                measure(iters, || {
                    black_box(p.execute(v)?);
                    Ok(())
                })?
            };
            table.push(row(
                format!("{op} {text} {}", mem.name()),
                &v.id,
                &m,
                counted,
            ));
        }
    }
    out.push_str(&markdown_table(&table));
    out.push_str("\nIn-place rows include restoring the input (one copy, no allocation) before every call. Every row also carries one harness allocation: the catalog harness (`Problem::execute`) returns the outputs in a `Vec` (40 B per output buffer); beyond it, pooled rows allocate nothing and direct rows allocate their outputs (and MatMul scratch).\n");

    out.push_str("\n## Fused add_layernorm vs Add then LayerNorm\n\n");
    let mut table = vec![header("rows×cols / form / memory")];
    for (rows, cols) in [(32usize, 512usize), (128, 256)] {
        let shape = Rows::new(rows, cols);
        let n = shape.len();
        let (x, res) = (random(n, 31), random(n, 32));
        let (gamma, beta) = (vec![1.0f32; cols], vec![0.0f32; cols]);
        let fused_base = chosen(d, Op::AddLayernorm, Shape::Rows(shape), implementation);
        for mem in [Memory::Pooled, Memory::Direct] {
            let imp = fused_base.implementation;
            let fd = forced(imp, mem, fused_base.threads)?;
            let p = || Affine {
                gamma: &gamma,
                beta: &beta,
            };
            let fused = measure(iters, || {
                let mut sum = backends::exec::alloc(mem, n);
                let mut norm = NormOutputs::alloc(mem, shape);
                fd.add_layernorm(shape, 1e-5, &x, &res, &mut sum, p(), norm.out())?;
                black_box((sum, norm));
                Ok(())
            })?;
            let fused_id = fd
                .lookup(Op::AddLayernorm, Key::elems(n))
                .variant()
                .id
                .clone();
            table.push(row(
                format!("{rows}×{cols} fused {}", mem.name()),
                &fused_id,
                &fused,
                counted,
            ));
            let separate = measure(iters, || {
                let sum = fd.add_new(&x, &res)?;
                let mut norm = NormOutputs::alloc(mem, shape);
                fd.layernorm(shape, 1e-5, &sum, p(), norm.out())?;
                black_box((sum, norm));
                Ok(())
            })?;
            let ids = format!(
                "{} + {}",
                fd.lookup(Op::Add, Key::elems(n)).variant().id,
                fd.lookup(Op::Layernorm, Key::elems(n)).variant().id
            );
            table.push(row(
                format!("{rows}×{cols} add, then layernorm {}", mem.name()),
                &ids,
                &separate,
                counted,
            ));
        }
    }
    out.push_str(&markdown_table(&table));
    if !counted {
        out.push_str("\nAllocations not measured (n/m): the counting allocator is not installed in this process.\n");
    }
    Ok(out)
}

/// A LayerNorm's outputs (the rows, then each row's mean and rstd), allocated the way a
/// dispatcher with one memory strategy allocates them.
struct NormOutputs {
    y: Buf,
    mean: Buf,
    rstd: Buf,
}

impl NormOutputs {
    fn alloc(mem: Memory, shape: Rows) -> NormOutputs {
        NormOutputs {
            y: backends::exec::alloc(mem, shape.len()),
            mean: backends::exec::alloc(mem, shape.rows),
            rstd: backends::exec::alloc(mem, shape.rows),
        }
    }

    fn out(&mut self) -> LayerNormOut<'_> {
        LayerNormOut {
            y: &mut self.y,
            mean: &mut self.mean,
            rstd: &mut self.rstd,
        }
    }
}

/// `implementation` with `memory` and `threads` on every op, refused (a usage error naming
/// it) where it cannot run as named ([`Dispatcher::try_forced`]).
pub fn forced(implementation: &str, memory: Memory, threads: usize) -> Result<Dispatcher> {
    Dispatcher::try_forced(implementation, memory, threads).map_err(|e| {
        crate::guard::usage(format!(
            "{implementation}/{}/t{threads}: {e}",
            memory.name()
        ))
    })
}

/// The pooled and direct forms of `implementation` with `threads` the allocation study
/// runs through, checked up front; their warnings (ops the implementation lacks), once each.
pub fn study_forms(implementation: &str, threads: usize) -> Result<(Vec<Dispatcher>, Vec<String>)> {
    let ds = vec![
        forced(implementation, Memory::Pooled, threads)?,
        forced(implementation, Memory::Direct, threads)?,
    ];
    let mut warnings: Vec<String> = Vec::new();
    for w in ds.iter().flat_map(|d| d.warnings()) {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    Ok((ds, warnings))
}

/// The dispatchers an allocation study runs through: the selected one, and pooled and direct
/// forms of `implementation` with `threads`.
fn study_dispatchers(
    d: &Dispatcher,
    implementation: &str,
    threads: usize,
) -> Result<Vec<(String, Dispatcher)>> {
    let (forms, _) = study_forms(implementation, threads)?;
    let mut out = vec![(format!("selected ({})", source_name(d)), d.clone())];
    for (f, mem) in forms.into_iter().zip([Memory::Pooled, Memory::Direct]) {
        out.push((format!("{implementation}/{}/t{threads}", mem.name()), f));
    }
    Ok(out)
}

/// A short name for where a dispatcher came from.
pub fn source_name(d: &Dispatcher) -> String {
    match d.source() {
        backends::dispatch::Source::Embedded => "embedded table".into(),
        backends::dispatch::Source::File(p) => p.clone(),
        backends::dispatch::Source::Forced(f) => format!("forced {f}"),
    }
}

/// One MatMul backward: dA = dC·Bᵀ and dB = Aᵀ·dC for C = A·B, A m×k, B k×n.
fn matmul_backward(
    d: &Dispatcher,
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    dc: &[f32],
) -> Result<()> {
    // dA (m×k) = dC (m×n) · Bᵀ, B stored k×n.
    let ga = Gemm::new(m, n, k).with_trans(false, true);
    let da = d.matmul_new(&ga, 1.0, dc, b)?;
    // dB (k×n) = Aᵀ · dC, A stored m×k.
    let gb = Gemm::new(k, m, n).with_trans(true, false);
    let db = d.matmul_new(&gb, 1.0, a, dc)?;
    black_box((da, db));
    Ok(())
}

/// The study's training workload: x (batch×h) → h1 = x·W1 → h2 = h1·W2 → y = h2·W3, loss
/// ½‖y − target‖², backward through the chain and an SGD step on W1..W3.
pub struct Chain {
    pub batch: usize,
    pub hidden: usize,
    w: [Vec<f32>; 3],
    x: Vec<f32>,
    target: Vec<f32>,
}

impl Chain {
    pub fn new(batch: usize, hidden: usize) -> Chain {
        let scale = 1.0 / (hidden as f32).sqrt();
        let w = [1u64, 2, 3].map(|s| {
            random(hidden * hidden, 40 + s)
                .iter()
                .map(|v| v * scale)
                .collect()
        });
        Chain {
            batch,
            hidden,
            w,
            x: random(batch * hidden, 50),
            target: random(batch * hidden, 51),
        }
    }

    /// One forward + backward + update step; returns the loss.
    pub fn step(&mut self, d: &Dispatcher, lr: f32) -> Result<f32> {
        let (bsz, h) = (self.batch, self.hidden);
        let fwd = Gemm::new(bsz, h, h);
        let h1 = d.matmul_new(&fwd, 1.0, &self.x, &self.w[0])?;
        let h2 = d.matmul_new(&fwd, 1.0, &h1, &self.w[1])?;
        let y = d.matmul_new(&fwd, 1.0, &h2, &self.w[2])?;
        // dy = y − target (the loss gradient), in a pooled buffer.
        let mut loss = 0.0f32;
        let mut dy = backends::exec::alloc(Memory::Pooled, y.len());
        for ((g, &yv), &t) in dy.iter_mut().zip(y.iter()).zip(&self.target) {
            *g = yv - t;
            loss += 0.5 * *g * *g;
        }
        // Gradients: dW = inputᵀ · d(output), d(input) = d(output) · Wᵀ.
        let gw = Gemm::new(h, bsz, h).with_trans(true, false);
        let gx = Gemm::new(bsz, h, h).with_trans(false, true);
        let dw3 = d.matmul_new(&gw, 1.0, &h2, &dy)?;
        let dh2 = d.matmul_new(&gx, 1.0, &dy, &self.w[2])?;
        let dw2 = d.matmul_new(&gw, 1.0, &h1, &dh2)?;
        let dh1 = d.matmul_new(&gx, 1.0, &dh2, &self.w[1])?;
        let dw1 = d.matmul_new(&gw, 1.0, &self.x, &dh1)?;
        let step = lr / bsz as f32;
        for (w, dw) in self.w.iter_mut().zip([&dw1, &dw2, &dw3]) {
            for (wv, &g) in w.iter_mut().zip(dw.iter()) {
                *wv -= step * g;
            }
        }
        Ok(loss / bsz as f32)
    }
}

/// An extra workload for the allocation study (e.g. a model's training step): a name,
/// samples per iteration, iterations, how to bind a dispatcher (called before measuring, so
/// its allocations are not counted) and the body of one iteration.
pub struct ExtraWorkload {
    pub name: String,
    pub samples_per_iter: usize,
    pub iters: usize,
    pub set_dispatch: Box<dyn FnMut(&Dispatcher)>,
    pub step: Box<dyn FnMut() -> Result<()>>,
}

/// `experiments alloc`: allocations per iteration and samples/s of the MatMul backward and
/// the training chain (and any extra workloads) through each dispatcher. Returns Markdown.
pub fn alloc_study(
    d: &Dispatcher,
    implementation: &str,
    threads: usize,
    extra: &mut [ExtraWorkload],
) -> Result<String> {
    let counted = alloc_counter::installed();
    let mut out = String::from("# Allocation study\n\n");
    let dispatchers = study_dispatchers(d, implementation, threads)?;
    let head = vec![
        "workload".to_string(),
        "dispatcher".into(),
        "iterations".into(),
        "time/iter (median)".into(),
        "samples/s".into(),
        "allocs/iter".into(),
        "bytes/iter".into(),
    ];
    let mut table = vec![head];
    let mut push = |w: &str, dn: &str, m: &Measured, samples: usize| {
        let per_s = samples as f64 * m.iters as f64 / (m.total_ns / 1e9);
        let mut line = vec![
            w.to_string(),
            dn.to_string(),
            m.iters.to_string(),
            fmt_ns_precise(m.median_ns),
            format!("{per_s:.0}"),
        ];
        line.extend(alloc_cells(m, counted, 1));
        table.push(line);
    };

    // MatMul backward, 128×256 @ 256×128.
    let (m, k, n) = (128, 256, 128);
    let (a, b, dc) = (random(m * k, 60), random(k * n, 61), random(m * n, 62));
    for (name, disp) in &dispatchers {
        let r = measure(100, || matmul_backward(disp, (m, k, n), &a, &b, &dc))
            .with_context(|| format!("MatMul backward through {name}"))?;
        push("MatMul backward 128×256 @ 256×128 (batch 128)", name, &r, m);
    }

    // Training chain, batch 32, hidden 256, 50 steps.
    let (batch, hidden) = (32, 256);
    for (name, disp) in &dispatchers {
        let mut chain = Chain::new(batch, hidden);
        let r = measure(50, || {
            chain.step(disp, 0.01).map(|l| {
                black_box(l);
            })
        })
        .with_context(|| format!("training chain through {name}"))?;
        push(
            "training chain 3×MatMul, batch 32, hidden 256",
            name,
            &r,
            batch,
        );
    }

    for w in extra.iter_mut() {
        for (name, disp) in &dispatchers {
            (w.set_dispatch)(disp);
            let r = measure(w.iters, || (w.step)())
                .with_context(|| format!("{} through {name}", w.name))?;
            push(&w.name, name, &r, w.samples_per_iter);
        }
    }
    out.push_str(&format!(
        "Each workload: one untimed iteration, then the stated number of timed ones. The pooled and direct rows force `{implementation}` with {threads} thread(s) on every op; the selected row uses the dispatch table as loaded. samples/s = samples per iteration × iterations / total time.\n\n"
    ));
    out.push_str(&markdown_table(&table));
    if !counted {
        out.push_str("\nAllocations not measured (n/m): the counting allocator is not installed in this process.\n");
    }
    Ok(out)
}
