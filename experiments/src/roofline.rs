//! The roofline of this machine, measured, with every variant placed on it — in one run.
//!
//! 1. **Compute roof**: the single-core FMA throughput of a register-only loop
//!    ([`kernels::probe::fma_loop`], 12 independent accumulators) with AVX-512 and AVX2; the
//!    roof is the best of the two (best sample of several).
//! 2. **Bandwidth roofs**: one thread's read bandwidth (a SIMD sum, [`kernels::probe::read_sum`],
//!    the better of AVX-512 and AVX2)
//!    and copy bandwidth (`copy_from_slice`, bytes = read + write) at working sets that sit in
//!    L1 (16 KiB), L2 (512 KiB), L3 (8 MiB) and DRAM (256 MiB).
//! 3. **Points**: every runnable single-threaded pooled variant (all forms with `all_forms`) of
//!    the study's shapes: MatMul 64…512, the decode shapes (m = 1, both presets and the LM
//!    heads), GELU and Softmax over 1M elements (in the last-level cache) and 8M (out of
//!    it, against DRAM), LayerNorm 32×512 and Add 10K. Each is
//!    checked against the reference first, then timed in interleaved rounds (drift hits all
//!    variants of a shape alike), each sample after one untimed call that brings its operands
//!    back into cache.
//!
//! Arithmetic intensity uses compulsory traffic: MatMul reads A and B and writes C once
//! (β = 0); element-wise and row ops read their inputs and write their outputs once. FLOP
//! counts of the non-MatMul ops are nominal (per element: GELU 8, Softmax 5, LayerNorm 8,
//! Add 1) and only place the point on the x axis; their figure of merit is GB/s against the
//! copy roof. The **applicable limit** of a point is min(compute roof, intensity × bandwidth)
//! with the bandwidth of the cache level its working set fits in (read bandwidth for MatMul,
//! copy bandwidth for the others).

use crate::report::markdown_table;
use anyhow::{anyhow, Result};
use backends::problem::Problem;
use backends::timing::{self, fmt_bytes, fmt_ns_precise, Order};
use backends::{catalog, Memory, Op, Shape, Variant};
use kernels::cpu::{self, Feature};
use plotters::prelude::*;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// The decode shapes (m = 1) of both presets and the LM heads, `MxKxN`.
pub const DECODE: [&str; 8] = [
    "1x128x384",
    "1x128x512",
    "1x512x128",
    "1x128x256",
    "1x256x768",
    "1x256x1024",
    "1x1024x256",
    "1x256x512",
];

/// Decode shapes whose weights leave a 1 MiB L2: 4 and 16 MiB (the last-level cache on most
/// machines) and 64 MiB (DRAM on most), so the m = 1 kernels are measured wherever weights
/// can live. Not in `--quick` runs.
pub const DECODE_BEYOND_L2: [&str; 3] = ["1x1024x1024", "1x2048x2048", "1x4096x4096"];

/// Peer implementations (not ours): the decode comparison is against the best of them.
pub const PEERS: [&str; 3] = ["gemm", "matrixmultiply", "openblas"];

/// How to run the study.
#[derive(Debug, Clone)]
pub struct Options {
    /// A few shapes, short budgets and a smaller DRAM set: seconds, for tests and smoke runs.
    pub quick: bool,
    /// Time per shape, all its variants together (at least `MIN_ROUNDS` rounds).
    pub budget: Duration,
    /// Every memory strategy and thread count, not only pooled/t1.
    pub all_forms: bool,
    /// Only shapes whose label contains one of these (empty: all).
    pub filter: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quick: false,
            budget: Duration::from_millis(400),
            all_forms: false,
            filter: vec![],
        }
    }
}

const MIN_ROUNDS: usize = 5;
const MAX_ROUNDS: usize = 400;

/// What a point's traffic is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    Read,
    Copy,
}

/// One bandwidth roof.
#[derive(Debug, Clone)]
pub struct Level {
    pub name: &'static str,
    /// The working set the probe used (bytes, all buffers together).
    pub working_set: usize,
    /// The cache capacity this level stands for (bytes; `usize::MAX` for DRAM).
    pub capacity: usize,
    pub read_gbs: f64,
    pub copy_gbs: f64,
    /// Why this level's figures are suspect, when the self-check found them out of order.
    pub flag: Option<String>,
}

impl Level {
    fn gbs(&self, t: Traffic) -> f64 {
        match t {
            Traffic::Read => self.read_gbs,
            Traffic::Copy => self.copy_gbs,
        }
    }
}

/// The measured roofs.
#[derive(Debug, Clone)]
pub struct Roofs {
    /// (feature, best GFLOP/s, median GFLOP/s) of the FMA loop.
    pub fma: Vec<(Feature, f64, f64)>,
    pub levels: Vec<Level>,
}

impl Roofs {
    /// The compute roof: the best FMA figure.
    pub fn peak(&self) -> f64 {
        self.fma.iter().map(|f| f.1).fold(0.0, f64::max)
    }

    /// The level a working set of `bytes` fits in.
    pub fn level_for(&self, bytes: usize) -> usize {
        self.levels
            .iter()
            .position(|l| bytes <= l.capacity)
            .unwrap_or(self.levels.len().saturating_sub(1))
    }
}

/// One variant at one shape.
#[derive(Debug, Clone)]
pub struct Point {
    pub label: String,
    pub op: Op,
    pub shape: Shape,
    pub variant: &'static Variant,
    pub median_ns: f64,
    pub mad_ns: f64,
    pub samples: usize,
    pub flops: f64,
    pub bytes: f64,
    pub traffic: Traffic,
    /// Index into [`Roofs::levels`].
    pub level: usize,
    /// For a decode shape (m = 1): the read bandwidth of the best SIMD read-sum over a buffer
    /// of this point's working-set bytes, warm like the variants and timed in the same
    /// interleaved rounds, GB/s. It is the bound for these bytes wherever they sit, where the
    /// level's roof, probed at half the level's capacity, misplaces a working set near a
    /// level's boundary (part of a 1 MiB B stays in a 1 MiB L2).
    pub footprint_gbs: Option<f64>,
}

impl Point {
    pub fn gflops(&self) -> f64 {
        self.flops / self.median_ns
    }
    pub fn gbs(&self) -> f64 {
        self.bytes / self.median_ns
    }
    pub fn intensity(&self) -> f64 {
        self.flops / self.bytes
    }
    /// The applicable limit in GFLOP/s and what sets it.
    pub fn limit(&self, r: &Roofs) -> (f64, String) {
        let l = &r.levels[self.level];
        let mem = self.intensity() * l.gbs(self.traffic);
        let kind = match self.traffic {
            Traffic::Read => "read",
            Traffic::Copy => "copy",
        };
        if mem < r.peak() {
            (mem, format!("{} {kind}", l.name))
        } else {
            (r.peak(), "FMA peak".into())
        }
    }
}

impl Point {
    /// Why this point is above its limit, when it is (more than 100 % of it): the limit was
    /// under-measured (its level is flagged), or the operands sat in a closer, faster level
    /// than the working-set size alone suggests (the study measures warm operands).
    pub fn over_limit(&self, r: &Roofs) -> Option<String> {
        let (lim, what) = self.limit(r);
        let pct = 100.0 * self.gflops() / lim;
        if pct <= 100.0 {
            return None;
        }
        let level = &r.levels[self.level];
        Some(match &level.flag {
            Some(_) => format!(
                "{pct:.0}% of {what}: that roof failed its self-check (see the levels table)"
            ),
            None if what == "FMA peak" => format!(
                "{pct:.0}% of the FMA peak: the peak was under-measured (machine busy during the probe?)"
            ),
            None => format!(
                "{pct:.0}% of {what}: part of the working set stayed in a closer cache level between calls"
            ),
        })
    }
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct Roofline {
    pub cpu: String,
    pub quick: bool,
    pub roofs: Roofs,
    pub points: Vec<Point>,
    /// Variants left out, and why (wrong result, cannot run).
    pub excluded: Vec<String>,
}

fn best_and_median(xs: &[f64]) -> (f64, f64) {
    (xs.iter().copied().fold(0.0, f64::max), timing::median(xs))
}

/// Measures the FMA roof for every feature the probe covers.
pub fn measure_fma(quick: bool) -> Vec<(Feature, f64, f64)> {
    let (iters, samples) = if quick { (200_000, 3) } else { (2_000_000, 9) };
    let mut out = Vec::new();
    for f in [Feature::Avx512, Feature::Avx2] {
        if !cpu::available(f) {
            continue;
        }
        let flops = kernels::probe::fma_flops(f, iters) as f64;
        let _ = kernels::probe::fma_loop(f, iters / 10, black_box(0.5));
        let mut rates = Vec::new();
        for _ in 0..samples {
            let Ok(ns) = timing::time_once(0, || {
                kernels::probe::fma_loop(f, black_box(iters), black_box(0.5)).map(|x| {
                    black_box(x);
                })
            }) else {
                break;
            };
            rates.push(flops / ns);
        }
        if !rates.is_empty() {
            let (best, med) = best_and_median(&rates);
            out.push((f, best, med));
        }
    }
    out
}

/// One read pass over `x` with `feature`'s loads (a scalar sum when the probe lacks it).
fn read_pass(feature: Feature, x: &[f32]) -> f32 {
    kernels::probe::read_sum(feature, x).unwrap_or_else(|_| x.iter().sum())
}

/// Best-of-samples GB/s of `pass` over `bytes` per pass, each sample at least `min_ns`,
/// sampled until stable: rounds of `samples` samples continue (up to 6 rounds) while the best
/// figure still improves by more than 2 %, so one disturbed stretch cannot set a roof.
fn bandwidth(bytes: usize, samples: usize, min_ns: f64, mut pass: impl FnMut()) -> f64 {
    let mut pass = || {
        pass();
        Ok::<(), std::convert::Infallible>(())
    };
    let Ok(one) = timing::time_once(1, &mut pass);
    let reps = timing::calls_for(one.max(1.0), min_ns, 1, 1_000_000);
    let mut best = 0.0f64;
    for _round in 0..6 {
        let mut rates = Vec::new();
        for _ in 0..samples {
            let Ok(ns) = timing::time_calls(reps, &mut pass);
            rates.push(bytes as f64 * reps as f64 / ns.max(1.0));
        }
        let round_best = best_and_median(&rates).0;
        let improved = round_best > best * 1.02;
        best = best.max(round_best);
        if !improved {
            break;
        }
    }
    best
}

/// The working set (bytes, all buffers of a probe together) that stands for each level, from
/// the machine's cache sizes (per core for L1d and L2): half of a level's capacity, but at
/// least twice the level inside it, so that the probe's data sits in that level and not in the
/// one closer to the core. DRAM: 8× the last-level cache, at least 64 MiB (quick) or
/// 256 MiB and at most 2 GiB. A level the OS does not report (no L3 on some cores) is left out. Returns
/// `(name, working set, capacity)`.
pub fn working_sets(
    caches: &backends::machine::Caches,
    quick: bool,
) -> Vec<(&'static str, usize, usize)> {
    let l1 = caches
        .l1d
        .map(|b| b as usize)
        .filter(|&b| b > 0)
        .unwrap_or(32 << 10);
    let mut out = vec![("L1", l1 / 2, l1)];
    let mut inner = l1;
    for (name, size) in [("L2", caches.l2), ("L3", caches.l3)] {
        let Some(cap) = size.map(|b| b as usize).filter(|&b| b > inner) else {
            continue;
        };
        out.push((name, (cap / 2).max(2 * inner), cap));
        inner = cap;
    }
    let floor = if quick { 64 << 20 } else { 256 << 20 };
    // At most 2 GiB, whatever the last-level cache says (some report all of a socket's L3).
    out.push(("DRAM", (8 * inner).max(floor).min(2 << 30), usize::MAX));
    out
}

/// Read and copy bandwidth of one working set.
fn measure_level(ws: usize, samples: usize, min_ns: f64) -> (f64, f64) {
    let n = ws / 4;
    let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.5).collect();
    // The best of the AVX-512 and AVX2 loops: on Zen 4 the 256-bit one reads L1 faster, the
    // 512-bit one L2 and beyond.
    let read_gbs = [Feature::Avx512, Feature::Avx2]
        .into_iter()
        .filter(|&f| cpu::available(f))
        .map(|f| {
            bandwidth(ws, samples, min_ns, || {
                black_box(read_pass(f, black_box(&x)));
            })
        })
        .fold(0.0, f64::max);
    let read_gbs = if read_gbs > 0.0 {
        read_gbs
    } else {
        bandwidth(ws, samples, min_ns, || {
            black_box(black_box(&x).iter().sum::<f32>());
        })
    };
    drop(x);
    let src: Vec<f32> = (0..n / 2).map(|i| (i % 11) as f32).collect();
    let mut dst = vec![0.0f32; n / 2];
    let copy_gbs = bandwidth(ws, samples, min_ns, || {
        black_box(&mut dst).copy_from_slice(black_box(&src));
    });
    (read_gbs, copy_gbs)
}

/// Measures read and copy bandwidth at one working set per level ([`working_sets`]), then
/// checks the result: an inner level slower than the next outer one is impossible for a
/// working set that fits it, so both are measured again (twice at most); a level that stays
/// below carries a [`Level::flag`] saying so, and the report shows it.
pub fn measure_levels(quick: bool) -> Vec<Level> {
    let m = backends::machine::Machine::detect();
    let (samples, min_ns) = if quick { (3, 2e6) } else { (9, 2e7) };
    let mut levels: Vec<Level> = working_sets(&m.caches, quick)
        .into_iter()
        .map(|(name, ws, capacity)| {
            let (read_gbs, copy_gbs) = measure_level(ws, samples, min_ns);
            Level {
                name,
                working_set: ws,
                capacity,
                read_gbs,
                copy_gbs,
                flag: None,
            }
        })
        .collect();
    for i in 0..levels.len().saturating_sub(1) {
        for attempt in 0..=2 {
            let (inner, outer) = (&levels[i], &levels[i + 1]);
            let bad: Vec<&str> = [
                ("read", inner.read_gbs < outer.read_gbs),
                ("copy", inner.copy_gbs < outer.copy_gbs),
            ]
            .into_iter()
            .filter(|x| x.1)
            .map(|x| x.0)
            .collect();
            if bad.is_empty() {
                levels[i].flag = None;
                break;
            }
            if attempt == 2 {
                let (inner, outer) = (&levels[i], &levels[i + 1]);
                levels[i].flag = Some(format!(
                    "{} {} bandwidth ({:.1} / {:.1} GB/s read / copy) stayed below {}'s ({:.1} / {:.1}) in 3 measurements: \
                     the working set of {} may not be in {} on this machine, or the machine was busy; figures placed against it are suspect",
                    inner.name,
                    bad.join(" and "),
                    inner.read_gbs,
                    inner.copy_gbs,
                    outer.name,
                    outer.read_gbs,
                    outer.copy_gbs,
                    fmt_bytes(inner.working_set as f64),
                    inner.name,
                ));
                break;
            }
            for j in [i, i + 1] {
                let (r, c) = measure_level(levels[j].working_set, samples, min_ns);
                // Keep the best of the measurements: disturbance only ever slows a probe.
                levels[j].read_gbs = levels[j].read_gbs.max(r);
                levels[j].copy_gbs = levels[j].copy_gbs.max(c);
            }
        }
    }
    levels
}

/// The study's shapes: (label, op, shape text).
pub fn shapes(quick: bool) -> Vec<(String, Op, String)> {
    let mut v: Vec<(String, Op, String)> = Vec::new();
    let square: &[usize] = if quick {
        &[64]
    } else {
        &crate::study::MATMUL_SQUARE
    };
    for &n in square {
        v.push((format!("matmul {n}³"), Op::Matmul, n.to_string()));
    }
    let decode: &[&str] = if quick { &DECODE[3..4] } else { &DECODE };
    let beyond: &[&str] = if quick { &[] } else { &DECODE_BEYOND_L2 };
    for &s in decode.iter().chain(beyond) {
        v.push((format!("matmul {s}"), Op::Matmul, s.to_string()));
    }
    let (gelu, soft) = if quick {
        (10_000, "64x256")
    } else {
        (1_000_000, "64x15625")
    };
    v.push((
        format!("gelu_tanh {}", crate::study::short_count(gelu)),
        Op::GeluTanh,
        gelu.to_string(),
    ));
    v.push((format!("softmax {soft}"), Op::Softmax, soft.to_string()));
    if !quick {
        // 8M elements: input and output (64 MB) no longer fit the last-level cache, so these
        // points show the kernels against the memory bandwidth.
        v.push(("gelu_tanh 8M".into(), Op::GeluTanh, "8388608".into()));
        v.push(("softmax 128x65536".into(), Op::Softmax, "128x65536".into()));
    }
    let (r, c) = crate::study::LAYERNORM;
    v.push((
        format!("layernorm {r}x{c}"),
        Op::Layernorm,
        format!("{r}x{c}"),
    ));
    v.push((
        format!("add {}", crate::study::short_count(crate::study::ADD)),
        Op::Add,
        crate::study::ADD.to_string(),
    ));
    v
}

/// (nominal FLOP, compulsory bytes, working-set bytes, traffic kind) of one problem, from
/// the op's spec.
fn cost(op: Op, shape: Shape) -> (f64, f64, usize, Traffic) {
    let c = op.spec().cost(shape);
    let traffic = match shape {
        Shape::MatMul(_) => Traffic::Read,
        _ => Traffic::Copy,
    };
    (c.flops, c.bytes, c.bytes as usize, traffic)
}

/// Times every chosen variant of one shape in interleaved rounds.
fn measure_shape(
    label: &str,
    op: Op,
    shape: Shape,
    opts: &Options,
    roofs: &Roofs,
    excluded: &mut Vec<String>,
) -> Result<Vec<Point>> {
    let base = Problem::random(op, shape, 11).map_err(anyhow::Error::msg)?;
    let mut chosen: Vec<(&'static Variant, Problem, u64)> = Vec::new();
    for v in catalog().of(op) {
        if !opts.all_forms && (v.memory != Memory::Pooled || v.threads != 1) {
            continue;
        }
        if let Err(why) = v.runnable() {
            excluded.push(format!("{label}: {} cannot run: {why}", v.id));
            continue;
        }
        if let Err(why) = base.verify(v) {
            excluded.push(format!("{label}: {} EXCLUDED (wrong result): {why}", v.id));
            continue;
        }
        let mut p = base.clone();
        let first = timing::time_once(0, || p.execute(v).map(|o| drop(black_box(o))))?;
        let batch = if v.memory == Memory::InPlace {
            1
        } else {
            crate::crossover::batch_for(first)
        };
        chosen.push((v, p, batch));
    }
    let (flops, bytes, ws, traffic) = cost(op, shape);
    // A decode shape also times the read-sum over a buffer of its working set, one contender
    // per SIMD feature, after the variants.
    let probes: Vec<Feature> = match shape {
        Shape::MatMul(g) if g.m == 1 => [Feature::Avx512, Feature::Avx2]
            .into_iter()
            .filter(|&f| cpu::available(f))
            .collect(),
        _ => Vec::new(),
    };
    let probe_buf: Vec<f32> = if probes.is_empty() {
        Vec::new()
    } else {
        (0..ws / 4).map(|i| (i % 13) as f32 * 0.5).collect()
    };
    let probe_batch = match probes.first() {
        Some(&f) => crate::crossover::batch_for(timing::time_once(0, || {
            black_box(read_pass(f, black_box(&probe_buf)));
            Ok::<(), std::convert::Infallible>(())
        })?),
        None => 1,
    };
    let variants = chosen.len();
    let start = Instant::now();
    let times = timing::interleave(
        variants + probes.len(),
        Order::Fixed,
        |rounds, _| rounds < MIN_ROUNDS || (start.elapsed() < opts.budget && rounds < MAX_ROUNDS),
        |i| {
            if let Some(&f) = i.checked_sub(variants).and_then(|j| probes.get(j)) {
                let pass = || {
                    black_box(read_pass(f, black_box(&probe_buf)));
                    Ok::<(), anyhow::Error>(())
                };
                pass()?;
                return timing::per_call_ns(probe_batch, pass);
            }
            let (v, p, batch) = &mut chosen[i];
            if v.memory == Memory::InPlace {
                // Repeating an in-place op on its own output would drift the data (GELU
                // into denormals): restore the input outside the timed region.
                p.inputs[0].clone_from(&base.inputs[0]);
            } else {
                // One untimed call first: the other variants' samples evicted this one's
                // operands, and a point measures the op on warm data at its cache level.
                black_box(p.execute(v)?);
            }
            Ok::<f64, anyhow::Error>(timing::per_call_ns(*batch, || {
                p.execute(v).map(|o| drop(black_box(o)))
            })?)
        },
    )?;
    let level = roofs.level_for(ws);
    let footprint_gbs = times[variants..]
        .iter()
        .map(|t| ws as f64 / timing::median(t))
        .reduce(f64::max);
    Ok(chosen
        .iter()
        .zip(&times)
        .map(|((v, _, _), t)| Point {
            label: label.to_string(),
            op,
            shape,
            variant: v,
            median_ns: timing::median(t),
            mad_ns: timing::mad(t),
            samples: t.len(),
            flops,
            bytes,
            traffic,
            level,
            footprint_gbs,
        })
        .collect())
}

/// Runs the whole study: roofs first, then every shape's variants. `progress` gets one line
/// per finished step.
pub fn run(opts: &Options, mut progress: impl FnMut(&str)) -> Result<Roofline> {
    let budget = if opts.quick {
        opts.budget.min(Duration::from_millis(15))
    } else {
        opts.budget
    };
    let opts = Options {
        budget,
        ..opts.clone()
    };
    let fma = measure_fma(opts.quick);
    for (f, best, med) in &fma {
        progress(&format!(
            "FMA peak {f}: {best:.1} GFLOP/s (median {med:.1})"
        ));
    }
    let levels = measure_levels(opts.quick);
    for l in &levels {
        progress(&format!(
            "{} ({}): read {:.1} GB/s, copy {:.1} GB/s{}",
            l.name,
            fmt_bytes(l.working_set as f64),
            l.read_gbs,
            l.copy_gbs,
            l.flag
                .as_ref()
                .map_or(String::new(), |f| format!("  ⚑ {f}"))
        ));
    }
    let roofs = Roofs { fma, levels };
    if roofs.peak() <= 0.0 {
        return Err(anyhow!(
            "no FMA probe runs on this CPU (it covers AVX-512 and AVX2)"
        ));
    }
    let mut points = Vec::new();
    let mut excluded = Vec::new();
    for (label, op, text) in shapes(opts.quick) {
        if !opts.filter.is_empty() && !opts.filter.iter().any(|f| label.contains(f.as_str())) {
            continue;
        }
        let shape = Shape::parse(op, &text).map_err(anyhow::Error::msg)?;
        let pts = measure_shape(&label, op, shape, &opts, &roofs, &mut excluded)?;
        progress(&format!("{label}: {} variants", pts.len()));
        points.extend(pts);
    }
    Ok(Roofline {
        cpu: backends::machine::Machine::detect().cpu,
        quick: opts.quick,
        roofs,
        points,
        excluded,
    })
}

impl Roofline {
    /// The roofs, every point, the decode comparison and the element-wise comparison.
    pub fn markdown(&self) -> String {
        let r = &self.roofs;
        let mut s = format!(
            "# Roofline ({}){}\n\nOne thread. Compute roof: best sample of a 12-accumulator FMA loop. \
             Bandwidth roofs: best sample of a SIMD read-sum and of `copy_from_slice` (bytes = read + write).\n\n",
            self.cpu,
            if self.quick { " — quick run" } else { "" }
        );
        let mut t = vec![vec!["roof".to_string(), "best".into(), "median".into()]];
        for (f, best, med) in &r.fma {
            t.push(vec![
                format!("FMA {f} (GFLOP/s)"),
                format!("{best:.1}"),
                format!("{med:.1}"),
            ]);
        }
        s.push_str(&markdown_table(&t));
        let mut t = vec![vec![
            "level".to_string(),
            "working set".into(),
            "read GB/s".into(),
            "copy GB/s".into(),
        ]];
        t[0].push("self-check".into());
        for l in &r.levels {
            t.push(vec![
                l.name.to_string(),
                fmt_bytes(l.working_set as f64),
                format!("{:.1}", l.read_gbs),
                format!("{:.1}", l.copy_gbs),
                if l.flag.is_some() {
                    "⚑ FLAGGED"
                } else {
                    "ok"
                }
                .to_string(),
            ]);
        }
        s.push('\n');
        s.push_str(&markdown_table(&t));
        s.push_str(
            "\nWorking sets are half of each level's capacity (from the OS), at least twice the \
             level inside it; each figure is sampled until its best stops improving, and a level \
             slower than the next outer one is measured again and flagged if it stays so.\n",
        );
        for l in r.levels.iter().filter(|l| l.flag.is_some()) {
            s.push_str(&format!("\n⚑ {}\n", l.flag.as_deref().unwrap_or_default()));
        }

        s.push_str(
            "\n## Every point\n\nAI = FLOP per compulsory byte; limit = min(FMA peak, AI × the \
             bandwidth of the level the working set fits in).\n\n",
        );
        let mut t = vec![vec![
            "shape".to_string(),
            "variant".into(),
            "median".into(),
            "±MAD".into(),
            "GFLOP/s".into(),
            "GB/s".into(),
            "AI".into(),
            "limit".into(),
            "limit GFLOP/s".into(),
            "% of limit".into(),
        ]];
        for p in &self.points {
            let (lim, what) = p.limit(r);
            t.push(vec![
                p.label.clone(),
                p.variant.id.clone(),
                fmt_ns_precise(p.median_ns),
                fmt_ns_precise(p.mad_ns),
                format!("{:.2}", p.gflops()),
                format!("{:.1}", p.gbs()),
                format!("{:.3}", p.intensity()),
                what,
                format!("{lim:.1}"),
                match p.over_limit(r) {
                    Some(_) => format!("{:.0}% ⚑", 100.0 * p.gflops() / lim),
                    None => format!("{:.0}%", 100.0 * p.gflops() / lim),
                },
            ]);
        }
        s.push_str(&markdown_table(&t));
        let over: Vec<String> = self
            .points
            .iter()
            .filter_map(|p| {
                p.over_limit(r)
                    .map(|why| format!("* ⚑ {} {}: {why}\n", p.label, p.variant.id))
            })
            .collect();
        if !over.is_empty() {
            s.push_str("\nAbove their limit (flagged, not results):\n\n");
            s.extend(over);
        }

        let decode = self.decode_rows();
        if !decode.is_empty() {
            s.push_str(
                "\n## Decode shapes (m = 1): ours against the best peer\n\nRatio = best peer's \
                 median / ours (> 1: ours faster). % of level bw = our GB/s over the read \
                 bandwidth of the level the weights fit in (⚑ above 100 %: part of the weights \
                 stayed in a closer level). Footprint bw = a SIMD read-sum over a buffer of the \
                 shape's bytes, warm, timed in the same rounds: the read bound for those bytes \
                 wherever they sit.\n\n",
            );
            let mut t = vec![vec![
                "shape".to_string(),
                "ours (best)".into(),
                "GB/s".into(),
                "level".into(),
                "% of level bw".into(),
                "footprint bw".into(),
                "% of footprint bw".into(),
                "best peer".into(),
                "peer GB/s".into(),
                "ratio".into(),
            ]];
            for d in &decode {
                t.push(vec![
                    d.label.clone(),
                    d.ours.variant.implementation.to_string(),
                    format!("{:.1}", d.ours.gbs()),
                    r.levels[d.ours.level].name.to_string(),
                    {
                        let pct = 100.0 * d.ours.gbs() / r.levels[d.ours.level].read_gbs;
                        // Above 100 %: part of the weights stayed in a closer level.
                        format!("{pct:.0}%{}", if pct > 100.0 { " ⚑" } else { "" })
                    },
                    d.ours
                        .footprint_gbs
                        .map_or("-".into(), |b| format!("{b:.1}")),
                    d.ours
                        .footprint_gbs
                        .map_or("-".into(), |b| format!("{:.0}%", 100.0 * d.ours.gbs() / b)),
                    d.peer
                        .map_or("-".into(), |p| p.variant.implementation.to_string()),
                    d.peer.map_or("-".into(), |p| format!("{:.1}", p.gbs())),
                    d.ratio().map_or("-".into(), |x| format!("{x:.2}×")),
                ]);
            }
            s.push_str(&markdown_table(&t));
        }

        let ew: Vec<&Point> = self
            .points
            .iter()
            .filter(|p| matches!(p.op, Op::GeluTanh | Op::Softmax))
            .collect();
        if !ew.is_empty() {
            s.push_str(
                "\n## GELU and Softmax against the copy bandwidth of the same run\n\nBytes = \
                 input read + output written; copy roof of the level the working set fits in \
                 (1M: the last-level cache; 8M: DRAM, the data has left the caches). \
                 Target: copy time ≤ 1.5× … i.e. reaching ≥ 67% of copy bandwidth.\n\n",
            );
            let mut t = vec![vec![
                "shape".to_string(),
                "variant".into(),
                "GB/s".into(),
                "copy GB/s (level)".into(),
                "time / copy time".into(),
            ]];
            for p in ew {
                let l = &r.levels[p.level];
                t.push(vec![
                    p.label.clone(),
                    p.variant.id.clone(),
                    format!("{:.1}", p.gbs()),
                    format!("{:.1} ({})", l.copy_gbs, l.name),
                    format!("{:.2}", l.copy_gbs / p.gbs()),
                ]);
            }
            s.push_str(&markdown_table(&t));
        }
        if !self.excluded.is_empty() {
            s.push_str("\nLeft out:\n\n");
            for e in &self.excluded {
                s.push_str(&format!("* {e}\n"));
            }
        }
        s
    }

    /// Per decode shape: our fastest point and the fastest peer's.
    pub fn decode_rows(&self) -> Vec<DecodeRow<'_>> {
        let mut out = Vec::new();
        let mut labels: Vec<&str> = Vec::new();
        for p in &self.points {
            if matches!(p.shape, Shape::MatMul(g) if g.m == 1) && !labels.contains(&&*p.label) {
                labels.push(&p.label);
            }
        }
        for label in labels {
            let pts = self.points.iter().filter(|p| p.label == label);
            let fastest = |peer: bool| {
                pts.clone()
                    .filter(|p| {
                        PEERS.contains(&p.variant.implementation) == peer
                            && !p.variant.is_reference()
                            && p.variant.implementation != "naive"
                    })
                    .min_by(|a, b| a.median_ns.total_cmp(&b.median_ns))
            };
            if let Some(ours) = fastest(false) {
                out.push(DecodeRow {
                    label: label.to_string(),
                    ours,
                    peer: fastest(true),
                });
            }
        }
        out
    }

    /// The log-log roofline chart: the compute roof, one bandwidth roof per level (read), and
    /// every point coloured by implementation.
    /// Drawn in memory, then written atomically.
    pub fn svg(&self, path: &Path) -> Result<()> {
        let mut svg = String::new();
        self.draw(&mut svg, path)?;
        crate::guard::write_file(path, svg.as_bytes())
    }

    fn draw(&self, svg: &mut String, path: &Path) -> Result<()> {
        let err = |e: &dyn std::fmt::Debug| anyhow!("{}: cannot draw: {e:?}", path.display());
        let r = &self.roofs;
        let peak = r.peak();
        let ais = self.points.iter().map(|p| p.intensity());
        let (xmin, xmax) = ais.fold((0.05f64, 200.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let (xmin, xmax) = (xmin * 0.7, xmax * 1.5);
        let ymin = self
            .points
            .iter()
            .map(|p| p.gflops())
            .fold(peak, f64::min)
            .max(1e-3)
            * 0.5;
        let ymax = peak * 2.0;
        let root = SVGBackend::with_string(svg, (1000, 700)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Roofline, one thread ({})", self.cpu),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d((xmin..xmax).log_scale(), (ymin..ymax).log_scale())
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (FLOP / byte)")
            .y_desc("GFLOP/s")
            .x_label_formatter(&|x| format!("{x}"))
            .y_label_formatter(&|y| format!("{y}"))
            .draw()
            .map_err(|e| err(&e))?;
        let grid: Vec<f64> = (0..=200)
            .map(|i| xmin * (xmax / xmin).powf(i as f64 / 200.0))
            .collect();
        let roof_colours = [
            RGBColor(30, 30, 30),
            RGBColor(90, 90, 200),
            RGBColor(60, 150, 60),
            RGBColor(200, 120, 30),
            RGBColor(180, 40, 40),
        ];
        chart
            .draw_series(LineSeries::new(
                [(xmin, peak), (xmax, peak)],
                roof_colours[0].stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(format!("FMA peak {peak:.0} GFLOP/s"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], roof_colours[0].stroke_width(2))
            });
        for (i, l) in r.levels.iter().enumerate() {
            let c = roof_colours[(i + 1) % roof_colours.len()];
            let pts: Vec<(f64, f64)> = grid
                .iter()
                .map(|&x| (x, (x * l.read_gbs).min(peak)))
                .filter(|&(_, y)| y >= ymin)
                .collect();
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(1)))
                .map_err(|e| err(&e))?
                .label(format!("{} read {:.0} GB/s", l.name, l.read_gbs))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c));
        }
        let mut impls: Vec<&str> = Vec::new();
        for p in &self.points {
            if !impls.contains(&p.variant.implementation) {
                impls.push(p.variant.implementation);
            }
        }
        for (i, imp) in impls.iter().enumerate() {
            let colour = Palette99::pick(i + 3).to_rgba();
            let pts: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| p.variant.implementation == *imp)
                .map(|p| (p.intensity(), p.gflops()))
                .collect();
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                .map_err(|e| err(&e))?
                .label(imp.to_string())
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
        Ok(())
    }
}

/// One decode shape's comparison.
#[derive(Debug, Clone)]
pub struct DecodeRow<'a> {
    pub label: String,
    pub ours: &'a Point,
    pub peer: Option<&'a Point>,
}

impl DecodeRow<'_> {
    /// Best peer's median over ours (> 1: ours faster).
    pub fn ratio(&self) -> Option<f64> {
        self.peer.map(|p| p.median_ns / self.ours.median_ns)
    }
}
