//! A problem's data: an op's inputs and parameters at one shape, below the specs that run it;
//! running it through a catalog variant and checking it against the reference is
//! `crate::problem`'s.

use super::{Gen, Op};
use crate::aligned::AlignedVec;
use crate::op::Shape;
use kernels::Rows;

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
}
