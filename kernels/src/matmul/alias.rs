//! Keeping the row stream's accumulator clear of 4K aliasing.
//!
//! The row stream (`driver::stream_row`) reads and writes C's row once per pass while its
//! loads of B run ahead of those stores. A core checks a load against the older stores
//! still in flight by the low 12 address bits first, so a load of B whose address is a
//! little above (mod 4 KiB) a C element just stored waits as if it depended on it ("4K
//! aliasing"). Whether that happens depends only on where the allocator put C relative to
//! B, so the same call was fast in one process and slow in the next. Measured on a Zen 4,
//! one thread, medians of 11 interleaved rounds, B warm, with C placed at a chosen offset
//! (mod 4 KiB) from B's rows: AVX-512 1×1024×1024 51.3 µs at offsets 1–3 KiB, 55.0 µs at
//! 0 and 75.7 µs at 64 bytes; 1×256×1024 12.1 against 17.6 µs at 64 bytes. Moved as below,
//! the 64-byte cases ran in 52.9 and 12.6 µs (AVX2: 50.6 and 11.8 µs, level with the best
//! placements).
//!
//! So when C's row sits near B's rows (mod 4 KiB), the stream accumulates into a row on the
//! stack placed halfway between them instead (block by block of [`ACC_COLS`] columns), and
//! copies the finished row (scaled by α) into C: one more pass over n elements against k/8
//! passes saved from stalls.

#[cfg(test)]
use std::cell::Cell;
use std::mem::MaybeUninit;

/// The span of addresses whose low bits a load is first compared on.
const PAGE: usize = 4096;

/// Row spacings (mod [`PAGE`]) below this put some row of B near any placement of C: there
/// is nothing to move away from.
const MIN_SPACING: usize = 512;

/// Where an accumulator for C's row should start, when C's own row at `c_addr` sits within
/// a quarter of B's row spacing (mod [`PAGE`]) of B's rows at `b_addr`, `b_addr + ldb_bytes`,
/// ...: `Some(r)`, the wanted `(start − b_addr) mod spacing` (half the spacing, as far from
/// every row as possible). `None` when C is clear already or no placement is.
pub(super) fn accumulator_residue(c_addr: usize, b_addr: usize, ldb_bytes: usize) -> Option<usize> {
    let spacing = gcd(ldb_bytes % PAGE, PAGE);
    if spacing < MIN_SPACING {
        return None;
    }
    let d = c_addr.wrapping_sub(b_addr) % spacing;
    (d.min(spacing - d) < spacing / 4).then_some(spacing / 2)
}

/// Greatest common divisor, with `gcd(0, b) = b`.
fn gcd(a: usize, b: usize) -> usize {
    if a == 0 {
        b
    } else {
        gcd(b % a, a)
    }
}

/// Columns of C's row one [`Accumulator`] holds; a wider row is streamed in blocks of
/// this many columns when it is moved.
pub(super) const ACC_COLS: usize = 2048;

/// An accumulator row on the stack (kernels never allocate): [`ACC_COLS`] floats and the
/// quarter page its placement may skip, 12 KiB in all.
pub(super) struct Accumulator {
    buf: MaybeUninit<[f32; ACC_COLS + PAGE / 4]>,
}

#[cfg(test)]
thread_local! {
    /// Where this thread's last [`Accumulator::row`] lay, for [`accumulator_span`].
    static LAST: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

impl Accumulator {
    /// An accumulator, not yet placed.
    #[inline(always)]
    pub(super) fn new() -> Accumulator {
        Accumulator {
            buf: MaybeUninit::uninit(),
        }
    }

    /// A zeroed row of `n` elements (at most [`ACC_COLS`]: a longer request gets that many)
    /// starting at `residue` (mod the row spacing, as [`accumulator_residue`] gave it) from
    /// `b_addr`.
    #[inline(always)]
    pub(super) fn row(&mut self, n: usize, b_addr: usize, residue: usize) -> &mut [f32] {
        let n = n.min(ACC_COLS);
        let base = self.buf.as_mut_ptr().cast::<f32>();
        // The first element at `residue` from B (mod PAGE, which every spacing divides);
        // f32 addresses and the residue are multiples of 4.
        let skip = (b_addr.wrapping_add(residue).wrapping_sub(base as usize) % PAGE) / 4;
        // SAFETY: skip < PAGE / 4 and n ≤ ACC_COLS, so [skip, skip + n) lies inside the
        // buffer; the elements are written (zeroed) before the slice is made.
        let row = unsafe {
            let p = base.add(skip);
            p.write_bytes(0, n);
            std::slice::from_raw_parts_mut(p, n)
        };
        #[cfg(test)]
        LAST.set((row.as_ptr() as usize, row.as_ptr() as usize + 4 * n));
        row
    }
}

/// The address range `[start, end)` in bytes of this thread's last accumulator row
/// (empty before the first), for tests that check where a kernel reads and writes.
#[cfg(test)]
pub(super) fn accumulator_span() -> (usize, usize) {
    LAST.get()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{self, Feature};
    use crate::matmul::{
        avx2, avx512, naive, BlockingParams, Gemm, MatMulWithFn, Product, RowSweep,
    };

    /// B rows 4 KiB apart (n = 1024): C within 1 KiB of them is moved, 2 KiB away; C from
    /// 1 to 3 KiB away stays. Rows 1 KiB apart (n = 256): within 256 bytes moves to 512.
    /// Rows 64 bytes apart mod 4 KiB (n = 1040): nothing to gain.
    #[test]
    fn moves_only_what_sits_near_b() {
        let b = 0x10_0040;
        for (off, want) in [
            (0, Some(2048)),
            (64, Some(2048)),
            (1020, Some(2048)),
            (1024, None),
            (2048, None),
            (3072, None),
            (4032, Some(2048)),
        ] {
            assert_eq!(accumulator_residue(b + off, b, 4096), want, "{off}");
            assert_eq!(
                accumulator_residue(b + 8 * PAGE + off, b, 8192),
                want,
                "{off}"
            );
        }
        assert_eq!(accumulator_residue(b + 64, b, 1024), Some(512));
        assert_eq!(accumulator_residue(b + 512, b, 1024), None);
        assert_eq!(accumulator_residue(b + 1000, b, 1024), Some(512));
        assert_eq!(accumulator_residue(b + 64, b, 1040 * 4), None);
        // C below B in memory.
        assert_eq!(accumulator_residue(b - 64, b, 4096), Some(2048));
        assert_eq!(accumulator_residue(b - 2048, b, 4096), None);
    }

    /// The accumulator row starts where asked, zeroed, for any width up to ACC_COLS.
    #[test]
    fn accumulator_sits_where_asked() {
        let b = vec![0f32; 4096];
        let b_addr = b.as_ptr() as usize;
        let mut acc = Accumulator::new();
        for (n, spacing) in [(1, 4096), (1024, 4096), (ACC_COLS, 1024), (3, 1024)] {
            let row = acc.row(n, b_addr, spacing / 2);
            assert_eq!(row.len(), n);
            assert!(row.iter().all(|&x| x == 0.0));
            assert_eq!(
                (row.as_ptr() as usize).wrapping_sub(b_addr) % spacing,
                spacing / 2
            );
            row.fill(1.0);
        }
    }

    /// The row stream gives the reference result wherever C's row sits relative to B (mod
    /// 4 KiB), moved or not, with α = 1 and α ≠ 1, and writes nothing outside C's row.
    #[test]
    fn stream_is_right_wherever_c_sits() {
        type Isa = (Feature, fn() -> BlockingParams, MatMulWithFn);
        let isas: [Isa; 2] = [
            (Feature::Avx2, avx2::default_params, avx2::matmul_with),
            (Feature::Avx512, avx512::default_params, avx512::matmul_with),
        ];
        const SENTINEL: f32 = -7.5;
        for (feature, defaults, matmul_with) in isas {
            if !cpu::available(feature) {
                eprintln!("note: {feature:?} not available, its stream is not checked here");
                continue;
            }
            for (k, n, ldb) in [
                (9, 1024, 1024),
                (40, 256, 256),
                (17, 1000, 1024),
                (33, 7, 9),
            ] {
                let b: Vec<f32> = (0..k * ldb)
                    .map(|i| ((i * 7 + 3) % 23) as f32 - 11.0)
                    .collect();
                let a: Vec<f32> = (0..k)
                    .map(|i| ((i * 5 + 1) % 13) as f32 * 0.25 - 1.5)
                    .collect();
                let g = Gemm {
                    ldb,
                    ..Gemm::new(1, k, n)
                };
                let b_addr = b.as_ptr() as usize;
                for off in [0, 64, 1024, 2048, 4032] {
                    for alpha in [1.0, 0.5] {
                        let mut want = vec![0.0; n];
                        naive::matmul(&g, alpha, &a, &b, 0.0, &mut want, &mut []).unwrap();
                        // C's row at `off` bytes past B (mod 4 KiB), a sentinel either side.
                        let mut buf = vec![SENTINEL; n + 2048];
                        let base = buf.as_ptr() as usize;
                        let start = 1 + (b_addr + off - base - 4) % PAGE / 4;
                        for row in [RowSweep::Stream, RowSweep::StreamAhead] {
                            let p = BlockingParams { row, ..defaults() };
                            let c = &mut buf[start..start + n];
                            c.fill(f32::NAN);
                            let prod = Product {
                                g,
                                alpha,
                                a: &a,
                                b: &b,
                                beta: 0.0,
                                c,
                            };
                            matmul_with(&p, prod, &mut []).unwrap();
                            let what =
                                format!("{feature:?} {row:?} k={k} n={n} offset {off} α={alpha}");
                            for (j, (&x, &y)) in buf[start..start + n].iter().zip(&want).enumerate()
                            {
                                // Integer products and sums below 2^24: exact in any order.
                                assert_eq!(x, y, "{what}: C[{j}]");
                            }
                            assert!(
                                buf[..start]
                                    .iter()
                                    .chain(&buf[start + n..])
                                    .all(|&x| x == SENTINEL),
                                "{what}: wrote outside C's row"
                            );
                        }
                    }
                }
            }
            let (lo, hi) = accumulator_span();
            assert!(hi > lo, "the moved accumulator was never used");
        }
    }
}
