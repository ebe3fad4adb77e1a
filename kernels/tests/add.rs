//! Add: every variant (naive, avx2, avx512) must be bit-identical to the reference (one IEEE
//! addition per element), for every length and in place.

use kernels::add;
use kernels::cpu::{self, Feature};
use kernels::{KernelError, Result, Rows};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Add = fn(&[f32], &[f32], &mut [f32]) -> Result<()>;
type AddInpl = fn(&mut [f32], &[f32]) -> Result<()>;
type Bias = fn(Rows, &[f32], &[f32], &mut [f32]) -> Result<()>;
type BiasInpl = fn(Rows, &mut [f32], &[f32]) -> Result<()>;

struct Variant {
    name: &'static str,
    feature: Option<Feature>,
    add: Add,
    add_inplace: AddInpl,
    bias: Bias,
    bias_inplace: BiasInpl,
}

macro_rules! variant {
    ($name:literal, $feature:expr, $m:ident) => {
        Variant {
            name: $name,
            feature: $feature,
            add: add::$m::add,
            add_inplace: add::$m::add_inplace,
            bias: add::$m::add_bias,
            bias_inplace: add::$m::add_bias_inplace,
        }
    };
}

/// The variants this machine can run; the others are checked to refuse, with a note.
fn variants() -> Vec<Variant> {
    vec![
        variant!("naive", None, naive),
        variant!("avx2", Some(Feature::Avx2), avx2),
        variant!("avx512", Some(Feature::Avx512), avx512),
    ]
    .into_iter()
    .filter(|v| match v.feature {
        Some(f) if !cpu::available(f) => {
            eprintln!(
                "note: skipping add/{}: {}",
                v.name,
                cpu::unavailable_reason(f).unwrap()
            );
            let r = (v.add)(&[1.0], &[1.0], &mut [0.0]);
            assert!(
                matches!(r, Err(KernelError::Unsupported { .. })),
                "{}: {r:?}",
                v.name
            );
            false
        }
        _ => true,
    })
    .collect()
}

/// Random values with the occasional special (NaN, ±∞, ±0, subnormal, huge).
fn values(n: usize, rng: &mut StdRng) -> Vec<f32> {
    const SPECIAL: [f32; 8] = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e-40,
        f32::MAX,
        -f32::MAX,
    ];
    (0..n)
        .map(|_| {
            if rng.random_range(0..20) == 0 {
                SPECIAL[rng.random_range(0..SPECIAL.len())]
            } else {
                rng.random_range(-1e3f32..1e3)
            }
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => prop::sample::select(vec![0usize, 1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 257]),
        1 => Just(100_003usize),
        2 => 0usize..300,
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn add_is_bit_identical(n in lengths(), seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (a, b) = (values(n, &mut rng), values(n, &mut rng));
        let mut want = vec![0.0; n];
        add::naive::add(&a, &b, &mut want).unwrap();
        for v in variants() {
            let mut out = vec![0.0; n];
            (v.add)(&a, &b, &mut out).unwrap();
            prop_assert_eq!(bits(&out), bits(&want), "{}", v.name);
            let mut inpl = a.clone();
            (v.add_inplace)(&mut inpl, &b).unwrap();
            prop_assert_eq!(bits(&inpl), bits(&want), "{} in place", v.name);
        }
    }

    #[test]
    fn add_bias_is_bit_identical(cols in lengths(), rows in 0usize..4, seed: u64) {
        let rows = if cols > 10_000 { rows.min(1) } else { rows };
        let shape = Rows::new(rows, cols);
        let mut rng = StdRng::seed_from_u64(seed);
        let (x, bias) = (values(shape.len(), &mut rng), values(cols, &mut rng));
        let mut want = vec![0.0; shape.len()];
        add::naive::add_bias(shape, &x, &bias, &mut want).unwrap();
        for v in variants() {
            let mut out = vec![0.0; shape.len()];
            (v.bias)(shape, &x, &bias, &mut out).unwrap();
            prop_assert_eq!(bits(&out), bits(&want), "{}", v.name);
            let mut inpl = x.clone();
            (v.bias_inplace)(shape, &mut inpl, &bias).unwrap();
            prop_assert_eq!(bits(&inpl), bits(&want), "{} in place", v.name);
        }
    }
}

#[test]
fn wrong_lengths_are_errors() {
    for v in variants() {
        let is_len = |r: Result<()>| matches!(r, Err(KernelError::Length { .. }));
        let mut out = [7.0f32; 4];
        assert!(
            is_len((v.add)(&[1.0; 4], &[1.0; 3], &mut out)),
            "{}",
            v.name
        );
        assert!(
            is_len((v.add)(&[1.0; 3], &[1.0; 3], &mut out)),
            "{}",
            v.name
        );
        assert!(is_len((v.add_inplace)(&mut out, &[1.0; 5])), "{}", v.name);
        let shape = Rows::new(2, 2);
        assert!(
            is_len((v.bias)(shape, &[1.0; 4], &[1.0; 3], &mut out)),
            "{}",
            v.name
        );
        assert!(
            is_len((v.bias)(shape, &[1.0; 5], &[1.0; 2], &mut out)),
            "{}",
            v.name
        );
        assert!(
            is_len((v.bias)(shape, &[1.0; 4], &[1.0; 2], &mut out[..3])),
            "{}",
            v.name
        );
        assert!(
            is_len((v.bias_inplace)(shape, &mut out, &[1.0; 1])),
            "{}",
            v.name
        );
        assert_eq!(out, [7.0; 4], "{}: wrote before failing", v.name);
        (v.bias)(Rows::new(3, 0), &[], &[], &mut []).unwrap();
    }
}
