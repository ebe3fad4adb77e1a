//! Packing for the BLIS-style SIMD kernels ([`super::avx2`], [`super::avx512`]): copies of
//! op(A) and op(B) blocks laid out so the micro-kernel reads both with unit stride. Written
//! once, generic over the micro-tile (`MR` rows, `NR` columns), with every transpose and
//! stride absorbed here; safe code (bounds-checked slices), so packing needs no `unsafe`.

use super::Gemm;

/// Packs rows `i0..i0+mc`, depth `p0..p0+kc` of op(A) into `MR`-row micro-panels: panel q
/// holds element (r, p) at `q·MR·kc + p·MR + r`. Rows of a last, partial panel beyond `mc`
/// are left as they are (edge tiles never read them).
pub(super) fn pack_a<const MR: usize>(
    g: &Gemm,
    a: &[f32],
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    for (q, panel) in dst[..mc.div_ceil(MR) * MR * kc]
        .chunks_exact_mut(MR * kc)
        .enumerate()
    {
        let r0 = i0 + q * MR;
        let rows = (mc - q * MR).min(MR);
        if g.trans_a {
            // Stored k×m: the R elements of one p are contiguous.
            for (p, d) in panel.chunks_exact_mut(MR).enumerate() {
                let s = (p0 + p) * g.lda + r0;
                d[..rows].copy_from_slice(&a[s..s + rows]);
            }
        } else if rows == MR {
            // p outer, the MR rows inner: the panel is written in order (MR contiguous floats
            // per p) while the MR source rows are read as MR sequential streams; several
            // times faster than filling the panel one row at a time.
            let src: [&[f32]; MR] = std::array::from_fn(|r| {
                let s = (r0 + r) * g.lda + p0;
                &a[s..s + kc]
            });
            for (p, d) in panel.chunks_exact_mut(MR).enumerate() {
                for r in 0..MR {
                    d[r] = src[r][p];
                }
            }
        } else {
            for r in 0..rows {
                let s = (r0 + r) * g.lda + p0;
                for (d, &x) in panel.chunks_exact_mut(MR).zip(&a[s..s + kc]) {
                    d[r] = x;
                }
            }
        }
    }
}

/// Packs depth `p0..p0+kc`, columns `j0..j0+nc` of op(B) into `NR`-column micro-panels:
/// panel q holds element (p, j) at `q·NR·kc + p·NR + j`, zero beyond `nc`.
pub(super) fn pack_b<const NR: usize>(
    g: &Gemm,
    b: &[f32],
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    dst: &mut [f32],
) {
    let panels = nc.div_ceil(NR);
    if !g.trans_b {
        // p outer, panels inner: each B row segment is read once, front to back (one
        // sequential stream instead of a two-line stride per panel); each panel is still
        // written in order.
        for p in 0..kc {
            let s = (p0 + p) * g.ldb + j0;
            let row = &b[s..s + nc];
            for q in 0..panels {
                let o = q * NR * kc + p * NR;
                let d: &mut [f32; NR] = (&mut dst[o..o + NR]).try_into().unwrap();
                let src = &row[q * NR..];
                if src.len() >= NR {
                    *d = src[..NR].try_into().unwrap();
                } else {
                    d[..src.len()].copy_from_slice(src);
                    d[src.len()..].fill(0.0);
                }
            }
        }
        return;
    }
    for (q, panel) in dst[..panels * NR * kc]
        .chunks_exact_mut(NR * kc)
        .enumerate()
    {
        // Stored n×k: one column of op(B) is a contiguous run over p.
        let c0 = j0 + q * NR;
        let cols = (nc - q * NR).min(NR);
        if cols < NR {
            panel.fill(0.0);
        }
        for jj in 0..cols {
            let s = (c0 + jj) * g.ldb + p0;
            for (d, &x) in panel.chunks_exact_mut(NR).zip(&b[s..s + kc]) {
                d[jj] = x;
            }
        }
    }
}
