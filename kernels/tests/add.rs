//! Add: every variant (naive, avx2, avx512) must be bit-identical to the reference (one IEEE
//! addition per element), for every length and in place.

mod common;

use kernels::add;
use kernels::{Result, Rows};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Add = fn(&[f32], &[f32], &mut [f32]) -> Result<()>;
type AddInpl = fn(&mut [f32], &[f32]) -> Result<()>;
type Bias = fn(Rows, &[f32], &[f32], &mut [f32]) -> Result<()>;
type BiasInpl = fn(Rows, &mut [f32], &[f32]) -> Result<()>;

common::variant_table! {
    add: Add = add::add,
    add_inplace: AddInpl = add::add_inplace,
    bias: Bias = add::add_bias,
    bias_inplace: BiasInpl = add::add_bias_inplace;
    probe "add" => |v| (v.add)(&[1.0], &[1.0], &mut [0.0]);
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

proptest! {
    #![proptest_config(common::config(48))]

    #[test]
    fn add_is_bit_identical(n in common::lengths(), seed: u64) {
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
    fn add_bias_is_bit_identical(cols in common::lengths(), rows in 0usize..4, seed: u64) {
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
        let mut out = [7.0f32; 4];
        common::assert_length_error(v.name, (v.add)(&[1.0; 4], &[1.0; 3], &mut out));
        common::assert_length_error(v.name, (v.add)(&[1.0; 3], &[1.0; 3], &mut out));
        common::assert_length_error(v.name, (v.add_inplace)(&mut out, &[1.0; 5]));
        let shape = Rows::new(2, 2);
        common::assert_length_error(v.name, (v.bias)(shape, &[1.0; 4], &[1.0; 3], &mut out));
        common::assert_length_error(v.name, (v.bias)(shape, &[1.0; 5], &[1.0; 2], &mut out));
        common::assert_length_error(v.name, (v.bias)(shape, &[1.0; 4], &[1.0; 2], &mut out[..3]));
        common::assert_length_error(v.name, (v.bias_inplace)(shape, &mut out, &[1.0; 1]));
        assert_eq!(out, [7.0; 4], "{}: wrote before failing", v.name);
        (v.bias)(Rows::new(3, 0), &[], &[], &mut []).unwrap();
    }
}
