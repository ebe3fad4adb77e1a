//! Fused attention: every form this machine runs against the unfused reference, which is built
//! here from the very calls the model made per head before the fused kernel existed:
//! `matmul::naive` (q·kᵀ, strided into the QKV and K buffers), `softmax::naive` causal (scale,
//! offset `past`) and `matmul::naive` (·v).
//!
//! Tolerance, derived a priori with u = 2⁻²⁴ and γ_m = m·u/(1 - m·u) (not tuned). For query row
//! `i` with `vis` visible keys, reference probabilities `P_j` and `S_j = Σ_c |q_c·k_jc|`:
//! * each side sums the dot product of length `head_dim` in f32 in its own order (≤ γ_hd·S_j
//!   from the exact value) and rounds `scale·s` (≤ u·|x_j|), so the scores differ by
//!   `δ_j ≤ scale·2γ_hd·S_j + 2u·|x_j|`, the maximum by ≤ δ = max δ_j;
//! * the fused exponent `(x_j - max)·log₂e` is rounded twice (≤ 2u·D relative in `e_j`, D the
//!   row's largest |x_j - max|) and `exp2` adds ≤ 2u: `e_j` is off by `ε ≤ 2δ + 2u·D + 2u`
//!   relative, the probabilities by ≤ 2ε plus the f32 sum of `vis` terms, `(vis + 1)·u`;
//! * the weighted sums: the fused one over `vis` terms in f32 (≤ γ_vis), times `1/Σ` (2u);
//!   the reference rounds `P_j` to f32 (u) and sums `total` terms in f32 (≤ γ_total).
//!
//! Hence, with `A_c = Σ_j P_j·|v_jc|`,
//! `|out - ref| ≤ A_c·(4δ + 4u·D + (2·vis + total + 12)·u) + 2⁻¹²⁶·Σ_j |v_jc|`, the last term
//! for exponentials flushed to 0 below 2⁻¹²⁶ (and f32 denormals). Second-order terms are
//! covered by a factor 1.01. The naive form *is* the reference's calls, row by row, and must
//! match it bit for bit.

mod common;

use kernels::attention::{self, Attention, AttentionFn, Qkv};
use kernels::cpu::Feature;
use kernels::matmul::{naive::matmul, Gemm};
use kernels::softmax::naive::softmax_causal_inplace;
use kernels::Rows;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::Range;

const U: f64 = 1.0 / (1u64 << 24) as f64;
/// What the output holds where a call must not write.
const CANARY: f32 = -12345.5;

fn gamma(m: usize) -> f64 {
    let mu = m as f64 * U;
    mu / (1.0 - mu)
}

/// The forms of this machine's architecture, each with the feature it needs.
fn all_forms() -> Vec<(&'static str, Option<Feature>, AttentionFn)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, Option<Feature>, AttentionFn)> = vec![
        ("naive", None, attention::naive::attention),
        ("avx2", Some(Feature::Avx2), attention::avx2::attention),
        (
            "avx512",
            Some(Feature::Avx512),
            attention::avx512::attention,
        ),
    ];
    #[cfg(target_arch = "aarch64")]
    v.push(("neon", Some(Feature::Neon), attention::neon::attention));
    v
}

/// The forms this machine runs; the others are checked to refuse with `Unsupported`.
fn forms() -> Vec<(&'static str, AttentionFn)> {
    all_forms()
        .into_iter()
        .filter(|&(name, feature, f)| {
            common::runs(&format!("attention/{name}"), feature, || {
                let shape = Attention::new(1, 0, 1, 1);
                let (q, k, v) = ([1.0f32], [1.0f32], [1.0f32]);
                f(
                    &shape,
                    1.0,
                    0..1,
                    Qkv {
                        q: &q,
                        k: &k,
                        v: &v,
                    },
                    &mut [0.0],
                    &mut [0.0],
                )
            })
        })
        .map(|(name, _, f)| (name, f))
        .collect()
}

/// One problem: a shape and its buffers (q inside a wider row, as the model's QKV buffer).
struct Problem {
    shape: Attention,
    scale: f32,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
}

impl Problem {
    /// Random inputs in [-amp, amp] for `rows` query rows after `past`, with `pad` extra
    /// elements in every stride beyond the model's (q: 3·width, k/v and out: width).
    fn new(rows: usize, past: usize, heads: usize, hd: usize, pad: usize, seed: u64) -> Problem {
        Problem::with_amp(rows, past, heads, hd, pad, seed, 1.0)
    }

    fn with_amp(
        rows: usize,
        past: usize,
        heads: usize,
        hd: usize,
        pad: usize,
        seed: u64,
        amp: f32,
    ) -> Problem {
        let w = heads * hd;
        let shape =
            Attention::new(rows, past, heads, hd).with_strides(3 * w + pad, w + pad, w + pad);
        let total = past + rows;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut fill =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-amp..=amp)).collect() };
        Problem {
            scale: 1.0 / (hd as f32).sqrt(),
            q: fill(rows * shape.q_stride),
            k: fill(total * shape.kv_stride),
            v: fill(total * shape.kv_stride),
            shape,
        }
    }

    fn total(&self) -> usize {
        self.shape.past + self.shape.rows
    }

    fn qkv(&self) -> Qkv<'_> {
        Qkv {
            q: &self.q,
            k: &self.k,
            v: &self.v,
        }
    }

    fn out_len(&self) -> usize {
        self.shape.rows * self.shape.out_stride
    }

    /// The unfused reference: the model's three per-head calls, on a canary-filled output.
    fn reference(&self, heads: Range<usize>) -> Vec<f32> {
        let s = &self.shape;
        let (n, hd, total) = (s.rows, s.head_dim, self.total());
        let mut out = vec![CANARY; self.out_len()];
        let mut scores = vec![0.0f32; n * total];
        for h in heads {
            let off = h * hd;
            matmul(
                &Gemm::new(n, hd, total)
                    .with_trans(false, true)
                    .with_strides(s.q_stride, s.kv_stride, total),
                1.0,
                &self.q[off..],
                &self.k[off..],
                0.0,
                &mut scores,
                &mut [],
            )
            .unwrap();
            softmax_causal_inplace(Rows::new(n, total), self.scale, s.past, &mut scores).unwrap();
            matmul(
                &Gemm::new(n, total, hd).with_strides(total, s.kv_stride, s.out_stride),
                1.0,
                &scores,
                &self.v[off..],
                0.0,
                &mut out[off..],
                &mut [],
            )
            .unwrap();
        }
        out
    }

    /// Runs `f` on a canary-filled output with a scratch row of exactly `total`.
    fn run(&self, f: AttentionFn, heads: Range<usize>) -> Vec<f32> {
        let mut out = vec![CANARY; self.out_len()];
        let mut scratch = vec![0.0f32; self.total()];
        f(
            &self.shape,
            self.scale,
            heads,
            self.qkv(),
            &mut out,
            &mut scratch,
        )
        .unwrap();
        out
    }

    /// The a-priori bound on |fused - reference| for every column of head `h`, row `i`
    /// (see the module docs); not finite only where the reference output is not either.
    fn bounds(&self, i: usize, h: usize) -> Vec<f64> {
        let s = &self.shape;
        let (hd, total) = (s.head_dim, self.total());
        let vis = s.past + i + 1;
        let q = &self.q[i * s.q_stride + h * hd..][..hd];
        let key = |j: usize| &self.k[j * s.kv_stride + h * hd..][..hd];
        let val = |j: usize| &self.v[j * s.kv_stride + h * hd..][..hd];
        let sc = self.scale as f64;
        let x: Vec<f64> = (0..vis)
            .map(|j| {
                sc * q
                    .iter()
                    .zip(key(j))
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum::<f64>()
            })
            .collect();
        let mx = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = x.iter().map(|&xj| (xj - mx).exp()).collect();
        let sum: f64 = e.iter().sum();
        // A -∞ score has probability exactly 0 on both sides: only finite scores carry error.
        let finite: Vec<usize> = (0..vis).filter(|&j| x[j].is_finite()).collect();
        let delta = finite
            .iter()
            .map(|&j| {
                let sj: f64 = q
                    .iter()
                    .zip(key(j))
                    .map(|(&a, &b)| (a as f64 * b as f64).abs())
                    .sum();
                sc * 2.0 * gamma(hd) * sj + 2.0 * U * x[j].abs()
            })
            .fold(0.0, f64::max);
        let d = finite
            .iter()
            .map(|&j| (x[j] - mx).abs())
            .fold(0.0, f64::max);
        let rel = 4.0 * delta + 4.0 * U * d + (2 * vis + total + 12) as f64 * U;
        (0..hd)
            .map(|c| {
                let a: f64 = (0..vis)
                    .map(|j| e[j] / sum * (val(j)[c] as f64).abs())
                    .sum();
                let all: f64 = (0..vis).map(|j| (val(j)[c] as f64).abs()).sum();
                1.01 * (a * rel + 2f64.powi(-126) * all)
            })
            .collect()
    }

    /// Checks `got` against `want` (the reference) for the heads in `heads`: NaN where it is
    /// NaN, the same infinity, else within [`Problem::bounds`]; every other element (other
    /// heads, stride padding) still the canary.
    fn compare(&self, what: &str, heads: Range<usize>, got: &[f32], want: &[f32]) {
        let s = &self.shape;
        let hd = s.head_dim;
        for (idx, &g) in got.iter().enumerate() {
            let (i, col) = (idx / s.out_stride, idx % s.out_stride);
            if col >= s.heads * hd || !heads.contains(&(col / hd)) {
                assert_eq!(g.to_bits(), CANARY.to_bits(), "{what}: wrote [{i}][{col}]");
            }
        }
        for i in 0..s.rows {
            for h in heads.clone() {
                let tol = self.bounds(i, h);
                for (c, tol) in tol.into_iter().enumerate() {
                    let idx = i * s.out_stride + h * hd + c;
                    let (g, w) = (got[idx], want[idx]);
                    if w.is_nan() {
                        assert!(g.is_nan(), "{what}: [{i}][{h}·{c}] = {g}, reference NaN");
                    } else if w.is_infinite() {
                        assert_eq!(g, w, "{what}: [{i}][{h}·{c}]");
                    } else {
                        let err = (g as f64 - w as f64).abs();
                        assert!(tol.is_finite(), "{what}: [{i}][{h}·{c}]: bound {tol}");
                        assert!(
                            err <= tol,
                            "{what}: [{i}][{h}·{c}] = {g}, reference {w}: error {err:e} > bound {tol:e}"
                        );
                    }
                }
            }
        }
    }

    /// Every runnable form against the reference over `heads`; the naive one bit for bit.
    fn check_all(&self, what: &str, heads: Range<usize>) {
        let want = self.reference(heads.clone());
        for (name, f) in forms() {
            let got = self.run(f, heads.clone());
            let what = format!("{name} {what} {:?} heads {heads:?}", self.shape);
            if name == "naive" {
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{what}: the naive form differs from the unfused calls"
                );
            } else {
                self.compare(&what, heads.clone(), &got, &want);
            }
        }
    }
}

#[test]
fn decode_rows_against_the_unfused_reference() {
    // n = 1 at p = 0, 1, a prime and long; head_dim 1, odd, and ±1 around the vector widths
    // (8 for AVX2, 16 for AVX-512, 4 for NEON) and the 4-vector blocks (32, 64).
    let mut seed = 0;
    for &past in &[0, 1, 13, 257, 1023] {
        for &hd in &[1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65] {
            for &heads in &[1, 4] {
                seed += 1;
                let p = Problem::new(1, past, heads, hd, 0, seed);
                p.check_all("decode", p.shape.all_heads());
            }
        }
    }
}

#[test]
fn prefill_blocks_against_the_unfused_reference() {
    let mut seed = 100;
    for &(rows, past) in &[(2, 0), (7, 0), (5, 3), (17, 30), (64, 0), (3, 61)] {
        for &hd in &[1, 5, 8, 16, 19, 32, 48] {
            for &heads in &[1, 3, 12] {
                seed += 1;
                let p = Problem::new(rows, past, heads, hd, 0, seed);
                p.check_all("prefill", p.shape.all_heads());
            }
        }
    }
}

#[test]
fn strides_larger_than_needed_and_head_ranges() {
    // Padding beyond every row (never written: the canary checks it) and sub-ranges of heads
    // (the other heads' columns untouched), as a thread team splitting heads would call it.
    for (seed, &(rows, past, heads, hd, pad)) in [
        (1, 0, 4, 8, 5),
        (1, 9, 4, 17, 3),
        (6, 2, 4, 8, 1),
        (9, 0, 6, 11, 13),
        (4, 40, 8, 32, 7),
    ]
    .iter()
    .enumerate()
    {
        let p = Problem::new(rows, past, heads, hd, pad, seed as u64 + 500);
        p.check_all("padded", p.shape.all_heads());
        p.check_all("padded", 1..heads - 1);
        p.check_all("padded", heads - 1..heads);
        p.check_all("padded", 2..2);
    }
}

#[test]
fn large_scores_stay_finite_and_accurate() {
    // Scores in the hundreds: the softmax is nearly one-hot, and max-subtraction keeps it
    // finite; the bound grows with |x| as the arithmetic says.
    for (seed, &(rows, past, hd)) in [(1, 20, 16), (5, 11, 9), (3, 0, 64)].iter().enumerate() {
        let p = Problem::with_amp(rows, past, 2, hd, 0, seed as u64 + 900, 12.0);
        p.check_all("large", p.shape.all_heads());
    }
}

/// The element of `h`'s column `c` in row `r` of a buffer with stride `stride`.
fn at(stride: usize, hd: usize, r: usize, h: usize, c: usize) -> usize {
    r * stride + h * hd + c
}

#[test]
fn nan_and_infinity_behave_like_the_reference() {
    let (rows, past, heads, hd) = (4, 3, 3, 8);
    let total = past + rows;
    let base = Problem::new(rows, past, heads, hd, 0, 77);
    let (qs, ks) = (base.shape.q_stride, base.shape.kv_stride);
    // (what, whether the reference output holds NaN or ±∞, the edit)
    type Case = (&'static str, bool, Box<dyn Fn(&mut Problem)>);
    let cases: Vec<Case> = vec![
        // A NaN query: that row of that head is NaN, nothing else.
        (
            "NaN in q",
            true,
            Box::new(move |p| p.q[at(qs, hd, 2, 1, 3)] = f32::NAN),
        ),
        // A NaN key at position 4: the rows that see it (past + i ≥ 4) are NaN in head 0.
        (
            "NaN in k",
            true,
            Box::new(move |p| p.k[at(ks, hd, 4, 0, 0)] = f32::NAN),
        ),
        // +∞ keys: scores of ±∞ or NaN (∞ - ∞ in the dot), NaN rows where +∞ or NaN occurs,
        // an exact 0 probability for a -∞ score.
        (
            "inf in k",
            true,
            Box::new(move |p| {
                p.k[at(ks, hd, 1, 2, 5)] = f32::INFINITY;
            }),
        ),
        // A key whose every score is -∞ (q > 0 and k = -∞ on every column): probability 0.
        (
            "-inf score",
            false,
            Box::new(move |p| {
                for i in 0..rows {
                    for c in 0..hd {
                        p.q[at(qs, hd, i, 1, c)] = 0.5;
                    }
                }
                for c in 0..hd {
                    p.k[at(ks, hd, 2, 1, c)] = f32::NEG_INFINITY;
                }
            }),
        ),
        // Every visible score -∞ in row 0 of head 2 (keys 0..=past): -∞ - (-∞) = NaN.
        (
            "all -inf",
            true,
            Box::new(move |p| {
                for c in 0..hd {
                    p.q[at(qs, hd, 0, 2, c)] = 1.0;
                }
                for j in 0..=past {
                    for c in 0..hd {
                        p.k[at(ks, hd, j, 2, c)] = f32::NEG_INFINITY;
                    }
                }
            }),
        ),
        // A NaN and a +∞ value in a position every row sees: those columns NaN and +∞.
        (
            "NaN and inf in visible v",
            true,
            Box::new(move |p| {
                p.v[at(ks, hd, 1, 0, 2)] = f32::NAN;
                p.v[at(ks, hd, 0, 1, 6)] = f32::INFINITY;
                p.v[at(ks, hd, 2, 1, 6)] = f32::NEG_INFINITY;
                p.v[at(ks, hd, 2, 2, 7)] = f32::NEG_INFINITY;
            }),
        ),
    ];
    for (what, special, edit) in cases {
        let mut p = Problem::new(rows, past, heads, hd, 0, 77);
        edit(&mut p);
        assert_eq!(p.total(), total);
        let want = p.reference(p.shape.all_heads());
        assert_eq!(want.iter().any(|x| !x.is_finite()), special, "{what}");
        for (name, f) in forms() {
            let got = p.run(f, p.shape.all_heads());
            p.compare(&format!("{name} {what}"), p.shape.all_heads(), &got, &want);
        }
    }
}

#[test]
fn masked_values_cannot_reach_earlier_rows_in_the_fused_forms() {
    // The documented difference: the reference multiplies masked probabilities (exact 0) by
    // every value row, so a NaN in the value of the last position poisons every row; the fused
    // forms read only visible rows, so earlier rows equal the reference with that value
    // cleared, and the last row (which sees it) is NaN in both.
    let (rows, past, heads, hd) = (5, 2, 2, 9);
    let mut p = Problem::new(rows, past, heads, hd, 0, 31);
    let j = p.total() - 1;
    let idx = at(p.shape.kv_stride, hd, j, 1, 4);
    p.v[idx] = 0.0;
    let clean = p.reference(p.shape.all_heads());
    p.v[idx] = f32::NAN;
    let poisoned = p.reference(p.shape.all_heads());
    let col = hd + 4;
    for i in 0..rows {
        assert!(poisoned[i * p.shape.out_stride + col].is_nan());
    }
    let mut want = clean;
    want[(rows - 1) * p.shape.out_stride + col] = f32::NAN;
    for (name, f) in forms() {
        if name == "naive" {
            continue;
        }
        let got = p.run(f, p.shape.all_heads());
        p.compare(
            &format!("{name} masked NaN"),
            p.shape.all_heads(),
            &got,
            &want,
        );
    }
}

#[test]
fn nothing_to_compute_writes_nothing() {
    for (rows, hd, heads) in [(0, 8, 2), (3, 0, 2), (3, 8, 0)] {
        let shape = Attention::new(rows, 2, heads, hd);
        let w = heads * hd;
        let n = (2 + rows) * w;
        let (q, k, v) = (vec![1.0; rows * w], vec![1.0; n], vec![1.0; n]);
        for (name, f) in forms() {
            let mut out = vec![CANARY; rows * w + 3];
            let r = f(
                &shape,
                1.0,
                shape.all_heads(),
                Qkv {
                    q: &q,
                    k: &k,
                    v: &v,
                },
                &mut out,
                &mut [0.0; 8],
            );
            assert_eq!(r, Ok(()), "{name} {shape:?}");
            assert!(
                out.iter().all(|x| x.to_bits() == CANARY.to_bits()),
                "{name}"
            );
        }
    }
}

#[test]
fn one_row_and_one_key_need_no_stride() {
    // With one query row and one key the strides address nothing, as for a MatMul.
    let shape = Attention::new(1, 0, 2, 3).with_strides(0, 1, 2);
    let (q, k, v) = ([1.0f32; 6], [0.5f32; 6], [2.0f32, 3.0, 4.0, 5.0, 6.0, 7.0]);
    for (name, f) in forms() {
        let mut out = [0.0f32; 6];
        f(
            &shape,
            1.0,
            0..2,
            Qkv {
                q: &q,
                k: &k,
                v: &v,
            },
            &mut out,
            &mut [0.0],
        )
        .unwrap();
        assert_eq!(out, v, "{name}: one key has probability 1");
    }
}

#[test]
fn bad_shapes_are_errors_and_write_nothing() {
    let (rows, past, heads, hd) = (3, 4, 2, 5);
    let good = Problem::new(rows, past, heads, hd, 0, 3);
    let total = good.total();
    let g = good.shape;
    let w = heads * hd;
    let q_len = (rows - 1) * g.q_stride + w;
    let kv_len = (total - 1) * g.kv_stride + w;
    let out_len = (rows - 1) * g.out_stride + w;
    // (what, shape, heads, q, k, v, out, scratch lengths)
    type Case = (&'static str, Attention, Range<usize>, [usize; 5]);
    let lens = [q_len, kv_len, kv_len, out_len, total];
    let mut cases: Vec<Case> = Vec::new();
    for (b, name) in ["q", "k", "v", "out", "scratch"].iter().enumerate() {
        let mut l = lens;
        l[b] -= 1;
        cases.push((name, g, 0..heads, l));
    }
    cases.push((
        "q_stride",
        g.with_strides(w - 1, g.kv_stride, g.out_stride),
        0..heads,
        lens,
    ));
    cases.push((
        "kv_stride",
        g.with_strides(g.q_stride, w - 1, g.out_stride),
        0..heads,
        lens,
    ));
    cases.push((
        "out_stride",
        g.with_strides(g.q_stride, g.kv_stride, w - 1),
        0..heads,
        lens,
    ));
    cases.push(("head range past the end", g, 1..heads + 1, lens));
    #[allow(clippy::reversed_empty_ranges)]
    cases.push(("reversed head range", g, 2..1, lens));
    cases.push((
        "past + rows overflows",
        Attention {
            past: usize::MAX,
            ..g
        },
        0..heads,
        lens,
    ));
    cases.push((
        "heads·head_dim overflows",
        Attention {
            heads: usize::MAX / 2,
            head_dim: 3,
            ..g
        },
        0..heads,
        lens,
    ));
    cases.push((
        "(rows - 1)·q_stride overflows",
        g.with_strides(usize::MAX / 2, g.kv_stride, g.out_stride),
        0..heads,
        lens,
    ));
    cases.push((
        "(total - 1)·kv_stride overflows",
        g.with_strides(g.q_stride, usize::MAX / 4, g.out_stride),
        0..heads,
        lens,
    ));
    for (what, shape, hr, l) in cases {
        let (q, k, v) = (&good.q[..l[0]], &good.k[..l[1]], &good.v[..l[2]]);
        for (name, _, f) in all_forms() {
            let mut out = vec![CANARY; l[3]];
            let mut scratch = vec![0.0f32; l[4]];
            let r = f(
                &shape,
                good.scale,
                hr.clone(),
                Qkv { q, k, v },
                &mut out,
                &mut scratch,
            );
            assert!(r.is_err(), "{name}: {what}: accepted");
            assert!(
                out.iter().all(|x| x.to_bits() == CANARY.to_bits()),
                "{name}: {what}: wrote"
            );
        }
    }
    // The same buffers at their exact lengths are accepted.
    for (name, f) in forms() {
        let mut out = vec![CANARY; out_len];
        let qkv = Qkv {
            q: &good.q[..q_len],
            k: &good.k[..kv_len],
            v: &good.v[..kv_len],
        };
        let r = f(
            &g,
            good.scale,
            0..heads,
            qkv,
            &mut out,
            &mut vec![0.0; total],
        );
        assert_eq!(r, Ok(()), "{name}");
    }
}
