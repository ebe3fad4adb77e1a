//! Calls that run several ops of a transformer layer in one team call, where the table binds
//! them to threads: fewer fork-joins per token. Each picks the variants the table binds for its
//! constituent ops (so the dispatcher's trace records exactly the calls of the unfused
//! sequence, in order) and runs their single-threaded kernels on its own split.

use crate::dispatch::Dispatcher;
use crate::exec;
use crate::op::Key;
use crate::spec::bias_gelu::BiasGelu;
use crate::spec::matmul::Matmul;
use kernels::matmul::Gemm;
use kernels::{Result, Rows};

/// The most rows the fused MLP takes: as many as the MatMul k-split serves (a decoded token,
/// a short prompt); more rows split the products by rows, which needs no partial sums.
pub const MLP_MAX_ROWS: usize = 16;

/// Whether an MLP of width `c` and `h` hidden columns fuses on a machine with `caches`:
/// its two weight matrices (2·c·h floats) within the core's share of the L2. The fused split
/// reads a column block of W1 per thread, one short run of every row, where the unfused
/// k-split reads contiguous slabs: from L2 the same, from L3 slower. Measured on a Zen 4
/// (1 MiB L2): the small preset's MLP (512 KiB of weights) decoded 6 % faster fused, the
/// medium's (2 MiB) 2–3 % slower.
pub fn mlp_fits(c: usize, h: usize, caches: &kernels::cpu::Caches) -> bool {
    let bytes = c
        .saturating_mul(h)
        .saturating_mul(2 * std::mem::size_of::<f32>());
    bytes <= caches.l2.per_core()
}

/// The weights of a GPT-style MLP: `W1` c×h with bias `b1` (h), `W2` h×c with bias `b2` (c).
#[derive(Debug, Clone, Copy)]
pub struct MlpWeights<'a> {
    pub w1: &'a [f32],
    pub b1: &'a [f32],
    pub w2: &'a [f32],
    pub b2: &'a [f32],
}

impl Dispatcher {
    /// Whether [`Dispatcher::mlp`] runs fused for `m` rows of width `c` and `h` hidden
    /// columns: at most [`MLP_MAX_ROWS`] rows, the up-projection bound to more than one
    /// thread, and both weight matrices together within the core's L2 ([`mlp_fits`]).
    /// Otherwise the caller runs the four calls itself (or `mlp` does, one by one).
    pub fn fuses_mlp(&self, m: usize, c: usize, h: usize) -> bool {
        m <= MLP_MAX_ROWS
            && mlp_fits(c, h, kernels::cpu::caches())
            && self.lookup(crate::Op::Matmul, Key::matmul(m, c, h)).threads > 1
    }

    /// `out = gelu_tanh(x·W1 + b1)·W2 + b2` for `m` rows of `x` (m×c), as the MatMul, the
    /// fused bias + GELU, the MatMul and the bias add the table binds at these shapes. When
    /// [`Dispatcher::fuses_mlp`], in one team call of the up-projection's thread count, split
    /// by hidden columns (`exec::mlp_split`): each thread runs the bound single-threaded
    /// kernels on its columns; else the four calls one after another, the hidden activations
    /// in `hidden` (m×h). The result equals the unfused calls within the MatMul tolerance (the
    /// down-projection sums its k terms in another order).
    #[allow(clippy::too_many_arguments)]
    pub fn mlp(
        &self,
        m: usize,
        (c, h): (usize, usize),
        x: &[f32],
        w: MlpWeights<'_>,
        hidden: &mut [f32],
        out: &mut [f32],
    ) -> Result<()> {
        kernels::check_eq("mlp", "b1", w.b1.len(), h)?;
        kernels::check_eq("mlp", "b2", w.b2.len(), c)?;
        let rows = |n| Rows::new(m, n);
        if !self.fuses_mlp(m, c, h) {
            let need = m.saturating_mul(h);
            kernels::check_len("mlp", "hidden", hidden.len(), need)?;
            let hid = &mut hidden[..need];
            self.matmul(&Gemm::new(m, c, h), 1.0, x, w.w1, 0.0, hid)?;
            self.bias_gelu_inplace(rows(h), hid, w.b1)?;
            self.matmul(&Gemm::new(m, h, c), 1.0, hid, w.w2, 0.0, out)?;
            return self.add_bias_inplace(rows(c), out, w.b2);
        }
        let (k_up, run_up) = self.pick::<Matmul>(Key::matmul(m, c, h))?;
        let (k_act, _) = self.pick_form::<BiasGelu>(Key::elems(m * h), true)?;
        let (k_down, run_down) = self.pick::<Matmul>(Key::matmul(m, h, c))?;
        self.mark_fused(3);
        let (up, down) = (k_up.single(run_up, 1.0), k_down.single(run_down, 1.0));
        exec::mlp_split(
            run_up.threads,
            m,
            (c, h),
            x,
            (w.w1, w.w2),
            out,
            |g, a, b, hid| up(g, 0.0, a, b, hid),
            |shape, cols, hid| (k_act.inplace)(shape, hid, &w.b1[cols]),
            down,
        )?;
        self.add_bias_inplace(rows(c), out, w.b2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Memory;

    /// The buffers of an MLP's weights for width c and h hidden columns, for the tests.
    struct OwnedMlp {
        w1: Vec<f32>,
        b1: Vec<f32>,
        w2: Vec<f32>,
        b2: Vec<f32>,
    }

    impl OwnedMlp {
        /// Element i of tensor t (1 for W1, 2 for b1, 3 for W2, 4 for b2) is `value(t, i)`.
        fn new(c: usize, h: usize, value: impl Fn(usize, usize) -> f32) -> OwnedMlp {
            let tensor = |t: usize, len: usize| (0..len).map(|i| value(t, i)).collect();
            OwnedMlp {
                w1: tensor(1, c * h),
                b1: tensor(2, h),
                w2: tensor(3, h * c),
                b2: tensor(4, c),
            }
        }

        /// The weights, borrowed.
        fn weights(&self) -> MlpWeights<'_> {
            MlpWeights {
                w1: &self.w1,
                b1: &self.b1,
                w2: &self.w2,
                b2: &self.b2,
            }
        }
    }

    /// The fused MLP against the four calls one by one, at one and two threads, for 1, 3
    /// and 16 rows and hidden widths that split evenly, unevenly and into one part: within
    /// the MatMul tolerance of the down-projection, 2·(h + 2)·ε·Σ|terms| per element.
    #[test]
    fn fused_mlp_matches_the_unfused_calls() {
        let f = |i: usize| ((i * 7919) % 29) as f32 / 14.0 - 1.0;
        for imp in ["avx2", "naive", "tiled"] {
            for threads in [1, 2] {
                let Ok(d) = Dispatcher::try_forced(imp, Memory::Pooled, threads) else {
                    continue;
                };
                for (m, c, h) in [(1, 32, 64), (3, 48, 80), (16, 64, 17), (1, 8, 1024)] {
                    let x: Vec<f32> = (0..m * c).map(f).collect();
                    let owned = OwnedMlp::new(c, h, |t, i| f(i + t));
                    let w = owned.weights();
                    let mut hid = vec![0.0; m * h];
                    let mut want = vec![f32::NAN; m * c];
                    d.matmul(&Gemm::new(m, c, h), 1.0, &x, w.w1, 0.0, &mut hid)
                        .unwrap();
                    d.bias_gelu_inplace(Rows::new(m, h), &mut hid, w.b1)
                        .unwrap();
                    d.matmul(&Gemm::new(m, h, c), 1.0, &hid, w.w2, 0.0, &mut want)
                        .unwrap();
                    d.add_bias_inplace(Rows::new(m, c), &mut want, w.b2)
                        .unwrap();
                    let fits = mlp_fits(c, h, kernels::cpu::caches());
                    assert_eq!(
                        d.fuses_mlp(m, c, h),
                        threads > 1 && fits,
                        "{imp} t{threads}"
                    );
                    let mut got = vec![f32::NAN; m * c];
                    d.start_trace();
                    d.mlp(m, (c, h), &x, w, &mut vec![0.0; m * h], &mut got)
                        .unwrap();
                    let ops: Vec<_> = d.take_trace().iter().map(|t| t.op).collect();
                    use crate::Op::*;
                    assert_eq!(ops, [Matmul, BiasGelu, Matmul, AddBias]);
                    for i in 0..m {
                        for j in 0..c {
                            let terms: f32 = (0..h)
                                .map(|p| (hid[i * h + p] * w.w2[p * c + j]).abs())
                                .sum::<f32>()
                                + w.b2[j].abs();
                            let tol = 2.0 * (h as f32 + 2.0) * f32::EPSILON * terms + 1e-6;
                            let (g, e) = (got[i * c + j], want[i * c + j]);
                            assert!(
                                (g - e).abs() <= tol,
                                "{imp} t{threads} {m}x{c}x{h}: [{i}][{j}] {g} vs {e}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Wrong lengths are errors before anything is written.
    #[test]
    fn fused_mlp_refuses_bad_lengths() {
        let d = Dispatcher::try_forced("naive", Memory::Pooled, 1).unwrap();
        let (m, c, h) = (1, 8, 16);
        let (x, owned) = (vec![1.0; m * c], OwnedMlp::new(c, h, |_, _| 1.0));
        let ok = owned.weights();
        for w in [
            MlpWeights {
                b1: &ok.b1[1..],
                ..ok
            },
            MlpWeights {
                b2: &ok.b2[1..],
                ..ok
            },
            MlpWeights {
                w2: &ok.w2[1..],
                ..ok
            },
        ] {
            let mut out = vec![0.0; m * c];
            assert!(d.mlp(m, (c, h), &x, w, &mut [0.0; 16], &mut out).is_err());
            assert!(out.iter().all(|&v| v == 0.0));
        }
        let mut out = vec![0.0; m * c];
        assert!(d.mlp(m, (c, h), &x, ok, &mut [0.0; 3], &mut out).is_err());
    }

    /// A timed trace cannot time the fused calls one by one: they come back without a time,
    /// the bias add after the team call with one.
    #[test]
    fn a_timed_trace_leaves_the_fused_calls_untimed() {
        let Ok(d) = Dispatcher::try_forced("tiled", Memory::Pooled, 2) else {
            return;
        };
        let (m, c, h) = (1, 32, 64);
        let x = vec![0.5; m * c];
        // Both weight matrices 0.25, both biases 0.
        let owned = OwnedMlp::new(c, h, |t, _| if t % 2 == 1 { 0.25 } else { 0.0 });
        let w = owned.weights();
        assert!(d.fuses_mlp(m, c, h));
        d.start_timed_trace();
        d.mlp(
            m,
            (c, h),
            &x,
            w,
            &mut vec![0.0; m * h],
            &mut vec![0.0; m * c],
        )
        .unwrap();
        let t = d.take_timed_trace();
        let timed: Vec<bool> = t.iter().map(|(_, d)| d.is_some()).collect();
        assert_eq!(timed, [false, false, false, true]);
    }

    /// The fusion's weight limit is the core's L2: the small preset's MLP (128×512, 512 KiB)
    /// fits a Zen 4's 1 MiB, the medium's (256×1024, 2 MiB) does not; nor does the small
    /// one fit a 256 KiB L2.
    #[test]
    fn mlps_fuse_while_their_weights_fit_the_l2() {
        use kernels::cpu::{CacheLevel, Caches};
        let with_l2 = |kib: usize| Caches {
            l1d: CacheLevel::new(32 << 10, 8, 64, 1),
            l2: CacheLevel::new(kib << 10, 8, 64, 1),
            l3: None,
        };
        assert!(mlp_fits(128, 512, &with_l2(1024)));
        assert!(!mlp_fits(256, 1024, &with_l2(1024)));
        assert!(!mlp_fits(128, 512, &with_l2(256)));
        assert!(!mlp_fits(usize::MAX, 2, &with_l2(1024)));
    }
}
