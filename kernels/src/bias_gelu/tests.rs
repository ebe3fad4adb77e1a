//! Every form of the fused bias add + GELU against the unfused reference (naive bias add,
//! then naive GELU) on awkward shapes, specials and bad lengths.

use crate::cpu::{self, Feature};
use crate::gelu::naive::gelu_grad_scalar;
use crate::gelu::GeluKind;
use crate::{add, gelu, KernelError, Result, Rows};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Fwd = fn(Rows, &[f32], &[f32], &mut [f32]) -> Result<()>;
type Inpl = fn(Rows, &mut [f32], &[f32]) -> Result<()>;
type Bwd = fn(Rows, &[f32], &[f32], &[f32], &mut [f32]) -> Result<()>;
type GeluBwd = fn(GeluKind, &[f32], &[f32], &mut [f32]) -> Result<()>;

/// One implementation with the unfused pair of the same ISA (bias add, GELU forward and
/// backward), which it must match bit for bit.
struct Form {
    name: &'static str,
    feature: Option<Feature>,
    fwd: Fwd,
    inpl: Inpl,
    bwd: Bwd,
    add_bias: Fwd,
    gelu_inplace: fn(GeluKind, &mut [f32]) -> Result<()>,
    gelu_backward: GeluBwd,
}

macro_rules! form {
    ($name:literal, $feature:expr, $m:ident) => {
        Form {
            name: $name,
            feature: $feature,
            fwd: super::$m::bias_gelu,
            inpl: super::$m::bias_gelu_inplace,
            bwd: super::$m::bias_gelu_backward,
            add_bias: add::$m::add_bias,
            gelu_inplace: gelu::$m::gelu_inplace,
            gelu_backward: gelu::$m::gelu_backward,
        }
    };
}

/// The forms this CPU runs; the others must refuse with `Unsupported` (AVX-512 here).
fn forms() -> Vec<Form> {
    let mut all = vec![
        form!("naive", None, naive),
        form!("avx2", Some(Feature::Avx2), avx2),
        form!("avx512", Some(Feature::Avx512), avx512),
    ];
    #[cfg(target_arch = "aarch64")]
    all.push(form!("neon", Some(Feature::Neon), neon));
    all.retain(|f| match f.feature {
        Some(feat) if !cpu::available(feat) => {
            let s = Rows::new(1, 1);
            let mut y = [0.0];
            let r = (f.fwd)(s, &[1.0], &[1.0], &mut y);
            assert!(
                matches!(r, Err(KernelError::Unsupported { .. })),
                "{}",
                f.name
            );
            let r = (f.bwd)(s, &[1.0], &[1.0], &[1.0], &mut y);
            assert!(
                matches!(r, Err(KernelError::Unsupported { .. })),
                "{}",
                f.name
            );
            assert_eq!(y, [0.0], "{} wrote without its feature", f.name);
            false
        }
        _ => true,
    });
    all
}

/// Column counts around every vector width (4, 8, 16) ± 1, primes, 0 and 1.
const COLS: &[usize] = &[
    0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 47, 48, 49, 97, 1023, 1024, 1025,
];
const ROWS: &[usize] = &[0, 1, 2, 3, 5];

fn random(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// The unfused reference: naive bias add, then naive GELU (forward, or backward on the sum).
fn unfused(s: Rows, x: &[f32], b: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut pre = vec![0.0; x.len()];
    add::naive::add_bias(s, x, b, &mut pre).unwrap();
    let mut dx = vec![0.0; x.len()];
    gelu::naive::gelu_backward(GeluKind::Tanh, &pre, dy, &mut dx).unwrap();
    gelu::naive::gelu_inplace(GeluKind::Tanh, &mut pre).unwrap();
    (pre, dx)
}

/// Unit roundoff of f32, 2⁻²⁴.
const U: f32 = f32::EPSILON / 2.0;

/// The allowed |fused − reference|: the vector tanh GELU's documented error (forward ≤ 2.3u,
/// gradient ≤ 2.9u, as |err| / max(1, |ref|), `gelu/avx2.rs`), rounded up to 4u; the
/// backward scales the gradient's error by |dy| and adds the final product's rounding (u
/// relative, doubled for the reference's own rounding to f32). The sum `x + bias` is the
/// same f32 addition on both sides, so it adds nothing; naive must match exactly.
fn tolerance(naive: bool, reference: f32, grad: Option<(f32, f32)>) -> f32 {
    if naive {
        return 0.0;
    }
    match grad {
        None => 4.0 * U * reference.abs().max(1.0),
        Some((dy, g)) => dy.abs() * 4.0 * U * g.abs().max(1.0) + 2.0 * U * reference.abs(),
    }
}

fn close(got: f32, want: f32, tol: f32) -> bool {
    (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= tol
}

#[test]
fn every_form_matches_the_unfused_reference_on_awkward_shapes() {
    let mut rng = StdRng::seed_from_u64(7);
    for f in forms() {
        for &rows in ROWS {
            for &cols in COLS {
                let s = Rows::new(rows, cols);
                let n = s.len();
                let x = random(&mut rng, n, -6.0, 6.0);
                let b = random(&mut rng, cols, -2.0, 2.0);
                let dy = random(&mut rng, n, -1.0, 1.0);
                let (want_y, want_dx) = unfused(s, &x, &b, &dy);
                let naive = f.name == "naive";

                let mut y = vec![f32::NAN; n];
                (f.fwd)(s, &x, &b, &mut y).unwrap();
                let mut inpl = x.clone();
                (f.inpl)(s, &mut inpl, &b).unwrap();
                let mut dx = vec![f32::NAN; n];
                (f.bwd)(s, &x, &b, &dy, &mut dx).unwrap();
                for i in 0..n {
                    let tol = tolerance(naive, want_y[i], None);
                    assert!(close(y[i], want_y[i], tol), "{} {s:?} y[{i}]", f.name);
                    assert_eq!(y[i].to_bits(), inpl[i].to_bits(), "{} in place", f.name);
                    let pre = (x[i] + b[i % cols]) as f64;
                    let g = gelu_grad_scalar(GeluKind::Tanh, pre) as f32;
                    let tol = tolerance(naive, want_dx[i], Some((dy[i], g)));
                    assert!(
                        close(dx[i], want_dx[i], tol),
                        "{} {s:?} dx[{i}] = {}, reference {}",
                        f.name,
                        dx[i],
                        want_dx[i]
                    );
                }
            }
        }
    }
}

/// The fused vector form does exactly the arithmetic of its ISA's bias add then GELU.
#[test]
fn every_form_is_bit_identical_to_its_own_unfused_pair() {
    let mut rng = StdRng::seed_from_u64(11);
    for f in forms() {
        for &cols in COLS {
            let s = Rows::new(3, cols);
            let n = s.len();
            let x = random(&mut rng, n, -12.0, 12.0);
            let b = random(&mut rng, cols, -3.0, 3.0);
            let dy = random(&mut rng, n, -2.0, 2.0);
            let mut pre = vec![0.0; n];
            (f.add_bias)(s, &x, &b, &mut pre).unwrap();
            let mut want_dx = vec![0.0; n];
            (f.gelu_backward)(GeluKind::Tanh, &pre, &dy, &mut want_dx).unwrap();
            (f.gelu_inplace)(GeluKind::Tanh, &mut pre).unwrap();
            let mut y = vec![0.0; n];
            (f.fwd)(s, &x, &b, &mut y).unwrap();
            let mut dx = vec![0.0; n];
            (f.bwd)(s, &x, &b, &dy, &mut dx).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&pre), "{} forward, cols {cols}", f.name);
            assert_eq!(
                bits(&dx),
                bits(&want_dx),
                "{} backward, cols {cols}",
                f.name
            );
        }
    }
}

/// NaN and ±∞ in the input or the bias come out as the unfused form makes them, in every lane
/// position (full vectors and the masked tail).
#[test]
fn specials_pass_through_as_in_the_unfused_form() {
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e30,
        -1e30,
    ];
    for f in forms() {
        for cols in [5, 8, 17, 33] {
            let s = Rows::new(specials.len(), cols);
            let x: Vec<f32> = (0..s.len()).map(|i| specials[i % specials.len()]).collect();
            let b: Vec<f32> = (0..cols)
                .map(|j| specials[(j * 3 + 1) % specials.len()])
                .collect();
            let dy: Vec<f32> = (0..s.len()).map(|i| 0.5 - (i % 3) as f32).collect();
            let (want_y, want_dx) = unfused(s, &x, &b, &dy);
            let mut y = vec![0.0; s.len()];
            (f.fwd)(s, &x, &b, &mut y).unwrap();
            let mut dx = vec![0.0; s.len()];
            (f.bwd)(s, &x, &b, &dy, &mut dx).unwrap();
            // NaN, ±∞ and zeros must match exactly; huge finite sums (±1e30) within the
            // vector GELU's relative error.
            let ok = |g: f32, w: f32| {
                let tol = if w.is_finite() {
                    4.0 * U * w.abs()
                } else {
                    0.0
                };
                close(g, w, tol) && g.is_nan() == w.is_nan() && g.is_finite() == w.is_finite()
            };
            for i in 0..s.len() {
                for (what, got, want) in [("y", &y, &want_y), ("dx", &dx, &want_dx)] {
                    assert!(
                        ok(got[i], want[i]),
                        "{} {what}[{i}] {} vs {}",
                        f.name,
                        got[i],
                        want[i]
                    );
                }
            }
        }
    }
}

/// Wrong lengths and an overflowing shape are errors, and nothing is written.
#[test]
fn bad_lengths_are_errors_without_writes() {
    for f in forms() {
        let s = Rows::new(3, 5);
        let (x, b, dy) = (vec![1.0; 15], vec![1.0; 5], vec![1.0; 15]);
        let mut y = vec![7.0; 15];
        assert!((f.fwd)(s, &x[..14], &b, &mut y).is_err(), "{}", f.name);
        assert!((f.fwd)(s, &x, &b[..4], &mut y).is_err(), "{}", f.name);
        assert!((f.fwd)(s, &x, &b, &mut y[..14]).is_err(), "{}", f.name);
        assert!((f.bwd)(s, &x, &b, &dy[..14], &mut y).is_err(), "{}", f.name);
        assert!((f.bwd)(s, &x, &b, &dy, &mut y[..14]).is_err(), "{}", f.name);
        let mut short = vec![7.0; 14];
        assert!((f.inpl)(s, &mut short, &b).is_err(), "{}", f.name);
        let huge = Rows::new(usize::MAX / 2, 3);
        assert!((f.fwd)(huge, &x, &b[..3], &mut y).is_err(), "{}", f.name);
        assert!((f.inpl)(huge, &mut y, &b[..3]).is_err(), "{}", f.name);
        assert!(
            (f.bwd)(huge, &x, &b[..3], &dy, &mut y).is_err(),
            "{}",
            f.name
        );
        assert!(
            y.iter().chain(&short).all(|&v| v == 7.0),
            "{} wrote",
            f.name
        );
    }
}
