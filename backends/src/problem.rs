//! Random problems of any op and shape, run through any variant and checked against the
//! reference. The catalog tests, the benches and the tuner all use this one harness, so a
//! variant is verified the same way everywhere.

use crate::aligned::AlignedVec;
use crate::catalog::{catalog, Kernel, Memory, Variant};
use crate::exec::{self, alloc};
use crate::op::{Op, Shape};
use crate::pool::Buf;
use kernels::gelu::GeluKind;
use kernels::layernorm::{Affine, LayerNormGrads, LayerNormOut, Saved};
use kernels::matmul::Gemm;
use kernels::{KernelError, Result, Rows};
use rand::{Rng, SeedableRng};

/// One op's inputs and parameters. Inputs by op:
/// matmul `[a, b, c0]`; gelu `[x]`; gelu backward `[x, dy]`; softmax (plain and causal) `[x]`;
/// softmax backward `[y, dy]`; layernorm `[x, gamma, beta]`; add_layernorm
/// `[x, residual, gamma, beta]`; layernorm backward `[x, gamma, dy, mean, rstd]`;
/// add `[a, b]`; add_bias `[x, bias]`. Inputs are placed by [`crate::aligned`] (input i at phase 512·i).
#[derive(Debug, Clone)]
pub struct Problem {
    pub op: Op,
    pub shape: Shape,
    pub inputs: Vec<AlignedVec>,
    pub alpha: f32,
    pub beta: f32,
    pub scale: f32,
    pub offset: usize,
    pub eps: f32,
}

fn gelu_kind(op: Op) -> GeluKind {
    match op {
        Op::GeluErf | Op::GeluErfBackward => GeluKind::Erf,
        _ => GeluKind::Tanh,
    }
}

impl Problem {
    /// A problem with inputs uniform in [-1, 1) (LayerNorm's gamma near 1), α = 1, β = 0.
    pub fn random(op: Op, shape: Shape, seed: u64) -> std::result::Result<Problem, String> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut vec = |n: usize, lo: f32, hi: f32| -> Vec<f32> {
            (0..n).map(|_| rng.random_range(lo..hi)).collect()
        };
        let inputs = match (op, shape) {
            (Op::Matmul, Shape::MatMul(g)) => vec![
                vec(g.a_len(), -1.0, 1.0),
                vec(g.b_len(), -1.0, 1.0),
                vec(g.c_len(), -1.0, 1.0),
            ],
            (Op::GeluTanh | Op::GeluErf, Shape::Elems(n)) => vec![vec(n, -4.0, 4.0)],
            (Op::GeluTanhBackward | Op::GeluErfBackward, Shape::Elems(n)) => {
                vec![vec(n, -4.0, 4.0), vec(n, -1.0, 1.0)]
            }
            (Op::Add, Shape::Elems(n)) => vec![vec(n, -1.0, 1.0), vec(n, -1.0, 1.0)],
            (Op::Softmax | Op::SoftmaxCausal, Shape::Rows(r)) => vec![vec(r.len(), -4.0, 4.0)],
            (Op::SoftmaxBackward, Shape::Rows(r)) => {
                let mut y = vec(r.len(), -4.0, 4.0);
                if r.cols > 0 {
                    kernels::softmax::naive::softmax_inplace(r, &mut y)
                        .map_err(|e| e.to_string())?;
                }
                vec![y, vec(r.len(), -1.0, 1.0)]
            }
            (Op::Layernorm, Shape::Rows(r)) => vec![
                vec(r.len(), -2.0, 2.0),
                vec(r.cols, 0.5, 1.5),
                vec(r.cols, -0.5, 0.5),
            ],
            (Op::AddLayernorm, Shape::Rows(r)) => vec![
                vec(r.len(), -2.0, 2.0),
                vec(r.len(), -2.0, 2.0),
                vec(r.cols, 0.5, 1.5),
                vec(r.cols, -0.5, 0.5),
            ],
            (Op::LayernormBackward, Shape::Rows(r)) => {
                let x = vec(r.len(), -2.0, 2.0);
                let gamma = vec(r.cols, 0.5, 1.5);
                let dy = vec(r.len(), -1.0, 1.0);
                let (mut y, mut mean, mut rstd) =
                    (vec![0.0; r.len()], vec![0.0; r.rows], vec![0.0; r.rows]);
                let beta = vec![0.0; r.cols];
                kernels::layernorm::naive::layernorm(
                    r,
                    1e-5,
                    &x,
                    Affine {
                        gamma: &gamma,
                        beta: &beta,
                    },
                    LayerNormOut {
                        y: &mut y,
                        mean: &mut mean,
                        rstd: &mut rstd,
                    },
                )
                .map_err(|e| e.to_string())?;
                vec![x, gamma, dy, mean, rstd]
            }
            (Op::AddBias, Shape::Rows(r)) => vec![vec(r.len(), -1.0, 1.0), vec(r.cols, -1.0, 1.0)],
            _ => return Err(format!("shape {shape} does not fit {op}")),
        };
        // Placed once, here: each input at its own phase within a page, half a page from the
        // outputs'.
        let inputs = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| AlignedVec::copy_at(v, crate::aligned::input_phase(i)))
            .collect();
        Ok(Problem {
            op,
            shape,
            inputs,
            alpha: 1.0,
            beta: 0.0,
            scale: 0.125,
            offset: 0,
            eps: 1e-5,
        })
    }

    fn rows(&self) -> Rows {
        match self.shape {
            Shape::Rows(r) => r,
            Shape::Elems(n) => Rows::new(1, n),
            Shape::MatMul(g) => Rows::new(g.m, g.n),
        }
    }

    /// Runs `v` on this problem. Outputs come from `v`'s memory strategy and are returned;
    /// an in-place variant overwrites `inputs[0]` and returns no buffer.
    pub fn execute(&mut self, v: &Variant) -> Result<Vec<Buf>> {
        if v.op != self.op {
            return Err(exec::mismatch("problem"));
        }
        if let Some(f) = v.requires {
            kernels::cpu::require(f)?;
        }
        let (t, mem, kernel) = (v.threads, v.memory, v.kernel);
        let r = self.rows();
        let inplace = mem == Memory::InPlace;
        let ins = &mut self.inputs;
        let n = ins[0].len();
        Ok(match (kernel, self.shape) {
            (Kernel::MatMul { run, scratch_len }, Shape::MatMul(g)) => {
                let mut c = alloc(mem, g.c_len());
                // C0 matters when β ≠ 0, and fills the padding between rows either way so
                // that pooled and direct outputs compare equal there.
                if self.beta != 0.0 || g.ldc != g.n {
                    c.copy_from_slice(&ins[2]);
                }
                exec::matmul(
                    run,
                    scratch_len,
                    mem,
                    t,
                    &g,
                    self.alpha,
                    &ins[0],
                    &ins[1],
                    self.beta,
                    &mut c,
                )?;
                vec![c]
            }
            (Kernel::Gelu { .. }, _) if inplace => {
                exec::gelu_inplace(kernel, t, gelu_kind(self.op), &mut ins[0])?;
                vec![]
            }
            (Kernel::Gelu { .. }, _) => {
                let mut y = alloc(mem, n);
                exec::gelu(kernel, t, gelu_kind(self.op), &ins[0], &mut y)?;
                vec![y]
            }
            (Kernel::GeluBackward { .. }, _) => {
                let mut dx = alloc(mem, n);
                exec::gelu_backward(kernel, t, gelu_kind(self.op), &ins[0], &ins[1], &mut dx)?;
                vec![dx]
            }
            (Kernel::Softmax { .. } | Kernel::SoftmaxCausal { .. }, _) => {
                let causal = matches!(kernel, Kernel::SoftmaxCausal { .. })
                    .then_some((self.scale, self.offset));
                if inplace {
                    exec::softmax_inplace(kernel, t, r, causal, &mut ins[0])?;
                    vec![]
                } else {
                    let mut y = alloc(mem, n);
                    exec::softmax(kernel, t, r, causal, &ins[0], &mut y)?;
                    vec![y]
                }
            }
            (Kernel::SoftmaxBackward { .. }, _) => {
                let mut dx = alloc(mem, n);
                exec::softmax_backward(kernel, t, r, &ins[0], &ins[1], &mut dx)?;
                vec![dx]
            }
            (Kernel::LayerNorm { .. }, _) => {
                let (mut y, mut mean, mut rstd) =
                    (alloc(mem, n), alloc(mem, r.rows), alloc(mem, r.rows));
                let p = Affine {
                    gamma: &ins[1],
                    beta: &ins[2],
                };
                let out = LayerNormOut {
                    y: &mut y,
                    mean: &mut mean,
                    rstd: &mut rstd,
                };
                exec::layernorm(kernel, t, r, self.eps, &ins[0], None, p, out)?;
                vec![y, mean, rstd]
            }
            (Kernel::AddLayerNorm { .. }, _) => {
                let (mut sum, mut y, mut mean, mut rstd) = (
                    alloc(mem, n),
                    alloc(mem, n),
                    alloc(mem, r.rows),
                    alloc(mem, r.rows),
                );
                let p = Affine {
                    gamma: &ins[2],
                    beta: &ins[3],
                };
                let out = LayerNormOut {
                    y: &mut y,
                    mean: &mut mean,
                    rstd: &mut rstd,
                };
                exec::layernorm(
                    kernel,
                    t,
                    r,
                    self.eps,
                    &ins[0],
                    Some((&ins[1], &mut sum)),
                    p,
                    out,
                )?;
                vec![sum, y, mean, rstd]
            }
            (Kernel::LayerNormBackward { .. }, _) => {
                let mut dx = alloc(mem, n);
                let (mut dgamma, mut dbeta) = (alloc(mem, r.cols), alloc(mem, r.cols));
                dgamma.fill(0.0);
                dbeta.fill(0.0);
                let saved = Saved {
                    x: &ins[0],
                    gamma: &ins[1],
                    mean: &ins[3],
                    rstd: &ins[4],
                };
                let grads = LayerNormGrads {
                    dx: &mut dx,
                    dgamma: &mut dgamma,
                    dbeta: &mut dbeta,
                };
                exec::layernorm_backward(kernel, r, saved, &ins[2], grads)?;
                vec![dx, dgamma, dbeta]
            }
            (Kernel::Add { .. }, _) => {
                let (a, rest) = ins.split_at_mut(1);
                if inplace {
                    exec::add_inplace(kernel, t, &mut a[0], &rest[0])?;
                    vec![]
                } else {
                    let mut out = alloc(mem, n);
                    exec::add(kernel, t, &a[0], &rest[0], &mut out)?;
                    vec![out]
                }
            }
            (Kernel::AddBias { .. }, _) => {
                let (x, rest) = ins.split_at_mut(1);
                if inplace {
                    exec::add_bias_inplace(kernel, t, r, &mut x[0], &rest[0])?;
                    vec![]
                } else {
                    let mut out = alloc(mem, n);
                    exec::add_bias(kernel, t, r, &x[0], &rest[0], &mut out)?;
                    vec![out]
                }
            }
            _ => return Err(exec::mismatch("problem")),
        })
    }

    /// The outputs of `v` on a copy of this problem, as plain vectors (in-place results too).
    pub fn outputs(&self, v: &Variant) -> Result<Vec<Vec<f32>>> {
        let mut p = self.clone();
        let bufs = p.execute(v)?;
        Ok(if v.memory == Memory::InPlace {
            vec![std::mem::take(&mut p.inputs[0]).to_vec()]
        } else {
            bufs.iter().map(|b| b.to_vec()).collect()
        })
    }

    /// The reference outputs (the op's naive, direct, single-threaded variant).
    pub fn reference(&self) -> Result<Vec<Vec<f32>>> {
        self.outputs(catalog().reference(self.op).1)
    }

    /// Runs `v` and compares every output with the reference within [`Problem::tolerance`];
    /// `Err` says which output and element differ, and by how much.
    pub fn verify(&self, v: &Variant) -> std::result::Result<(), String> {
        let got = self.outputs(v).map_err(|e| e.to_string())?;
        let want = self.reference().map_err(|e: KernelError| e.to_string())?;
        let bound = self.error_bounds();
        for (o, (g, w)) in got.iter().zip(&want).enumerate() {
            if g.len() != w.len() {
                return Err(format!(
                    "{}: output {o} has {} elements, the reference {}",
                    v.id,
                    g.len(),
                    w.len()
                ));
            }
            for (i, (&a, &b)) in g.iter().zip(w).enumerate() {
                let tol = bound(o, i, b);
                let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= tol;
                if !ok {
                    return Err(format!(
                        "{} on {} {}: output {o}[{i}] = {a}, reference {b}, |diff| {} > tolerance {tol}",
                        v.id,
                        self.op,
                        self.shape,
                        (a - b).abs()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The allowed |variant − reference| per output element, derived from the arithmetic:
    /// * MatMul: both sides round each of the k products and sums, so the difference is at
    ///   most γ·(|α|·Σ_p|a_ip·b_pj| + |β·c_ij|) with γ = 2·(k + 2)·ε (Higham's γ_k, twice).
    /// * Row ops: a row of `cols` elements is summed (softmax, LayerNorm) in f32 by a variant
    ///   and in f64 by the reference: (cols + 8)·ε relative, plus the 2⁻²⁰ ≈ 1e-6 absolute
    ///   error the vectorised exp/tanh/erf approximations document.
    /// * GELU: the approximations' documented absolute error (≤ 1e-6 on |x| ≤ 10) plus 4 ulps.
    /// * LayerNorm backward: sums cancel, so bounds scale with the magnitudes summed, not the
    ///   result: `dx` by (cols + 8)·ε·rstd·(|g| + mean|g| + |x̂|·mean|g·x̂|), `dgamma` and
    ///   `dbeta` (sums over rows) by (rows + 8)·ε·Σ_r|dy·x̂| and (rows + 8)·ε·Σ_r|dy|.
    /// * Add: exact.
    fn error_bounds(&self) -> Box<dyn Fn(usize, usize, f32) -> f32 + '_> {
        let eps = f32::EPSILON;
        match (self.op, self.shape) {
            (Op::Matmul, Shape::MatMul(g)) => {
                let (a, b, c0) = (&self.inputs[0], &self.inputs[1], &self.inputs[2]);
                let gamma = 2.0 * (g.k as f32 + 2.0) * eps;
                let (alpha, beta) = (self.alpha, self.beta);
                Box::new(move |_, idx, _| {
                    let (i, j) = (idx / g.ldc.max(1), idx % g.ldc.max(1));
                    if i >= g.m || j >= g.n {
                        return 0.0;
                    }
                    let s: f32 = (0..g.k)
                        .map(|p| (a[g.a_index(i, p)] * b[g.b_index(p, j)]).abs())
                        .sum();
                    let cterm = if beta != 0.0 {
                        (beta * c0[idx]).abs()
                    } else {
                        0.0
                    };
                    gamma * (alpha.abs() * s + cterm) + f32::MIN_POSITIVE
                })
            }
            (Op::Add | Op::AddBias, _) => Box::new(|_, _, _| 0.0),
            (Op::LayernormBackward, Shape::Rows(r)) => {
                let (x, gamma, dy, mean, rstd) = (
                    &self.inputs[0],
                    &self.inputs[1],
                    &self.inputs[2],
                    &self.inputs[3],
                    &self.inputs[4],
                );
                let xhat = move |i: usize| (x[i] - mean[i / r.cols]) * rstd[i / r.cols];
                let g = move |i: usize| dy[i] * gamma[i % r.cols];
                // Per-row means of |g| and |g·x̂|, and per-column sums of |dy·x̂| and |dy|.
                let mut row_g = vec![0.0f32; r.rows];
                let mut row_gx = vec![0.0f32; r.rows];
                let mut col_dyx = vec![0.0f32; r.cols];
                let mut col_dy = vec![0.0f32; r.cols];
                for (i, d) in dy.iter().enumerate() {
                    let (row, col) = (i / r.cols, i % r.cols);
                    row_g[row] += g(i).abs() / r.cols as f32;
                    row_gx[row] += (g(i) * xhat(i)).abs() / r.cols as f32;
                    col_dyx[col] += (d * xhat(i)).abs();
                    col_dy[col] += d.abs();
                }
                let (cols_f, rows_f) = (r.cols as f32 + 8.0, r.rows as f32 + 8.0);
                Box::new(move |o, i, _| match o {
                    0 => {
                        let row = i / r.cols;
                        cols_f
                            * eps
                            * rstd[row]
                            * (g(i).abs() + row_g[row] + xhat(i).abs() * row_gx[row])
                            + 1e-7
                    }
                    1 => rows_f * eps * col_dyx[i] + 1e-7,
                    _ => rows_f * eps * col_dy[i] + 1e-7,
                })
            }
            (Op::GeluTanh | Op::GeluErf | Op::GeluTanhBackward | Op::GeluErfBackward, _) => {
                Box::new(move |_, _, r| 1e-6 + 4.0 * eps * r.abs())
            }
            _ => {
                let cols = self.rows().cols as f32;
                Box::new(move |_, _, r| (cols + 8.0) * eps * r.abs() + 2e-6 * (1.0 + r.abs()))
            }
        }
    }
}

/// A MatMul problem with explicit layout, α and β (for tests of strides and transposes).
pub fn matmul_problem(g: Gemm, alpha: f32, beta: f32, seed: u64) -> Problem {
    let mut p =
        Problem::random(Op::Matmul, Shape::MatMul(g), seed).expect("a MatMul shape fits MatMul");
    p.alpha = alpha;
    p.beta = beta;
    p
}
