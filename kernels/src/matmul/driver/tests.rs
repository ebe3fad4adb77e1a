//! The generic driver with a portable scalar micro-kernel ([`Scalar`]) and a portable vector
//! ([`Lanes`]) for the dot products, at the AVX2 tile (6×16, 8 lanes), the AVX-512 tile
//! (6×64, 16 lanes, 8-row unpacked blocks) and an odd one (5×7, 3 lanes), against
//! [`naive::matmul`]. The SIMD micro-kernels are tested in `kernels/tests/matmul.rs` where
//! their CPU runs them; this proves the loops, packing, edge tiles, unpacked sweeps and dot
//! products they share, for every tile, on any machine.
//!
//! Every raw access the portable kernels make is checked: reads must fall inside the
//! operand the contract names (the packed panels inside `scratch`, A and B in place), writes
//! inside C; the method contracts (edge-tile sizes, unpacked tile widths) are asserted too.
//! C's gaps and tail hold a sentinel that must survive, A's and B's gaps NaN that must not
//! be read, and scratch starts as NaN, so a read of an element never packed shows.
//!
//! Tolerance, as in `kernels/tests/matmul.rs`: both sides compute `α·Σ_p a_ip·b_pj + β·c_ij`
//! in f32 in some order, each within (k+2)·ε·(|α|·Σ_p|a_ip·b_pj| + |β·c_ij|) of the exact
//! value (Higham, §3.1: γ_k for the sum, two more roundings for α, β and the addition), so
//! `|got − want| ≤ 2·(k+2)·ε·(|α|·Σ_p|a_ip·b_pj| + |β·c_ij|)`.

use super::{
    direct_vectors, run, Body, MicroKernel, Operands, Product, Sgemm, Spec, UnpackedKernel, STRIP_V,
};
use crate::matmul::alias;
use crate::matmul::blocking::{canonical, Blocking, BlockingParams, FewRows, Plan, RowSweep};
use crate::matmul::{as_row_problem, naive, Gemm};
use crate::simd_math::Simd;
use crate::KernelError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::Cell;

/// An address range `[start, end)` in bytes.
type Span = (usize, usize);

thread_local! {
    /// The buffers of the call under test: A, B, C, scratch.
    static SPANS: Cell<[Span; 4]> = const { Cell::new([(0, 0); 4]) };
}

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const SCRATCH: usize = 3;

fn span(s: &[f32]) -> Span {
    let p = s.as_ptr() as usize;
    (p, p + std::mem::size_of_val(s))
}

/// Panics unless the f32 at `p` lies inside one of the buffers `which`; for C, the row
/// stream's accumulator in its place counts too.
fn assert_inside(p: *const f32, which: &[usize], what: &str) {
    let mut spans = SPANS.with(Cell::get);
    if which.contains(&C) && !(spans[C].0 <= p as usize && p as usize + 4 <= spans[C].1) {
        spans[C] = alias::accumulator_span();
    }
    let (lo, hi) = (p as usize, p as usize + 4);
    assert!(
        which.iter().any(|&w| spans[w].0 <= lo && hi <= spans[w].1),
        "{what} at {p:?} outside buffers {which:?} (A, B, C, scratch: {spans:x?})"
    );
}

/// Reads the f32 at `p` after checking it lies inside one of the buffers `which`.
fn read_at(p: *const f32, which: &[usize]) -> f32 {
    assert_inside(p, which, "read");
    // SAFETY: `p` lies inside a live buffer of the call under test (checked above).
    unsafe { p.read() }
}

/// Writes `v` at `p` after checking it lies inside C.
fn write_at(p: *mut f32, v: f32) {
    assert_inside(p, &[C], "write");
    // SAFETY: `p` lies inside C, the live `&mut` buffer of the call under test.
    unsafe { p.write(v) }
}

/// Stores the valid `rows`×`cols` of a tile: `C = α·acc + β·C` (α and β from `o`), β == 0
/// not reading C.
fn store_tile(acc: &[Vec<f32>], cols: usize, o: &Operands) {
    let (alpha, beta) = (o.alpha, o.beta);
    for (r, row) in acc.iter().enumerate() {
        for (j, &x) in row[..cols].iter().enumerate() {
            let p = o.c.wrapping_add(r * o.ldc + j);
            let y = if beta == 0.0 {
                alpha * x
            } else {
                alpha * x + beta * read_at(p, &[C])
            };
            write_at(p, y);
        }
    }
}

/// A portable micro-kernel for any tile: scalar loops over the same operand layouts as the
/// SIMD kernels, `L`-lane vectors for the dot products, `DR` rows per unpacked block.
struct Scalar<const L: usize, const DR: usize>;

impl<const L: usize, const DR: usize> Scalar<L, DR> {
    /// The packed micro-kernel on the valid `rows` of an `MR`×`NR` tile: every one of the
    /// `NR` packed B columns is read (as the SIMD kernels do), the first `cols` stored.
    fn packed<const MR: usize, const NR: usize>(rows: usize, cols: usize, kc: usize, o: &Operands) {
        assert_eq!((o.a_rs, o.a_ps, o.b_ps), (1, MR, NR), "packed strides");
        let mut acc = vec![vec![0.0f32; NR]; rows];
        for p in 0..kc {
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let ar = read_at(o.a.wrapping_add(p * MR + r), &[SCRATCH]);
                for (j, x) in acc_r.iter_mut().enumerate() {
                    *x += ar * read_at(o.b.wrapping_add(p * NR + j), &[SCRATCH]);
                }
            }
        }
        store_tile(&acc, cols, o);
    }
}

impl<const MR: usize, const NR: usize, const L: usize, const DR: usize> MicroKernel<MR, NR>
    for Scalar<L, DR>
{
    type Unpacked = Self;

    unsafe fn full(kc: usize, o: Operands) {
        Self::packed::<MR, NR>(MR, NR, kc, &o)
    }

    unsafe fn edge(rows: usize, cols: usize, kc: usize, o: Operands) {
        assert!(
            (1..=MR).contains(&rows) && (1..=NR).contains(&cols) && (rows, cols) != (MR, NR),
            "edge tile {rows}×{cols} of {MR}×{NR}"
        );
        Self::packed::<MR, NR>(rows, cols, kc, &o)
    }
}

impl<const L: usize, const DR: usize> UnpackedKernel for Scalar<L, DR> {
    type Lanes = Lanes<L>;
    const DR: usize = DR;

    unsafe fn direct_tile<const R: usize, const V: usize>(k: usize, o: Operands, cols: usize) {
        assert!(
            (1..=DR).contains(&R)
                && (V == direct_vectors(R) || V == STRIP_V)
                && (1..=V * L).contains(&cols),
            "unpacked tile {R}×{cols} of {V} vectors (DR = {DR})"
        );
        let mut acc = vec![vec![0.0f32; cols]; R];
        for p in 0..k {
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let ar = read_at(o.a.wrapping_add(r * o.a_rs + p * o.a_ps), &[A]);
                for (j, x) in acc_r.iter_mut().enumerate() {
                    *x += ar * read_at(o.b.wrapping_add(p * o.b_ps + j), &[B]);
                }
            }
        }
        store_tile(&acc, cols, &o);
    }

    unsafe fn lane_range(lo: usize, hi: usize) -> (usize, usize) {
        assert!(lo < hi && hi <= L, "lanes {lo}..{hi} of {L}");
        (lo, hi)
    }
}

/// A portable `L`-lane vector for the dot products ([`super::dots`]) and the row stream
/// ([`super::stream_row`]); loads are checked against A and B, and C, which the row stream
/// accumulates in (after zeroing it: a read before that would bring in the NaN that
/// [`check_case`] puts in C for β = 0).
#[derive(Clone, Copy)]
struct Lanes<const L: usize>;

fn map<const L: usize>(a: [f32; L], f: impl Fn(f32) -> f32) -> [f32; L] {
    a.map(f)
}

fn zip<const L: usize>(a: [f32; L], b: [f32; L], f: impl Fn(f32, f32) -> f32) -> [f32; L] {
    std::array::from_fn(|i| f(a[i], b[i]))
}

impl<const L: usize> Simd for Lanes<L> {
    const LANES: usize = L;
    type V = [f32; L];
    /// The lanes `lo..hi`.
    type M = (usize, usize);

    unsafe fn splat(x: f32) -> [f32; L] {
        [x; L]
    }
    unsafe fn load(p: *const f32) -> [f32; L] {
        std::array::from_fn(|i| read_at(p.wrapping_add(i), &[A, B, C]))
    }
    unsafe fn store(p: *mut f32, v: [f32; L]) {
        for (i, x) in v.into_iter().enumerate() {
            write_at(p.wrapping_add(i), x);
        }
    }
    unsafe fn mask(n: usize) -> (usize, usize) {
        assert!(n < L, "mask of {n} lanes of {L}");
        (0, n)
    }
    unsafe fn load_part(p: *const f32, (lo, hi): (usize, usize)) -> [f32; L] {
        std::array::from_fn(|i| {
            if (lo..hi).contains(&i) {
                read_at(p.wrapping_add(i), &[A, B, C])
            } else {
                0.0
            }
        })
    }
    unsafe fn store_part(p: *mut f32, (lo, hi): (usize, usize), v: [f32; L]) {
        for (i, x) in v.into_iter().enumerate().take(hi).skip(lo) {
            write_at(p.wrapping_add(i), x);
        }
    }
    unsafe fn masked((lo, hi): (usize, usize), v: [f32; L], fill: [f32; L]) -> [f32; L] {
        std::array::from_fn(|i| if (lo..hi).contains(&i) { v[i] } else { fill[i] })
    }
    unsafe fn add(a: [f32; L], b: [f32; L]) -> [f32; L] {
        zip(a, b, |x, y| x + y)
    }
    unsafe fn sub(a: [f32; L], b: [f32; L]) -> [f32; L] {
        zip(a, b, |x, y| x - y)
    }
    unsafe fn mul(a: [f32; L], b: [f32; L]) -> [f32; L] {
        zip(a, b, |x, y| x * y)
    }
    unsafe fn div(a: [f32; L], b: [f32; L]) -> [f32; L] {
        zip(a, b, |x, y| x / y)
    }
    unsafe fn fma(a: [f32; L], b: [f32; L], c: [f32; L]) -> [f32; L] {
        std::array::from_fn(|i| a[i].mul_add(b[i], c[i]))
    }
    unsafe fn fnma(a: [f32; L], b: [f32; L], c: [f32; L]) -> [f32; L] {
        std::array::from_fn(|i| (-a[i]).mul_add(b[i], c[i]))
    }
    unsafe fn max(a: [f32; L], b: [f32; L]) -> [f32; L] {
        zip(a, b, |x, y| if x > y { x } else { y })
    }
    unsafe fn min(a: [f32; L], b: [f32; L]) -> [f32; L] {
        zip(a, b, |x, y| if x < y { x } else { y })
    }
    unsafe fn abs(a: [f32; L]) -> [f32; L] {
        map(a, f32::abs)
    }
    unsafe fn select_sign(s: [f32; L], neg: [f32; L], pos: [f32; L]) -> [f32; L] {
        std::array::from_fn(|i| {
            if s[i].is_sign_negative() {
                neg[i]
            } else {
                pos[i]
            }
        })
    }
    unsafe fn zero_where_lt(x: [f32; L], lo: f32, v: [f32; L]) -> [f32; L] {
        zip(x, v, |x, v| if x < lo { 0.0 } else { v })
    }
    unsafe fn pow2_magic(t: [f32; L]) -> [f32; L] {
        map(t, |t| 2f32.powi((t - 12_582_912.0) as i32))
    }
    unsafe fn round(x: [f32; L]) -> [f32; L] {
        map(x, f32::round_ties_even)
    }
    unsafe fn scale2(p: [f32; L], n: [f32; L]) -> [f32; L] {
        zip(p, n, |p, n| p * 2f32.powi(n as i32))
    }
    unsafe fn recip(d: [f32; L]) -> [f32; L] {
        map(d, |d| 1.0 / d)
    }
    unsafe fn hsum(v: [f32; L]) -> f32 {
        v.into_iter().sum()
    }
    unsafe fn hmax(v: [f32; L]) -> f32 {
        v.into_iter().fold(f32::NEG_INFINITY, f32::max)
    }
}

/// The driver for `Scalar<L, DR>` at the `MR`×`NR` tile, with the given thresholds.
fn sgemm<const MR: usize, const NR: usize, const L: usize, const DR: usize>(
    tiny: usize,
    direct_m: usize,
) -> Sgemm {
    let tiles: &'static [(usize, usize)] = const { &[(MR, NR)] };
    // As the SIMD kernels' defaults: the 8-lane (AVX2) tile streams one row, the others
    // sweep column windows.
    let row = if L == 8 {
        RowSweep::Stream
    } else {
        RowSweep::Windows
    };
    let guard = BlockingParams {
        mr: MR,
        nr: NR,
        kc: 16,
        mc: MR,
        nc: NR,
        row,
        rows: crate::matmul::blocking::STREAM_ROWS,
        few: crate::matmul::FewRows::ByLevel,
        window: crate::matmul::blocking::WINDOW,
    };
    // SAFETY: `run::<Scalar, MR, NR>` is portable code whose only requirements are those
    // `Sgemm` establishes (checked shape, scratch, nonzero sizes, blocking of this tile).
    unsafe {
        Sgemm::new(
            Spec {
                feature: None,
                tiles,
                hand_tuned: guard,
                tiny,
                direct_m,
                few_m: direct_m,
                row,
                window_share: 1,
            },
            const { &[(MR, NR, run::<Scalar<L, DR>, MR, NR> as Body)] },
        )
    }
}

/// A shape `m×k×n` with the transposes and `pad` extra elements in every row stride.
fn shape(m: usize, k: usize, n: usize, ta: bool, tb: bool, pad: usize) -> Gemm {
    let g = Gemm::new(m, k, n).with_trans(ta, tb);
    g.with_strides(g.lda + pad, g.ldb + pad, g.ldc + pad)
}

/// Written into C's gaps and past its end; must survive.
const SENTINEL: f32 = -7777.0;

/// A `rows`×`cols` matrix with row stride `ld`: random in [-1, 1], `gap` between rows.
fn matrix(rng: &mut StdRng, rows: usize, cols: usize, ld: usize, gap: f32, len: usize) -> Vec<f32> {
    let mut v = vec![gap; len];
    for r in (0..rows).filter(|_| cols > 0) {
        for x in &mut v[r * ld..r * ld + cols] {
            *x = rng.random_range(-1.0..=1.0);
        }
    }
    v
}

/// Which of the plans (trivial, dots, unpacked, packed) a set of cases took.
type Plans = [bool; 4];

fn plan_index(p: Plan) -> usize {
    match p {
        Plan::Trivial => 0,
        Plan::Dots => 1,
        Plan::Direct => 2,
        Plan::Packed => 3,
    }
}

/// Runs `k` with `params` on one case and compares with the reference; returns the plan the
/// case took (trivial for α == 0, which is finished before any plan).
fn check_case(
    k: &Sgemm,
    params: &BlockingParams,
    g: &Gemm,
    alpha: f32,
    beta: f32,
    rng: &mut StdRng,
) -> Plan {
    let (ar, ac) = g.a_dims();
    let (br, bc) = g.b_dims();
    let a = matrix(rng, ar, ac, g.lda, f32::NAN, g.a_len());
    let b = matrix(rng, br, bc, g.ldb, f32::NAN, g.b_len());
    let mut c0 = matrix(rng, g.m, g.n, g.ldc, SENTINEL, g.c_len() + 5);
    if beta == 0.0 {
        // β == 0 must not read C: NaN there would propagate.
        for i in (0..g.m).filter(|_| g.n > 0) {
            c0[i * g.ldc..i * g.ldc + g.n].fill(f32::NAN);
        }
    }
    let mut want = c0.clone();
    naive::matmul(g, alpha, &a, &b, beta, &mut want, &mut []).unwrap();
    let mut got = c0.clone();
    let mut scratch = vec![f32::NAN; k.scratch_len(Some(params), g).unwrap()];
    // A matrix-vector product runs restated, with the A and B buffers swapped.
    let (sa, sb) = match as_row_problem(g) {
        Some(_) => (span(&b), span(&a)),
        None => (span(&a), span(&b)),
    };
    SPANS.with(|s| s.set([sa, sb, span(&got), span(&scratch)]));
    let p = Product {
        g: *g,
        alpha,
        a: &a,
        b: &b,
        beta,
        c: &mut got,
    };
    k.matmul(Some(params), p, &mut scratch)
        .unwrap_or_else(|e| panic!("{g:?} α={alpha} β={beta}: {e}"));
    let eps = f32::EPSILON as f64;
    for (idx, (&x, &y)) in got.iter().zip(&want).enumerate() {
        let (i, j) = (idx / g.ldc.max(1), idx % g.ldc.max(1));
        if i >= g.m || j >= g.n {
            assert_eq!(
                x.to_bits(),
                SENTINEL.to_bits(),
                "{g:?}: wrote outside C at {idx}"
            );
            continue;
        }
        let sum_abs: f64 = (0..g.k)
            .map(|p| (a[g.a_index(i, p)] as f64 * b[g.b_index(p, j)] as f64).abs())
            .sum();
        let c_abs = if beta == 0.0 {
            0.0
        } else {
            (beta * c0[idx]).abs() as f64
        };
        let tol = 2.0 * (g.k as f64 + 2.0) * eps * (alpha.abs() as f64 * sum_abs + c_abs);
        assert!(
            ((x - y).abs() as f64) <= tol,
            "{g:?} α={alpha} β={beta} params {params:?}: C[{i}][{j}] = {x}, \
             reference {y} (tolerance {tol:e})"
        );
    }
    let blk = Blocking::new(
        *params,
        &[(params.mr, params.nr)],
        k.spec.tiny,
        k.spec.direct_m,
    )
    .unwrap();
    if alpha == 0.0 {
        Plan::Trivial
    } else {
        blk.plan(&canonical(g))
    }
}

/// Every shape of the sweep for a tile and its blocking: 0, 1, primes, the micro-tile and
/// block sizes exactly and one past, and enough to wrap the `mc`, `nc` and `kc` loops
/// several times with a short last block; all four transposes; contiguous and padded
/// strides; α and β among 0, 1 and others (cycled over the shapes). Returns the plans taken.
fn sweep(k: &Sgemm, params: &BlockingParams, seed: u64) -> Plans {
    let (mr, nr, kc, mc, nc) = (params.mr, params.nr, params.kc, params.mc, params.nc);
    let ms = [0, 1, mr - 1, mr, mr + 1, mc, mc + 1, 2 * mc + mr + 1, 13];
    let ns = [0, 1, 7, nr, nr + 1, nc, nc + 1, 2 * nc + nr + 3];
    let ks = [0, 1, kc, kc + 1, 3 * kc + 2];
    let scalars = [
        (1.0, 0.0),
        (1.0, 1.0),
        (-0.5, 0.0),
        (0.75, -1.25),
        (0.0, 0.5),
        (2.0, 1.0),
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plans = [false; 4];
    let mut case = 0usize;
    for &m in &ms {
        for &n in &ns {
            for &kk in &ks {
                for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                    let (alpha, beta) = scalars[case % scalars.len()];
                    let pad = [0, 3][(case / scalars.len()) % 2];
                    let g = shape(m, kk, n, ta, tb, pad);
                    plans[plan_index(check_case(k, params, &g, alpha, beta, &mut rng))] = true;
                    case += 1;
                }
            }
        }
    }
    plans
}

/// Blockings whose loops wrap on the sweep's shapes: kc 3 or 5 (primes), one or two
/// micro-tiles per block, one with each one-row sweep (the stream three rows a pass), a few
/// rows always unpacked with one and always packed with the other.
fn small_params(mr: usize, nr: usize) -> [BlockingParams; 2] {
    [
        BlockingParams {
            mr,
            nr,
            kc: 3,
            mc: mr,
            nc: nr,
            row: RowSweep::Stream,
            rows: 3,
            few: FewRows::Unpacked,
            window: 1,
        },
        BlockingParams {
            mr,
            nr,
            kc: 5,
            mc: 2 * mr,
            nc: 2 * nr,
            row: RowSweep::Windows,
            rows: 8,
            few: FewRows::Packed,
            window: 3,
        },
    ]
}

/// The sweep for one tile, always packed (thresholds 0) and with unpacked blocks of up to
/// `DR` rows (and two and a bit of them), asserting every plan was taken.
fn tile<const MR: usize, const NR: usize, const L: usize, const DR: usize>() {
    let packed = sgemm::<MR, NR, L, DR>(0, 0);
    let unpacked = sgemm::<MR, NR, L, DR>(9, 2 * DR + 1);
    let mut plans = [false; 4];
    for (i, p) in small_params(MR, NR).iter().enumerate() {
        for (j, k) in [&packed, &unpacked].into_iter().enumerate() {
            let taken = sweep(k, p, 2 * i as u64 + j as u64);
            plans.iter_mut().zip(taken).for_each(|(x, t)| *x |= t);
        }
    }
    assert_eq!(
        plans, [true; 4],
        "{MR}×{NR}: plans taken (trivial, dots, unpacked, packed)"
    );
}

#[test]
fn avx2_tile() {
    tile::<6, 16, 8, 6>();
}

#[test]
fn avx512_tile() {
    tile::<6, 64, 16, 8>();
}

#[test]
fn odd_tile() {
    tile::<5, 7, 3, 4>();
}

/// A few rows in slabs of B's rows ([`FewRows::Slabs`]): k over one slab and at its edges,
/// one row block and more (with a one-row remainder), n from one column (taken as a
/// matrix-vector product) to past a cache line,
/// transposed A, padded strides, β = 0 (C's NaN never read) and β ≠ 0 accumulating over the
/// slabs; every case takes the unpacked plan and agrees with the reference.
#[test]
fn slabs_of_b_match_the_reference() {
    use crate::matmul::blocking::SLAB_ROWS;
    const DR: usize = 4;
    let k = sgemm::<6, 16, 8, DR>(0, 2 * DR + 1);
    let params = BlockingParams {
        few: FewRows::Slabs,
        ..k.default_params()
    };
    let mut rng = StdRng::seed_from_u64(11);
    let mut case = 0;
    for m in [2, 3, DR, DR + 1, 2 * DR + 1] {
        for kk in [
            SLAB_ROWS + 1,
            2 * SLAB_ROWS,
            2 * SLAB_ROWS + 1,
            3 * SLAB_ROWS + 7,
        ] {
            for n in [1, 7, 17, 70] {
                let (ta, pad) = (case % 2 == 1, case % 3);
                let (alpha, beta) = [(1.0, 0.0), (0.5, -1.5), (-2.0, 1.0)][case % 3];
                let g = shape(m, kk, n, ta, false, pad);
                let plan = check_case(&k, &params, &g, alpha, beta, &mut rng);
                // One column is a matrix-vector product, computed as dot products.
                if n > 1 {
                    assert_eq!(plan, Plan::Direct, "{g:?}");
                }
                case += 1;
            }
        }
    }
}

/// Several row blocks sharing strips of B ([`super::shared_strips`]) over a k deep enough to
/// be cut into several L1-sized pieces (half the L1 in floats over a 16-lane strip, plus a
/// remainder), with α, β ≠ 0 accumulating over the pieces, transposed A and padded strides.
#[test]
fn shared_strips_over_deep_k_match_the_reference() {
    const DR: usize = 4;
    let k = sgemm::<6, 16, 8, DR>(0, 3 * DR);
    let params = BlockingParams {
        few: FewRows::Unpacked,
        ..k.default_params()
    };
    let pieces = crate::cpu::caches().l1d.size / 4 / 2 / 16;
    let mut rng = StdRng::seed_from_u64(12);
    for (case, (m, kk, n)) in [
        (DR + 1, 2 * pieces + 3, 37),
        (3 * DR, pieces + 1, 16),
        (2 * DR + 1, 3 * pieces, 70),
    ]
    .into_iter()
    .enumerate()
    {
        let g = shape(m, kk, n, case % 2 == 1, false, case);
        let plan = check_case(&k, &params, &g, 0.75, -0.5, &mut rng);
        assert_eq!(plan, Plan::Direct, "{g:?}");
    }
}

/// The default blocking of a portable kernel: the model's for this machine, every plan
/// correct at sizes past one block (kc = 128 at least) with β ≠ 0 accumulating across the
/// KC blocks.
#[test]
fn default_blocking_at_block_sizes() {
    let k = sgemm::<6, 64, 16, 8>(32, 16);
    let params = k.default_params();
    assert_eq!((params.mr, params.nr), (6, 64));
    let mut rng = StdRng::seed_from_u64(7);
    for (m, kk, n, tb) in [
        (params.mr * 3 + 1, params.kc + 1, params.nr + 5, false),
        (1, 2 * params.kc + 3, 150, true),
        (1, 300, 131, false),
        (17, 40, 65, true),
    ] {
        let g = shape(m, kk, n, false, tb, 1);
        check_case(&k, &params, &g, 1.5, 0.5, &mut rng);
    }
    assert_eq!(k.default_scratch_len(&Gemm::new(1, 300, 131)), 0);
}

/// Bad arguments are errors that write nothing: too little scratch, blocking for another
/// tile, a stride shorter than a row.
#[test]
fn bad_arguments_are_errors() {
    let k = sgemm::<6, 64, 16, 8>(0, 0);
    let p = small_params(6, 64)[1];
    let g = Gemm::new(13, 11, 70);
    let (a, b) = (vec![1.0; g.a_len()], vec![1.0; g.b_len()]);
    let mut c = vec![SENTINEL; g.c_len()];
    let need = k.scratch_len(Some(&p), &g).unwrap();
    assert!(need > 0);
    let mut short = vec![0.0; need - 1];
    // C = A·B with `params` and shape `g` (α = 1, β = 0).
    let call = |params: &BlockingParams, g: &Gemm, c: &mut [f32], scratch: &mut [f32]| {
        let prod = Product {
            g: *g,
            alpha: 1.0,
            a: &a,
            b: &b,
            beta: 0.0,
            c,
        };
        k.matmul(Some(params), prod, scratch)
    };
    assert!(matches!(
        call(&p, &g, &mut c, &mut short),
        Err(KernelError::Length {
            buffer: "scratch",
            ..
        })
    ));
    let other = BlockingParams {
        nr: 16,
        nc: 32,
        ..p
    };
    let mut scratch = vec![0.0; need];
    assert!(matches!(
        call(&other, &g, &mut c, &mut scratch),
        Err(KernelError::Blocking { .. })
    ));
    assert!(matches!(
        k.scratch_len(Some(&other), &g),
        Err(KernelError::Blocking { .. })
    ));
    let bad = g.with_strides(10, 70, 70);
    assert!(matches!(
        call(&p, &bad, &mut c, &mut scratch),
        Err(KernelError::Shape { .. })
    ));
    assert!(c.iter().all(|x| x.to_bits() == SENTINEL.to_bits()));
}
