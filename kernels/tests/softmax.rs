//! Softmax: every variant (naive, avx2, avx512) against the f64 reference, by one generic
//! body.
//!
//! Tolerances, derived a priori with u = 2⁻²⁴ (not tuned). For element j of a row with
//! `d = scale·x_j - max`: the product `scale·x` is rounded (≤ u·M, M = max|scale·x| of the
//! row, twice: x_j and the max), the difference `d` once (≤ u·|d|), so the exponent is off by
//! ≤ u·(2M + |d|), which is also the relative error it causes; exp adds ≤ 4u (2 ulp); the
//! f32 lane sum of `cols` positive terms is off by ≤ (cols + 4u)·u relative on top of the
//! terms' own errors; the reciprocal and the product add 2u. Hence
//! `|y_j - ref_j| ≤ ref_j·(2·(4u + u·(2M + D)) + (cols + 4)·u)` with D the row's max |d|, and
//! each row sums to 1 within that same relative bound, taking D for |d|.

mod common;

use kernels::softmax;
use kernels::{Result, Rows};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const U: f64 = 1.0 / (1u64 << 24) as f64;

type Fwd = fn(Rows, &[f32], &mut [f32]) -> Result<()>;
type Inpl = fn(Rows, &mut [f32]) -> Result<()>;
type Causal = fn(Rows, f32, usize, &[f32], &mut [f32]) -> Result<()>;
type CausalInpl = fn(Rows, f32, usize, &mut [f32]) -> Result<()>;
type Bwd = fn(Rows, &[f32], &[f32], &mut [f32]) -> Result<()>;

common::variant_table! {
    fwd: Fwd = softmax::softmax,
    inplace: Inpl = softmax::softmax_inplace,
    causal: Causal = softmax::softmax_causal,
    causal_inplace: CausalInpl = softmax::softmax_causal_inplace,
    bwd: Bwd = softmax::softmax_backward;
    probe "softmax" => |v| {
        (v.fwd)(Rows::new(1, 2), &[1.0; 2], &mut [0.0; 2])
    };
}

/// f64 softmax of `scale·x` (the product rounded to f32 first, as the contract's reference).
fn reference_row(x: &[f32], scale: f32) -> Vec<f64> {
    let s: Vec<f64> = x.iter().map(|&v| (v * scale) as f64).collect();
    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// Checks one output row against the reference with the bound of the module docs.
fn check_row(name: &str, x: &[f32], scale: f32, y: &[f32]) -> std::result::Result<(), String> {
    let reference = reference_row(x, scale);
    let s: Vec<f64> = x.iter().map(|&v| (v * scale) as f64).collect();
    let big_m = s.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let d = s.iter().fold(0.0f64, |m, v| m.max(max - v));
    let n = x.len() as f64;
    let rel = 2.0 * (4.0 * U + U * (2.0 * big_m + d)) + (n + 4.0) * U;
    for (j, (&got, &want)) in y.iter().zip(&reference).enumerate() {
        if (got as f64 - want).abs() > rel * want + f32::MIN_POSITIVE as f64 {
            return Err(format!(
                "{name}: col {j} of {n}: got {got}, want {want} (rel tol {rel:e})"
            ));
        }
    }
    let total: f64 = y.iter().map(|&v| v as f64).sum();
    if (total - 1.0).abs() > rel + n * U {
        return Err(format!("{name}: row sums to {total}"));
    }
    Ok(())
}

fn random(n: usize, rng: &mut StdRng, range: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-range..range)).collect()
}

fn cols() -> impl Strategy<Value = usize> {
    common::row_lengths(257)
}

proptest! {
    #![proptest_config(common::config(40))]

    #[test]
    fn random_shapes_match_reference(cols in cols(), rows in 0usize..4, seed: u64, range in prop::sample::select(vec![1.0f32, 10.0, 40.0])) {
        let rows = if cols > 10_000 { rows.min(1) } else { rows };
        let shape = Rows::new(rows, cols);
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(shape.len(), &mut rng, range);
        let (mut y, mut y2) = (vec![0.0; shape.len()], x.clone());
        for v in variants() {
            (v.fwd)(shape, &x, &mut y).unwrap();
            (v.inplace)(shape, &mut y2).unwrap();
            prop_assert!(y.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()), "{} in place differs", v.name);
            y2.copy_from_slice(&x);
            for (xr, yr) in x.chunks(cols).zip(y.chunks(cols)) {
                check_row(v.name, xr, 1.0, yr).map_err(TestCaseError::fail)?;
            }
        }
    }

    #[test]
    fn causal_matches_reference(cols in 1usize..80, rows in 1usize..20, offset in 0usize..40, seed: u64, scale in prop::sample::select(vec![0.125f32, 1.0, -0.5, 3.0])) {
        let shape = Rows::new(rows, cols);
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(shape.len(), &mut rng, 8.0);
        let (mut y, mut y2) = (vec![f32::NAN; shape.len()], x.clone());
        for v in variants() {
            (v.causal)(shape, scale, offset, &x, &mut y).unwrap();
            (v.causal_inplace)(shape, scale, offset, &mut y2).unwrap();
            prop_assert!(y.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()), "{} in place differs", v.name);
            y2.copy_from_slice(&x);
            for (r, (xr, yr)) in x.chunks(cols).zip(y.chunks(cols)).enumerate() {
                let visible = (r + offset + 1).min(cols);
                check_row(v.name, &xr[..visible], scale, &yr[..visible]).map_err(TestCaseError::fail)?;
                prop_assert!(yr[visible..].iter().all(|&m| m.to_bits() == 0), "{}: masked entries not +0", v.name);
            }
        }
    }

    #[test]
    fn backward_matches_reference(cols in cols(), rows in 1usize..3, seed: u64) {
        // dx_j = y_j·(dy_j - dot), dot = Σ y·dy: the f32 lane dot is off by ≤ (cols + 2)·u·Σ|y·dy|,
        // the difference and the product by 2u relative.
        let rows = if cols > 10_000 { 1 } else { rows };
        let shape = Rows::new(rows, cols);
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(shape.len(), &mut rng, 5.0);
        let dy = random(shape.len(), &mut rng, 2.0);
        let mut y = vec![0.0; shape.len()];
        softmax::naive::softmax(shape, &x, &mut y).unwrap();
        let mut want = vec![0.0; shape.len()];
        let mut got = vec![0.0; shape.len()];
        for v in variants() {
            (v.bwd)(shape, &y, &dy, &mut got).unwrap();
            softmax::naive::softmax_backward(shape, &y, &dy, &mut want).unwrap();
            for r in 0..rows {
                let row = r * cols..(r + 1) * cols;
                let (yr, gr) = (&y[row.clone()], &dy[row.clone()]);
                let dot: f64 = yr.iter().zip(gr).map(|(&a, &b)| a as f64 * b as f64).sum();
                let abs: f64 = yr.iter().zip(gr).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum();
                for j in row.clone() {
                    let exact = y[j] as f64 * (dy[j] as f64 - dot);
                    let tol = (y[j] as f64) * ((cols as f64 + 2.0) * U * abs + 2.0 * U * (dy[j] as f64 - dot).abs()) + U * exact.abs();
                    prop_assert!((got[j] as f64 - exact).abs() <= tol, "{}: dx[{j}] = {} want {exact}", v.name, got[j]);
                }
            }
        }
    }
}

#[test]
fn backward_matches_finite_differences() {
    // L(x) = Σ w·softmax(x) in f64; dL/dx = softmax_backward(y, w). Central differences with
    // h = 1e-4: truncation ≤ h²/6·|L'''| with |L'''| ≤ 6·max|w| here, i.e. < 1e-8·max|w|.
    let mut rng = StdRng::seed_from_u64(11);
    for (rows, cols) in [(1, 1), (2, 7), (3, 17), (2, 33)] {
        let shape = Rows::new(rows, cols);
        let x = random(shape.len(), &mut rng, 3.0);
        let w = random(shape.len(), &mut rng, 1.0);
        let mut y = vec![0.0; shape.len()];
        softmax::naive::softmax(shape, &x, &mut y).unwrap();
        let loss = |xr: &[f64], wr: &[f32]| -> f64 {
            let max = xr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = xr.iter().map(|v| (v - max).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().zip(wr).map(|(a, &b)| a / s * b as f64).sum()
        };
        let h = 1e-4;
        let mut dx = vec![0.0; shape.len()];
        for v in variants() {
            (v.bwd)(shape, &y, &w, &mut dx).unwrap();
            for r in 0..rows {
                let row = r * cols..(r + 1) * cols;
                let base: Vec<f64> = x[row.clone()].iter().map(|&v| v as f64).collect();
                for j in 0..cols {
                    let (mut p, mut m) = (base.clone(), base.clone());
                    p[j] += h;
                    m[j] -= h;
                    let fd = (loss(&p, &w[row.clone()]) - loss(&m, &w[row.clone()])) / (2.0 * h);
                    // y is rounded to f32 (u relative): dx moves by ≤ 4u·max|w|.
                    let tol = 1e-8 + (cols as f64 + 8.0) * U;
                    let got = dx[r * cols + j] as f64;
                    assert!(
                        (got - fd).abs() <= tol,
                        "{} {rows}x{cols} ({r},{j}): {got} vs fd {fd}",
                        v.name
                    );
                }
            }
        }
    }
}

#[test]
fn wrong_lengths_are_errors() {
    for v in variants() {
        let shape = Rows::new(2, 3);
        let mut y = [7.0f32; 6];
        common::assert_length_error(v.name, (v.fwd)(shape, &[1.0; 5], &mut y));
        common::assert_length_error(v.name, (v.fwd)(shape, &[1.0; 6], &mut y[..5]));
        common::assert_length_error(v.name, (v.inplace)(shape, &mut y[..5]));
        common::assert_length_error(v.name, (v.causal)(shape, 1.0, 0, &[1.0; 7], &mut y));
        common::assert_length_error(v.name, (v.causal_inplace)(shape, 1.0, 0, &mut y[..4]));
        common::assert_length_error(v.name, (v.bwd)(shape, &[1.0; 6], &[1.0; 5], &mut [0.0; 6]));
        common::assert_length_error(v.name, (v.bwd)(shape, &[1.0; 6], &[1.0; 6], &mut y[..1]));
        assert_eq!(y, [7.0; 6], "{}: wrote before failing", v.name);
        // Empty shapes are fine.
        (v.fwd)(Rows::new(0, 5), &[], &mut []).unwrap();
        (v.fwd)(Rows::new(3, 0), &[], &mut []).unwrap();
        (v.bwd)(Rows::new(3, 0), &[], &[], &mut []).unwrap();
    }
}

#[test]
fn report_measured_error() {
    // The figure quoted in the variants' docs: rows of 1024 values uniform in [-10, 10].
    let shape = Rows::new(64, 1024);
    let x = random(shape.len(), &mut StdRng::seed_from_u64(3), 10.0);
    let mut y = vec![0.0; shape.len()];
    for v in variants() {
        (v.fwd)(shape, &x, &mut y).unwrap();
        let mut worst = 0.0f64;
        for (xr, yr) in x.chunks(1024).zip(y.chunks(1024)) {
            for (&g, w) in yr.iter().zip(reference_row(xr, 1.0)) {
                worst = worst.max((g as f64 - w).abs() / w);
            }
        }
        println!(
            "softmax/{}: max relative error {worst:.2e} ({:.1}u)",
            v.name,
            worst / U
        );
        check_row(v.name, &x[..1024], 1.0, &y[..1024]).unwrap();
    }
}
