//! A small private vector layer for the element-wise and row ops, and the vectorised
//! transcendental functions they share.
//!
//! [`Simd`] abstracts one f32 vector register of an ISA (AVX2+FMA: 8 lanes, AVX-512F: 16
//! lanes, NEON: 4 lanes). Each op writes its kernel once, generic over `S: Simd`, as
//! `#[inline(always)]` functions; the ISA's `#[target_feature]` entry point (in the op's
//! `avx2.rs`, `avx512.rs`, `neon.rs`) instantiates it, so every intrinsic is inlined into a
//! function compiled for that ISA and nothing runs unless the safe wrapper checked the CPU.
//!
//! # Numerics
//! * [`exp`]: `n = round(x·log₂e)` by the magic-constant trick (`x·log₂e + 1.5·2²³`, no
//!   float→int conversion), Cody–Waite reduction `r = x - n·ln2` in two FMAs
//!   (|r| ≤ ln2/2), the Cephes degree-7 polynomial (Horner, all FMAs) for `eʳ`, and `2ⁿ`
//!   built by adding `n + 127` into the exponent field. The input is clamped above at
//!   88.376 (so `n ≤ 127`; larger inputs saturate at ≈2.4e38 — every caller here passes
//!   x ≤ 0); below `ln(2⁻¹²⁶)` ≈ -87.34 the result is flushed to 0, so `exp(-∞) = 0`; NaN
//!   propagates. Measured: ≤ 0.61·2⁻²³ relative on [-87.3, 0] (unit test below).
//! * [`sigmoid2`] (σ(v) = 1/(1+e^{-v}) through `e = exp(-|v|)` ∈ [0, 1]: never overflows,
//!   no cancellation on either side) serves the tanh GELU, since `½(1 + tanh u) = σ(2u)`.
//! * [`half_erfc_scaled`]: `½·erfc(a/√2)` for a ≥ 0 by the Numerical Recipes `erfcc`
//!   Chebyshev fit (fractional error < 1.2e-7 everywhere), which keeps *relative* accuracy in
//!   the tail so `Φ(x) = ½·erfc(-x/√2)` is accurate for negative x too. Measured in f32:
//!   ≤ 0.59·(11 + a²)·2⁻²³ relative (≈ 6.5·2⁻²³ near 0, from the Horner sum).

/// One f32 vector register of an ISA, and the handful of operations the kernels need.
///
/// # Safety
/// Every method may execute instructions of the ISA: call them only from code compiled with
/// (and running on a CPU with) that ISA, i.e. from inside the op's `#[target_feature]`
/// functions. The pointer methods additionally require the lanes they touch to be valid.
#[allow(dead_code)] // Not every ISA's kernels use every method.
pub(crate) trait Simd {
    /// Lanes per vector.
    const LANES: usize;
    /// The vector.
    type V: Copy;
    /// A mask selecting the first `n < LANES` lanes (for tails).
    type M: Copy;

    unsafe fn splat(x: f32) -> Self::V;
    /// Loads `LANES` elements from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self::V;
    /// Stores `LANES` elements at `p` (unaligned).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// The mask of the first `n` lanes, `n < LANES`.
    unsafe fn mask(n: usize) -> Self::M;
    /// Loads the lanes of `m` (the others are 0); only those lanes of `p` are read.
    unsafe fn load_part(p: *const f32, m: Self::M) -> Self::V;
    /// Stores the lanes of `m`; only those lanes of `p` are written.
    unsafe fn store_part(p: *mut f32, m: Self::M, v: Self::V);
    /// `v` in the lanes of `m`, `fill` elsewhere.
    unsafe fn masked(m: Self::M, v: Self::V, fill: Self::V) -> Self::V;

    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// `a·b + c`, one rounding.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c - a·b`, one rounding.
    unsafe fn fnma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Lane maximum; when either lane is NaN the result is NaN whenever `b` is NaN (x86
    /// returns `b`, NEON returns NaN): put the value that must propagate NaN second.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// Lane minimum, with the NaN rule of [`Simd::max`].
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn abs(a: Self::V) -> Self::V;
    /// Per lane: `neg` where the sign bit of `s` is set (-0.0 included), else `pos`.
    unsafe fn select_sign(s: Self::V, neg: Self::V, pos: Self::V) -> Self::V;
    /// Per lane: 0 where `x < lo`, else `v` (NaN `x` keeps `v`).
    unsafe fn zero_where_lt(x: Self::V, lo: f32, v: Self::V) -> Self::V;
    /// Asks for the cache line holding `p` to be brought into L2 ahead of its use; a hint
    /// that never faults, whatever `p` is. A no-op where an ISA has no such hint here.
    #[inline(always)]
    unsafe fn prefetch_l2(_p: *const f32) {}
    /// `2ⁿ` from `t = n + 1.5·2²³` (the magic-rounded float), for -126 ≤ n ≤ 127.
    unsafe fn pow2_magic(t: Self::V) -> Self::V;
    /// Round to the nearest integer (ties to even).
    unsafe fn round(x: Self::V) -> Self::V;
    /// `p·2ⁿ` for integer-valued `n` with -126 ≤ n ≤ 127 (AVX-512's `vscalefps` also outside).
    unsafe fn scale2(p: Self::V, n: Self::V) -> Self::V;
    /// `1/d` to about one ulp: the ISA's reciprocal estimate refined by Newton–Raphson,
    /// several times cheaper than a division (see [`recip`](Simd::recip) per ISA).
    unsafe fn recip(d: Self::V) -> Self::V;
    /// Sum of the lanes.
    unsafe fn hsum(v: Self::V) -> f32;
    /// Maximum of the lanes.
    unsafe fn hmax(v: Self::V) -> f32;
}

/// The dot product of `a` and `b` over `body + tail` elements, left in f32 lanes (one FMA
/// accumulator, `body` a multiple of `LANES`, the `tail < LANES` rest through the mask `m`):
/// the loop that attention's scores and the softmax backward share; the caller sums the lanes.
///
/// # Safety
/// As for [`Simd`]; `a` and `b` readable for `body + tail` elements, `m = S::mask(tail)`.
#[inline(always)]
pub(crate) unsafe fn dot_lanes<S: Simd>(
    a: *const f32,
    b: *const f32,
    body: usize,
    tail: usize,
    m: S::M,
) -> S::V {
    let mut acc = S::splat(0.0);
    let mut c = 0;
    while c < body {
        acc = S::fma(S::load(a.add(c)), S::load(b.add(c)), acc);
        c += S::LANES;
    }
    if tail > 0 {
        acc = S::fma(
            S::load_part(a.add(body), m),
            S::load_part(b.add(body), m),
            acc,
        );
    }
    acc
}

/// The row kernel of a row-broadcast bias op, `out[j] = f(x[j] + bias[j])` on one row (the
/// bias add's, the fused bias + GELU's), implemented by a unit type that names it for
/// [`bias_rows`].
pub(crate) trait BiasRow: Copy {
    /// One row of `n` elements.
    ///
    /// # Safety
    /// As for [`Simd`]; `x` and `bias` readable and `out` writable for `n` elements; `out` may
    /// be `x` (in place) but must not otherwise overlap.
    unsafe fn row<S: Simd>(self, x: *const f32, bias: *const f32, out: *mut f32, n: usize);
}

/// `out[r][j] = f(x[r][j] + bias[j])` for `rows × cols`: the row loop of the bias ops, running
/// their row kernel `kernel` on each row with the same `bias` (all of it inlined into the op's
/// `#[target_feature]` entry point).
///
/// # Safety
/// As for [`Simd`]; `x` readable and `out` writable for `rows·cols` elements (`out` may be
/// `x`), `bias` readable for `cols`.
#[inline(always)]
pub(crate) unsafe fn bias_rows<S: Simd>(
    x: *const f32,
    bias: *const f32,
    out: *mut f32,
    rows: usize,
    cols: usize,
    kernel: impl BiasRow,
) {
    for r in 0..rows {
        kernel.row::<S>(x.add(r * cols), bias, out.add(r * cols), cols);
    }
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5·2²³: adding it rounds to an integer held in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Largest input with `n ≤ 127`.
pub(crate) const EXP_HI: f32 = 88.376_26;
/// `ln(2⁻¹²⁶)`: below it `exp` returns 0.
pub(crate) const EXP_LO: f32 = -87.336_54;
#[allow(clippy::excessive_precision)] // Cephes' published coefficients, verbatim.
const EXP_P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    5.000_000_1e-1,
];

/// Vectorised `eˣ` (see the module docs). Measured maximum error against f64 on
/// [-87.3, 0]: 0.61·2⁻²³ relative.
///
/// # Safety
/// As for [`Simd`].
#[inline(always)]
pub(crate) unsafe fn exp<S: Simd>(x: S::V) -> S::V {
    let xc = S::min(S::splat(EXP_HI), x);
    let t = S::fma(xc, S::splat(LOG2E), S::splat(MAGIC));
    let n = S::sub(t, S::splat(MAGIC));
    let r = S::fnma(n, S::splat(LN2_HI), xc);
    let r = S::fnma(n, S::splat(LN2_LO), r);
    let mut p = S::splat(EXP_P[0]);
    for &c in &EXP_P[1..] {
        p = S::fma(p, r, S::splat(c));
    }
    p = S::fma(p, r, S::splat(1.0));
    p = S::fma(p, r, S::splat(1.0));
    S::zero_where_lt(x, EXP_LO, S::mul(p, S::pow2_magic(t)))
}

/// Minimax (relative) coefficients of `2ʳ` on [-½, ½], degree 6, constant term first.
#[allow(clippy::excessive_precision)]
const EXP2_P: [f32; 7] = [
    1.0,
    std::f32::consts::LN_2,
    0.240_226_46,
    0.055_503_286,
    0.009_618_489,
    0.001_339_993_1,
    0.000_153_458_12,
];

/// Vectorised `2ʷ` for `w ≥ -126` (below, the result is flushed to 0, so `2^-∞ = 0`;
/// callers keep `w ≤ 127`; NaN propagates): `n = round(w)`, `r = w - n` exactly
/// (|r| ≤ ½), a degree-6 minimax polynomial for `2ʳ` (1.3·2⁻²⁴ relative in f32, measured),
/// then `p·2ⁿ`. Cheaper than [`exp`] (no Cody–Waite split, one rounding instruction, and a
/// single `vscalefps` on AVX-512), so callers that can fold `log₂e` into their own
/// arithmetic use it: the tanh GELU and softmax.
///
/// # Safety
/// As for [`Simd`].
#[inline(always)]
pub(crate) unsafe fn exp2<S: Simd>(w: S::V) -> S::V {
    let wc = S::max(S::splat(-127.0), w);
    let n = S::round(wc);
    let r = S::sub(wc, n);
    let mut p = S::splat(EXP2_P[6]);
    for &c in EXP2_P[..6].iter().rev() {
        p = S::fma(p, r, S::splat(c));
    }
    S::zero_where_lt(w, -126.0, S::scale2(p, n))
}

/// `(σ(v), e, r)` with `e = exp(-|v|)`, `r = 1/(1+e)` and `σ(v) = 1/(1+e^{-v})`: `r` for
/// v ≥ 0, `e·r` for v < 0. `σ(v)·(1-σ(v)) = e·r²` on both sides, which the GELU backward
/// uses.
///
/// # Safety
/// As for [`Simd`].
#[inline(always)]
pub(crate) unsafe fn sigmoid2<S: Simd>(v: S::V) -> (S::V, S::V, S::V) {
    let one = S::splat(1.0);
    let e = exp::<S>(S::sub(S::splat(0.0), S::abs(v)));
    let r = S::div(one, S::add(one, e));
    (S::select_sign(v, S::mul(e, r), r), e, r)
}

/// Numerical Recipes `erfcc` coefficients, highest first; the constant term has `ln 2` folded
/// in (-1.26551223 - ln 2) so that the result is `½·erfc`.
#[allow(clippy::excessive_precision)] // The published coefficients, verbatim.
const ERFC_Q: [f32; 10] = [
    0.170_872_77,
    -0.822_152_23,
    1.488_515_87,
    -1.135_203_98,
    0.278_868_07,
    -0.186_288_06,
    0.096_784_18,
    0.374_091_96,
    1.000_023_68,
    -1.958_658_9,
];

/// `½·erfc(a/√2)` for `a ≥ 0` (a = |x| in the GELU), and `-a²/2`, the exponent the erf GELU
/// backward reuses for the normal density.
///
/// # Safety
/// As for [`Simd`].
#[inline(always)]
pub(crate) unsafe fn half_erfc_scaled<S: Simd>(a: S::V) -> (S::V, S::V) {
    let one = S::splat(1.0);
    // t = 1/(1 + z/2) with z = a/√2.
    let t = S::div(
        one,
        S::fma(a, S::splat(std::f32::consts::FRAC_1_SQRT_2 * 0.5), one),
    );
    let mut q = S::splat(ERFC_Q[0]);
    for &c in &ERFC_Q[1..] {
        q = S::fma(q, t, S::splat(c));
    }
    // -z² = -a²/2.
    let nz2 = S::mul(S::mul(a, S::splat(-0.5)), a);
    (S::mul(t, exp::<S>(S::add(nz2, q))), nz2)
}

/// Implements, inside an `impl Simd`, the methods that are one intrinsic on vectors (every
/// argument and the result a `Self::V`), `#[inline(always)]` as all of the layer is: each line
/// names the method and its arguments, then the intrinsic and the order it takes them in.
macro_rules! forward_to_intrinsics {
    ($($name:ident($($arg:ident),+) => $intrinsic:ident($($iarg:ident),+);)+) => {
        $(
            #[inline(always)]
            unsafe fn $name($($arg: Self::V),+) -> Self::V {
                $intrinsic($($iarg),+)
            }
        )+
    };
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    /// AVX2 + FMA, 8 lanes.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2;

    /// AVX-512F, 16 lanes.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512;

    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;
        type M = __m256i;

        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn prefetch_l2(p: *const f32) {
            _mm_prefetch::<_MM_HINT_T1>(p.cast());
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn mask(n: usize) -> __m256i {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, m: __m256i) -> __m256 {
            _mm256_maskload_ps(p, m)
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, m: __m256i, v: __m256) {
            _mm256_maskstore_ps(p, m, v)
        }
        #[inline(always)]
        unsafe fn masked(m: __m256i, v: __m256, fill: __m256) -> __m256 {
            _mm256_blendv_ps(fill, v, _mm256_castsi256_ps(m))
        }
        forward_to_intrinsics! {
            add(a, b) => _mm256_add_ps(a, b);
            sub(a, b) => _mm256_sub_ps(a, b);
            mul(a, b) => _mm256_mul_ps(a, b);
            div(a, b) => _mm256_div_ps(a, b);
            fma(a, b, c) => _mm256_fmadd_ps(a, b, c);
            fnma(a, b, c) => _mm256_fnmadd_ps(a, b, c);
            max(a, b) => _mm256_max_ps(a, b);
            min(a, b) => _mm256_min_ps(a, b);
        }
        #[inline(always)]
        unsafe fn abs(a: __m256) -> __m256 {
            _mm256_andnot_ps(_mm256_set1_ps(-0.0), a)
        }
        #[inline(always)]
        unsafe fn select_sign(s: __m256, neg: __m256, pos: __m256) -> __m256 {
            _mm256_blendv_ps(pos, neg, s)
        }
        #[inline(always)]
        unsafe fn zero_where_lt(x: __m256, lo: f32, v: __m256) -> __m256 {
            _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_NLT_UQ>(x, _mm256_set1_ps(lo)))
        }
        #[inline(always)]
        unsafe fn pow2_magic(t: __m256) -> __m256 {
            let bits = _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127));
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(bits))
        }
        #[inline(always)]
        unsafe fn round(x: __m256) -> __m256 {
            _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
        }
        #[inline(always)]
        unsafe fn scale2(p: __m256, n: __m256) -> __m256 {
            let bits = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
            _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32::<23>(bits)))
        }
        /// `rcpps` (relative error ≤ 1.5·2⁻¹²) and one Newton step: ≈ 2⁻²³ before rounding.
        #[inline(always)]
        unsafe fn recip(d: __m256) -> __m256 {
            let r = _mm256_rcp_ps(d);
            _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0)))
        }
        #[inline(always)]
        unsafe fn hsum(v: __m256) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
        }
        #[inline(always)]
        unsafe fn hmax(v: __m256) -> f32 {
            let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps::<1>(s, s)))
        }
    }

    impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;
        type M = __mmask16;

        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn prefetch_l2(p: *const f32) {
            _mm_prefetch::<_MM_HINT_T1>(p.cast());
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn mask(n: usize) -> __mmask16 {
            ((1u32 << n) - 1) as __mmask16
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, m: __mmask16) -> __m512 {
            _mm512_maskz_loadu_ps(m, p)
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, m: __mmask16, v: __m512) {
            _mm512_mask_storeu_ps(p, m, v)
        }
        #[inline(always)]
        unsafe fn masked(m: __mmask16, v: __m512, fill: __m512) -> __m512 {
            _mm512_mask_blend_ps(m, fill, v)
        }
        forward_to_intrinsics! {
            add(a, b) => _mm512_add_ps(a, b);
            sub(a, b) => _mm512_sub_ps(a, b);
            mul(a, b) => _mm512_mul_ps(a, b);
            div(a, b) => _mm512_div_ps(a, b);
            fma(a, b, c) => _mm512_fmadd_ps(a, b, c);
            fnma(a, b, c) => _mm512_fnmadd_ps(a, b, c);
            max(a, b) => _mm512_max_ps(a, b);
            min(a, b) => _mm512_min_ps(a, b);
            abs(a) => _mm512_abs_ps(a);
        }
        #[inline(always)]
        unsafe fn select_sign(s: __m512, neg: __m512, pos: __m512) -> __m512 {
            let k = _mm512_test_epi32_mask(_mm512_castps_si512(s), _mm512_set1_epi32(i32::MIN));
            _mm512_mask_blend_ps(k, pos, neg)
        }
        #[inline(always)]
        unsafe fn zero_where_lt(x: __m512, lo: f32, v: __m512) -> __m512 {
            let keep = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x, _mm512_set1_ps(lo));
            _mm512_maskz_mov_ps(keep, v)
        }
        #[inline(always)]
        unsafe fn pow2_magic(t: __m512) -> __m512 {
            let bits = _mm512_add_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(127));
            _mm512_castsi512_ps(_mm512_slli_epi32::<23>(bits))
        }
        #[inline(always)]
        unsafe fn round(x: __m512) -> __m512 {
            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
        }
        #[inline(always)]
        unsafe fn scale2(p: __m512, n: __m512) -> __m512 {
            _mm512_scalef_ps(p, n)
        }
        /// `vrcp14ps` (relative error ≤ 2⁻¹⁴) and one Newton step: ≈ 2⁻²⁸ before rounding.
        #[inline(always)]
        unsafe fn recip(d: __m512) -> __m512 {
            let r = _mm512_rcp14_ps(d);
            _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0)))
        }
        #[inline(always)]
        unsafe fn hsum(v: __m512) -> f32 {
            _mm512_reduce_add_ps(v)
        }
        #[inline(always)]
        unsafe fn hmax(v: __m512) -> f32 {
            _mm512_reduce_max_ps(v)
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub(crate) use arm::Neon;

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::Simd;
    use std::arch::aarch64::*;

    /// Advanced SIMD, 4 lanes. Tails go through a small stack buffer.
    #[derive(Clone, Copy)]
    pub(crate) struct Neon;

    impl Simd for Neon {
        const LANES: usize = 4;
        type V = float32x4_t;
        type M = usize;

        #[inline(always)]
        unsafe fn splat(x: f32) -> float32x4_t {
            vdupq_n_f32(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> float32x4_t {
            vld1q_f32(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: float32x4_t) {
            vst1q_f32(p, v)
        }
        #[inline(always)]
        unsafe fn mask(n: usize) -> usize {
            n
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, n: usize) -> float32x4_t {
            let mut buf = [0.0f32; 4];
            std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            vld1q_f32(buf.as_ptr())
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, n: usize, v: float32x4_t) {
            let mut buf = [0.0f32; 4];
            vst1q_f32(buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        }
        #[inline(always)]
        unsafe fn masked(n: usize, v: float32x4_t, fill: float32x4_t) -> float32x4_t {
            let iota: [u32; 4] = [0, 1, 2, 3];
            let m = vcltq_u32(vld1q_u32(iota.as_ptr()), vdupq_n_u32(n as u32));
            vbslq_f32(m, v, fill)
        }
        forward_to_intrinsics! {
            add(a, b) => vaddq_f32(a, b);
            sub(a, b) => vsubq_f32(a, b);
            mul(a, b) => vmulq_f32(a, b);
            div(a, b) => vdivq_f32(a, b);
            fma(a, b, c) => vfmaq_f32(c, a, b);
            fnma(a, b, c) => vfmsq_f32(c, a, b);
            max(a, b) => vmaxq_f32(a, b);
            min(a, b) => vminq_f32(a, b);
            abs(a) => vabsq_f32(a);
            round(x) => vrndnq_f32(x);
        }
        #[inline(always)]
        unsafe fn select_sign(s: float32x4_t, neg: float32x4_t, pos: float32x4_t) -> float32x4_t {
            let m = vcltq_s32(vreinterpretq_s32_f32(s), vdupq_n_s32(0));
            vbslq_f32(m, neg, pos)
        }
        #[inline(always)]
        unsafe fn zero_where_lt(x: float32x4_t, lo: f32, v: float32x4_t) -> float32x4_t {
            let lt = vcltq_f32(x, vdupq_n_f32(lo));
            vbslq_f32(lt, vdupq_n_f32(0.0), v)
        }
        #[inline(always)]
        unsafe fn pow2_magic(t: float32x4_t) -> float32x4_t {
            let bits = vaddq_s32(vreinterpretq_s32_f32(t), vdupq_n_s32(127));
            vreinterpretq_f32_s32(vshlq_n_s32::<23>(bits))
        }
        #[inline(always)]
        unsafe fn scale2(p: float32x4_t, n: float32x4_t) -> float32x4_t {
            let bits = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
            vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32::<23>(bits)))
        }
        /// `frecpe` (8 bits) and two Newton steps (`frecps`).
        #[inline(always)]
        unsafe fn recip(d: float32x4_t) -> float32x4_t {
            let r = vrecpeq_f32(d);
            let r = vmulq_f32(r, vrecpsq_f32(d, r));
            vmulq_f32(r, vrecpsq_f32(d, r))
        }
        #[inline(always)]
        unsafe fn hsum(v: float32x4_t) -> f32 {
            vaddvq_f32(v)
        }
        #[inline(always)]
        unsafe fn hmax(v: float32x4_t) -> f32 {
            vmaxvq_f32(v)
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::cpu::{available, Feature};

    /// Applies `f` lane-wise over `x` with ISA `S` (only for `x.len()` a multiple of 16).
    macro_rules! apply {
        ($S:ty, $name:ident, $tf:literal) => {
            #[target_feature(enable = $tf)]
            unsafe fn $name(x: &[f32], f: u8) -> Vec<f32> {
                let mut out = vec![0.0f32; x.len()];
                for (i, o) in x.chunks(<$S>::LANES).zip(out.chunks_mut(<$S>::LANES)) {
                    // SAFETY: the caller checked the ISA; both chunks hold LANES elements.
                    unsafe {
                        let v = <$S>::load(i.as_ptr());
                        let r = match f {
                            0 => exp::<$S>(v),
                            1 => half_erfc_scaled::<$S>(v).0,
                            2 => exp2::<$S>(v),
                            _ => <$S>::recip(v),
                        };
                        <$S>::store(o.as_mut_ptr(), r);
                    }
                }
                out
            }
        };
    }
    apply!(Avx2, apply_avx2, "avx2,fma");
    apply!(Avx512, apply_avx512, "avx512f");

    fn run(x: &[f32], f: u8) -> Vec<(&'static str, Vec<f32>)> {
        let mut v = Vec::new();
        if available(Feature::Avx2) {
            // SAFETY: AVX2 and FMA are available.
            v.push(("avx2", unsafe { apply_avx2(x, f) }));
        }
        if available(Feature::Avx512) {
            // SAFETY: AVX-512F is available.
            v.push(("avx512", unsafe { apply_avx512(x, f) }));
        }
        v
    }

    /// Relative error in units of ulp(1) = 2⁻²³.
    fn rel_ulps(got: f32, want: f64) -> f64 {
        (got as f64 - want).abs() / want / f32::EPSILON as f64
    }

    #[test]
    fn exp_accuracy_and_specials() {
        let x: Vec<f32> = (0..87_312 * 16 / 16).map(|i| -(i as f32) * 1e-3).collect();
        let x = &x[..x.len() / 16 * 16];
        for (name, y) in run(x, 0) {
            let worst = x
                .iter()
                .zip(&y)
                .map(|(&a, &b)| rel_ulps(b, (a as f64).exp()));
            let worst = worst.fold(0.0, f64::max);
            println!("exp/{name}: max relative error on [-87.3, 0]: {worst:.2} ulp");
            assert!(worst <= 2.0, "{name}: {worst}");
        }
        let mut s = [
            f32::NEG_INFINITY,
            f32::NAN,
            -1e30,
            -87.4,
            0.0,
            -0.0,
            88.0,
            1.0,
        ];
        s[7] = -103.0;
        let s: Vec<f32> = s.iter().chain(s.iter()).copied().collect();
        for (name, y) in run(&s, 0) {
            assert_eq!(y[0], 0.0, "{name}: exp(-inf)");
            assert!(y[1].is_nan(), "{name}: exp(NaN)");
            assert_eq!(y[2], 0.0, "{name}");
            assert_eq!(y[3], 0.0, "{name}: flushed below ln(2^-126)");
            assert_eq!((y[4], y[5]), (1.0, 1.0), "{name}");
            assert!(
                rel_ulps(y[6], 88f64.exp()) <= 2.0,
                "{name}: exp(88) = {}",
                y[6]
            );
            assert_eq!(y[7], 0.0, "{name}");
        }
    }

    #[test]
    fn exp2_accuracy_and_specials() {
        // A priori: the fit (1.3·2⁻²⁴ in f32 Horner, measured offline) and the exact scaling:
        // ≤ 1 ulp of 2⁻²³. Checked on a dense grid over the whole normal range.
        let w: Vec<f32> = (0..252_000).map(|i| -126.0 + i as f32 * 1e-3).collect();
        let w = &w[..w.len() / 16 * 16];
        for (name, y) in run(w, 2) {
            let worst = w
                .iter()
                .zip(&y)
                .map(|(&a, &b)| rel_ulps(b, (a as f64).exp2()))
                .fold(0.0, f64::max);
            println!("exp2/{name}: max relative error on [-126, 126]: {worst:.2} ulp");
            assert!(worst <= 1.0, "{name}: {worst}");
        }
        let s = [
            f32::NEG_INFINITY,
            f32::NAN,
            -1e30,
            -126.5,
            0.0,
            -0.0,
            127.0,
            -126.0,
        ];
        let s: Vec<f32> = s.iter().chain(s.iter()).copied().collect();
        for (name, y) in run(&s, 2) {
            assert_eq!(y[0], 0.0, "{name}: 2^-inf");
            assert!(y[1].is_nan(), "{name}: 2^NaN");
            assert_eq!((y[2], y[3]), (0.0, 0.0), "{name}: flushed below -126");
            assert_eq!((y[4], y[5]), (1.0, 1.0), "{name}");
            assert!(rel_ulps(y[6], 127f64.exp2()) <= 1.0, "{name}: 2^127");
            assert!(rel_ulps(y[7], (-126f64).exp2()) <= 1.0, "{name}: 2^-126");
        }
    }

    #[test]
    fn recip_accuracy() {
        // One Newton step from a 12-bit (AVX2) or 14-bit (AVX-512) estimate: ≈ 3·(2⁻¹²)²
        // relative before the two final roundings, so within 2 ulp of 2⁻²³; sampled over the
        // range the sigmoid uses (1 + e, e ∈ [0, 2⁹⁶]) and a few binades besides (2⁻⁸…2¹⁰⁰).
        let d: Vec<f32> = (0..108_000)
            .map(|i| 2f32.powf(-8.0 + i as f32 * 1e-3))
            .collect();
        let d = &d[..d.len() / 16 * 16];
        for (name, y) in run(d, 3) {
            let worst = d
                .iter()
                .zip(&y)
                .map(|(&a, &b)| rel_ulps(b, 1.0 / a as f64))
                .fold(0.0, f64::max);
            println!("recip/{name}: max relative error: {worst:.2} ulp");
            assert!(worst <= 2.0, "{name}: {worst}");
        }
    }

    #[test]
    fn half_erfc_accuracy() {
        // ½·erfc(a/√2) for a ∈ [0, 13]: relative error, where it is a normal number.
        let a: Vec<f32> = (0..13_008).map(|i| i as f32 * 1e-3).collect();
        for (name, y) in run(&a, 1) {
            let mut worst = 0.0f64;
            for (&ai, &yi) in a.iter().zip(&y) {
                let want = 0.5 * libm::erfc(ai as f64 / std::f64::consts::SQRT_2);
                if want > f32::MIN_POSITIVE as f64 {
                    // A priori: the fit (1.2e-7 ≈ 1 ulp), the f32 Horner sum of coefficients
                    // whose magnitudes add up to 6.8 (≤ 6.8 ulp absolute in the exponent, so
                    // relative in the result), exp (≤ 2) and the product (1): 11 ulp; plus the
                    // f32 argument z² = a²/2, whose rounding alone moves the result by ≈ a²/2 ulp.
                    let allowed = 11.0 + (ai as f64).powi(2);
                    let e = rel_ulps(yi, want);
                    worst = worst.max(e / allowed);
                }
            }
            println!("half_erfc/{name}: max relative error / (11 + a²) ulp: {worst:.2}");
            assert!(worst <= 1.0, "{name}: {worst}");
        }
    }
}
