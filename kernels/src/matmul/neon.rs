//! A simple NEON MatMul for aarch64: obviously correct first, fast enough second.
//!
//! Blocks of `KC`×`NC` of op(B) are packed into `scratch` as contiguous rows (absorbing the
//! transpose and the stride), then C is computed in `MR`×`NR` = 4×8 register tiles (8
//! accumulators of 4 lanes, `vfmaq_f32`), reading A element by element through
//! [`Gemm::a_index`]. Every memory access goes through a bounds-checked slice of exactly the
//! width loaded or stored; edge tiles (fewer than 4 rows or 8 columns) use a scalar loop.
//! α and β are applied when a tile is stored; `β == 0` does not read C; later depth blocks
//! accumulate with β = 1.

use super::Gemm;
use std::arch::aarch64::*;

/// Rows of the register tile.
const MR: usize = 4;
/// Columns of the register tile (two vectors of 4).
const NR: usize = 8;
/// Depth of a packed B block.
const KC: usize = 256;
/// Columns of a packed B block (KC×NC×4 B = 512 KiB).
const NC: usize = 512;

crate::matmul_kernel! {
    require: Neon;
    /// Scratch: one packed block of B, at most `KC`×`NC` floats.
    scratch_len(g) {
        if g.m == 0 || g.n == 0 || g.k == 0 {
            0
        } else {
            g.k.min(KC) * g.n.min(NC)
        }
    }
    /// `C = α·op(A)·op(B) + β·C` with NEON; [`crate::KernelError::Unsupported`] when unavailable.
    matmul(g, alpha, a, b, beta, c, scratch) {
        for jc in (0..g.n).step_by(NC) {
            let nc = (g.n - jc).min(NC);
            for pc in (0..g.k).step_by(KC) {
                let kc = (g.k - pc).min(KC);
                let beta = if pc == 0 { beta } else { 1.0 };
                for (p, row) in scratch[..kc * nc].chunks_exact_mut(nc).enumerate() {
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = b[g.b_index(pc + p, jc + j)];
                    }
                }
                let bp = &scratch[..kc * nc];
                for i0 in (0..g.m).step_by(MR) {
                    let rows = (g.m - i0).min(MR);
                    for j0 in (0..nc).step_by(NR) {
                        let cols = (nc - j0).min(NR);
                        let blk = Block {
                            i0,
                            pc,
                            kc,
                            j0,
                            nc,
                            c0: i0 * g.ldc + jc + j0,
                        };
                        if rows == MR && cols == NR {
                            // SAFETY: `cpu::require` confirmed NEON; `tile` touches memory only
                            // through bounds-checked slices.
                            unsafe { tile(g, alpha, beta, a, bp, c, blk) };
                        } else {
                            edge(g, alpha, beta, a, bp, c, blk, rows, cols);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where a tile sits: rows from `i0`, depth `pc..pc+kc`, columns `j0..` of a packed block
/// `nc` wide, and the index of its top-left C element.
#[derive(Clone, Copy)]
struct Block {
    i0: usize,
    pc: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    c0: usize,
}

/// A full 4×8 tile.
///
/// # Safety
/// NEON must be available. (Memory is accessed only through slices, each vector load or
/// store through a slice of at least 4 elements.)
#[target_feature(enable = "neon")]
unsafe fn tile(g: &Gemm, alpha: f32, beta: f32, a: &[f32], bp: &[f32], c: &mut [f32], t: Block) {
    #[allow(unused_unsafe)]
    // SAFETY: every `vld1q_f32`/`vst1q_f32` below reads or writes 4 floats at the start of a
    // slice that holds at least 4 (`brow` and `crow` are 8 long, their `[4..]` 4 long).
    unsafe {
        let mut acc = [[vdupq_n_f32(0.0); 2]; MR];
        for p in 0..t.kc {
            let brow = &bp[p * t.nc + t.j0..p * t.nc + t.j0 + NR];
            let b0 = vld1q_f32(brow.as_ptr());
            let b1 = vld1q_f32(brow[4..].as_ptr());
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = vdupq_n_f32(a[g.a_index(t.i0 + r, t.pc + p)]);
                acc_r[0] = vfmaq_f32(acc_r[0], b0, x);
                acc_r[1] = vfmaq_f32(acc_r[1], b1, x);
            }
        }
        let va = vdupq_n_f32(alpha);
        let vb = vdupq_n_f32(beta);
        for (r, acc_r) in acc.iter().enumerate() {
            let s = t.c0 + r * g.ldc;
            let crow = &mut c[s..s + NR];
            for (h, acc_h) in acc_r.iter().enumerate() {
                let half = &mut crow[4 * h..4 * h + 4];
                let x = vmulq_f32(va, *acc_h);
                let y = if beta == 0.0 {
                    x
                } else {
                    vfmaq_f32(x, vb, vld1q_f32(half.as_ptr()))
                };
                vst1q_f32(half.as_mut_ptr(), y);
            }
        }
    }
}

/// An edge tile (rows < 4 or cols < 8), scalar.
#[allow(clippy::too_many_arguments)]
fn edge(
    g: &Gemm,
    alpha: f32,
    beta: f32,
    a: &[f32],
    bp: &[f32],
    c: &mut [f32],
    t: Block,
    rows: usize,
    cols: usize,
) {
    for r in 0..rows {
        for j in 0..cols {
            let mut s = 0.0f32;
            for p in 0..t.kc {
                s += a[g.a_index(t.i0 + r, t.pc + p)] * bp[p * t.nc + t.j0 + j];
            }
            let cij = &mut c[t.c0 + r * g.ldc + j];
            *cij = if beta == 0.0 {
                alpha * s
            } else {
                alpha * s + beta * *cij
            };
        }
    }
}
