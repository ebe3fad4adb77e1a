//! Quick single-thread GFLOP/s tables for the MatMul kernels of this crate.
//!
//! ```text
//! cargo run --release -p kernels --example matmul_speed            # default sizes
//! cargo run --release -p kernels --example matmul_speed -- 512 1x256x1024 300x257x129t
//! cargo run --release -p kernels --example matmul_speed -- --blocking
//! cargo run --release -p kernels --example matmul_speed -- --blocking --rounds 15 \
//!     --params avx512:256,336,2048 --params avx2:320,120,1536 1024 2048
//! cargo run --release -p kernels --example matmul_speed -- --blocking --rounds 7 \
//!     --params avx2:row=stream,rows=6 --params avx512:row=stream_ahead 1x1024x1024
//! cargo run --release -p kernels --example matmul_speed -- --blocking --rounds 11 \
//!     --c-offsets 64,2048 1x1024x1024
//! KERNELS_DISABLE=avx512 cargo run --release -p kernels --example matmul_speed -- --blocking
//! ```
//!
//! Each size argument is `n` (an n×n×n product) or `MxKxN`, optionally followed by `t` for
//! transposed B.
//!
//! **Kernel table** (no `--blocking`): every kernel's output is checked against the naive
//! reference once, then timed for about 0.3 s; the table shows the median GFLOP/s over the
//! timed batches.
//!
//! **Blocking comparison** (`--blocking`, default sizes 256, 512, 1024, 2048): for each
//! available SIMD kernel, its hand-tuned constants (`HAND_TUNED`), the model's choice for this
//! machine (`default_params()`) and any
//! `--params ISA:[kc,mc,nc[,mr,nr]][,row=SWEEP][,rows=N][,few=WAY][,window=V]` sets (the
//! one-row sweep, the stream's rows a pass, the few-row path and the column window as
//! `BlockingParams::row`, `rows`, `few` and `window` name them), timed in
//! interleaved rounds (each round times every variant once, in an order that alternates
//! between rounds, and samples the FMA peak with `kernels::probe::fma_loop`); the table
//! shows the median GFLOP/s over the rounds, the spread (min–max), the median as a % of the
//! median FMA peak, and each variant's median ratio to the hand-tuned one over the rounds.
//! With `--c-offsets B,...`, every variant is also timed with C placed B bytes past B's
//! start (mod 4 KiB): the row stream's loads of B can stall behind its stores to C when C
//! sits just below B's rows (4K aliasing), which the kernels avoid by moving their
//! accumulator (`matmul/alias.rs`); the offsets show whether they do. With `--cold MIB`, B
//! is cold: each call reads the next of as many copies of B as span MIB MiB (e.g. 32 for a
//! 32 MiB L3), so that B comes from the next cache level or DRAM, as a model's weights do
//! when every other layer's weights pass through between two uses.
//! On Linux, time is this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so that time spent
//! descheduled on a busy machine does not count; elsewhere the wall clock.
//!
//! This is a quick look, not the harness's measurement (that is `autotune`); absolute numbers
//! drift on shared machines, so compare kernels within one run.

mod common;

use kernels::cpu::{self, Feature};
use kernels::matmul::{
    avx2, avx512, naive, tiled, BlockingParams, FewRows, Gemm, MatMulFn, MatMulWithFn, Product,
    RowSweep,
};
use kernels::probe;
use std::time::{Duration, Instant};

type ScratchFn = fn(&Gemm) -> usize;
type ScratchWithFn = fn(&BlockingParams, &Gemm) -> kernels::Result<usize>;

/// The usage text, printed by `--help` and after a bad argument.
const USAGE: &str = "usage: matmul_speed [--blocking] [--rounds N] [--params SPEC]... [--c-offsets B,...] [--cold MIB] [SIZE...]
  SIZE: n (an n×n×n product) or MxKxN, optionally followed by `t` for transposed B
  --blocking       compare hand-tuned, model and --params blocking per SIMD kernel (default sizes 256 512 1024 2048)
  --rounds N       interleaved rounds of the blocking comparison (default 9)
  --params SPEC    ISA:[kc,mc,nc[,mr,nr]][,row=stream|windows|by_level|stream_ahead][,rows=1..8]
                   [,few=by_level|unpacked|slabs|packed][,window=1..16]
                   another parameter set for ISA (avx512, avx2), based on its hand-tuned one
  --c-offsets B,.. with --blocking: also time each variant with C placed B bytes (0..4095,
                   multiples of 4) past B's start, mod 4 KiB
  --cold MIB       with --blocking: B cold, each call reading the next of copies of B that
                   together span at least MIB MiB (as a model's weights between two uses)";

/// The most elements of A, B and C together one size may ask for (1 GiB of f32).
const MAX_ELEMENTS: usize = 1 << 28;

/// Prints `msg` and the usage to stderr and exits with status 2 (bad input).
fn die(msg: &str) -> ! {
    eprintln!("error: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn parse(arg: &str) -> Result<Gemm, String> {
    let (dims, tb) = match arg.strip_suffix('t') {
        Some(d) => (d, true),
        None => (arg, false),
    };
    let v: Vec<usize> = dims
        .split('x')
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            format!("size `{arg}`: expected n or MxKxN (whole numbers), optionally ending in t")
        })?;
    let g = match v[..] {
        [n] => Gemm::new(n, n, n),
        [m, k, n] => Gemm::new(m, k, n),
        _ => return Err(format!("size `{arg}`: expected n or MxKxN")),
    };
    let elements = [(g.m, g.k), (g.k, g.n), (g.m, g.n)]
        .iter()
        .try_fold(0usize, |acc, &(a, b)| a.checked_mul(b)?.checked_add(acc));
    match elements {
        Some(e) if e <= MAX_ELEMENTS => Ok(g.with_trans(false, tb)),
        _ => Err(format!(
            "size `{arg}`: A, B and C would exceed {MAX_ELEMENTS} elements (1 GiB)"
        )),
    }
}

/// The product `C = A·B` (α = 1, β = 0) of shape `g`, the one every run here computes.
fn ab<'a>(g: Gemm, a: &'a [f32], b: &'a [f32], c: &'a mut [f32]) -> Product<'a> {
    Product {
        g,
        alpha: 1.0,
        a,
        b,
        beta: 0.0,
        c,
    }
}

/// `len` values in [-1, 1) on a grid of 0.001 from `seed`.
fn fill(len: usize, seed: u32) -> Vec<f32> {
    common::xorshift(seed)
        .take(len)
        .map(|s| (s % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

fn label(g: &Gemm) -> String {
    format!(
        "{}×{}×{}{}",
        g.m,
        g.k,
        g.n,
        if g.trans_b { "ᵀ" } else { "" }
    )
}

fn check_close(g: &Gemm, c: &[f32], reference: &[f32]) {
    let worst = c
        .iter()
        .zip(reference)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-3 * (g.k as f32).sqrt().max(1.0),
        "wrong result: {worst}"
    );
}

/// Median GFLOP/s of `f` on `g`, or `None` when it refuses (feature unavailable).
fn measure(g: &Gemm, f: MatMulFn, scratch_len: ScratchFn, reference: &[f32]) -> Option<f64> {
    let a = fill(g.a_len(), 1);
    let b = fill(g.b_len(), 2);
    let mut c = vec![0.0f32; g.c_len()];
    let mut scratch = vec![0.0f32; scratch_len(g)];
    f(g, 1.0, &a, &b, 0.0, &mut c, &mut scratch).ok()?;
    check_close(g, &c, reference);
    // Batch size so that one batch takes ≥ ~2 ms.
    let t0 = Instant::now();
    f(g, 1.0, &a, &b, 0.0, &mut c, &mut scratch).unwrap();
    let once = t0.elapsed().max(Duration::from_nanos(50));
    let reps = (2e-3 / once.as_secs_f64()).ceil().max(1.0) as usize;
    let mut rates = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) || rates.len() < 5 {
        let t = Instant::now();
        for _ in 0..reps {
            f(g, 1.0, &a, &b, 0.0, &mut c, &mut scratch).unwrap();
        }
        rates.push(g.flops() * reps as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    rates.sort_by(f64::total_cmp);
    Some(rates[rates.len() / 2])
}

fn kernel_table(sizes: &[Gemm]) {
    let kernels: [(&str, MatMulFn, ScratchFn); 4] = [
        ("naive", naive::matmul, naive::scratch_len),
        ("tiled", tiled::matmul, tiled::scratch_len),
        ("avx2", avx2::matmul, avx2::scratch_len),
        ("avx512", avx512::matmul, avx512::scratch_len),
    ];
    print!("{:>16}", "m×k×n");
    for (name, _, _) in &kernels {
        print!("{name:>10}");
    }
    println!("   (GFLOP/s, median, 1 thread)");
    for g in sizes {
        let a = fill(g.a_len(), 1);
        let b = fill(g.b_len(), 2);
        let mut reference = vec![0.0f32; g.c_len()];
        naive::matmul(g, 1.0, &a, &b, 0.0, &mut reference, &mut []).unwrap();
        print!("{:>16}", label(g));
        for (name, f, s) in &kernels {
            // The naive loop is only worth timing on small problems.
            if *name == "naive" && g.flops() > 2.0 * 256.0 * 256.0 * 256.0 {
                print!("{:>10}", "-");
                continue;
            }
            match measure(g, *f, *s, &reference) {
                Some(r) => print!("{r:>10.1}"),
                None => print!("{:>10}", "n/a"),
            }
        }
        println!();
    }
}

/// One SIMD kernel with its explicit-parameter entry points.
struct Isa {
    name: &'static str,
    feature: Feature,
    run: MatMulWithFn,
    scratch: ScratchWithFn,
    hand: BlockingParams,
    model: BlockingParams,
}

fn isas() -> Vec<Isa> {
    vec![
        Isa {
            name: "avx512",
            feature: Feature::Avx512,
            run: avx512::matmul_with,
            scratch: avx512::scratch_len_with,
            hand: avx512::HAND_TUNED,
            model: avx512::default_params(),
        },
        Isa {
            name: "avx2",
            feature: Feature::Avx2,
            run: avx2::matmul_with,
            scratch: avx2::scratch_len_with,
            hand: avx2::HAND_TUNED,
            model: avx2::default_params(),
        },
    ]
}

/// `ISA:[kc,mc,nc[,mr,nr]][,row=SWEEP][,rows=N][,few=WAY][,window=V]` → (ISA name, parameters based on
/// the ISA's hand-tuned ones). The kernel checks the values when it runs.
fn parse_params(spec: &str, isas: &[Isa]) -> Result<(String, BlockingParams), String> {
    let bad = || {
        format!("--params `{spec}`: expected ISA:[kc,mc,nc[,mr,nr]][,row=SWEEP][,rows=N][,few=WAY][,window=V]")
    };
    let (isa, rest) = spec.split_once(':').ok_or_else(bad)?;
    let mut p = isas
        .iter()
        .find(|i| i.name == isa)
        .ok_or_else(|| format!("--params `{spec}`: unknown ISA `{isa}` (avx512, avx2)"))?
        .hand;
    let mut nums = Vec::new();
    for item in rest.split(',').filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("row", name)) => {
                p.row = RowSweep::from_name(name).ok_or_else(|| {
                    format!("--params `{spec}`: unknown sweep `{name}` (stream, windows, by_level, stream_ahead)")
                })?
            }
            Some(("rows", n)) => p.rows = n.parse().map_err(|_| bad())?,
            Some(("window", n)) => p.window = n.parse().map_err(|_| bad())?,
            Some(("few", name)) => {
                p.few = FewRows::from_name(name).ok_or_else(|| {
                    format!("--params `{spec}`: unknown few-row path `{name}` (by_level, unpacked, slabs, packed)")
                })?
            }
            Some(_) => return Err(bad()),
            None => nums.push(item.parse::<usize>().map_err(|_| bad())?),
        }
    }
    match nums[..] {
        [] => {}
        [kc, mc, nc] => (p.kc, p.mc, p.nc) = (kc, mc, nc),
        [kc, mc, nc, mr, nr] => (p.kc, p.mc, p.nc, p.mr, p.nr) = (kc, mc, nc, mr, nr),
        _ => return Err(bad()),
    }
    Ok((isa.to_string(), p))
}

/// `B,...` → C offsets in bytes past B (mod 4 KiB): whole multiples of 4 below 4096.
fn parse_offsets(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(|s| match s.parse::<usize>() {
            Ok(b) if b < 4096 && b % 4 == 0 => Ok(b),
            _ => Err(format!(
                "--c-offsets `{list}`: expected bytes 0..4095, multiples of 4, comma-separated"
            )),
        })
        .collect()
}

/// A parameter set as the table shows it: tile, blocks, the one-row sweep and its rows a
/// pass, the column window, and the few-row path where it is not the default.
fn params_label(p: &BlockingParams) -> String {
    let few = match p.few {
        FewRows::ByLevel => String::new(),
        f => format!(" few={}", f.name()),
    };
    format!(
        "{}×{} ({},{},{}) {}/{} w{}{few}",
        p.mr,
        p.nr,
        p.kc,
        p.mc,
        p.nc,
        p.row.name(),
        p.rows,
        p.window
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One timed variant at one size.
struct Run {
    isa: usize,
    name: String,
    params: BlockingParams,
    g: Gemm,
    scratch: Vec<f32>,
    /// Where C goes: bytes past B's start (mod 4 KiB), or `None` for C's own buffer.
    c_offset: Option<usize>,
    /// C's buffer (with room to place it) and where C starts in it.
    c: (Vec<f32>, usize),
    rates: Vec<f64>,
}

/// A buffer for C of `len` elements and the start that puts C `offset` bytes past `b`
/// (mod 4 KiB), or at 0 for `None`.
fn placed_c(len: usize, b: &[f32], offset: Option<usize>) -> (Vec<f32>, usize) {
    let Some(off) = offset else {
        return (vec![0.0; len], 0);
    };
    let buf = vec![0.0f32; len + 1024];
    let base = buf.as_ptr() as usize;
    let want = (b.as_ptr() as usize).wrapping_add(off);
    let start = (want.wrapping_sub(base) % 4096) / 4;
    (buf, start)
}

/// Nanoseconds of CPU time this thread has used (Linux: `CLOCK_THREAD_CPUTIME_ID`, exact to
/// the nanosecond, unlike `/proc/thread-self/schedstat`, which lags by up to a scheduler
/// tick), or `None` where that is not available.
#[cfg(target_os = "linux")]
fn cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` from the C library std links, with a valid clock id and a
    // pointer to a `struct timespec` (two 64-bit fields on 64-bit Linux) it may write.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn cpu_ns() -> Option<u64> {
    None
}

/// Times `f` by this thread's CPU time where the OS reports it (so time spent descheduled
/// on a busy machine does not count), else by the wall clock; seconds.
fn time_it(f: impl FnOnce()) -> f64 {
    let (c0, t0) = (cpu_ns(), Instant::now());
    f();
    let wall = t0.elapsed().as_secs_f64();
    match (c0, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 * 1e-9,
        _ => wall,
    }
}

/// GFLOP/s of one call of the FMA probe (≈ 15 ms).
fn peak_sample(feature: Feature) -> f64 {
    let iters = 8_000_000;
    let mut s = 0.0;
    let dt = time_it(|| s = probe::fma_loop(feature, iters, 0.5).expect("feature checked"));
    std::hint::black_box(s);
    probe::fma_flops(feature, iters) as f64 / dt / 1e9
}

fn blocking_table(
    sizes: &[Gemm],
    rounds: usize,
    extra: &[(String, BlockingParams)],
    offsets: &[usize],
    cold_mib: usize,
) {
    let isas: Vec<Isa> = isas()
        .into_iter()
        .filter(|i| cpu::available(i.feature))
        .collect();
    let c = cpu::caches();
    println!("caches: {c:?}");
    if cold_mib > 0 {
        println!("B cold: each call reads the next of copies spanning at least {cold_mib} MiB");
    }
    if isas.is_empty() {
        println!("no SIMD kernel available here");
        return;
    }
    let mut runs: Vec<Run> = Vec::new();
    for (ii, isa) in isas.iter().enumerate() {
        println!(
            "{}: hand-tuned {:?}\n{}: model      {:?}",
            isa.name, isa.hand, isa.name, isa.model
        );
        let mut variants = vec![
            (format!("hand {}", params_label(&isa.hand)), isa.hand),
            (format!("model {}", params_label(&isa.model)), isa.model),
        ];
        for (_, p) in extra.iter().filter(|(n, _)| n == isa.name) {
            variants.push((params_label(p), *p));
        }
        for g in sizes {
            for (name, p) in &variants {
                let len = match (isa.scratch)(p, g) {
                    Ok(n) => n,
                    Err(e) => {
                        println!("{}: {name}: {e}", isa.name);
                        continue;
                    }
                };
                let places = std::iter::once(None).chain(offsets.iter().map(|&o| Some(o)));
                for c_offset in places {
                    runs.push(Run {
                        isa: ii,
                        name: name.clone(),
                        params: *p,
                        g: *g,
                        scratch: vec![0.0; len],
                        c_offset,
                        c: (Vec::new(), 0),
                        rates: Vec::new(),
                    });
                }
            }
        }
    }
    // Operands per size (C per variant, placed), and a correctness check of every variant.
    let operands: Vec<(Vec<f32>, Vec<f32>)> = sizes
        .iter()
        .map(|g| (fill(g.a_len(), 1), fill(g.b_len(), 2)))
        .collect();
    // With --cold, copies of each B that the timed calls take in turn.
    let copies: Vec<Vec<Vec<f32>>> = operands
        .iter()
        .map(|(_, b)| {
            let n = if cold_mib == 0 {
                0
            } else {
                ((cold_mib << 20) / (4 * b.len()).max(1)).max(1) + 1
            };
            vec![b.clone(); n]
        })
        .collect();
    let mut turn = 0usize;
    for r in runs.iter_mut() {
        let si = sizes.iter().position(|g| *g == r.g).expect("a size");
        r.c = placed_c(r.g.c_len(), &operands[si].1, r.c_offset);
    }
    for (si, g) in sizes.iter().enumerate() {
        let (a, b) = &operands[si];
        let mut reference = vec![0.0f32; g.c_len()];
        // The first variant of the first ISA is the reference for the others (the naive loop
        // is too slow at these sizes); each variant must agree with it.
        let first = runs.iter_mut().find(|r| r.g == *g).expect("a variant");
        (isas[first.isa].run)(
            &first.params,
            ab(*g, a, b, &mut reference),
            &mut first.scratch,
        )
        .unwrap();
        for r in runs.iter_mut().filter(|r| r.g == *g) {
            let (buf, start) = &mut r.c;
            let c = &mut buf[*start..*start + g.c_len()];
            (isas[r.isa].run)(&r.params, ab(*g, a, b, c), &mut r.scratch).unwrap();
            check_close(g, c, &reference);
        }
    }
    let mut peaks: Vec<Vec<f64>> = vec![Vec::new(); isas.len()];
    for round in 0..rounds {
        for (ii, isa) in isas.iter().enumerate() {
            peaks[ii].push(peak_sample(isa.feature));
        }
        let order: Vec<usize> = if round % 2 == 0 {
            (0..runs.len()).collect()
        } else {
            (0..runs.len()).rev().collect()
        };
        for i in order {
            let r = &mut runs[i];
            let si = sizes.iter().position(|g| *g == r.g).expect("a size");
            let (a, b) = &operands[si];
            let (buf, start) = &mut r.c;
            let c = &mut buf[*start..*start + r.g.c_len()];
            let run = isas[r.isa].run;
            // Enough calls for ≥ ~30 ms.
            let reps = ((3e9 / r.g.flops().max(1.0)).ceil() as usize).clamp(1, 1000);
            if r.g.flops() < 1e9 {
                run(&r.params, ab(r.g, a, b, c), &mut r.scratch).unwrap();
            }
            let cold = &copies[si];
            let dt = time_it(|| {
                for _ in 0..reps {
                    let b = if cold.is_empty() {
                        b
                    } else {
                        turn += 1;
                        &cold[turn % cold.len()]
                    };
                    run(&r.params, ab(r.g, a, b, c), &mut r.scratch).unwrap();
                }
            });
            r.rates.push(r.g.flops() * reps as f64 / dt / 1e9);
        }
    }
    let peak: Vec<f64> = peaks.iter_mut().map(|p| median(p)).collect();
    for (ii, isa) in isas.iter().enumerate() {
        println!(
            "\n{} (FMA peak {:.1} GFLOP/s, median of {rounds} samples; {rounds} rounds)",
            isa.name, peak[ii]
        );
        println!(
            "{:>16} {:>40} {:>9} {:>15} {:>7} {:>9}",
            "m×k×n", "blocking", "GFLOP/s", "min–max", "% peak", "÷ hand"
        );
        for g in sizes {
            let hand: Vec<f64> = runs
                .iter()
                .find(|r| {
                    r.isa == ii && r.g == *g && r.name.starts_with("hand") && r.c_offset.is_none()
                })
                .map(|r| r.rates.clone())
                .unwrap_or_default();
            for r in runs.iter().filter(|r| r.isa == ii && r.g == *g) {
                let mut v = r.rates.clone();
                let med = median(&mut v);
                let mut ratios: Vec<f64> = r.rates.iter().zip(&hand).map(|(x, h)| x / h).collect();
                let ratio = if ratios.is_empty() {
                    f64::NAN
                } else {
                    median(&mut ratios)
                };
                println!(
                    "{:>16} {:>40} {:>9.1} {:>7.1}–{:<7.1} {:>6.1}% {:>9.3}",
                    label(g),
                    match r.c_offset {
                        Some(o) => format!("{} C@{o}", r.name),
                        None => r.name.clone(),
                    },
                    med,
                    v[0],
                    v[v.len() - 1],
                    100.0 * med / peak[ii],
                    ratio
                );
            }
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let blocking = args.iter().any(|a| a == "--blocking");
    args.retain(|a| a != "--blocking");
    let mut rounds = 9;
    let mut extra = Vec::new();
    let mut offsets = Vec::new();
    let mut cold_mib = 0;
    let mut sizes = Vec::new();
    let isa_list = isas();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => {
                rounds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n: &usize| n >= 1)
                    .unwrap_or_else(|| die("--rounds takes a whole number of at least 1"))
            }
            "--params" => {
                let spec = it.next().unwrap_or_else(|| die("--params needs a value"));
                extra.push(parse_params(&spec, &isa_list).unwrap_or_else(|e| die(&e)));
            }
            "--cold" => {
                cold_mib = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n: &usize| (1..=4096).contains(&n))
                    .unwrap_or_else(|| die("--cold takes MiB, a whole number in 1..=4096"))
            }
            "--c-offsets" => {
                let list = it
                    .next()
                    .unwrap_or_else(|| die("--c-offsets needs a value"));
                offsets = parse_offsets(&list).unwrap_or_else(|e| die(&e));
            }
            s if s.starts_with('-') => die(&format!("unknown option `{s}`")),
            s => sizes.push(parse(s).unwrap_or_else(|e| die(&e))),
        }
    }
    let needs_blocking = !extra.is_empty() || !offsets.is_empty() || cold_mib > 0;
    if needs_blocking && !blocking {
        die("--params, --c-offsets and --cold go with --blocking");
    }
    if blocking {
        if sizes.is_empty() {
            sizes = ["256", "512", "1024", "2048"]
                .iter()
                .map(|s| parse(s).expect("the default sizes parse"))
                .collect();
        }
        blocking_table(&sizes, rounds.max(1), &extra, &offsets, cold_mib);
        return;
    }
    if sizes.is_empty() {
        sizes = [
            "64",
            "128",
            "256",
            "512",
            "1024",
            "1x256x1024",
            "1x256x1024t",
        ]
        .iter()
        .map(|s| parse(s).expect("the default sizes parse"))
        .collect();
    }
    kernel_table(&sizes);
}
