//! LayerNorm: every variant (naive, avx2, avx512) against the f64 reference, by one generic
//! body, and its backward against finite differences of an f64 forward.
//!
//! Tolerances, derived a priori with u = 2⁻²⁴ and n = cols (not tuned), for the variants'
//! f32 two-pass arithmetic (recursive/lane summation is off by ≤ (n - 1)·u·Σ|terms|):
//! * shifted mean μ = Σ(x - x₀)/n: off by δ ≤ (n + 3)·u·D, with D = max|x - x₀|; the saved
//!   mean x₀ + μ by δ + u·|mean|;
//! * rstd: ≤ (n + 8)·u relative (variance sum, one division, sqrt, reciprocal), plus
//!   (δ·rstd)² from centring on a mean that is off by δ;
//! * y_j: `|gamma_j|·(|x̂_j|·(n + 8)·u + rstd·δ) + 2u·(|y_j| + |beta_j|)`.

mod common;

use kernels::layernorm::{self, Affine, LayerNormGrads, LayerNormOut, Saved};
use kernels::{KernelError, Result, Rows};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const U: f64 = 1.0 / (1u64 << 24) as f64;
const EPS: f32 = 1e-5;

type Fwd = fn(Rows, f32, &[f32], Affine, LayerNormOut) -> Result<()>;
type AddFwd = fn(Rows, f32, &[f32], &[f32], &mut [f32], Affine, LayerNormOut) -> Result<()>;
type Bwd = fn(Rows, Saved, &[f32], LayerNormGrads) -> Result<()>;

common::variant_table! {
    fwd: Fwd = layernorm::layernorm,
    add_fwd: AddFwd = layernorm::add_layernorm,
    bwd: Bwd = layernorm::layernorm_backward;
    probe "layernorm" => |v| {
        let (g, b) = ([1.0f32], [0.0f32]);
        let (mut y, mut m, mut r) = ([0.0f32], [0.0f32], [0.0f32]);
        let p = Affine {
            gamma: &g,
            beta: &b,
        };
        let out = LayerNormOut {
            y: &mut y,
            mean: &mut m,
            rstd: &mut r,
        };
        (v.fwd)(Rows::new(1, 1), EPS, &[1.0], p, out)
    };
}

struct Case {
    shape: Rows,
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

fn case(rows: usize, cols: usize, seed: u64, offset: f32, spread: f32) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let shape = Rows::new(rows, cols);
    let x = (0..shape.len())
        .map(|_| offset + spread * rng.random_range(-1.0f32..1.0))
        .collect();
    let gamma = (0..cols).map(|_| rng.random_range(-2.0f32..2.0)).collect();
    let beta = (0..cols).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Case {
        shape,
        x,
        gamma,
        beta,
    }
}

/// Forward outputs of one call: y, mean, rstd.
type Outs = (Vec<f32>, Vec<f32>, Vec<f32>);

fn run_fwd(f: Fwd, c: &Case, x: &[f32]) -> Result<Outs> {
    let mut y = vec![f32::NAN; c.shape.len()];
    let (mut mean, mut rstd) = (vec![f32::NAN; c.shape.rows], vec![f32::NAN; c.shape.rows]);
    let p = Affine {
        gamma: &c.gamma,
        beta: &c.beta,
    };
    f(
        c.shape,
        EPS,
        x,
        p,
        LayerNormOut {
            y: &mut y,
            mean: &mut mean,
            rstd: &mut rstd,
        },
    )?;
    Ok((y, mean, rstd))
}

/// Checks a forward result (of input `x`) against the f64 reference with the module bounds.
fn check_fwd(name: &str, c: &Case, x: &[f32], got: &Outs) -> std::result::Result<(), String> {
    let n = c.shape.cols;
    let nf = n as f64;
    for r in 0..c.shape.rows {
        let xr: Vec<f64> = x[r * n..(r + 1) * n].iter().map(|&v| v as f64).collect();
        let mean = xr.iter().sum::<f64>() / nf;
        let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / nf;
        let rstd = 1.0 / (var + EPS as f64).sqrt();
        let d = xr.iter().fold(0.0f64, |m, v| m.max((v - xr[0]).abs()));
        let shift_tol = (nf + 3.0) * U * d;
        if (got.1[r] as f64 - mean).abs() > shift_tol + U * mean.abs() {
            return Err(format!("{name}: row {r} mean {} vs {mean}", got.1[r]));
        }
        if (got.2[r] as f64 - rstd).abs() > ((nf + 8.0) * U + (shift_tol * rstd).powi(2)) * rstd {
            return Err(format!("{name}: row {r} rstd {} vs {rstd}", got.2[r]));
        }
        for (j, &xj) in xr.iter().enumerate() {
            let xh = (xj - mean) * rstd;
            let (g, b) = (c.gamma[j] as f64, c.beta[j] as f64);
            let want = xh * g + b;
            let tol = g.abs() * (xh.abs() * (nf + 8.0) * U + rstd * shift_tol)
                + 2.0 * U * (want.abs() + b.abs());
            let y = got.0[r * n + j] as f64;
            if (y - want).abs() > tol {
                return Err(format!(
                    "{name}: ({r},{j}) of {n}: y {y} vs {want}, tol {tol:e}"
                ));
            }
        }
    }
    Ok(())
}

fn cols() -> impl Strategy<Value = usize> {
    common::row_lengths(512)
}

proptest! {
    #![proptest_config(common::config(40))]

    #[test]
    fn forward_matches_reference(cols in cols(), rows in 0usize..4, seed: u64, offset in prop::sample::select(vec![0.0f32, 0.5, 100.0, -3e3]), spread in prop::sample::select(vec![1e-3f32, 2.0, 50.0])) {
        let rows = if cols > 10_000 { rows.min(1) } else { rows };
        let c = case(rows, cols, seed, offset, spread);
        for v in variants() {
            let got = run_fwd(v.fwd, &c, &c.x).unwrap();
            check_fwd(v.name, &c, &c.x, &got).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn add_layernorm_matches_reference(cols in cols(), rows in 0usize..3, seed: u64) {
        let rows = if cols > 10_000 { rows.min(1) } else { rows };
        let c = case(rows, cols, seed, 0.5, 2.0);
        let res = case(rows, cols, seed ^ 1, -0.25, 1.0).x;
        let sum_ref: Vec<f32> = c.x.iter().zip(&res).map(|(a, b)| a + b).collect();
        for v in variants() {
            let mut sum = vec![f32::NAN; c.shape.len()];
            let mut y = vec![f32::NAN; c.shape.len()];
            let (mut mean, mut rstd) = (vec![0.0; rows], vec![0.0; rows]);
            let p = Affine { gamma: &c.gamma, beta: &c.beta };
            (v.add_fwd)(c.shape, EPS, &c.x, &res, &mut sum, p, LayerNormOut { y: &mut y, mean: &mut mean, rstd: &mut rstd }).unwrap();
            prop_assert!(sum.iter().zip(&sum_ref).all(|(a, b)| a.to_bits() == b.to_bits()), "{}: sum", v.name);
            check_fwd(v.name, &c, &sum_ref, &(y, mean, rstd)).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn backward_matches_reference(cols in cols(), rows in 1usize..4, seed: u64) {
        // Against the f64 reference with the same saved statistics. With g = dy·gamma and
        // x̂ = (x - mean)·rstd (f32: ≤ 3u·(|x̂| + |mean|·rstd) absolute), the two f32 lane means
        // are off by ≤ (n + 2)·u times their absolute sums, the rest ≤ 4u relative:
        // tol_j = rstd·(n + 8)·u·(|g_j| + mean|g| + (|x̂_j| + 1 + |mean|·rstd)·(mean|g·x̂| + mean|g|)).
        // dgamma: per row one f32 fma, ≤ (rows + 4)·u·Σ_r |dy|·(|x̂| + |mean|·rstd + 1); dbeta: exact
        // f32 sums in the reference's order.
        let rows = if cols > 10_000 { 1 } else { rows };
        let c = case(rows, cols, seed, 0.5, 2.0);
        let dy = case(rows, cols, seed ^ 7, 0.0, 1.0).x;
        let (_, mean, rstd) = run_fwd(layernorm::naive::layernorm, &c, &c.x).unwrap();
        let n = cols as f64;
        let dg0: Vec<f32> = (0..cols).map(|j| j as f32 * 0.01).collect();
        for v in variants() {
            let mut dx = vec![f32::NAN; c.shape.len()];
            let (mut dgamma, mut dbeta) = (dg0.clone(), dg0.clone());
            let saved = Saved { x: &c.x, gamma: &c.gamma, mean: &mean, rstd: &rstd };
            (v.bwd)(c.shape, saved, &dy, LayerNormGrads { dx: &mut dx, dgamma: &mut dgamma, dbeta: &mut dbeta }).unwrap();
            let mut dg_want: Vec<f64> = dg0.iter().map(|&v| v as f64).collect();
            let mut dg_tol = vec![0.0f64; cols];
            let mut db_want: Vec<f32> = dg0.clone();
            for r in 0..rows {
                let (m, rs) = (mean[r] as f64, rstd[r] as f64);
                let xh: Vec<f64> = (0..cols).map(|j| (c.x[r * cols + j] as f64 - m) * rs).collect();
                let g: Vec<f64> = (0..cols).map(|j| dy[r * cols + j] as f64 * c.gamma[j] as f64).collect();
                let mg = g.iter().sum::<f64>() / n;
                let mgx = g.iter().zip(&xh).map(|(a, b)| a * b).sum::<f64>() / n;
                let amg = g.iter().map(|a| a.abs()).sum::<f64>() / n;
                let amgx = g.iter().zip(&xh).map(|(a, b)| (a * b).abs()).sum::<f64>() / n;
                for j in 0..cols {
                    let want = rs * (g[j] - mg - xh[j] * mgx);
                    let tol = rs * (n + 8.0) * U * (g[j].abs() + amg + (xh[j].abs() + 1.0 + m.abs() * rs) * (amgx + amg));
                    let got = dx[r * cols + j] as f64;
                    prop_assert!((got - want).abs() <= tol, "{}: dx ({r},{j}) {got} vs {want} tol {tol:e}", v.name);
                    let d = dy[r * cols + j];
                    dg_want[j] += d as f64 * xh[j];
                    dg_tol[j] += (rows as f64 + 4.0) * U * (d.abs() as f64) * (xh[j].abs() + m.abs() * rs + 1.0);
                    db_want[j] += d;
                }
            }
            for j in 0..cols {
                let dg_tol = dg_tol[j] + (rows as f64 + 4.0) * U * dg_want[j].abs();
                prop_assert!((dgamma[j] as f64 - dg_want[j]).abs() <= dg_tol, "{}: dgamma[{j}] {} vs {}", v.name, dgamma[j], dg_want[j]);
                prop_assert_eq!(dbeta[j].to_bits(), db_want[j].to_bits(), "{}: dbeta[{}]", v.name, j);
            }
        }
    }
}

/// f64 loss `Σ w·LayerNorm(x; gamma, beta)`.
fn loss(shape: Rows, x: &[f64], gamma: &[f64], beta: &[f64], w: &[f32]) -> f64 {
    let n = shape.cols;
    let mut l = 0.0;
    for r in 0..shape.rows {
        let xr = &x[r * n..(r + 1) * n];
        let mean = xr.iter().sum::<f64>() / n as f64;
        let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let rstd = 1.0 / (var + EPS as f64).sqrt();
        for j in 0..n {
            l += w[r * n + j] as f64 * ((xr[j] - mean) * rstd * gamma[j] + beta[j]);
        }
    }
    l
}

#[test]
fn backward_matches_finite_differences() {
    // Central differences of the f64 loss with h = 1e-4: truncation ≤ h²/6·|L'''|, where
    // |L'''| ≲ 10·rstd³·Σ|w·gamma| ≈ 1e2 for these rows (std ≈ 1): < 2e-7. The backward
    // itself, from the f32-rounded saved statistics, is off by ≲ (n + 16)·u·rstd·Σ|g|/n·10.
    let h = 1e-4;
    for (rows, cols, seed) in [(1, 1, 1), (2, 7, 2), (3, 17, 3), (2, 33, 4)] {
        let c = case(rows, cols, seed, 0.3, 1.7);
        let w = case(rows, cols, seed + 100, 0.0, 1.0).x;
        let (_, mean, rstd) = run_fwd(layernorm::naive::layernorm, &c, &c.x).unwrap();
        let x64: Vec<f64> = c.x.iter().map(|&v| v as f64).collect();
        let g64: Vec<f64> = c.gamma.iter().map(|&v| v as f64).collect();
        let b64: Vec<f64> = c.beta.iter().map(|&v| v as f64).collect();
        let tol = 2e-7 + (cols as f64 + 16.0) * U * 10.0 * 4.0;
        let fd = |which: usize, i: usize| {
            let (mut xp, mut gp, mut bp) = (x64.clone(), g64.clone(), b64.clone());
            let (mut xm, mut gm, mut bm) = (x64.clone(), g64.clone(), b64.clone());
            match which {
                0 => (xp[i] += h, xm[i] -= h),
                1 => (gp[i] += h, gm[i] -= h),
                _ => (bp[i] += h, bm[i] -= h),
            };
            (loss(c.shape, &xp, &gp, &bp, &w) - loss(c.shape, &xm, &gm, &bm, &w)) / (2.0 * h)
        };
        for v in variants() {
            let mut dx = vec![0.0; c.shape.len()];
            let (mut dgamma, mut dbeta) = (vec![0.0; cols], vec![0.0; cols]);
            let saved = Saved {
                x: &c.x,
                gamma: &c.gamma,
                mean: &mean,
                rstd: &rstd,
            };
            let grads = LayerNormGrads {
                dx: &mut dx,
                dgamma: &mut dgamma,
                dbeta: &mut dbeta,
            };
            (v.bwd)(c.shape, saved, &w, grads).unwrap();
            let grads = [
                ("dx", &dx[..]),
                ("dgamma", &dgamma[..]),
                ("dbeta", &dbeta[..]),
            ];
            for (which, (what, got)) in grads.into_iter().enumerate() {
                for (i, &d) in got.iter().enumerate() {
                    let f = fd(which, i);
                    assert!(
                        (d as f64 - f).abs() <= tol,
                        "{} {what}[{i}] {d} vs fd {f}",
                        v.name
                    );
                }
            }
        }
    }
}

#[test]
fn constant_rows_give_beta() {
    for v in variants() {
        for (value, cols) in [(0.1f32, 1024), (3e4, 33), (-7.25, 17), (0.0, 5), (1e30, 9)] {
            let mut c = case(2, cols, 5, 0.0, 1.0);
            c.x.fill(value);
            let (y, _, rstd) = run_fwd(v.fwd, &c, &c.x).unwrap();
            assert!(
                rstd.iter().all(|r| r.is_finite()),
                "{}: rstd {rstd:?}",
                v.name
            );
            for (j, &yj) in y.iter().enumerate() {
                let b = c.beta[j % cols];
                assert!(yj.is_finite(), "{}: {value} x {cols}: y = {yj}", v.name);
                assert_eq!(yj, b, "{}: constant {value} x {cols}: y[{j}]", v.name);
            }
        }
    }
}

#[test]
fn wrong_lengths_are_errors() {
    let c = case(2, 3, 9, 0.0, 1.0);
    for v in variants() {
        let mut y = [7.0f32; 6];
        let (mut m, mut r) = ([7.0f32; 2], [7.0f32; 2]);
        let p = Affine {
            gamma: &c.gamma,
            beta: &c.beta,
        };
        let out = LayerNormOut {
            y: &mut y,
            mean: &mut m[..1],
            rstd: &mut r,
        };
        common::assert_length_error(v.name, (v.fwd)(c.shape, EPS, &c.x, p, out));
        let p2 = Affine {
            gamma: &c.gamma[..2],
            beta: &c.beta,
        };
        let out = LayerNormOut {
            y: &mut y,
            mean: &mut m,
            rstd: &mut r,
        };
        common::assert_length_error(v.name, (v.fwd)(c.shape, EPS, &c.x, p2, out));
        let out = LayerNormOut {
            y: &mut y,
            mean: &mut m,
            rstd: &mut r,
        };
        let mut sum = [7.0f32; 5];
        common::assert_length_error(
            v.name,
            (v.add_fwd)(c.shape, EPS, &c.x, &c.x, &mut sum, p, out),
        );
        let out = LayerNormOut {
            y: &mut y[..5],
            mean: &mut m,
            rstd: &mut r,
        };
        let shape_err = (v.fwd)(Rows::new(2, 0), EPS, &[], p, out);
        assert!(
            matches!(shape_err, Err(KernelError::Shape { .. })),
            "{}",
            v.name
        );
        assert_eq!(
            (y, m, r, sum),
            ([7.0; 6], [7.0; 2], [7.0; 2], [7.0; 5]),
            "{}: wrote before failing",
            v.name
        );
        let (mut dx, mut dg, mut db) = ([7.0f32; 6], [7.0f32; 3], [7.0f32; 3]);
        let saved = Saved {
            x: &c.x,
            gamma: &c.gamma,
            mean: &[0.0; 2],
            rstd: &[1.0; 2],
        };
        let grads = LayerNormGrads {
            dx: &mut dx,
            dgamma: &mut dg,
            dbeta: &mut db[..2],
        };
        common::assert_length_error(v.name, (v.bwd)(c.shape, saved, &[1.0; 6], grads));
        let grads = LayerNormGrads {
            dx: &mut dx,
            dgamma: &mut dg,
            dbeta: &mut db,
        };
        common::assert_length_error(v.name, (v.bwd)(c.shape, saved, &[1.0; 5], grads));
        assert_eq!(
            (dx, dg, db),
            ([7.0; 6], [7.0; 3], [7.0; 3]),
            "{}: wrote before failing",
            v.name
        );
        // Empty shapes are fine.
        let out = LayerNormOut {
            y: &mut [],
            mean: &mut [],
            rstd: &mut [],
        };
        (v.fwd)(Rows::new(0, 3), EPS, &[], p, out).unwrap();
    }
}

#[test]
fn report_measured_error() {
    // The figure quoted in the variants' docs: 64 rows of 1024 values 0.5 ± 2, error of y
    // relative to |gamma|·(1 + |x̂|) + |beta|.
    let c = case(64, 1024, 21, 0.5, 2.0);
    let want = run_fwd(layernorm::naive::layernorm, &c, &c.x).unwrap();
    for v in variants() {
        let got = run_fwd(v.fwd, &c, &c.x).unwrap();
        let mut worst = 0.0f64;
        for i in 0..c.shape.len() {
            let j = i % 1024;
            let r = i / 1024;
            let xh = (c.x[i] - want.1[r]) as f64 * want.2[r] as f64;
            let scale = (c.gamma[j] as f64).abs() * (1.0 + xh.abs()) + (c.beta[j] as f64).abs();
            worst = worst.max((got.0[i] - want.0[i]).abs() as f64 / scale);
        }
        println!(
            "layernorm/{}: max error / (|gamma|·(1 + |x̂|) + |beta|): {worst:.2e} ({:.1}u)",
            v.name,
            worst / U
        );
        check_fwd(v.name, &c, &c.x, &got).unwrap();
    }
}
