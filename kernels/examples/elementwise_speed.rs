//! Quick speed table for the element-wise and row ops: ns per element, naive vs avx2 vs
//! avx512, best of several timed repetitions (not a benchmark harness; use `cargo bench` for
//! real numbers).
//!
//! `cargo run --release -p kernels --example elementwise_speed`

mod common;

use kernels::cpu::{self, Feature};
use kernels::gelu::{self, GeluKind};
use kernels::layernorm::{self, Affine, LayerNormOut};
use kernels::{add, softmax, Result, Rows};
use std::hint::black_box;
use std::time::Instant;

/// Best time per element over `reps` runs of `f`, in ns; `None` when the variant refuses.
fn time(elems: usize, mut f: impl FnMut() -> Result<()>) -> Option<f64> {
    f().ok()?;
    let mut best = f64::INFINITY;
    let reps = (20_000_000 / elems.max(1)).clamp(3, 200);
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..reps {
            f().unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    Some(best * 1e9 / elems as f64)
}

fn row(name: &str, cells: [Option<f64>; 3]) {
    let fmt = |c: Option<f64>| c.map_or("-".to_string(), |v| format!("{v:.3}"));
    println!(
        "| {name:<28} | {:>8} | {:>8} | {:>8} |",
        fmt(cells[0]),
        fmt(cells[1]),
        fmt(cells[2])
    );
}

/// `n` values in [-4, 4] from `seed`.
fn data(n: usize, seed: u32) -> Vec<f32> {
    common::xorshift(seed)
        .take(n)
        .map(|s| (s as f32 / u32::MAX as f32) * 8.0 - 4.0)
        .collect()
}

fn main() {
    println!("features: {:?}", cpu::available_names());
    for f in [Feature::Avx2, Feature::Avx512] {
        if let Some(r) = cpu::unavailable_reason(f) {
            println!("note: {r}");
        }
    }
    println!("| op (ns/element)              |    naive |     avx2 |   avx512 |");
    println!("|------------------------------|----------|----------|----------|");
    let n = 1 << 20;
    let x = data(n, 1);
    let b = data(n, 2);
    let mut y = vec![0.0f32; n];
    for kind in [GeluKind::Tanh, GeluKind::Erf] {
        let fns = [gelu::naive::gelu, gelu::avx2::gelu, gelu::avx512::gelu];
        let cells = fns.map(|f| time(n, || f(kind, black_box(&x), &mut y)));
        row(&format!("gelu {} 1M", kind.name()), cells);
        let fns = [
            gelu::naive::gelu_backward,
            gelu::avx2::gelu_backward,
            gelu::avx512::gelu_backward,
        ];
        let cells = fns.map(|f| time(n, || f(kind, black_box(&x), &b, &mut y)));
        row(&format!("gelu_backward {} 1M", kind.name()), cells);
    }

    let shape = Rows::new(1024, 1024);
    let fns = [
        softmax::naive::softmax,
        softmax::avx2::softmax,
        softmax::avx512::softmax,
    ];
    let cells = fns.map(|f| time(n, || f(shape, black_box(&x), &mut y)));
    row("softmax 1024x1024", cells);
    let fns = [
        softmax::naive::softmax_backward,
        softmax::avx2::softmax_backward,
        softmax::avx512::softmax_backward,
    ];
    let mut dx = vec![0.0f32; n];
    let cells = fns.map(|f| time(n, || f(shape, black_box(&x), &b, &mut dx)));
    row("softmax_backward 1024x1024", cells);

    for (r, c) in [(32, 512), (1024, 1024)] {
        let shape = Rows::new(r, c);
        let len = r * c;
        let (gamma, beta) = (data(c, 3), data(c, 4));
        let (mut mean, mut rstd) = (vec![0.0f32; r], vec![0.0f32; r]);
        let fns = [
            layernorm::naive::layernorm,
            layernorm::avx2::layernorm,
            layernorm::avx512::layernorm,
        ];
        let cells = fns.map(|f| {
            time(len, || {
                let p = Affine {
                    gamma: &gamma,
                    beta: &beta,
                };
                let out = LayerNormOut {
                    y: &mut y[..len],
                    mean: &mut mean,
                    rstd: &mut rstd,
                };
                f(shape, 1e-5, black_box(&x[..len]), p, out)
            })
        });
        row(&format!("layernorm {r}x{c}"), cells);
    }

    let fns = [add::naive::add, add::avx2::add, add::avx512::add];
    let cells = fns.map(|f| time(n, || f(black_box(&x), &b, &mut y)));
    row("add 1M", cells);
    let shape = Rows::new(1024, 1024);
    let bias = data(1024, 5);
    let fns = [
        add::naive::add_bias,
        add::avx2::add_bias,
        add::avx512::add_bias,
    ];
    let cells = fns.map(|f| time(n, || f(shape, black_box(&x), &bias, &mut y)));
    row("add_bias 1024x1024", cells);
}
