//! Hostile arguments to every public safe kernel entry point: extreme sizes, strides and
//! offsets (0, 1, 2, `usize::MAX`, `usize::MAX/2 + 1`, `1 << 32`, values whose products
//! overflow) and buffers of exactly the needed length, one short, one long, empty or random.
//!
//! Every call must (a) return `Err` unless the input is valid, and `Ok` when it is (and the
//! CPU has the variant's feature), (b) never panic, and (c) leave the memory around every
//! output untouched: outputs are the middle of a larger allocation whose ends hold canaries,
//! checked after the call. An `Err` must also leave the outputs themselves untouched. Whether
//! an input is valid is decided here with `u128` arithmetic, independently of the kernels.
//!
//! The workspace `Cargo.toml` builds the kernels crate without overflow checks in dev and test
//! builds, so a plain `cargo test` runs this with release (wrapping) arithmetic, where a
//! wrapped length computation passes a check instead of panicking;
//! [`overflow_checks_are_off_in_this_build`] fails if that setting is lost.

mod common;

use kernels::cpu::{self, Feature};
use kernels::layernorm::{Affine, LayerNormGrads, LayerNormOut, Saved};
use kernels::matmul::{
    self, BlockingParams, FewRows, Gemm, MatMulFn, MatMulWithFn, Product, RowSweep,
};
use kernels::{add, gelu, layernorm, probe, softmax, KernelError, Result, Rows};
use proptest::prelude::*;
use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};

// ---------------------------------------------------------------------------------------------
// Guarded buffers
// ---------------------------------------------------------------------------------------------

/// Canary elements on each side of a guarded buffer.
const PAD: usize = 256;
/// The canary's bit pattern (a finite f32 no kernel here computes from the test's inputs).
const CANARY: u32 = 0xDEAD_BEEF;
/// Largest buffer a test allocates; a length the shape needs beyond this is not allocated.
const CAP: usize = 8192;

/// A buffer of `len` elements in the middle of an allocation with `PAD` canaries each side.
struct Guarded {
    buf: Vec<f32>,
    len: usize,
}

impl Guarded {
    /// `len` elements, element `i` set to `fill(i)`.
    fn new(len: usize, fill: impl Fn(usize) -> f32) -> Guarded {
        let mut buf = vec![f32::from_bits(CANARY); PAD + len + PAD];
        for (i, x) in buf[PAD..PAD + len].iter_mut().enumerate() {
            *x = fill(i);
        }
        Guarded { buf, len }
    }

    /// `len` elements of small integers (so products and sums of them are exact in f32).
    fn ints(len: usize, salt: usize) -> Guarded {
        Guarded::new(len, |i| ((i * 7 + salt * 3) % 5) as f32 - 2.0)
    }

    fn get(&self) -> &[f32] {
        &self.buf[PAD..PAD + self.len]
    }

    fn get_mut(&mut self) -> &mut [f32] {
        &mut self.buf[PAD..PAD + self.len]
    }

    /// The bits of the middle part, to compare before and after a call.
    fn bits(&self) -> Vec<u32> {
        self.get().iter().map(|x| x.to_bits()).collect()
    }

    /// Panics (naming `what`) when a canary on either side was overwritten.
    fn assert_canaries(&self, what: &str) {
        let (lo, rest) = self.buf.split_at(PAD);
        let hi = &rest[self.len..];
        for (side, part) in [("before", lo), ("after", hi)] {
            if let Some(i) = part.iter().position(|x| x.to_bits() != CANARY) {
                let at = if side == "before" { PAD - i } else { i + 1 };
                panic!(
                    "{what}: memory {side} the buffer (of {}) was overwritten, {at} element(s) \
                     away: {:#010x}",
                    self.len,
                    part[i].to_bits()
                );
            }
        }
    }
}

/// Runs `check` for every item, then fails with the messages of all that failed (so one
/// report shows every kernel a named case breaks, not just the first).
fn for_each_reporting_all<T>(items: impl IntoIterator<Item = T>, check: impl Fn(&T)) {
    let mut failures = Vec::new();
    for item in items {
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| check(&item))) {
            failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs `f`, failing the test with `what` in the message if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what}: panicked instead of returning an error: {msg}")
        }
    }
}

/// Checks `r` against the oracle: `Ok` exactly when `valid` and `feature` is available.
fn assert_outcome(what: &str, r: &Result<()>, valid: bool, feature: Option<Feature>) {
    let available = feature.is_none_or(cpu::available);
    match r {
        Ok(()) => assert!(
            valid && available,
            "{what}: returned Ok for an invalid input (or a masked feature)"
        ),
        Err(KernelError::Unsupported { .. }) => {
            assert!(
                !available,
                "{what}: Unsupported although the feature is available"
            )
        }
        Err(e) => assert!(!valid, "{what}: refused a valid input: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile values
// ---------------------------------------------------------------------------------------------

/// Sizes, strides and offsets: mostly small, often extreme.
const EXTREME: [usize; 12] = [
    usize::MAX,
    usize::MAX - 1,
    usize::MAX / 2,
    usize::MAX / 2 + 1,
    usize::MAX / 3 + 1,
    1 << 32,
    (1 << 32) + 1,
    (1 << 32) - 1,
    1 << 33,
    1 << 63,
    isize::MAX as usize,
    (isize::MAX as usize) / 4 + 1,
];

/// Small sizes around the vector widths and micro-tiles.
fn small_dim() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![0usize, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 65])
}

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => small_dim(),
        2 => prop::sample::select(EXTREME.to_vec()),
    ]
}

/// A stride for rows of `cols`: contiguous, a little longer or shorter, 0, or extreme.
#[derive(Debug, Clone, Copy)]
enum Stride {
    Plus(usize),
    Minus1,
    Zero,
    Extreme(usize),
}

fn stride() -> impl Strategy<Value = Stride> {
    prop_oneof![
        4 => (0usize..3).prop_map(Stride::Plus),
        1 => Just(Stride::Minus1),
        1 => Just(Stride::Zero),
        3 => prop::sample::select(EXTREME.to_vec()).prop_map(Stride::Extreme),
    ]
}

/// Mostly valid strides, so that valid inputs (one-row operands with extreme strides among
/// them) come up often enough to check their results.
fn tame_stride() -> impl Strategy<Value = Stride> {
    prop_oneof![
        8 => (0usize..3).prop_map(Stride::Plus),
        1 => prop::sample::select(EXTREME.to_vec()).prop_map(Stride::Extreme),
    ]
}

impl Stride {
    fn resolve(self, cols: usize) -> usize {
        match self {
            Stride::Plus(d) => cols.saturating_add(d),
            Stride::Minus1 => cols.saturating_sub(1),
            Stride::Zero => 0,
            Stride::Extreme(v) => v,
        }
    }
}

/// How long to make a buffer whose shape needs `needed` elements.
#[derive(Debug, Clone, Copy)]
enum Len {
    Exact,
    OneShort,
    OneLong,
    Empty,
    Random(usize),
}

fn len_spec() -> impl Strategy<Value = Len> {
    prop_oneof![
        3 => Just(Len::Exact),
        2 => Just(Len::OneShort),
        1 => Just(Len::OneLong),
        1 => Just(Len::Empty),
        1 => (0usize..64).prop_map(Len::Random),
    ]
}

impl Len {
    /// The length to allocate; a needed length beyond [`CAP`] gets a small random one.
    fn resolve(self, needed: u128) -> usize {
        let small = (needed % 61) as usize;
        match self {
            Len::Exact if needed <= CAP as u128 => needed as usize,
            Len::OneShort if (1..=CAP as u128).contains(&needed) => needed as usize - 1,
            Len::OneLong if needed < CAP as u128 => needed as usize + 1,
            Len::Empty => 0,
            Len::Random(r) => r,
            _ => small,
        }
    }
}

/// Buffer lengths for an op's buffers: all exact (`mode` 0, 1), all exact but one (2, 3), or
/// each its own (4).
#[derive(Debug, Clone)]
struct Lens {
    mode: u8,
    which: usize,
    one: Len,
    each: Vec<Len>,
}

fn lens() -> impl Strategy<Value = Lens> {
    (
        0u8..5,
        0usize..16,
        len_spec(),
        prop::collection::vec(len_spec(), 16),
    )
        .prop_map(|(mode, which, one, each)| Lens {
            mode,
            which,
            one,
            each,
        })
}

impl Lens {
    /// The lengths to allocate for buffers needing `needed` elements.
    fn resolve(&self, needed: &[u128]) -> Vec<usize> {
        needed
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let spec = match self.mode {
                    0 | 1 => Len::Exact,
                    2 | 3 if i == self.which % needed.len() => self.one,
                    2 | 3 => Len::Exact,
                    _ => self.each[i % self.each.len()],
                };
                spec.resolve(n)
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// MatMul
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct MatMul {
    name: &'static str,
    f: MatMulFn,
    scratch_len: fn(&Gemm) -> usize,
    /// The most scratch the module documents it can ask for.
    max_scratch: usize,
    feature: Option<Feature>,
}

/// The `MatMul` of the SGEMM module `$isa` with its default blocking.
macro_rules! sgemm {
    ($isa:ident, $feature:expr) => {
        MatMul {
            name: stringify!($isa),
            f: matmul::$isa::matmul,
            scratch_len: matmul::$isa::scratch_len,
            max_scratch: matmul::$isa::default_params().max_scratch_len(),
            feature: $feature,
        }
    };
}

/// The `MatMul` of the SGEMM module `$isa` run with [`small`] blocks for its micro-tile
/// `TILES[$t]`.
macro_rules! small_blocks {
    ($isa:ident, $t:literal, $feature:expr) => {
        MatMul {
            name: concat!(stringify!($isa), " small blocks, tile ", $t),
            f: |g, alpha, a, b, beta, c, s| {
                let p = Product {
                    g: *g,
                    alpha,
                    a,
                    b,
                    beta,
                    c,
                };
                matmul::$isa::matmul_with(&small(matmul::$isa::TILES[$t]), p, s)
            },
            scratch_len: |g| {
                matmul::$isa::scratch_len_with(&small(matmul::$isa::TILES[$t]), g).unwrap()
            },
            max_scratch: small(matmul::$isa::TILES[$t]).max_scratch_len(),
            feature: $feature,
        }
    };
}

fn matmuls() -> Vec<MatMul> {
    vec![
        MatMul {
            name: "naive",
            f: matmul::naive::matmul,
            scratch_len: matmul::naive::scratch_len,
            max_scratch: 0,
            feature: None,
        },
        MatMul {
            name: "tiled",
            f: matmul::tiled::matmul,
            scratch_len: matmul::tiled::scratch_len,
            max_scratch: matmul::tiled::KC * matmul::tiled::NC,
            feature: None,
        },
        sgemm!(avx2, Some(Feature::Avx2)),
        small_blocks!(avx2, 0, Some(Feature::Avx2)),
        small_blocks!(avx2, 1, Some(Feature::Avx2)),
        sgemm!(avx512, Some(Feature::Avx512)),
        small_blocks!(avx512, 0, Some(Feature::Avx512)),
        small_blocks!(avx512, 1, Some(Feature::Avx512)),
        #[cfg(target_arch = "aarch64")]
        MatMul {
            name: "neon",
            f: matmul::neon::matmul,
            scratch_len: matmul::neon::scratch_len,
            // One packed KC×NC block of B (its constants are private).
            max_scratch: 256 * 512,
            feature: Some(Feature::Neon),
        },
    ]
}

/// The smallest blocks for a micro-tile (kc = 3, two micro-tiles of rows, one of columns), so
/// that small shapes cross every block boundary of the packed loops; the row stream for one
/// row, three rows a pass (the column windows are both kernels' default for a B in L2, so
/// the default kernels meet the same shapes with them), and one-line windows wherever a
/// table asks for windows.
fn small((mr, nr): (usize, usize)) -> BlockingParams {
    BlockingParams {
        mr,
        nr,
        kc: 3,
        mc: 2 * mr,
        nc: nr,
        row: RowSweep::Stream,
        rows: 3,
        few: FewRows::ByLevel,
        window: 1,
    }
}

/// One of the ways of reading B for one row, by `x` (the strategies below draw it from one
/// of their numbers, so every sweep meets hostile shapes).
fn sweep(x: usize) -> RowSweep {
    RowSweep::CONCRETE[x % RowSweep::CONCRETE.len()]
}

/// Elements spanned by `rows` rows of `cols` with row stride `ld`, without overflow.
fn span(rows: usize, cols: usize, ld: usize) -> u128 {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows as u128 - 1) * ld as u128 + cols as u128
    }
}

/// (rows, cols, ld) of A, B and C as stored.
fn operands(g: &Gemm) -> [(&'static str, usize, usize, usize); 3] {
    let (ar, ac) = if g.trans_a { (g.k, g.m) } else { (g.m, g.k) };
    let (br, bc) = if g.trans_b { (g.n, g.k) } else { (g.k, g.n) };
    [
        ("lda", ar, ac, g.lda),
        ("ldb", br, bc, g.ldb),
        ("ldc", g.m, g.n, g.ldc),
    ]
}

/// Whether the strides are long enough for their rows.
fn strides_ok(g: &Gemm) -> bool {
    operands(g)
        .iter()
        .all(|&(_, rows, cols, ld)| rows <= 1 || ld >= cols)
}

/// Whether some operand's span does not fit in a usize.
fn span_overflows(g: &Gemm) -> bool {
    operands(g)
        .iter()
        .any(|&(_, r, c, ld)| span(r, c, ld) > usize::MAX as u128)
}

/// `C = α·op(A)·op(B) + β·C` by the definition with `u128` indices, for checking results.
fn reference(g: &Gemm, alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &[f32]) -> Vec<f32> {
    let mut out = c.to_vec();
    if g.m == 0 || g.n == 0 {
        return out;
    }
    let at = |i: usize, p: usize| {
        let (r, col) = if g.trans_a { (p, i) } else { (i, p) };
        a[(r as u128 * g.lda as u128 + col as u128) as usize] as f64
    };
    let bt = |p: usize, j: usize| {
        let (r, col) = if g.trans_b { (j, p) } else { (p, j) };
        b[(r as u128 * g.ldb as u128 + col as u128) as usize] as f64
    };
    for i in 0..g.m {
        for j in 0..g.n {
            let idx = (i as u128 * g.ldc as u128 + j as u128) as usize;
            let dot: f64 = (0..g.k).map(|p| at(i, p) * bt(p, j)).sum();
            let old = if beta == 0.0 {
                0.0
            } else {
                beta as f64 * c[idx] as f64
            };
            out[idx] = (alpha as f64 * dot + old) as f32;
        }
    }
    out
}

/// One MatMul call with guarded buffers of the lengths `lens` picks, checked against the
/// oracle (outcome, canaries, nothing written on error, exact result and untouched gaps on
/// success).
fn check_matmul(k: &MatMul, g: &Gemm, alpha: f32, beta: f32, lens: &Lens) {
    let what = format!("{} {g:?} α={alpha} β={beta}", k.name);
    let scratch_needed = no_panic(&format!("{what}: scratch_len"), || (k.scratch_len)(g));
    assert!(
        scratch_needed <= k.max_scratch,
        "{what}: scratch_len {scratch_needed} exceeds the documented maximum {}",
        k.max_scratch
    );
    let [(_, ar, ac, lda), (_, br, bc, ldb), (_, cr, cc, ldc)] = operands(g);
    let needed = [
        span(ar, ac, lda),
        span(br, bc, ldb),
        span(cr, cc, ldc),
        scratch_needed as u128,
    ];
    let l = lens.resolve(&needed);
    let a = Guarded::ints(l[0], 1);
    let b = Guarded::ints(l[1], 2);
    let mut c = Guarded::ints(l[2], 3);
    let mut s = Guarded::new(l[3], |_| f32::NAN);
    let valid = strides_ok(g) && (0..4).all(|i| l[i] as u128 >= needed[i]);
    let before = c.bits();
    let r = no_panic(&what, || {
        (k.f)(g, alpha, a.get(), b.get(), beta, c.get_mut(), s.get_mut())
    });
    c.assert_canaries(&format!("{what}: C"));
    s.assert_canaries(&format!("{what}: scratch"));
    assert_outcome(&what, &r, valid, k.feature);
    match r {
        Ok(()) => {
            // Small integers: every variant computes this exactly. Elements between the rows
            // of C must keep their values too.
            let c0: Vec<f32> = before.iter().map(|&x| f32::from_bits(x)).collect();
            let want = reference(g, alpha, a.get(), b.get(), beta, &c0);
            assert_eq!(c.get(), &want[..], "{what}: wrong result");
        }
        Err(e) => {
            assert_eq!(c.bits(), before, "{what}: C written before the error {e}");
            if span_overflows(g) && strides_ok(g) && !matches!(e, KernelError::Unsupported { .. }) {
                assert!(
                    matches!(e, KernelError::Shape { .. }),
                    "{what}: an overflowing span should be a shape error, got {e}"
                );
            }
        }
    }
}

/// A shape with the given transposes and strides for its stored row lengths.
fn gemm((m, k, n): (usize, usize, usize), (ta, tb): (bool, bool), s: [Stride; 3]) -> Gemm {
    let g = Gemm::new(m, k, n).with_trans(ta, tb);
    let (_, ac) = g.a_dims();
    let (_, bc) = g.b_dims();
    g.with_strides(s[0].resolve(ac), s[1].resolve(bc), s[2].resolve(n))
}

/// Half hostile shapes, half small ones with mostly valid strides.
fn gemm_strategy() -> impl Strategy<Value = Gemm> {
    let trans = (any::<bool>(), any::<bool>());
    prop_oneof![
        ((dim(), dim(), dim()), trans, [stride(), stride(), stride()])
            .prop_map(|(d, t, s)| gemm(d, t, s)),
        (
            (small_dim(), small_dim(), small_dim()),
            trans,
            [tame_stride(), tame_stride(), tame_stride()]
        )
            .prop_map(|(d, t, s)| gemm(d, t, s)),
    ]
}

/// Whether `p` is valid for a kernel with micro-tiles `tiles`, by the documented rules.
fn params_valid(p: &BlockingParams, tiles: &[(usize, usize)]) -> bool {
    use matmul::blocking::{MAX_KC, MAX_MC, MAX_NC, MAX_STREAM_ROWS, MAX_WINDOW};
    tiles.contains(&(p.mr, p.nr))
        && (1..=MAX_KC).contains(&p.kc)
        && (1..=MAX_MC).contains(&p.mc)
        && p.mc.is_multiple_of(p.mr)
        && (1..=MAX_NC).contains(&p.nc)
        && p.nc.is_multiple_of(p.nr)
        && (1..=MAX_STREAM_ROWS).contains(&p.rows)
        && (1..=MAX_WINDOW).contains(&p.window)
}

/// Blocking parameters: a kernel's micro-tile with small blocks (valid or off by a little),
/// or fields taken from the hostile values.
fn params_strategy() -> impl Strategy<Value = BlockingParams> {
    let tile = prop::sample::select(vec![
        (6usize, 16usize),
        (6, 64),
        (4, 24),
        (3, 24),
        (12, 32),
        (0, 16),
        (6, 0),
        (1, 1),
    ]);
    let field = || {
        prop_oneof![
            4 => 0usize..200,
            1 => prop::sample::select(EXTREME.to_vec()),
            1 => prop::sample::select(vec![4095usize, 4096, 4097, 8191, 8192, 8193]),
        ]
    };
    let sized = (tile.clone(), 1usize..6, 1usize..5, 1usize..4, 0usize..3).prop_map(
        |((mr, nr), kc, mb, nb, off)| BlockingParams {
            mr,
            nr,
            kc,
            mc: (mb * mr).saturating_sub(off / 2),
            nc: (nb * nr).saturating_add(off % 2),
            row: sweep(kc),
            rows: 1 + (kc + mb) % 8,
            few: FewRows::ALL[(kc + nb) % 4],
            window: 1 + (3 * kc + nb) % 16,
        },
    );
    prop_oneof![
        2 => sized,
        1 => (tile, field(), field(), field()).prop_map(|((mr, nr), kc, mc, nc)| BlockingParams {
            mr,
            nr,
            kc,
            mc,
            nc,
            row: sweep(kc),
            // 0 and 9 are refused like any bad field.
            rows: mc % 10,
            few: FewRows::ALL[nc % 4],
            // 0 and 17 likewise.
            window: kc % 18,
        }),
    ]
}

proptest! {
    #![proptest_config(common::config(1024))]

    /// Every MatMul kernel with hostile shapes, strides and buffer lengths.
    #[test]
    fn matmul_hostile(
        g in gemm_strategy(),
        alpha in prop::sample::select(vec![1.0f32, 0.0, -2.0, 0.5]),
        beta in prop::sample::select(vec![0.0f32, 1.0, -1.0, 0.5]),
        lens in lens(),
    ) {
        for k in matmuls() {
            check_matmul(&k, &g, alpha, beta, &lens);
        }
    }

    /// Explicit blocking parameters, hostile or not, through `matmul_with` and
    /// `scratch_len_with` of both SIMD kernels: an invalid value (decided here, independently
    /// of the kernels) is a `Blocking` error that writes nothing and never panics; a valid one
    /// computes the exact product with exactly the scratch `scratch_len_with` asked for.
    #[test]
    fn matmul_with_hostile_params(
        p in params_strategy(),
        g in (small_dim(), small_dim(), small_dim(), any::<bool>(), any::<bool>())
            .prop_map(|(m, k, n, ta, tb)| Gemm::new(m, k, n).with_trans(ta, tb)),
        beta in prop::sample::select(vec![0.0f32, 1.0, -1.0]),
    ) {
        type ScratchWithFn = fn(&BlockingParams, &Gemm) -> Result<usize>;
        type WithKernel = (&'static str, MatMulWithFn, ScratchWithFn, &'static [(usize, usize)], Feature);
        let kernels: [WithKernel; 2] = [
            ("avx2", matmul::avx2::matmul_with, matmul::avx2::scratch_len_with,
                matmul::avx2::TILES, Feature::Avx2),
            ("avx512", matmul::avx512::matmul_with, matmul::avx512::scratch_len_with,
                matmul::avx512::TILES, Feature::Avx512),
        ];
        for (name, f, sl, tiles, feature) in kernels {
            let what = format!("{name} {p:?} {g:?}");
            let valid = params_valid(&p, tiles);
            let scratch = no_panic(&what, || sl(&p, &g));
            match &scratch {
                Ok(n) => {
                    prop_assert!(valid, "{}: scratch_len_with accepted invalid params", what);
                    prop_assert!(*n <= p.max_scratch_len(), "{}: scratch {}", what, n);
                }
                Err(e) => {
                    prop_assert!(!valid, "{}: refused valid params: {}", what, e);
                    prop_assert!(matches!(e, KernelError::Blocking { .. }), "{}: {}", what, e);
                }
            }
            let a = Guarded::ints(g.a_len(), 1);
            let b = Guarded::ints(g.b_len(), 2);
            let mut c = Guarded::ints(g.c_len(), 3);
            let mut s = Guarded::new(scratch.clone().unwrap_or(64), |_| f32::NAN);
            let before = c.bits();
            let prod = Product { g, alpha: 1.0, a: a.get(), b: b.get(), beta, c: c.get_mut() };
            let r = no_panic(&what, || f(&p, prod, s.get_mut()));
            c.assert_canaries(&format!("{what}: C"));
            s.assert_canaries(&format!("{what}: scratch"));
            assert_outcome(&what, &r, valid, Some(feature));
            match r {
                Ok(()) => {
                    let c0: Vec<f32> = before.iter().map(|&x| f32::from_bits(x)).collect();
                    let want = reference(&g, 1.0, a.get(), b.get(), beta, &c0);
                    prop_assert_eq!(c.get(), &want[..], "{}: wrong result", what);
                }
                Err(e) => {
                    prop_assert_eq!(c.bits(), before, "{}: C written before the error {}", what, e);
                    if !valid {
                        prop_assert!(matches!(e, KernelError::Blocking { .. }), "{}: {}", what, e);
                    }
                }
            }
        }
    }

    /// `scratch_len` and the length helpers never panic, whatever the shape, and stay within
    /// their documented bounds.
    #[test]
    fn matmul_sizes_never_panic(g in gemm_strategy()) {
        for k in matmuls() {
            let s = no_panic(&format!("{} scratch_len {g:?}", k.name), || (k.scratch_len)(&g));
            prop_assert!(s <= k.max_scratch, "{} {g:?}: scratch_len {s}", k.name);
        }
        type LenFn = fn(&Gemm) -> usize;
        type TryLenFn = fn(&Gemm) -> Result<usize>;
        let [(_, ar, ac, lda), (_, br, bc, ldb), (_, cr, cc, ldc)] = operands(&g);
        for (name, f, try_f, want) in [
            ("a_len", Gemm::a_len as LenFn, Gemm::try_a_len as TryLenFn, span(ar, ac, lda)),
            ("b_len", Gemm::b_len, Gemm::try_b_len, span(br, bc, ldb)),
            ("c_len", Gemm::c_len, Gemm::try_c_len, span(cr, cc, ldc)),
        ] {
            let got = no_panic(&format!("{name} {g:?}"), || f(&g)) as u128;
            prop_assert_eq!(got, want.min(usize::MAX as u128), "{} {:?}", name, g);
            match no_panic(&format!("try_{name} {g:?}"), || try_f(&g)) {
                Ok(n) => prop_assert_eq!(n as u128, want, "try_{} {:?}", name, g),
                Err(KernelError::Shape { .. }) => {
                    prop_assert!(want > usize::MAX as u128, "try_{} {:?}", name, g)
                }
                Err(e) => prop_assert!(false, "try_{} {:?}: {}", name, g, e),
            }
        }
        no_panic(&format!("flops {g:?}"), || g.flops());
    }

    /// The public helpers a kernel (or an adapter in another crate) builds on: `Gemm::check`,
    /// `check_trivial`, `finish_trivial` and `scale_c` refuse what they must, never panic,
    /// and write C only inside its rows.
    #[test]
    fn matmul_helpers_hostile(
        g in gemm_strategy(),
        alpha in prop::sample::select(vec![1.0f32, 0.0]),
        beta in prop::sample::select(vec![0.0f32, 1.0, -1.0, 0.5]),
        lens in lens(),
    ) {
        let [(_, ar, ac, lda), (_, br, bc, ldb), (_, cr, cc, ldc)] = operands(&g);
        let needed = [span(ar, ac, lda), span(br, bc, ldb), span(cr, cc, ldc)];
        let l = lens.resolve(&needed);
        let (a, b) = (Guarded::ints(l[0], 1), Guarded::ints(l[1], 2));
        let layout_ok = strides_ok(&g) && (0..3).all(|i| l[i] as u128 >= needed[i]);
        let c_ok = (g.m <= 1 || ldc >= g.n) && l[2] as u128 >= needed[2];
        let empty = g.m == 0 || g.n == 0;
        let scales = !empty && (g.k == 0 || alpha == 0.0);
        // C = β·C over the rows, by the definition (the elements between rows are kept).
        let scaled = |c0: &[f32]| {
            let mut want = c0.to_vec();
            for i in 0..if empty { 0 } else { g.m } {
                for j in 0..g.n {
                    let x = &mut want[(i as u128 * ldc as u128 + j as u128) as usize];
                    *x = if beta == 0.0 { 0.0 } else { beta * *x };
                }
            }
            want
        };
        for helper in ["check", "check_trivial", "finish_trivial", "scale_c"] {
            let what = format!("{helper} {g:?} α={alpha} β={beta}");
            let mut c = Guarded::ints(l[2], 3);
            let c0 = c.get().to_vec();
            let got = no_panic(&what, || match helper {
                "check" => g.check(a.get(), b.get(), c.get()).map(|()| None),
                "check_trivial" => {
                    matmul::check_trivial(&g, alpha, a.get(), b.get(), beta, c.get_mut()).map(Some)
                }
                "finish_trivial" => matmul::finish_trivial(&g, alpha, beta, c.get_mut()).map(Some),
                _ => matmul::scale_c(&g, beta, c.get_mut()).map(|()| None),
            });
            c.assert_canaries(&what);
            let (valid, done, writes) = match helper {
                "check" => (layout_ok, None, false),
                "check_trivial" => (layout_ok, Some(empty || scales), scales),
                "finish_trivial" => (empty || !scales || c_ok, Some(empty || scales), scales),
                _ => (c_ok, None, !empty),
            };
            match got {
                Ok(d) => {
                    prop_assert!(valid, "{}: Ok for an invalid input", what);
                    prop_assert_eq!(d, done, "{}", what);
                    let want = if writes { scaled(&c0) } else { c0.clone() };
                    prop_assert_eq!(c.get(), &want[..], "{}", what);
                }
                Err(e) => {
                    prop_assert!(!valid, "{}: refused a valid input: {}", what, e);
                    prop_assert_eq!(c.get(), &c0[..], "{}: C written before the error", what);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Row ops, element-wise ops and the probes
// ---------------------------------------------------------------------------------------------

common::variant_table! {
    /// A variant's whole public surface for the row and element-wise ops.
    #[allow(clippy::type_complexity)]
    struct Variant for [
        naive,
        avx2,
        avx512,
        #[cfg(target_arch = "aarch64")]
        neon,
    ] {
        softmax: fn(Rows, &[f32], &mut [f32]) -> Result<()> = softmax::softmax,
        softmax_inplace: fn(Rows, &mut [f32]) -> Result<()> = softmax::softmax_inplace,
        causal: fn(Rows, f32, usize, &[f32], &mut [f32]) -> Result<()> = softmax::softmax_causal,
        causal_inplace: fn(Rows, f32, usize, &mut [f32]) -> Result<()>
            = softmax::softmax_causal_inplace,
        softmax_backward: fn(Rows, &[f32], &[f32], &mut [f32]) -> Result<()>
            = softmax::softmax_backward,
        layernorm: fn(Rows, f32, &[f32], Affine, LayerNormOut) -> Result<()> = layernorm::layernorm,
        add_layernorm: fn(Rows, f32, &[f32], &[f32], &mut [f32], Affine, LayerNormOut) -> Result<()>
            = layernorm::add_layernorm,
        layernorm_backward: fn(Rows, Saved, &[f32], LayerNormGrads) -> Result<()>
            = layernorm::layernorm_backward,
        add: fn(&[f32], &[f32], &mut [f32]) -> Result<()> = add::add,
        add_inplace: fn(&mut [f32], &[f32]) -> Result<()> = add::add_inplace,
        add_bias: fn(Rows, &[f32], &[f32], &mut [f32]) -> Result<()> = add::add_bias,
        add_bias_inplace: fn(Rows, &mut [f32], &[f32]) -> Result<()> = add::add_bias_inplace,
        gelu: fn(gelu::GeluKind, &[f32], &mut [f32]) -> Result<()> = gelu::gelu,
        gelu_inplace: fn(gelu::GeluKind, &mut [f32]) -> Result<()> = gelu::gelu_inplace,
        gelu_backward: fn(gelu::GeluKind, &[f32], &[f32], &mut [f32]) -> Result<()>
            = gelu::gelu_backward,
    }
}

/// When the buffers of a row or element-wise op are valid.
#[derive(Clone, Copy)]
enum Rule {
    /// Every buffer has exactly its needed length, and the shape is acceptable (`bool`).
    Exact(bool),
    /// All buffers have the same length (the element-wise ops, which have no shape).
    SameLen,
}

/// One variant at one hostile shape, causal offset and set of buffer lengths: what every check
/// of [`check_variant`] shares.
struct Hostile<'a> {
    v: &'a Variant,
    shape: Rows,
    offset: usize,
    lens: &'a Lens,
}

impl Hostile<'_> {
    /// Checks `op` of the variant: allocates guarded buffers of the lengths `lens` picks for
    /// `needed`, runs `call` on them, then checks the canaries of every buffer, the outcome
    /// against `rule`, and that an error wrote nothing (inputs are passed as shared slices,
    /// outputs as the mutable ones).
    fn check(
        &self,
        op: &str,
        needed: &[u128],
        rule: Rule,
        call: impl FnOnce(&mut [Guarded]) -> Result<()>,
    ) {
        let what = &format!(
            "{}::{op} {:?} offset {}",
            self.v.name, self.shape, self.offset
        );
        let feature = self.v.feature;
        let l = self.lens.resolve(needed);
        let mut bufs: Vec<Guarded> = l
            .iter()
            .enumerate()
            .map(|(i, &n)| Guarded::new(n, |j| ((i + j) % 9) as f32 * 0.25 - 1.0))
            .collect();
        let valid = match rule {
            Rule::Exact(ok) => ok && l.iter().zip(needed).all(|(&n, &want)| n as u128 == want),
            Rule::SameLen => l.iter().all(|&n| n == l[0]),
        };
        let before: Vec<Vec<u32>> = bufs.iter().map(Guarded::bits).collect();
        let r = no_panic(what, || call(&mut bufs));
        for (i, b) in bufs.iter().enumerate() {
            b.assert_canaries(&format!("{what}: buffer {i}"));
        }
        assert_outcome(what, &r, valid, feature);
        if let Err(e) = &r {
            for (i, b) in bufs.iter().enumerate() {
                assert_eq!(
                    b.bits(),
                    before[i],
                    "{what}: buffer {i} written before the error {e}"
                );
            }
        }
    }
}

/// Splits `bufs` into the `N` distinct buffers it holds (shared, except `mut`).
fn parts<const N: usize>(bufs: &mut [Guarded]) -> [&mut Guarded; N] {
    let mut it = bufs.iter_mut();
    std::array::from_fn(|_| it.next().expect("enough buffers"))
}

/// A LayerNorm forward's parameters and outputs over the buffers `[gamma, beta, y, mean, rstd]`.
fn layernorm_args<'a>([g, be, y, m, r]: [&'a mut Guarded; 5]) -> (Affine<'a>, LayerNormOut<'a>) {
    let p = Affine {
        gamma: g.get(),
        beta: be.get(),
    };
    let out = LayerNormOut {
        y: y.get_mut(),
        mean: m.get_mut(),
        rstd: r.get_mut(),
    };
    (p, out)
}

/// Every row op and element-wise op of `v` with one hostile shape, offset and set of lengths.
fn check_variant(v: &Variant, shape: Rows, offset: usize, lens: &Lens) {
    let len = shape.rows as u128 * shape.cols as u128;
    let (rows, cols) = (shape.rows as u128, shape.cols as u128);
    let h = Hostile {
        v,
        shape,
        offset,
        lens,
    };

    h.check("softmax", &[len, len], Rule::Exact(true), |b| {
        let [x, y] = parts(b);
        (v.softmax)(shape, x.get(), y.get_mut())
    });
    h.check("softmax_inplace", &[len], Rule::Exact(true), |b| {
        (v.softmax_inplace)(shape, b[0].get_mut())
    });
    h.check("softmax_causal", &[len, len], Rule::Exact(true), |b| {
        let [x, y] = parts(b);
        (v.causal)(shape, 0.5, offset, x.get(), y.get_mut())
    });
    h.check("softmax_causal_inplace", &[len], Rule::Exact(true), |b| {
        (v.causal_inplace)(shape, 0.5, offset, b[0].get_mut())
    });
    h.check(
        "softmax_backward",
        &[len, len, len],
        Rule::Exact(true),
        |b| {
            let [y, dy, dx] = parts(b);
            (v.softmax_backward)(shape, y.get(), dy.get(), dx.get_mut())
        },
    );

    let fwd_ok = !(shape.rows > 0 && shape.cols == 0);
    // x, gamma, beta, y, mean, rstd
    let fwd = [len, cols, cols, len, rows, rows];
    h.check("layernorm", &fwd, Rule::Exact(fwd_ok), |b| {
        let [x, g, be, y, m, r] = parts(b);
        let (p, out) = layernorm_args([g, be, y, m, r]);
        (v.layernorm)(shape, 1e-5, x.get(), p, out)
    });
    // ... plus residual, sum
    let fused = [len, cols, cols, len, rows, rows, len, len];
    h.check("add_layernorm", &fused, Rule::Exact(fwd_ok), |b| {
        let [x, g, be, y, m, r, res, sum] = parts(b);
        let (p, out) = layernorm_args([g, be, y, m, r]);
        (v.add_layernorm)(shape, 1e-5, x.get(), res.get(), sum.get_mut(), p, out)
    });
    // x, gamma, mean, rstd, dy, dx, dgamma, dbeta
    let bwd = [len, cols, rows, rows, len, len, cols, cols];
    h.check("layernorm_backward", &bwd, Rule::Exact(true), |b| {
        let [x, g, m, r, dy, dx, dg, db] = parts(b);
        let saved = Saved {
            x: x.get(),
            gamma: g.get(),
            mean: m.get(),
            rstd: r.get(),
        };
        let grads = LayerNormGrads {
            dx: dx.get_mut(),
            dgamma: dg.get_mut(),
            dbeta: db.get_mut(),
        };
        (v.layernorm_backward)(shape, saved, dy.get(), grads)
    });

    h.check("add_bias", &[len, cols, len], Rule::Exact(true), |b| {
        let [x, bias, out] = parts(b);
        (v.add_bias)(shape, x.get(), bias.get(), out.get_mut())
    });
    h.check("add_bias_inplace", &[len, cols], Rule::Exact(true), |b| {
        let [x, bias] = parts(b);
        (v.add_bias_inplace)(shape, x.get_mut(), bias.get())
    });

    // The element-wise ops have no shape: their length is the first buffer's, which the row
    // count (kept small) stands for here.
    let n = shape.rows as u128 % 40;
    h.check("add", &[n, n, n], Rule::SameLen, |b| {
        let [a, bb, out] = parts(b);
        (v.add)(a.get(), bb.get(), out.get_mut())
    });
    h.check("add_inplace", &[n, n], Rule::SameLen, |b| {
        let [a, bb] = parts(b);
        (v.add_inplace)(a.get_mut(), bb.get())
    });
    for kind in [gelu::GeluKind::Tanh, gelu::GeluKind::Erf] {
        h.check("gelu", &[n, n], Rule::SameLen, |b| {
            let [x, y] = parts(b);
            (v.gelu)(kind, x.get(), y.get_mut())
        });
        h.check("gelu_inplace", &[n], Rule::SameLen, |b| {
            (v.gelu_inplace)(kind, b[0].get_mut())
        });
        h.check("gelu_backward", &[n, n, n], Rule::SameLen, |b| {
            let [x, dy, dx] = parts(b);
            (v.gelu_backward)(kind, x.get(), dy.get(), dx.get_mut())
        });
    }
}

proptest! {
    #![proptest_config(common::config(1024))]

    /// Every softmax, LayerNorm, Add and GELU entry point of every variant with hostile
    /// shapes, causal offsets and buffer lengths.
    #[test]
    fn row_ops_hostile(rows in dim(), cols in dim(), offset in dim(), lens in lens()) {
        for v in variants() {
            check_variant(&v, Rows::new(rows, cols), offset, &lens);
        }
    }

    /// `Rows::len` never panics and saturates where `rows·cols` does not fit.
    #[test]
    fn rows_len_never_panics(rows in dim(), cols in dim()) {
        let shape = Rows::new(rows, cols);
        let want = (rows as u128 * cols as u128).min(usize::MAX as u128);
        let exact = rows as u128 * cols as u128;
        let fits = exact <= usize::MAX as u128;
        prop_assert_eq!(no_panic("Rows::len", || shape.len()) as u128, want);
        prop_assert_eq!(no_panic("Rows::is_empty", || shape.is_empty()), want == 0);
        prop_assert_eq!(shape.checked_len().map(|n| n as u128), fits.then_some(exact));
        match shape.try_len("test") {
            Ok(n) => prop_assert_eq!(n as u128, exact),
            Err(e) => prop_assert!(!fits && matches!(e, KernelError::Shape { .. }), "{}", e),
        }
        for got in [0, 1, want.min(CAP as u128) as usize, usize::MAX] {
            let r = no_panic("check_rows_eq", || kernels::check_rows_eq("test", "x", got, shape));
            prop_assert_eq!(r.is_ok(), fits && got as u128 == exact, "{:?} got {}", shape, got);
        }
    }

    /// The probes never panic: `fma_flops` saturates, `read_sum` takes any length (and sums
    /// small integers exactly), `fma_loop` runs or refuses.
    #[test]
    fn probes_never_panic(iters in dim(), n in 0usize..300) {
        let x: Vec<f32> = (0..n).map(|i| (i % 5) as f32).collect();
        let exact: f32 = x.iter().sum();
        for f in Feature::ALL {
            match no_panic("read_sum", || probe::read_sum(f, &x)) {
                Ok(s) => prop_assert_eq!(s, exact, "{:?} n={}", f, n),
                Err(e) => prop_assert!(matches!(e, KernelError::Unsupported { .. }), "{}", e),
            }
            let r = no_panic("fma_loop", || probe::fma_loop(f, iters % 64, 0.5));
            prop_assert!(
                matches!(r, Ok(_) | Err(KernelError::Unsupported { .. })),
                "{:?}: {:?}",
                f,
                r
            );
            let got = no_panic("fma_flops", || probe::fma_flops(f, iters)) as u128;
            let lanes = match f {
                Feature::Avx512 => 16,
                Feature::Avx2 => 8,
                Feature::Neon => 0,
            };
            let want = (2 * probe::FMA_ACCUMULATORS as u128 * lanes * iters as u128)
                .min(u64::MAX as u128);
            prop_assert_eq!(got, want, "{:?} {}", f, iters);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Named cases
// ---------------------------------------------------------------------------------------------

/// Lengths that are all exact.
fn exact() -> Lens {
    Lens {
        mode: 0,
        which: 0,
        one: Len::Exact,
        each: vec![Len::Exact],
    }
}

/// The reported bug: `ldc = usize::MAX` with two rows made `(rows - 1)·ldc + cols` wrap to 0,
/// so an empty C passed the check and the SIMD kernels wrote the element before it (`naive`
/// and `tiled` panicked). Every kernel must now refuse with a shape error naming `ldc`, and
/// write nothing.
#[test]
fn reported_case_ldc_max_with_empty_c() {
    let g = Gemm::new(2, 1, 1).with_strides(1, 1, usize::MAX);
    for_each_reporting_all(matmuls(), |k| {
        let a = Guarded::ints(2, 1);
        let b = Guarded::ints(1, 2);
        let mut c = Guarded::ints(0, 3);
        let mut s = Guarded::new(0, |_| 0.0);
        let r = no_panic(k.name, || {
            (k.f)(&g, 1.0, a.get(), b.get(), 0.0, c.get_mut(), s.get_mut())
        });
        c.assert_canaries(&format!("{}: C", k.name));
        s.assert_canaries(&format!("{}: scratch", k.name));
        match r {
            Err(KernelError::Unsupported { .. }) => {
                assert!(!cpu::available(k.feature.unwrap()), "{}", k.name)
            }
            Err(KernelError::Shape { op, reason }) => {
                assert_eq!(op, "matmul");
                assert!(
                    reason.contains("ldc = 18446744073709551615"),
                    "{}: the error should name ldc: {reason}",
                    k.name
                );
            }
            other => panic!("{}: expected a shape error, got {other:?}", k.name),
        }
        // Through the generic checker too, with every buffer length.
        for spec in [Len::Exact, Len::OneShort, Len::OneLong, Len::Empty] {
            let lens = Lens {
                mode: 3,
                which: 0,
                one: spec,
                each: vec![spec],
            };
            check_matmul(k, &g, 1.0, 0.0, &lens);
        }
    });
}

/// Shapes where one operand's span wraps to a small number in release arithmetic, so a
/// buffer of that small length used to pass the check.
#[test]
fn wrapping_spans_are_refused() {
    let half = usize::MAX / 2 + 1;
    let cases = [
        // C: 2·2⁶³ wraps to 0, + n = 1.
        (
            "ldc",
            Gemm::new(3, 1, 1).with_strides(1, 1, half),
            [3, 1, 1],
        ),
        // C: the reported shape with beta != 0 and a one-element C.
        (
            "ldc",
            Gemm::new(2, 1, 1).with_strides(1, 1, usize::MAX),
            [2, 1, 1],
        ),
        // A (stored k×m) and B (k×n): 2³²·2³² wraps to 0, + 1.
        (
            "lda",
            Gemm::new(1, (1 << 32) + 1, 1)
                .with_trans(true, false)
                .with_strides(1 << 32, 1 << 32, 1),
            [1, 1, 1],
        ),
        // B: (2 - 1)·usize::MAX + 1 wraps to 0.
        (
            "ldb",
            Gemm::new(1, 2, 1).with_strides(2, usize::MAX, 1),
            [2, 0, 1],
        ),
        // B transposed (n×k), with m = 1 and a transposed A: the dot-product path.
        (
            "ldb",
            Gemm::new(1, 1, 3)
                .with_trans(true, true)
                .with_strides(1, half, 3),
            [1, 1, 3],
        ),
        // A: (m - 1)·lda with m = 2³² + 1, lda = 2³²; C likewise.
        (
            "lda",
            Gemm::new((1 << 32) + 1, 1, 1).with_strides(1 << 32, 1, 1 << 32),
            [1, 1, 1],
        ),
    ];
    let all = cases
        .iter()
        .flat_map(|&case| matmuls().into_iter().map(move |k| (case, k)));
    for_each_reporting_all(all, |&((name, g, [la, lb, lc]), k)| {
        let what = format!("{} {g:?}", k.name);
        let a = Guarded::ints(la, 1);
        let b = Guarded::ints(lb, 2);
        let mut c = Guarded::ints(lc, 3);
        let before = c.bits();
        let mut s = Guarded::new(k.max_scratch.min(CAP), |_| 0.0);
        let r = no_panic(&what, || {
            (k.f)(&g, 1.0, a.get(), b.get(), 1.0, c.get_mut(), s.get_mut())
        });
        c.assert_canaries(&format!("{what}: C"));
        s.assert_canaries(&format!("{what}: scratch"));
        assert_eq!(c.bits(), before, "{what}: C written");
        match r {
            Err(KernelError::Unsupported { .. }) => {}
            Err(KernelError::Shape { reason, .. }) => {
                assert!(
                    reason.contains(name),
                    "{what}: should name {name}: {reason}"
                )
            }
            other => panic!("{what}: expected a shape error, got {other:?}"),
        }
    });
}

/// `rows·cols` wrapping to 0 let empty buffers pass the length checks of the row ops, and
/// the SIMD kernels then walked `rows` rows past them.
#[test]
fn wrapping_row_counts_are_refused() {
    for shape in [
        Rows::new(usize::MAX / 2 + 1, 2),
        Rows::new(2, usize::MAX / 2 + 1),
        Rows::new(1 << 32, 1 << 32),
        Rows::new(1 << 63, 4),
    ] {
        for v in variants() {
            check_variant(&v, shape, 0, &exact());
            check_variant(&v, shape, usize::MAX, &exact());
            // The case in words: every buffer empty, as `rows·cols` wrapped says.
            let what = format!("{}::softmax {shape:?}", v.name);
            let mut y = Guarded::new(0, |_| 0.0);
            let r = no_panic(&what, || (v.softmax)(shape, &[], y.get_mut()));
            y.assert_canaries(&what);
            assert!(r.is_err(), "{what}: {r:?}");
            let what = format!("{}::add_bias {shape:?}", v.name);
            let bias = vec![0.0; shape.cols.min(8)];
            let mut y = Guarded::new(0, |_| 0.0);
            let r = no_panic(&what, || (v.add_bias)(shape, &[], &bias, y.get_mut()));
            y.assert_canaries(&what);
            assert!(r.is_err(), "{what}: {r:?}");
        }
    }
}

/// A causal offset beyond the row makes every column visible: `usize::MAX` must give the
/// same bits as `cols` (it used to wrap `r + offset + 1` to `r` in the reference).
#[test]
fn causal_offset_max_shows_every_column() {
    let shape = Rows::new(3, 21);
    let x: Vec<f32> = (0..shape.rows * shape.cols)
        .map(|i| (i % 11) as f32 * 0.3 - 1.0)
        .collect();
    for v in variants() {
        if v.feature.is_some_and(|f| !cpu::available(f)) {
            continue;
        }
        let mut want = vec![0.0; x.len()];
        (v.causal)(shape, 0.7, shape.cols, &x, &mut want).unwrap();
        for offset in [usize::MAX, usize::MAX - 1, usize::MAX / 2 + 1] {
            let mut y = vec![0.0; x.len()];
            no_panic(v.name, || (v.causal)(shape, 0.7, offset, &x, &mut y)).unwrap();
            assert_eq!(
                y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{} offset {offset}",
                v.name
            );
            let mut z = x.clone();
            no_panic(v.name, || (v.causal_inplace)(shape, 0.7, offset, &mut z)).unwrap();
            assert_eq!(
                z.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{} in place, offset {offset}",
                v.name
            );
        }
    }
}

/// Valid shapes with extreme strides where they address nothing (one-row matrices) and
/// empty products with huge dimensions: accepted, computed, no stray writes.
#[test]
fn extreme_but_valid_shapes_are_accepted() {
    let cases = [
        Gemm::new(1, 3, 5).with_strides(usize::MAX, 5, usize::MAX),
        Gemm::new(1, 1, 5)
            .with_trans(true, false)
            .with_strides(usize::MAX, usize::MAX, usize::MAX),
        Gemm::new(1, 40, 3)
            .with_trans(false, true)
            .with_strides(usize::MAX, 40, usize::MAX),
        Gemm::new(7, 1, 1).with_strides(1, usize::MAX, 1),
        Gemm::new(usize::MAX, 0, 0).with_strides(usize::MAX, usize::MAX, usize::MAX),
        Gemm::new(0, usize::MAX, 0),
        Gemm::new(0, 0, usize::MAX),
        Gemm::new(usize::MAX, 0, 0).with_trans(true, true),
    ];
    for g in cases {
        for k in matmuls() {
            for beta in [0.0, 1.0] {
                check_matmul(&k, &g, 1.0, beta, &exact());
            }
        }
    }
    for shape in [
        Rows::new(usize::MAX, 0),
        Rows::new(0, usize::MAX),
        Rows::new(1 << 63, 0),
    ] {
        for v in variants() {
            check_variant(&v, shape, usize::MAX, &exact());
        }
    }
}

/// The scratch size of a packed problem stops growing at the block sizes; with `m` or `n`
/// near `usize::MAX` its rounding up to whole micro-tiles used to wrap.
#[test]
fn scratch_len_of_huge_shapes_is_the_block_size() {
    for k in matmuls() {
        for (ta, tb) in [(false, true), (true, true)] {
            let g = |m: usize, n: usize| Gemm::new(m, 1000, n).with_trans(ta, tb);
            let big = no_panic(k.name, || (k.scratch_len)(&g(1 << 20, 1 << 20)));
            for (m, n) in [
                (usize::MAX, 1 << 20),
                (1 << 20, usize::MAX),
                (usize::MAX, usize::MAX),
                (usize::MAX - 1, usize::MAX / 2 + 1),
            ] {
                let s = no_panic(k.name, || (k.scratch_len)(&g(m, n)));
                assert_eq!(s, big, "{} scratch_len m={m} n={n} ta={ta} tb={tb}", k.name);
            }
        }
    }
}

/// The release-arithmetic guarantee this file depends on: in this build, `usize` addition
/// wraps instead of panicking. This test binary belongs to the kernels package, which the
/// workspace `Cargo.toml` builds (library and tests alike) with `overflow-checks = false`
/// under `[profile.dev.package.kernels]`; if this fails, that setting was lost (or the tests
/// were built with `-C overflow-checks`), and the hostile tests above no longer see what a
/// release build does.
#[test]
fn overflow_checks_are_off_in_this_build() {
    let here = catch_unwind(|| black_box(usize::MAX) + black_box(1));
    assert_eq!(
        here.ok(),
        Some(0),
        "usize::MAX + 1 panicked in the kernels test binary: overflow checks are on, so these \
         tests run with debug arithmetic and cannot see release-only overflows. Keep \
         `overflow-checks = false` in `[profile.dev.package.kernels]` of the workspace \
         Cargo.toml (and do not build the tests with -C overflow-checks)."
    );
}
