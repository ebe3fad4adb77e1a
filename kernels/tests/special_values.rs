//! Special values across the row ops, for every variant this machine runs: NaN and ±∞
//! propagate as in the naive reference, rows of large equal values give `1/cols`, and a
//! constant LayerNorm row stays finite. (GELU's specials are in `tests/gelu.rs`, Add's
//! bit-identity with specials in `tests/add.rs`.)

mod common;

use kernels::cpu::Feature;
use kernels::layernorm::{self, Affine, LayerNormOut};
use kernels::{softmax, Result, Rows};

type Softmax = fn(Rows, &[f32], &mut [f32]) -> Result<()>;
type Causal = fn(Rows, f32, usize, &[f32], &mut [f32]) -> Result<()>;
type LayerNorm = fn(Rows, f32, &[f32], Affine, LayerNormOut) -> Result<()>;

fn softmax_variants() -> Vec<(&'static str, Softmax, Causal)> {
    [
        (
            "naive",
            None,
            softmax::naive::softmax as Softmax,
            softmax::naive::softmax_causal as Causal,
        ),
        (
            "avx2",
            Some(Feature::Avx2),
            softmax::avx2::softmax,
            softmax::avx2::softmax_causal,
        ),
        (
            "avx512",
            Some(Feature::Avx512),
            softmax::avx512::softmax,
            softmax::avx512::softmax_causal,
        ),
    ]
    .into_iter()
    .filter(|&(n, f, s, _)| common::runs(n, f, || s(Rows::new(1, 2), &[1.0; 2], &mut [0.0; 2])))
    .map(|(n, _, s, c)| (n, s, c))
    .collect()
}

fn layernorm_variants() -> Vec<(&'static str, LayerNorm)> {
    [
        ("naive", None, layernorm::naive::layernorm as LayerNorm),
        ("avx2", Some(Feature::Avx2), layernorm::avx2::layernorm),
        (
            "avx512",
            Some(Feature::Avx512),
            layernorm::avx512::layernorm,
        ),
    ]
    .into_iter()
    .filter(|&(n, f, l)| {
        common::runs(n, f, || {
            let mut y = [0.0];
            layernorm_into(l, Rows::new(1, 1), &[1.0], &[1.0], &[0.0], &mut y).map(|_| ())
        })
    })
    .map(|(n, _, l)| (n, l))
    .collect()
}

/// LayerNorm forward (eps 1e-5) of `x` by `f` into `y`; returns each row's rstd.
fn layernorm_into(
    f: LayerNorm,
    shape: Rows,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
) -> Result<Vec<f32>> {
    let (mut mean, mut rstd) = (vec![0.0; shape.rows], vec![0.0; shape.rows]);
    let out = LayerNormOut {
        y,
        mean: &mut mean,
        rstd: &mut rstd,
    };
    f(shape, 1e-5, x, Affine { gamma, beta }, out)?;
    Ok(rstd)
}

/// Equal, or both NaN.
fn same(a: f32, b: f32) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

#[test]
fn softmax_of_large_equal_values_is_uniform() {
    for (name, f, causal) in softmax_variants() {
        for value in [3e38f32, 1e30, -3e38, 0.0, f32::MAX] {
            for cols in [1usize, 3, 8, 17, 33, 1000] {
                let x = vec![value; 2 * cols];
                let mut y = vec![0.0; 2 * cols];
                f(Rows::new(2, cols), &x, &mut y).unwrap();
                let want = 1.0 / cols as f64;
                for &v in &y {
                    let ok = (v as f64 - want).abs() <= want * 2.0f64.powi(-23);
                    assert!(ok, "{name}: {value} x {cols}: {v} vs {want}");
                }
                // Causal, scale 1: row r is uniform over r + 1 columns.
                causal(Rows::new(2, cols), 1.0, 0, &x, &mut y).unwrap();
                for r in 0..2 {
                    let visible = (r + 1).min(cols);
                    let want = 1.0 / visible as f64;
                    for (j, &v) in y[r * cols..(r + 1) * cols].iter().enumerate() {
                        let want = if j < visible { want } else { 0.0 };
                        assert!(
                            (v as f64 - want).abs() <= want * 2.0f64.powi(-23),
                            "{name} causal: {v}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn softmax_specials_follow_reference() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let rows: Vec<Vec<f32>> = vec![
        vec![
            1.0, nan, 2.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0,
        ],
        vec![
            1.0, 2.0, inf, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0,
        ],
        vec![
            1.0, -inf, 2.0, 0.5, -inf, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -inf,
        ],
        vec![-inf; 17],
        vec![
            3e38, -3e38, 0.0, 3e38, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
        ],
        vec![
            -100.0, 0.0, -50.0, -87.0, -88.0, -103.0, -150.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
            1.0, 1.0, 1.0,
        ],
    ];
    let shape = Rows::new(1, 17);
    for (name, f, _) in softmax_variants() {
        for x in &rows {
            let (mut got, mut want) = (vec![0.0; 17], vec![0.0; 17]);
            f(shape, x, &mut got).unwrap();
            softmax::naive::softmax(shape, x, &mut want).unwrap();
            for (j, (&g, &w)) in got.iter().zip(&want).enumerate() {
                // Exact for NaN, 0 (from -∞) and uniform entries; otherwise within the softmax
                // tolerance of tests/softmax.rs (here ≤ 64u relative), or below FLT_MIN where
                // exp flushes to 0.
                let ok = same(g, w)
                    || (w.is_finite() && (g - w).abs() <= w * 64.0 * f32::EPSILON / 2.0)
                    || (w.abs() < f32::MIN_POSITIVE && g.abs() < f32::MIN_POSITIVE);
                assert!(ok, "{name}: row {x:?} col {j}: {g} vs naive {w}");
                if x[j] == f32::NEG_INFINITY && !w.is_nan() {
                    assert_eq!(g.to_bits(), 0, "{name}: exp(-inf) must be exactly 0");
                }
            }
        }
    }
}

#[test]
fn layernorm_specials_follow_reference() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let cols = 19;
    let mut x = vec![0.25f32; 4 * cols];
    for (j, v) in x.iter_mut().enumerate() {
        *v += (j % 7) as f32;
    }
    x[3] = nan; // row 0: NaN
    x[cols + 18] = inf; // row 1: +∞
    x[2 * cols] = -inf; // row 2: -∞ as the first (shift) element
                        // row 3: finite
    let gamma: Vec<f32> = (0..cols).map(|j| 1.0 + j as f32 * 0.1).collect();
    let beta: Vec<f32> = (0..cols).map(|j| j as f32 * -0.2).collect();
    let shape = Rows::new(4, cols);
    let run = |f: LayerNorm| {
        let mut y = vec![0.0; shape.len()];
        layernorm_into(f, shape, &x, &gamma, &beta, &mut y).unwrap();
        y
    };
    let want = run(layernorm::naive::layernorm);
    for (name, f) in layernorm_variants() {
        let got = run(f);
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let ok = if w.is_finite() {
                (g - w).abs() <= 1e-5 * (1.0 + w.abs())
            } else {
                same(g, w)
            };
            assert!(ok, "{name}: element {i}: {g} vs naive {w}");
        }
    }
}

#[test]
fn layernorm_of_constant_row_is_beta() {
    let cols = 37;
    let gamma = vec![1.5f32; cols];
    let beta: Vec<f32> = (0..cols).map(|j| j as f32 - 3.0).collect();
    for (name, f) in layernorm_variants() {
        for value in [0.0f32, 1.0, -2.5e3, 1e20, 3e38, 1e-38] {
            let x = vec![value; cols];
            let mut y = vec![f32::NAN; cols];
            let r = layernorm_into(f, Rows::new(1, cols), &x, &gamma, &beta, &mut y).unwrap();
            assert!(r[0].is_finite(), "{name}: rstd {}", r[0]);
            assert_eq!(y, beta, "{name}: constant {value}");
        }
    }
}
