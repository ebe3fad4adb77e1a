//! The `matmul` calls of the dispatcher: each picks the variant the table binds at the call's
//! key ([`Dispatcher::pick`]) and runs its kernel (`crate::spec::matmul`).

use super::Dispatcher;
use crate::exec;
use crate::op::Key;
use crate::pool::Buf;
use crate::spec::matmul::*;
use kernels::matmul::Gemm;
use kernels::Result;

impl Dispatcher {
    /// `C = α·op(A)·op(B) + β·C` into the caller's C (scratch by the bound memory strategy).
    pub fn matmul(
        &self,
        g: &Gemm,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
    ) -> Result<()> {
        let (k, run) = self.pick::<Matmul>(Key::matmul(g.m, g.k, g.n))?;
        exec::matmul(
            run.threads,
            run.tuning.split,
            g,
            beta,
            a,
            b,
            c,
            k.single(run, alpha),
        )
    }

    /// `α·op(A)·op(B)` into a new m×n buffer (`g.ldc` is taken as n) from the bound strategy.
    pub fn matmul_new(&self, g: &Gemm, alpha: f32, a: &[f32], b: &[f32]) -> Result<Buf> {
        let g = Gemm { ldc: g.n, ..*g };
        let (k, run) = self.pick::<Matmul>(Key::matmul(g.m, g.k, g.n))?;
        let mut c = run.alloc(g.m * g.n);
        exec::matmul(
            run.threads,
            run.tuning.split,
            &g,
            0.0,
            a,
            b,
            &mut c,
            k.single(run, alpha),
        )?;
        Ok(c)
    }
}
