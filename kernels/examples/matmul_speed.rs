//! Quick single-thread GFLOP/s table for the MatMul kernels of this crate.
//!
//! ```text
//! cargo run --release -p kernels --example matmul_speed            # default sizes
//! cargo run --release -p kernels --example matmul_speed -- 512 1x256x1024 300x257x129t
//! ```
//!
//! Each argument is `n` (an n×n×n product) or `MxKxN`, optionally followed by `t` for
//! transposed B. Every kernel's output is checked against the naive reference once, then timed
//! for about 0.3 s; the table shows the median GFLOP/s over the timed batches. This is a quick
//! look, not the harness's measurement (that is `autotune`); absolute numbers drift on shared
//! machines, so compare kernels within one run.

use kernels::matmul::{avx2, avx512, naive, tiled, Gemm, MatMulFn};
use std::time::{Duration, Instant};

type ScratchFn = fn(&Gemm) -> usize;

fn parse(arg: &str) -> Gemm {
    let (dims, tb) = match arg.strip_suffix('t') {
        Some(d) => (d, true),
        None => (arg, false),
    };
    let v: Vec<usize> = dims
        .split('x')
        .map(|s| s.parse().expect("a size"))
        .collect();
    let g = match v[..] {
        [n] => Gemm::new(n, n, n),
        [m, k, n] => Gemm::new(m, k, n),
        _ => panic!("sizes are n or MxKxN"),
    };
    g.with_trans(false, tb)
}

fn fill(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Median GFLOP/s of `f` on `g`, or `None` when it refuses (feature unavailable).
fn measure(g: &Gemm, f: MatMulFn, scratch_len: ScratchFn, reference: &[f32]) -> Option<f64> {
    let a = fill(g.a_len(), 1);
    let b = fill(g.b_len(), 2);
    let mut c = vec![0.0f32; g.c_len()];
    let mut scratch = vec![0.0f32; scratch_len(g)];
    f(g, 1.0, &a, &b, 0.0, &mut c, &mut scratch).ok()?;
    let worst = c
        .iter()
        .zip(reference)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-3 * (g.k as f32).sqrt().max(1.0),
        "wrong result: {worst}"
    );
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<Gemm> = if args.is_empty() {
        [
            "64",
            "128",
            "256",
            "512",
            "1024",
            "1x256x1024",
            "1x256x1024t",
        ]
        .iter()
        .map(|s| parse(s))
        .collect()
    } else {
        args.iter().map(|s| parse(s)).collect()
    };
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
    for g in &sizes {
        let a = fill(g.a_len(), 1);
        let b = fill(g.b_len(), 2);
        let mut reference = vec![0.0f32; g.c_len()];
        naive::matmul(g, 1.0, &a, &b, 0.0, &mut reference, &mut []).unwrap();
        let label = format!(
            "{}×{}×{}{}",
            g.m,
            g.k,
            g.n,
            if g.trans_b { "ᵀ" } else { "" }
        );
        print!("{label:>16}");
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
