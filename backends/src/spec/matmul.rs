//! MatMul: `C = α·op(A)·op(B) + β·C` (`kernels::matmul`), keyed by m·k·n in row-count buckets,
//! split over threads by k, rows of C or its columns ([`crate::exec::Split`]), rated in FLOP/s.

use super::signatures::ScratchLenFn;
use super::Problem;
use super::{Cost, Gen, ModelDims, OpSpec, Run, Tolerance};
use crate::exec;
use crate::op::{Shape, ShapeKind};
use crate::pool::Buf;
use kernels::matmul::{BlockingParams, Gemm, MatMulFn, Product};
use kernels::Result;

/// The MatMul op.
pub struct Matmul;

/// One MatMul implementation: the kernel and its scratch requirement, and for the project's
/// SIMD SGEMMs the forms that take explicit kernel parameters.
#[derive(Clone, Copy)]
pub struct MatMulKernel {
    pub run: MatMulFn,
    pub scratch_len: ScratchLenFn,
    pub tunable: Option<Tunable>,
}

/// The entry points of a MatMul kernel whose parameters (blocking, micro-tile, one-row
/// sweep: [`BlockingParams`]) a table may choose.
#[derive(Clone, Copy)]
pub struct Tunable {
    /// The micro-tiles it has (`BlockingParams::check` accepts only these).
    pub tiles: &'static [(usize, usize)],
    /// The parameters it uses on this machine without a choice (its analytical model).
    pub default_params: fn() -> BlockingParams,
    /// The model's parameters for another of its micro-tiles (`None`: not one of its tiles).
    pub params_for: fn(usize, usize) -> Option<BlockingParams>,
    pub run_with: MatMulWithFn,
    pub scratch_len_with: fn(&BlockingParams, &Gemm) -> Result<usize>,
    /// How a one-row product reads B with given parameters on this machine (the sweep by
    /// level resolved as the kernel resolves it).
    pub sweep_for: fn(&BlockingParams, &Gemm) -> kernels::matmul::RowSweep,
}

/// `matmul_with`: explicit parameters, then the product and the scratch.
pub use kernels::matmul::MatMulWithFn;

impl MatMulKernel {
    /// The single-threaded `C = α·op(A)·op(B) + β·C` on one block, given β, its scratch by
    /// `run`'s memory strategy and its parameters (`run.tuning.params`; the kernel's defaults for
    /// `None`): what [`exec::matmul`] runs on each block of its split. Parameters given to a
    /// kernel that takes none are an error, before anything is written.
    pub fn single(self, run: Run, alpha: f32) -> impl exec::SingleMatmul {
        move |g, beta, a, b, c| match (run.tuning.params, self.tunable) {
            (None, _) => {
                let mut scratch = exec::alloc(run.memory, (self.scratch_len)(g));
                (self.run)(g, alpha, a, b, beta, c, &mut scratch)
            }
            (Some(p), Some(t)) => {
                let mut scratch = exec::alloc(run.memory, (t.scratch_len_with)(&p, g)?);
                let prod = Product {
                    g: *g,
                    alpha,
                    a,
                    b,
                    beta,
                    c,
                };
                (t.run_with)(&p, prod, &mut scratch)
            }
            (Some(_), None) => Err(kernels::KernelError::Blocking {
                op: "matmul",
                reason: "this implementation takes no kernel parameters".into(),
            }),
        }
    }

    /// Checks `p` against this kernel: it must take parameters, and these must pass
    /// [`BlockingParams::check`] for its micro-tiles; `Err` says why not.
    pub fn accepts(&self, p: &BlockingParams) -> std::result::Result<(), String> {
        match self.tunable {
            None => Err("this implementation takes no kernel parameters".into()),
            Some(t) => p.check(t.tiles).map_err(|e| e.to_string()),
        }
    }
}

/// Registers one MatMul kernel module (`matmul` + `scratch_len`); with `tunable`, also its
/// parameter forms (`TILES`, `default_params`, `matmul_with`, `scratch_len_with`,
/// `sweep_for`).
macro_rules! register {
    ($out:ident, $name:expr, $m:path, $req:expr) => {
        $crate::spec::push_impls!($out, $name, $m, $req, matmul;
            Matmul => MatMulKernel { run: k::matmul, scratch_len: k::scratch_len, tunable: None },
        )
    };
    ($out:ident, $name:expr, $m:path, $req:expr, tunable) => {
        $crate::spec::push_impls!($out, $name, $m, $req, matmul;
            Matmul => MatMulKernel {
                run: k::matmul,
                scratch_len: k::scratch_len,
                tunable: Some(Tunable {
                    tiles: k::TILES,
                    default_params: k::default_params,
                    params_for: k::params_for,
                    run_with: k::matmul_with,
                    scratch_len_with: k::scratch_len_with,
                    sweep_for: k::sweep_for,
                }),
            },
        )
    };
}
pub(crate) use register;

impl OpSpec for Matmul {
    type Kernel = MatMulKernel;
    const NAME: &'static str = "matmul";
    const SHAPE: ShapeKind = ShapeKind::MatMul;

    /// `[a, b, c0]`, uniform in [-1, 1).
    fn inputs(shape: Shape, gen: &mut Gen) -> std::result::Result<Vec<Vec<f32>>, String> {
        let Shape::MatMul(g) = shape else {
            return Err(super::misfit(Self::NAME, shape));
        };
        Ok(vec![
            gen.uniform(g.a_len(), -1.0, 1.0),
            gen.uniform(g.b_len(), -1.0, 1.0),
            gen.uniform(g.c_len(), -1.0, 1.0),
        ])
    }

    fn execute(k: MatMulKernel, run: Run, p: &mut Problem) -> Result<Vec<Buf>> {
        let Shape::MatMul(g) = p.shape else {
            return Err(super::wrong_shape(Self::NAME, p.shape));
        };
        let ins = &p.inputs;
        let mut c = run.alloc(g.c_len());
        // C0 matters when β ≠ 0, and fills the padding between rows either way so that
        // pooled and direct outputs compare equal there.
        if p.beta != 0.0 || g.ldc != g.n {
            c.copy_from_slice(&ins[2]);
        }
        let single = k.single(run, p.alpha);
        exec::matmul(
            run.threads,
            run.tuning.split,
            &g,
            p.beta,
            &ins[0],
            &ins[1],
            &mut c,
            single,
        )?;
        Ok(vec![c])
    }

    /// Both sides round each of the k products and sums, so the difference is at most
    /// γ·(|α|·Σ_p|a_ip·b_pj| + |β·c_ij|) with γ = 2·(k + 2)·ε (Higham's γ_k, twice).
    fn tolerance(p: &Problem) -> Tolerance<'_> {
        let Shape::MatMul(g) = p.shape else {
            return Box::new(|_, _, _| 0.0);
        };
        let (a, b, c0) = (&p.inputs[0], &p.inputs[1], &p.inputs[2]);
        let gamma = 2.0 * (g.k as f32 + 2.0) * f32::EPSILON;
        let (alpha, beta) = (p.alpha, p.beta);
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

    /// 2·m·k·n FLOP; A, B and C read or written once.
    fn cost(shape: Shape) -> Cost {
        let (flops, floats) = match shape {
            Shape::MatMul(g) => (
                2.0 * (g.m * g.k * g.n) as f64,
                g.m * g.k + g.k * g.n + g.m * g.n,
            ),
            _ => (0.0, shape.elems()),
        };
        Cost {
            flops,
            bytes: 4.0 * floats as f64,
            flop_bound: true,
        }
    }

    /// The four projections, and the layouts the model really uses, since a variant's speed
    /// depends on them: the LM head multiplies by the [vocab, width] weights transposed; per
    /// head, Q·Kᵀ reads Q from the fused qkv rows and K from the cache transposed, and P·V
    /// reads V's head columns from the cache.
    fn model_shapes(d: ModelDims) -> Vec<Shape> {
        let (t, c, h, v) = (d.tokens, d.width, d.mlp, d.vocab);
        let hd = c / d.heads.max(1);
        let mut out: Vec<Shape> = [(t, c, 3 * c), (t, c, c), (t, c, h), (t, h, c)]
            .into_iter()
            .map(|(m, k, n)| Shape::MatMul(Gemm::new(m, k, n)))
            .collect();
        out.push(Shape::MatMul(Gemm::new(t, c, v).with_trans(false, true)));
        out.push(Shape::MatMul(
            Gemm::new(t, hd, t)
                .with_trans(false, true)
                .with_strides(3 * c, c, t),
        ));
        out.push(Shape::MatMul(Gemm::new(t, t, hd).with_strides(t, c, c)));
        out
    }
}
