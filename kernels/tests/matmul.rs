//! Every MatMul kernel against the naive reference, by one generic test body.
//!
//! Each kernel gets the same tests (see `kernel_tests!`): random shapes (proptest), a fixed
//! list of awkward shapes around vector widths and tile/block sizes, NaN/Inf propagation,
//! error cases. A SIMD kernel whose feature is unavailable (or masked by `KERNELS_DISABLE`)
//! is skipped with a note, after checking that it refuses with `Unsupported`.
//!
//! # Tolerance
//! For one C element, both the kernel and the reference compute `α·Σ_p a_ip·b_pj + β·c_ij` in
//! f32, in possibly different orders. A sum of k products computed in any order (with or
//! without FMA) has an error of at most γ_k·Σ_p |a_ip·b_pj|, with γ_k = k·ε/(1 − k·ε) ≈ k·ε
//! (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1); scaling by α, the product
//! β·c and the final addition add at most two more roundings, relative to
//! `|α|·Σ|a||b| + |β||c|`. So each side is within (k+2)·ε·(|α|·Σ_p|a_ip||b_pj| + |β||c_ij|)
//! of the exact value (to first order), and their difference within twice that:
//! `|c − ref| ≤ 2·(k+2)·ε·(|α|·Σ_p|a_ip||b_pj| + |β||c_ij|)`.

mod common;

use kernels::cpu::Feature;
use kernels::matmul::{self, BlockingParams, Gemm, MatMulFn, Product, RowSweep};
use kernels::KernelError;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A kernel under test.
#[derive(Clone, Copy)]
struct Kernel {
    name: &'static str,
    f: MatMulFn,
    scratch_len: fn(&Gemm) -> usize,
    feature: Option<Feature>,
}

impl Kernel {
    /// Whether the kernel can run here; prints a note (once per test) when it cannot, after
    /// checking that it refuses cleanly.
    fn runnable(&self) -> bool {
        common::runs(self.name, self.feature, || {
            let g = Gemm::new(2, 2, 2);
            (self.f)(
                &g,
                1.0,
                &[0.0; 4],
                &[0.0; 4],
                0.0,
                &mut [0.0; 4],
                &mut [0.0; 4096],
            )
        })
    }
}

/// Value written into every element a kernel must not touch (gaps between rows of C, and
/// past its end).
const SENTINEL: f32 = -7777.0;

/// A test case: the shape (with strides) and the scalars.
#[derive(Debug, Clone, Copy)]
struct Case {
    g: Gemm,
    alpha: f32,
    beta: f32,
}

/// Shape m×k×n with the transposes and `pad` extra elements in every row stride.
fn shape(m: usize, k: usize, n: usize, ta: bool, tb: bool, pad: usize) -> Gemm {
    let g = Gemm::new(m, k, n).with_trans(ta, tb);
    g.with_strides(g.lda + pad, g.ldb + pad, g.ldc + pad)
}

/// Operands for `case`: A and B random in [-1, 1] with NaN in the gaps between rows (a
/// kernel that reads them produces NaN), C random (or all NaN when β == 0, which must not be
/// read) with `SENTINEL` in the gaps and in 5 elements past the end.
fn operands(case: &Case, rng: &mut StdRng) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g = &case.g;
    let mut a = vec![f32::NAN; g.a_len()];
    let (ar, ac) = g.a_dims();
    for r in (0..ar).filter(|_| ac > 0) {
        for x in &mut a[r * g.lda..r * g.lda + ac] {
            *x = rng.random_range(-1.0..=1.0);
        }
    }
    let mut b = vec![f32::NAN; g.b_len()];
    let (br, bc) = g.b_dims();
    for r in (0..br).filter(|_| bc > 0) {
        for x in &mut b[r * g.ldb..r * g.ldb + bc] {
            *x = rng.random_range(-1.0..=1.0);
        }
    }
    let mut c = vec![SENTINEL; g.c_len() + 5];
    for i in (0..g.m).filter(|_| g.n > 0) {
        for x in &mut c[i * g.ldc..i * g.ldc + g.n] {
            *x = if case.beta == 0.0 {
                f32::NAN
            } else {
                rng.random_range(-1.0..=1.0)
            };
        }
    }
    (a, b, c)
}

/// Runs `kernel` on the operands and compares with the reference within the tolerance in
/// the module docs; also checks that the gaps and the tail of C are untouched.
fn compare(kernel: &Kernel, case: &Case, a: &[f32], b: &[f32], c0: &[f32]) -> Result<(), String> {
    let g = &case.g;
    let mut want = c0.to_vec();
    matmul::naive::matmul(g, case.alpha, a, b, case.beta, &mut want, &mut []).unwrap();
    let mut got = c0.to_vec();
    // NaN scratch: a kernel that reads packed elements it never wrote produces NaN.
    let mut scratch = vec![f32::NAN; (kernel.scratch_len)(g)];
    (kernel.f)(g, case.alpha, a, b, case.beta, &mut got, &mut scratch)
        .map_err(|e| format!("{}: {case:?}: error {e}", kernel.name))?;
    let eps = f32::EPSILON as f64;
    let gamma = 2.0 * (g.k as f64 + 2.0) * eps;
    for (idx, (&x, &y)) in got.iter().zip(&want).enumerate() {
        // (ldc may be 0 when C has no columns.)
        let (i, j) = (
            idx.checked_div(g.ldc).unwrap_or(0),
            idx.checked_rem(g.ldc).unwrap_or(idx),
        );
        let inside = i < g.m && j < g.n && idx < g.c_len();
        if !inside {
            if x.to_bits() != SENTINEL.to_bits() {
                return Err(format!(
                    "{}: {case:?}: wrote {x} outside C at index {idx}",
                    kernel.name
                ));
            }
            continue;
        }
        let ok = if y.is_nan() {
            x.is_nan()
        } else if y.is_infinite() {
            x == y
        } else {
            let mag: f64 = (0..g.k)
                .map(|p| (a[g.a_index(i, p)] as f64 * b[g.b_index(p, j)] as f64).abs())
                .sum();
            let cmag = if case.beta == 0.0 {
                0.0
            } else {
                (case.beta as f64 * c0[idx] as f64).abs()
            };
            let tol = gamma * ((case.alpha as f64).abs() * mag + cmag);
            (x as f64 - y as f64).abs() <= tol
        };
        if !ok {
            return Err(format!(
                "{}: {case:?}: C[{i}][{j}] = {x}, reference {y}",
                kernel.name
            ));
        }
    }
    Ok(())
}

fn check_case(kernel: &Kernel, case: &Case, seed: u64) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (a, b, c) = operands(case, &mut rng);
    compare(kernel, case, &a, &b, &c)
}

/// Shapes around the vector widths (8, 16), the micro-tiles (AVX2 6×16, AVX-512 6×64 and
/// its narrower edge tiles), the depth blocks (256, 512), the row blocks (144, 168), the
/// column block (1536), the small-m and tiny-size
/// thresholds, plus decode and matrix-vector shapes and one larger product.
const AWKWARD: &[(usize, usize, usize)] = &[
    (0, 0, 0),
    (0, 5, 3),
    (3, 0, 5),
    (3, 5, 0),
    (1, 1, 1),
    (1, 7, 1),
    (2, 3, 5),
    (7, 13, 31),
    (13, 7, 97),
    (5, 9, 7),
    (6, 16, 16),
    (7, 15, 17),
    (8, 8, 8),
    (9, 9, 9),
    (12, 17, 15),
    (13, 31, 33),
    (14, 32, 32),
    (15, 33, 31),
    (16, 16, 16),
    (17, 17, 17),
    (31, 31, 31),
    (32, 32, 32),
    (33, 32, 33),
    (29, 255, 47),
    (30, 256, 64),
    (31, 257, 65),
    (19, 513, 20),
    (143, 20, 17),
    (145, 9, 33),
    (167, 5, 31),
    (169, 7, 29),
    (18, 3, 1537),
    (17, 511, 63),
    (19, 512, 64),
    (23, 513, 65),
    (25, 1025, 47),
    (37, 20, 129),
    (41, 7, 191),
    (1, 256, 1024),
    (1, 300, 129),
    (3, 64, 100),
    (70, 33, 1),
    (301, 257, 1),
    (300, 257, 129),
];

/// All four transposes, with and without padded strides, for a set of (α, β).
fn awkward(kernel: &Kernel) {
    let mut seed = 0;
    for &(m, k, n) in AWKWARD {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for (pad, alpha, beta) in [(0, 1.0, 0.0), (3, -0.75, 1.5), (1, 2.0, 0.0)] {
                let case = Case {
                    g: shape(m, k, n, ta, tb, pad),
                    alpha,
                    beta,
                };
                seed += 1;
                if let Err(e) = check_case(kernel, &case, seed) {
                    panic!("{e}");
                }
            }
        }
    }
}

/// NaN and ±Inf in A reach C as in the reference, on each path (unpacked, dot products,
/// packed, matrix-vector).
fn non_finite(kernel: &Kernel) {
    let shapes = [
        (1, 37, 50),
        (5, 40, 70),
        (20, 37, 50),
        (33, 300, 40),
        (40, 20, 1),
    ];
    let mut seed = 1000;
    for &(m, k, n) in &shapes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let case = Case {
                g: shape(m, k, n, ta, tb, 2),
                alpha: 1.25,
                beta: 0.5,
            };
            seed += 1;
            let mut rng = StdRng::seed_from_u64(seed);
            let (mut a, b, c) = operands(&case, &mut rng);
            let g = &case.g;
            a[g.a_index(m / 2, k / 3)] = f32::NAN;
            a[g.a_index(m - 1, k - 1)] = f32::INFINITY;
            a[g.a_index(0, k / 2)] = f32::NEG_INFINITY;
            if let Err(e) = compare(kernel, &case, &a, &b, &c) {
                panic!("{e}");
            }
        }
    }
}

/// Wrong lengths, short scratch and short strides are errors, never panics, and leave C alone.
fn errors(kernel: &Kernel) {
    for (m, k, n) in [(20, 300, 40), (1, 30, 40), (5, 6, 7), (40, 30, 1)] {
        for (ta, tb) in [(false, false), (true, true)] {
            let g = shape(m, k, n, ta, tb, 1);
            let a = vec![1.0; g.a_len()];
            let b = vec![1.0; g.b_len()];
            let mut c = vec![SENTINEL; g.c_len()];
            let sl = (kernel.scratch_len)(&g);
            let mut s = vec![0.0; sl];
            let f = kernel.f;
            common::assert_length_error("short a", f(&g, 1.0, &a[1..], &b, 0.0, &mut c, &mut s));
            common::assert_length_error("short b", f(&g, 1.0, &a, &b[1..], 0.0, &mut c, &mut s));
            common::assert_length_error("short c", f(&g, 1.0, &a, &b, 0.0, &mut c[1..], &mut s));
            if sl > 0 {
                common::assert_length_error(
                    "short scratch",
                    f(&g, 1.0, &a, &b, 0.0, &mut c, &mut s[1..]),
                );
            }
            assert!(
                c.iter().all(|x| x.to_bits() == SENTINEL.to_bits()),
                "C was written"
            );
            let is_shape = |r| matches!(r, Err(KernelError::Shape { .. }));
            let (_, ac) = g.a_dims();
            let (_, bc) = g.b_dims();
            let short = [
                g.with_strides(ac - 1, g.ldb, g.ldc),
                g.with_strides(g.lda, bc - 1, g.ldc),
                g.with_strides(g.lda, g.ldb, n - 1),
            ];
            for (which, bad) in short.iter().enumerate() {
                let rows = [g.a_dims().0, g.b_dims().0, m][which];
                if rows > 1 {
                    let big = vec![1.0; a.len().max(b.len()).max(c.len()) + 64];
                    let mut cbig = big.clone();
                    let mut sbig = vec![0.0; (kernel.scratch_len)(bad) + sl];
                    let r = f(bad, 1.0, &big, &big, 0.0, &mut cbig, &mut sbig);
                    assert!(is_shape(r), "{}: ld < cols accepted: {bad:?}", kernel.name);
                }
            }
        }
    }
    // Also with the exact scratch a kernel asks for: it must be enough.
    let g = Gemm::new(70, 300, 1600);
    let a = vec![0.5; g.a_len()];
    let b = vec![0.25; g.b_len()];
    let mut c = vec![0.0; g.c_len()];
    let mut s = vec![0.0; (kernel.scratch_len)(&g)];
    (kernel.f)(&g, 1.0, &a, &b, 0.0, &mut c, &mut s).unwrap();
    assert!(c.iter().all(|&x| x == 0.125 * 300.0));
}

fn case_strategy() -> impl Strategy<Value = (Case, u64)> {
    (
        (0usize..=70, 0usize..=70, 0usize..=70),
        (any::<bool>(), any::<bool>(), 0usize..=3),
        prop::sample::select(vec![1.0f32, -1.0, 0.5, 2.0, 0.0]),
        prop::sample::select(vec![0.0f32, 1.0, -0.5, 2.0]),
        any::<u64>(),
    )
        .prop_map(|((m, k, n), (ta, tb, pad), alpha, beta, seed)| {
            (
                Case {
                    g: shape(m, k, n, ta, tb, pad),
                    alpha,
                    beta,
                },
                seed,
            )
        })
}

/// Decode shapes (m = 1) with B starting at every float offset within a cache line, with
/// row strides that keep all rows at one alignment (the kernels may shift their column
/// windows to aligned loads) and ones that do not, NaN in the gaps and before B's start.
fn decode_alignments(kernel: &Kernel) {
    let mut seed = 1000;
    for &(k, n) in &[
        (1, 1),
        (5, 3),
        (33, 16),
        (7, 17),
        (9, 31),
        (64, 128),
        (3, 129),
        (17, 190),
        (2, 400),
        (5, 1000),
    ] {
        for pad in [0, (16 - n % 16) % 16, 16 + (16 - n % 16) % 16] {
            for beta in [0.0, 0.5] {
                let case = Case {
                    g: shape(1, k, n, false, false, pad),
                    alpha: 1.25,
                    beta,
                };
                seed += 1;
                let mut rng = StdRng::seed_from_u64(seed);
                let (a, b, c) = operands(&case, &mut rng);
                for offset in 0..16 {
                    let mut shifted = vec![f32::NAN; offset + b.len()];
                    shifted[offset..].copy_from_slice(&b);
                    if let Err(e) = compare(kernel, &case, &a, &shifted[offset..], &c) {
                        panic!("B at offset {offset}: {e}");
                    }
                }
            }
        }
    }
}

/// The tests of one kernel: each `$test` runs `$body` on the kernel where it can run, and the
/// proptest of random shapes. The kernel is a module's `matmul` and `scratch_len` (given by
/// the module's name under `kernels::matmul`), or any functions of those types.
macro_rules! kernel_tests {
    ($name:ident, $feature:expr) => {
        kernel_tests!($name: matmul::$name::matmul, matmul::$name::scratch_len, $feature);
    };
    ($name:ident: $f:expr, $scratch_len:expr, $feature:expr) => {
        kernel_tests!(
            $name: $f, $scratch_len, $feature,
            awkward_shapes: awkward,
            decode_at_every_alignment: decode_alignments,
            nan_and_inf_propagate: non_finite,
            bad_arguments_are_errors: errors,
        );
    };
    ($name:ident: $f:expr, $scratch_len:expr, $feature:expr, $($test:ident: $body:ident),* $(,)?) => {
        mod $name {
            use super::*;

            const K: Kernel = Kernel {
                name: stringify!($name),
                f: $f,
                scratch_len: $scratch_len,
                feature: $feature,
            };

            $(
                #[test]
                fn $test() {
                    if K.runnable() {
                        $body(&K);
                    }
                }
            )*

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(64))]
                #[test]
                fn random_shapes((case, seed) in case_strategy()) {
                    if K.runnable() {
                        check_case(&K, &case, seed).map_err(TestCaseError::fail)?;
                    }
                }
            }
        }
    };
}

kernel_tests!(naive, None);
kernel_tests!(tiled, None);
kernel_tests!(avx2, Some(Feature::Avx2));
kernel_tests!(avx512, Some(Feature::Avx512));
#[cfg(target_arch = "aarch64")]
kernel_tests!(neon, Some(Feature::Neon));

/// The tests of the SIMD kernel `$isa` through `matmul_with` and `scratch_len_with` with the
/// blocking `$params` (an expression evaluated at each call; `$what` names it in the
/// `expect`): the one expansion the sweep and second-tile tests share.
macro_rules! kernel_tests_with {
    ($name:ident: $isa:ident, $params:expr, $what:literal, $feature:expr) => {
        kernel_tests!(
            $name: |g, alpha, a, b, beta, c, scratch| {
                let p = Product { g: *g, alpha, a, b, beta, c };
                matmul::$isa::matmul_with(&$params, p, scratch)
            },
            |g| matmul::$isa::scratch_len_with(&$params, g).expect($what),
            $feature
        );
    };
}

/// The machine's default blocking of a SIMD kernel, with the one-row sweep `row`.
fn with_sweep(default: BlockingParams, row: RowSweep) -> BlockingParams {
    BlockingParams { row, ..default }
}

/// The tests of the SIMD kernel `$isa` with the one-row sweep `$row` (`RowSweep`), whichever
/// its default is, through `matmul_with` and the machine's default blocking otherwise: a
/// tuner may choose either.
macro_rules! swept {
    ($name:ident: $isa:ident, $row:ident, $feature:expr) => {
        kernel_tests_with!(
            $name: $isa,
            with_sweep(matmul::$isa::default_params(), RowSweep::$row),
            "default blocking",
            $feature
        );
    };
}

swept!(avx2_stream: avx2, Stream, Some(Feature::Avx2));
swept!(avx2_windows: avx2, Windows, Some(Feature::Avx2));
swept!(avx512_stream: avx512, Stream, Some(Feature::Avx512));
swept!(avx512_windows: avx512, Windows, Some(Feature::Avx512));
swept!(avx2_stream_ahead: avx2, StreamAhead, Some(Feature::Avx2));
swept!(avx512_stream_ahead: avx512, StreamAhead, Some(Feature::Avx512));

/// The machine's default blocking of a SIMD kernel, sweeping one row in column windows of at
/// most `window` vectors.
fn with_window(default: BlockingParams, window: usize) -> BlockingParams {
    BlockingParams {
        row: RowSweep::Windows,
        window,
        ..default
    }
}

/// The tests of the SIMD kernel `$isa` with column windows of `$window` vectors, whatever
/// its default width: the narrowest (one cache line, or one vector), an odd width (not
/// whole lines of AVX2's vectors) and the widest a table may ask for.
macro_rules! windowed {
    ($name:ident: $isa:ident, $window:literal, $feature:expr) => {
        kernel_tests_with!(
            $name: $isa,
            with_window(matmul::$isa::default_params(), $window),
            "default blocking",
            $feature
        );
    };
}

windowed!(avx2_windows_of_1: avx2, 1, Some(Feature::Avx2));
windowed!(avx2_windows_of_5: avx2, 5, Some(Feature::Avx2));
windowed!(avx2_windows_of_16: avx2, 16, Some(Feature::Avx2));
windowed!(avx512_windows_of_1: avx512, 1, Some(Feature::Avx512));
windowed!(avx512_windows_of_5: avx512, 5, Some(Feature::Avx512));
windowed!(avx512_windows_of_16: avx512, 16, Some(Feature::Avx512));

/// The parameters of a SIMD kernel's second micro-tile: the model's blocking for it, or (with
/// `small`) blocks of a few micro-tiles and kc = 5, so that small shapes wrap every loop.
fn second_tile(
    tiles: &[(usize, usize)],
    model: fn(usize, usize) -> Option<BlockingParams>,
    small: bool,
) -> BlockingParams {
    let (mr, nr) = tiles[1];
    let p = model(mr, nr).expect("the second tile is one of the kernel's");
    if small {
        BlockingParams {
            kc: 5,
            mc: 2 * mr,
            nc: 2 * nr,
            ..p
        }
    } else {
        p
    }
}

/// The tests of the SIMD kernel `$isa` at its second micro-tile (`TILES[1]`), through
/// `matmul_with`: a tuner may choose it.
macro_rules! second_tile {
    ($name:ident: $isa:ident, $small:expr, $feature:expr) => {
        kernel_tests_with!(
            $name: $isa,
            second_tile(matmul::$isa::TILES, matmul::$isa::params_for, $small),
            "second tile",
            $feature
        );
    };
}

second_tile!(avx2_second_tile: avx2, false, Some(Feature::Avx2));
second_tile!(avx2_second_tile_small_blocks: avx2, true, Some(Feature::Avx2));
second_tile!(avx512_second_tile: avx512, false, Some(Feature::Avx512));
second_tile!(avx512_second_tile_small_blocks: avx512, true, Some(Feature::Avx512));

/// Each SIMD kernel's `sweep_for` resolves `by_level` as the kernel does on this machine:
/// windows for a 1 KiB B, the prefetching stream for a B larger than the last level cache,
/// and between them by the kernel's share of the L2 (AVX-512 all of the core's share, AVX2
/// half of it); the other sweeps stay as given.
#[test]
fn sweep_for_resolves_by_level_per_kernel() {
    let c = kernels::cpu::caches();
    let l2 = c.l2.per_core();
    let llc = c.l3.as_ref().unwrap_or(&c.l2).per_core();
    // One row of B holds 256 floats (1 KiB): k rows make k KiB.
    let of = |bytes: usize| Gemm::new(1, (bytes / 1024).max(1), 256);
    let by_level = |p: BlockingParams| BlockingParams {
        row: RowSweep::ByLevel,
        ..p
    };
    type SweepFor = fn(&BlockingParams, &Gemm) -> RowSweep;
    let kernels: [(&str, SweepFor, BlockingParams, usize); 2] = [
        (
            "avx2",
            matmul::avx2::sweep_for,
            matmul::avx2::default_params(),
            2,
        ),
        (
            "avx512",
            matmul::avx512::sweep_for,
            matmul::avx512::default_params(),
            1,
        ),
    ];
    for (name, sweep_for, d, share) in kernels {
        let p = by_level(d);
        assert_eq!(sweep_for(&p, &of(1024)), RowSweep::Windows, "{name}");
        assert_eq!(sweep_for(&p, &of(l2 / share)), RowSweep::Windows, "{name}");
        if l2 / share + 1024 <= llc {
            assert_eq!(
                sweep_for(&p, &of(l2 / share + 1024)),
                RowSweep::Stream,
                "{name}"
            );
        }
        assert_eq!(sweep_for(&p, &of(2 * llc)), RowSweep::StreamAhead, "{name}");
        for r in RowSweep::CONCRETE {
            let q = BlockingParams { row: r, ..d };
            assert_eq!(sweep_for(&q, &of(1024)), r, "{name}");
            assert_eq!(sweep_for(&q, &of(2 * llc)), r, "{name}");
        }
    }
}
