//! Portable cache-blocked MatMul: safe Rust whose inner loop LLVM vectorises for whatever
//! baseline the target has (SSE2 on x86_64).
//!
//! C is first scaled by β (`β == 0` overwrites without reading), then α·op(A)·op(B) is
//! accumulated block by block: columns in blocks of `NC` (a 1 KiB strip of a C row stays in
//! L1), depth in blocks of `KC` (the `KC`×`NC` block of B, 128 KiB, stays in L2 while every row
//! of A sweeps it). The inner loop updates a contiguous strip of a C row with four rows of B at
//! once (`c[j] += a0·b0[j] + a1·b1[j] + a2·b2[j] + a3·b3[j]`), which quarters the loads and
//! stores of C. When B is transposed its block is first packed into `scratch` as rows, so the
//! inner loop is always contiguous.

use super::scale_c;

/// Columns per block.
pub const NC: usize = 256;
/// Depth per block.
pub const KC: usize = 128;

crate::matmul_kernel! {
    /// Scratch: a packed `KC`×`NC` block of B when B is transposed (≤ 32768 floats), else 0.
    scratch_len(g) {
        if g.trans_b && g.m > 0 {
            g.k.min(KC) * g.n.min(NC)
        } else {
            0
        }
    }
    /// `C = α·op(A)·op(B) + β·C`, portable and blocked.
    matmul(g, alpha, a, b, beta, c, scratch) {
        scale_c(g, beta, c)?;
        for jc in (0..g.n).step_by(NC) {
            let nc = (g.n - jc).min(NC);
            for pc in (0..g.k).step_by(KC) {
                let kc = (g.k - pc).min(KC);
                // Row p (of kc) of the B block: `bblock[p*bs..][..nc]`.
                let (bblock, bs): (&[f32], usize) = if g.trans_b {
                    let dst = &mut scratch[..kc * nc];
                    for jj in 0..nc {
                        let s = (jc + jj) * g.ldb + pc;
                        for (d, &x) in dst.chunks_exact_mut(nc).zip(&b[s..s + kc]) {
                            d[jj] = x;
                        }
                    }
                    (dst, nc)
                } else {
                    (&b[pc * g.ldb + jc..], g.ldb)
                };
                let brow = |p: usize| &bblock[p * bs..p * bs + nc];
                for i in 0..g.m {
                    let crow = &mut c[i * g.ldc + jc..i * g.ldc + jc + nc];
                    let ai = |p: usize| alpha * a[g.a_index(i, pc + p)];
                    let mut p = 0;
                    while p + 4 <= kc {
                        let (a0, a1, a2, a3) = (ai(p), ai(p + 1), ai(p + 2), ai(p + 3));
                        let (b0, b1, b2, b3) = (brow(p), brow(p + 1), brow(p + 2), brow(p + 3));
                        for ((((cj, &x0), &x1), &x2), &x3) in
                            crow.iter_mut().zip(b0).zip(b1).zip(b2).zip(b3)
                        {
                            *cj += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
                        }
                        p += 4;
                    }
                    while p < kc {
                        let a0 = ai(p);
                        for (cj, &x0) in crow.iter_mut().zip(brow(p)) {
                            *cj += a0 * x0;
                        }
                        p += 1;
                    }
                }
            }
        }
        Ok(())
    }
}
