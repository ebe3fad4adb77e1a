//! Random problems of any op and shape, run through any variant and checked against the
//! reference. The catalog tests, the benches and the tuner all use this one harness, so a
//! variant is verified the same way everywhere.

use crate::catalog::{catalog, Memory, Variant};
use crate::exec;
use crate::op::Shape;
use crate::pool::Buf;
use crate::spec::Op;
use crate::spec::{Run, Tuning};
use kernels::matmul::Gemm;
use kernels::{KernelError, Result};

pub use crate::spec::Problem;

impl Problem {
    /// Runs `v` on this problem. Outputs come from `v`'s memory strategy and are returned;
    /// an in-place variant overwrites `inputs[0]` and returns no buffer.
    pub fn execute(&mut self, v: &Variant) -> Result<Vec<Buf>> {
        self.execute_with(v, Tuning::default())
    }

    /// [`Problem::execute`] with a table entry's choices (kernel parameters, thread split;
    /// the defaults where `None`), as an entry that carries them runs; parameters the variant
    /// cannot take are an error.
    pub fn execute_with(&mut self, v: &Variant, tuning: Tuning) -> Result<Vec<Buf>> {
        if v.op != self.op {
            return Err(exec::mismatch("problem"));
        }
        if let Some(f) = v.requires {
            kernels::cpu::require(f)?;
        }
        let run = Run {
            tuning,
            ..Run::new(v.memory, v.threads)
        };
        v.kernel.execute(run, self)
    }

    /// The outputs of `v` on a copy of this problem, as plain vectors (in-place results too).
    pub fn outputs(&self, v: &Variant) -> Result<Vec<Vec<f32>>> {
        self.outputs_with(v, Tuning::default())
    }

    /// [`Problem::outputs`] with a table entry's choices.
    pub fn outputs_with(&self, v: &Variant, tuning: Tuning) -> Result<Vec<Vec<f32>>> {
        let mut p = self.clone();
        let bufs = p.execute_with(v, tuning)?;
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
        self.verify_with(v, Tuning::default())
    }

    /// [`Problem::verify`] with a table entry's choices.
    pub fn verify_with(&self, v: &Variant, tuning: Tuning) -> std::result::Result<(), String> {
        let got = self.outputs_with(v, tuning).map_err(|e| e.to_string())?;
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
