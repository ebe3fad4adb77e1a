//! Machine probes for roofline studies: a pure FMA loop (for the compute roof) and a SIMD
//! read-sum (for the read-bandwidth roofs). They compute nothing useful; they exist so a
//! study can time them. Like every kernel here they never allocate, do no I/O and no timing
//! (the caller times them), and reach their `#[target_feature]` code only through a safe
//! wrapper that called [`cpu::require`].

use crate::cpu::{self, Feature};
use crate::Result;

/// Independent accumulators of the FMA loop: FMA latency (4 cycles on Zen 4, Ice Lake and
/// later) × 2 pipes needs at least 8 in flight; 12 leave headroom and still fit in the 16 ymm
/// registers of AVX2 with the two constants.
pub const FMA_ACCUMULATORS: usize = 12;

/// f32 lanes of one vector for `feature` (`None` when the probe does not cover it).
fn lanes(feature: Feature) -> Option<usize> {
    match feature {
        Feature::Avx512 => Some(16),
        Feature::Avx2 => Some(8),
        Feature::Neon => None,
    }
}

/// Floating-point operations (an FMA counts 2) that [`fma_loop`]`(feature, iters)` performs,
/// saturating at `u64::MAX` for counts too large to represent.
pub fn fma_flops(feature: Feature, iters: usize) -> u64 {
    lanes(feature).map_or(0, |l| {
        ((2 * FMA_ACCUMULATORS * l) as u64).saturating_mul(iters as u64)
    })
}

fn unsupported(feature: Feature) -> crate::KernelError {
    crate::KernelError::Unsupported {
        feature,
        reason: "the probe has no loop for this feature".into(),
    }
}

/// Runs `iters` steps of [`FMA_ACCUMULATORS`] independent vector FMAs with `feature`'s vector
/// width (AVX-512 or AVX2+FMA) and returns a checksum (so the loop is not optimised away).
/// Values stay bounded (x ← 0.999·x + 0.001 from `seed + i/16`, with `seed` in [0, 1]), so no
/// denormals or infinities slow it down. The seed comes from the caller so the compiler cannot
/// fold the loop (from a constant start it would reach a fixed point it can compute).
pub fn fma_loop(feature: Feature, iters: usize, seed: f32) -> Result<f32> {
    cpu::require(feature)?;
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            // SAFETY: `cpu::require` confirmed AVX-512F; the loop touches no memory.
            Feature::Avx512 => Ok(unsafe { imp::fma512(iters, seed) }),
            // SAFETY: `cpu::require` confirmed AVX2 and FMA; the loop touches no memory.
            Feature::Avx2 => Ok(unsafe { imp::fma256(iters, seed) }),
            Feature::Neon => Err(unsupported(feature)),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (iters, seed);
        Err(unsupported(feature))
    }
}

/// The sum of `x` computed with `feature`'s widest loads and 8 independent accumulators (a
/// read-bandwidth probe: the result's rounding differs from a sequential sum).
pub fn read_sum(feature: Feature, x: &[f32]) -> Result<f32> {
    cpu::require(feature)?;
    #[cfg(target_arch = "x86_64")]
    {
        match feature {
            // SAFETY: `cpu::require` confirmed AVX-512F; `x` is a valid slice.
            Feature::Avx512 => Ok(unsafe { imp::sum512(x) }),
            // SAFETY: `cpu::require` confirmed AVX2; `x` is a valid slice.
            Feature::Avx2 => Ok(unsafe { imp::sum256(x) }),
            Feature::Neon => Err(unsupported(feature)),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = x;
        Err(unsupported(feature))
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::FMA_ACCUMULATORS as N;
    use crate::simd_math::{Avx2, Avx512, Simd};
    use std::arch::x86_64::*;

    /// Elements before the first 64-byte boundary of `x`: the vector loop starts there, so no
    /// load splits a cache line (split loads halve the L1 bandwidth of 512-bit loads on Zen 4).
    fn head_len(x: &[f32]) -> usize {
        let misalign = x.as_ptr() as usize % 64;
        if misalign == 0 {
            0
        } else {
            (64 - misalign) / 4
        }
    }

    /// The FMA loop written once over `S`: [`N`] accumulators from `seed + i/16`, `iters`
    /// steps of `x ← 0.999·x + 0.001` each, added together and reduced to an f32 by `hsum`
    /// (each ISA keeps its own horizontal sum, so the checksums are those it always gave).
    ///
    /// # Safety
    /// As for [`Simd`]: the CPU supports `S`.
    #[inline(always)]
    unsafe fn fma_with<S: Simd>(iters: usize, seed: f32, hsum: impl FnOnce(S::V) -> f32) -> f32 {
        // SAFETY: the caller promised `S`'s ISA; these operations touch no memory.
        unsafe {
            let m = S::splat(0.999);
            let a = S::splat(0.001);
            let mut acc: [S::V; N] = std::array::from_fn(|i| S::splat(seed + i as f32 / 16.0));
            for _ in 0..iters {
                for r in acc.iter_mut() {
                    *r = S::fma(*r, m, a);
                }
            }
            let mut s = S::splat(0.0);
            for r in acc {
                s = S::add(s, r);
            }
            hsum(s)
        }
    }

    /// The read-sum written once over `S`: the elements before the first 64-byte boundary and
    /// after the last whole block summed in scalar, the rest through `U = 8` vector
    /// accumulators whose sum `hsum` reduces (each ISA keeps its own horizontal sum).
    ///
    /// # Safety
    /// As for [`Simd`]: the CPU supports `S`.
    #[inline(always)]
    unsafe fn sum_with<S: Simd>(x: &[f32], hsum: impl FnOnce(S::V) -> f32) -> f32 {
        const U: usize = 8;
        let (head, x) = x.split_at(head_len(x).min(x.len()));
        // SAFETY: the caller promised `S`'s ISA; `splat` touches no memory.
        let mut acc = [unsafe { S::splat(0.0) }; U];
        let mut chunks = x.chunks_exact(S::LANES * U);
        for ch in &mut chunks {
            for (u, r) in acc.iter_mut().enumerate() {
                // SAFETY: `ch` holds LANES·U floats, so lanes LANES·u..LANES·(u+1) are in
                // bounds; the caller promised `S`'s ISA.
                *r = unsafe { S::add(*r, S::load(ch.as_ptr().add(S::LANES * u))) };
            }
        }
        // SAFETY: the caller promised `S`'s ISA; these operations touch no memory.
        let s = unsafe { acc.into_iter().fold(S::splat(0.0), |s, r| S::add(s, r)) };
        hsum(s) + chunks.remainder().iter().sum::<f32>() + head.iter().sum::<f32>()
    }

    /// The sum of `v`'s 8 lanes in order, through memory: the AVX2 probes' horizontal sum.
    #[inline(always)]
    fn sum256_in_order(v: __m256) -> f32 {
        let mut out = [0.0f32; 8];
        // SAFETY: `out` holds 8 floats; `__m256` values exist only where AVX is available.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        out.iter().sum()
    }

    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fma512(iters: usize, seed: f32) -> f32 {
        // SAFETY: AVX-512F is enabled here and available (the caller's promise).
        unsafe { fma_with::<Avx512>(iters, seed, |v| _mm512_reduce_add_ps(v)) }
    }

    /// # Safety
    /// AVX2 and FMA must be available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fma256(iters: usize, seed: f32) -> f32 {
        // SAFETY: AVX2 and FMA are enabled here and available (the caller's promise).
        unsafe { fma_with::<Avx2>(iters, seed, sum256_in_order) }
    }

    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sum512(x: &[f32]) -> f32 {
        // SAFETY: AVX-512F is enabled here and available (the caller's promise).
        unsafe { sum_with::<Avx512>(x, |v| _mm512_reduce_add_ps(v)) }
    }

    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sum256(x: &[f32]) -> f32 {
        // SAFETY: AVX2 is enabled here and available (the caller's promise).
        unsafe { sum_with::<Avx2>(x, sum256_in_order) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_agree_with_scalar_code() {
        let x: Vec<f32> = (0..1000).map(|i| (i % 7) as f32).collect();
        let exact: f32 = x.iter().sum();
        for f in [Feature::Avx2, Feature::Avx512] {
            match read_sum(f, &x) {
                Ok(s) => assert_eq!(s, exact, "{f}"),
                Err(e) => assert!(!cpu::available(f), "{e}"),
            }
            match fma_loop(f, 100, 0.5) {
                Ok(s) => assert!(s.is_finite() && s > 0.0, "{f}: {s}"),
                Err(e) => assert!(!cpu::available(f), "{e}"),
            }
        }
        assert_eq!(fma_flops(Feature::Avx512, 10), 2 * 12 * 16 * 10);
    }
}
