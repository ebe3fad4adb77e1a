//! What the BLIS-style SIMD kernels ([`super::avx2`], [`super::avx512`]) share besides
//! packing: the plan chosen for a shape and the scratch it needs, given a kernel's
//! [`Blocking`] (its micro-tile, cache blocks and unpacked-path thresholds). Both functions
//! depend on the shape only, so the scratch a caller allocates always matches the plan.

use super::{finish_trivial, Gemm};
use crate::cpu::{self, Feature};
use crate::{check_len, Result};

/// A kernel's `#[target_feature]` entry point, reached only through
/// [`Blocking::run_checked`].
pub(super) type Body = unsafe fn(&Gemm, f32, &[f32], &[f32], f32, &mut [f32], &mut [f32]);

/// How a problem is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// m, n or k is 0: only `C = β·C` (or nothing).
    Trivial,
    /// m == 1 with B transposed and A contiguous: dot products.
    Dots,
    /// B not transposed and a small problem: the micro-kernel reads A and B in place.
    Direct,
    /// Pack A and B and run the blocked loops.
    Packed,
}

/// A kernel's blocking parameters.
pub(super) struct Blocking {
    /// Rows and columns of the micro-tile.
    pub mr: usize,
    pub nr: usize,
    /// Depth, rows and columns of the packed blocks.
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    /// Problems no larger than this in every dimension skip packing when B is not transposed.
    pub tiny: usize,
    /// With B not transposed, up to this many rows skip packing.
    pub direct_m: usize,
}

/// The shape actually computed: a matrix-vector product becomes a vector-matrix one
/// (see [`super::as_row_problem`]); every other shape is itself.
pub(super) fn canonical(g: &Gemm) -> Gemm {
    super::as_row_problem(g).unwrap_or(*g)
}

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

impl Blocking {
    /// The plan for a canonical shape.
    pub(super) fn plan(&self, g: &Gemm) -> Plan {
        let tiny = g.m <= self.tiny && g.n <= self.tiny && g.k <= self.tiny;
        if g.m == 0 || g.n == 0 || g.k == 0 {
            Plan::Trivial
        } else if !g.trans_b && (g.m <= self.direct_m || tiny) {
            Plan::Direct
        } else if g.m == 1 && g.trans_b && (!g.trans_a || g.lda == 1) {
            Plan::Dots
        } else {
            Plan::Packed
        }
    }

    /// Sizes (in f32) of the packed A block and packed B block for a canonical shape; the A
    /// block is rounded to whole cache lines so the B block starts 64-byte aligned too.
    /// Dimensions are clamped to the block sizes before rounding up to whole micro-tiles
    /// (the same result, as `mc` and `nc` are multiples of `mr` and `nr`), so no shape makes
    /// the rounding overflow; the sizes are at most `mc·kc` (rounded to 16) and `kc·nc`.
    pub(super) fn pack_sizes(&self, g: &Gemm) -> (usize, usize) {
        let kc = g.k.min(self.kc);
        let mc = round_up(g.m.min(self.mc), self.mr);
        let nc = round_up(g.n.min(self.nc), self.nr);
        (round_up(mc * kc, 16), kc * nc)
    }

    /// Scratch for `g`: the packed A and B blocks plus 16 floats of alignment slack when the
    /// problem is packed, else 0.
    pub(super) fn scratch_len(&self, g: &Gemm) -> usize {
        let g = &canonical(g);
        match self.plan(g) {
            Plan::Packed => {
                let (a, b) = self.pack_sizes(g);
                16 + a + b
            }
            _ => 0,
        }
    }

    /// `C = α·op(A)·op(B) + β·C` through `body` after every check a kernel needs: `feature`
    /// present (else [`crate::KernelError::Unsupported`]), operand and scratch lengths; empty
    /// and zero-work products are finished here, and a matrix-vector product is restated as a
    /// vector-matrix one (the A and B buffers swap; checked again, so `body`'s soundness needs
    /// nothing about the restatement). `body` is `None` off x86_64, where `feature` is never
    /// available.
    ///
    /// # Safety
    /// `body` must need nothing beyond what is established before it is called: `feature`
    /// available, `g.check(a, b, c)` passed for the shape it receives, `scratch` holding
    /// [`Blocking::scratch_len`] elements, and m, n, k ≥ 1.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run_checked(
        &self,
        feature: Feature,
        body: Option<Body>,
        g: &Gemm,
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        cpu::require(feature)?;
        g.check(a, b, c)?;
        check_len("matmul", "scratch", scratch.len(), self.scratch_len(g))?;
        if finish_trivial(g, alpha, beta, c)? {
            return Ok(());
        }
        let (g, a, b) = match super::as_row_problem(g) {
            Some(t) => (t, b, a),
            None => (*g, a, b),
        };
        g.check(a, b, c)?;
        let Some(body) = body else {
            unreachable!("{feature:?} reported available on a target without its kernel")
        };
        // SAFETY: `cpu::require` confirmed `feature`; `g.check` confirmed, with checked
        // arithmetic (no length wrapped), that every index the (restated) shape implies is
        // inside `a`, `b` and `c`, so no such index overflows either; the scratch length was checked
        // against the original shape, whose plan and scratch are those of its restatement
        // (`scratch_len` restates too); `finish_trivial` returned for m, n or k = 0. That is
        // all `body` needs, per this function's contract.
        unsafe { body(&g, alpha, a, b, beta, c, scratch) };
        Ok(())
    }
}
