//! Random problems of any op and shape, run through any variant and checked against the
//! reference. The catalog tests, the benches and the tuner all use this one harness, so a
//! variant is verified the same way everywhere.

use crate::aligned::AlignedVec;
use crate::catalog::{catalog, Memory, Variant};
use crate::exec;
use crate::op::{Op, Shape};
use crate::pool::Buf;
use crate::spec::{Gen, Run};
use kernels::matmul::{BlockingParams, Gemm};
use kernels::{KernelError, Result, Rows};

/// One op's inputs and parameters. Which inputs, in which order, is the op's spec
/// ([`OpSpec::inputs`](crate::spec::OpSpec::inputs) documents each): for example matmul
/// `[a, b, c0]`, gelu `[x]`, bias_gelu `[x, bias]`. The parameters serve the ops that read
/// them (α, β: MatMul; scale, offset: causal softmax; ε: LayerNorm). Inputs are placed by
/// [`crate::aligned`] (input i at phase 512·i).
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

impl Problem {
    /// A problem with the op's random inputs ([`OpSpec::inputs`](crate::spec::OpSpec::inputs)),
    /// α = 1, β = 0, scale 0.125, offset 0, ε = 1e-5.
    pub fn random(op: Op, shape: Shape, seed: u64) -> std::result::Result<Problem, String> {
        let inputs = op.spec().inputs(shape, &mut Gen::seeded(seed))?;
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

    /// The shape as a matrix (a vector is one row; MatMul gives C's m×n).
    pub(crate) fn rows(&self) -> Rows {
        match self.shape {
            Shape::Rows(r) => r,
            Shape::Elems(n) => Rows::new(1, n),
            Shape::MatMul(g) => Rows::new(g.m, g.n),
            Shape::Attention(a) => Rows::new(a.rows, a.heads.saturating_mul(a.head_dim)),
        }
    }

    /// Runs `v` on this problem. Outputs come from `v`'s memory strategy and are returned;
    /// an in-place variant overwrites `inputs[0]` and returns no buffer.
    pub fn execute(&mut self, v: &Variant) -> Result<Vec<Buf>> {
        self.execute_with(v, None)
    }

    /// [`Problem::execute`] with kernel parameters (`None`: the kernel's defaults), as a
    /// table entry that carries them runs; parameters the variant cannot take are an error.
    pub fn execute_with(
        &mut self,
        v: &Variant,
        params: Option<BlockingParams>,
    ) -> Result<Vec<Buf>> {
        if v.op != self.op {
            return Err(exec::mismatch("problem"));
        }
        if let Some(f) = v.requires {
            kernels::cpu::require(f)?;
        }
        let run = Run {
            params,
            ..Run::new(v.memory, v.threads)
        };
        v.kernel.execute(run, self)
    }

    /// The outputs of `v` on a copy of this problem, as plain vectors (in-place results too).
    pub fn outputs(&self, v: &Variant) -> Result<Vec<Vec<f32>>> {
        self.outputs_with(v, None)
    }

    /// [`Problem::outputs`] with kernel parameters.
    pub fn outputs_with(
        &self,
        v: &Variant,
        params: Option<BlockingParams>,
    ) -> Result<Vec<Vec<f32>>> {
        let mut p = self.clone();
        let bufs = p.execute_with(v, params)?;
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

    /// Runs `v` and compares every output with the reference within the op's tolerance
    /// ([`OpSpec::tolerance`](crate::spec::OpSpec::tolerance), derived from the
    /// arithmetic); `Err` says which output and element differ, and by how much.
    pub fn verify(&self, v: &Variant) -> std::result::Result<(), String> {
        self.verify_with(v, None)
    }

    /// [`Problem::verify`] with kernel parameters.
    pub fn verify_with(
        &self,
        v: &Variant,
        params: Option<BlockingParams>,
    ) -> std::result::Result<(), String> {
        let got = self.outputs_with(v, params).map_err(|e| e.to_string())?;
        let want = self.reference().map_err(|e: KernelError| e.to_string())?;
        let bound = self.op.spec().tolerance(self);
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
}

/// A MatMul problem with explicit layout, α and β (for tests of strides and transposes).
pub fn matmul_problem(g: Gemm, alpha: f32, beta: f32, seed: u64) -> Problem {
    let mut p =
        Problem::random(Op::Matmul, Shape::MatMul(g), seed).expect("a MatMul shape fits MatMul");
    p.alpha = alpha;
    p.beta = beta;
    p
}
