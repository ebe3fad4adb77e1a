//! GELU: every variant (naive, avx2, avx512) against the f64 reference, by one generic body.
//!
//! Error metric: `|y - ref| / max(1, |ref|)` — absolute below 1, relative above. Relative
//! error alone is meaningless near the zero of `gelu'` (x ≈ -0.75) and in the far negative
//! tail, where the f32 input itself carries relative error `|x·d ln gelu/dx|·u` (≈ 200u at
//! x = -10) that no f32 kernel can avoid.
//!
//! Tolerances, derived a priori with u = 2⁻²⁴ (not tuned):
//! * forward: the approximation (exp ≤ 2 ulp; erfc ≤ 1.2e-7 ≈ 2u relative) plus ≈ 10
//!   roundings, each ≤ u relative on terms of magnitude ≤ max(1, |y|): `16u`;
//! * backward (`dy = 1`): one more exp (erf form) and ≈ 8 more roundings: `24u`, times
//!   `|dy|` plus one rounding of the product for general `dy`;
//! * the naive f64 reference itself: one rounding to f32, `u` relative.

mod common;

use kernels::gelu::naive::{gelu_grad_scalar, gelu_scalar};
use kernels::gelu::{self, GeluKind};
use kernels::{KernelError, Result};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const U: f64 = 1.0 / (1u64 << 24) as f64;
const FWD_TOL: f64 = 16.0 * U;
const BWD_TOL: f64 = 24.0 * U;
const KINDS: [GeluKind; 2] = [GeluKind::Tanh, GeluKind::Erf];

type Fwd = fn(GeluKind, &[f32], &mut [f32]) -> Result<()>;
type Inpl = fn(GeluKind, &mut [f32]) -> Result<()>;
type Bwd = fn(GeluKind, &[f32], &[f32], &mut [f32]) -> Result<()>;

common::variant_table! {
    fwd: Fwd = gelu::gelu,
    inplace: Inpl = gelu::gelu_inplace,
    bwd: Bwd = gelu::gelu_backward;
    probe "gelu" => |v| {
        (v.fwd)(GeluKind::Tanh, &[1.0; 3], &mut [0.0f32; 3])
    };
}

/// Checks `y = f(x)` element by element against the f64 reference `want`: within `tol` (in
/// the metric of [`err`]) for a finite input, the same special value otherwise.
fn check_specials(
    name: &str,
    what: &str,
    x: &[f32],
    y: &[f32],
    want: impl Fn(f64) -> f64,
    tol: f64,
) {
    for (&a, &b) in x.iter().zip(y) {
        let want = want(a as f64);
        let ok = if a.is_finite() {
            err(b, want) <= tol
        } else {
            same_special(b, want)
        };
        assert!(ok, "{name} {what}({a}) = {b}, want {want}");
    }
}

fn err(got: f32, want: f64) -> f64 {
    (got as f64 - want).abs() / want.abs().max(1.0)
}

/// Same value, NaN matching NaN.
fn same_special(got: f32, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got as f64 == want
}

fn grid() -> Vec<f32> {
    let mut x: Vec<f32> = (-10_000..=10_000).map(|i| i as f32 * 1e-3).collect();
    x.extend([
        1e3,
        -1e3,
        30.0,
        -30.0,
        1e-30,
        -1e-30,
        0.0,
        -0.0,
        f32::MAX,
        -f32::MAX,
    ]);
    x
}

#[test]
fn accuracy_on_dense_grid() {
    let x = grid();
    let mut y = vec![0.0; x.len()];
    let ones = vec![1.0; x.len()];
    for v in variants() {
        for kind in KINDS {
            (v.fwd)(kind, &x, &mut y).unwrap();
            let fwd = x
                .iter()
                .zip(&y)
                .map(|(&a, &b)| err(b, gelu_scalar(kind, a as f64)));
            let fwd = fwd.fold(0.0, f64::max);
            (v.bwd)(kind, &x, &ones, &mut y).unwrap();
            let bwd = x
                .iter()
                .zip(&y)
                .map(|(&a, &b)| err(b, gelu_grad_scalar(kind, a as f64)));
            let bwd = bwd.fold(0.0, f64::max);
            println!(
                "gelu/{}/{}: max error forward {fwd:.2e} ({:.1}u), backward {bwd:.2e} ({:.1}u)",
                v.name,
                kind.name(),
                fwd / U,
                bwd / U
            );
            assert!(fwd <= FWD_TOL, "{} {kind:?} forward {fwd:e}", v.name);
            assert!(bwd <= BWD_TOL, "{} {kind:?} backward {bwd:e}", v.name);
        }
    }
}

#[test]
fn special_values_follow_reference() {
    let x = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e3,
        -1e3,
        -1e30,
        1e30,
    ];
    let mut y = [0.0f32; 9];
    for v in variants() {
        for kind in KINDS {
            let name = format!("{} {kind:?}", v.name);
            (v.fwd)(kind, &x, &mut y).unwrap();
            check_specials(&name, "gelu", &x, &y, |a| gelu_scalar(kind, a), FWD_TOL);
            (v.bwd)(kind, &x, &[1.0; 9], &mut y).unwrap();
            check_specials(
                &name,
                "gelu'",
                &x,
                &y,
                |a| gelu_grad_scalar(kind, a),
                BWD_TOL,
            );
        }
    }
}

#[test]
fn backward_matches_finite_differences() {
    // L = Σ w·gelu(x): dL/dx = w·gelu'(x), which the backward computes with dy = w. The
    // central difference in f64 with h = 1e-4 has truncation error h²/6·|gelu'''| < 1e-8
    // (|gelu'''| < 2) and rounding error ≈ 1e-16/h = 1e-12.
    let mut rng = StdRng::seed_from_u64(7);
    let n = 257;
    let x: Vec<f32> = (0..n).map(|_| rng.random_range(-6.0f32..6.0)).collect();
    let w: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect();
    let h = 1e-4;
    let mut dx = vec![0.0; n];
    for v in variants() {
        for kind in KINDS {
            (v.bwd)(kind, &x, &w, &mut dx).unwrap();
            for i in 0..n {
                let xi = x[i] as f64;
                let fd = w[i] as f64 * (gelu_scalar(kind, xi + h) - gelu_scalar(kind, xi - h))
                    / (2.0 * h);
                let tol =
                    (BWD_TOL + U) * fd.abs().max(w[i].abs() as f64) + 1e-8 * w[i].abs() as f64;
                assert!(
                    (dx[i] as f64 - fd).abs() <= tol,
                    "{} {kind:?} x={} dx={} fd={fd}",
                    v.name,
                    x[i],
                    dx[i]
                );
            }
        }
    }
}

#[test]
fn wrong_lengths_are_errors() {
    for v in variants() {
        let mut y = [7.0f32; 4];
        assert!(matches!(
            (v.fwd)(GeluKind::Tanh, &[1.0; 5], &mut y),
            Err(KernelError::Length { .. })
        ));
        assert_eq!(y, [7.0; 4], "{}: wrote before failing", v.name);
        let r = (v.bwd)(GeluKind::Erf, &[1.0; 4], &[1.0; 3], &mut y);
        assert!(matches!(r, Err(KernelError::Length { .. })), "{}", v.name);
        let r = (v.bwd)(GeluKind::Erf, &[1.0; 5], &[1.0; 5], &mut y);
        assert!(matches!(r, Err(KernelError::Length { .. })), "{}", v.name);
        assert_eq!(y, [7.0; 4], "{}: wrote before failing", v.name);
    }
}

proptest! {
    #![proptest_config(common::config(48))]

    #[test]
    fn random_lengths_match_reference(n in common::lengths(), seed: u64, wide: bool) {
        let mut rng = StdRng::seed_from_u64(seed);
        let range = if wide { 40.0f32 } else { 6.0 };
        let x: Vec<f32> = (0..n).map(|_| rng.random_range(-range..range)).collect();
        let dy: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0f32..3.0)).collect();
        let (mut y, mut y2, mut dx) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for v in variants() {
            for kind in KINDS {
                (v.fwd)(kind, &x, &mut y).unwrap();
                y2.copy_from_slice(&x);
                (v.inplace)(kind, &mut y2).unwrap();
                prop_assert!(y.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()), "{} in place differs", v.name);
                (v.bwd)(kind, &x, &dy, &mut dx).unwrap();
                for i in 0..n {
                    let xi = x[i] as f64;
                    let e = err(y[i], gelu_scalar(kind, xi));
                    prop_assert!(e <= FWD_TOL, "{} {kind:?} gelu({}) = {} err {e:e}", v.name, x[i], y[i]);
                    let want = dy[i] as f64 * gelu_grad_scalar(kind, xi);
                    let tol = BWD_TOL * (dy[i].abs() as f64).max(want.abs()) + U * want.abs();
                    prop_assert!((dx[i] as f64 - want).abs() <= tol, "{} {kind:?} gelu'({}) dy={} got {} want {want}", v.name, x[i], dy[i], dx[i]);
                }
            }
        }
    }
}
