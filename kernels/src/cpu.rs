//! CPU feature detection with a run-time mask.
//!
//! [`available`] is true only when the hardware has a feature *and* it is not masked. The mask
//! comes from the `KERNELS_DISABLE` environment variable (a comma-separated list such as
//! `avx512,avx2`, read once) and from [`disable`], so test suites can exercise the fallback
//! paths on a machine that has every feature.
//!
//! [`caches`] describes the data caches (size, ways, line, sharing) from CPUID, for the
//! SGEMM blocking model.

mod caches;

pub use caches::{caches, CacheLevel, CacheSource, Caches, FALLBACK as FALLBACK_CACHES};

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A CPU feature set that some kernel needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// x86_64 AVX2 together with FMA3.
    Avx2,
    /// x86_64 AVX-512 Foundation (the kernels use only AVX-512F instructions).
    Avx512,
    /// aarch64 Advanced SIMD.
    Neon,
}

impl Feature {
    /// Every feature, in a fixed order.
    pub const ALL: [Feature; 3] = [Feature::Avx2, Feature::Avx512, Feature::Neon];

    /// The short name used in variant ids, tables and `KERNELS_DISABLE`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Avx2 => "avx2",
            Feature::Avx512 => "avx512",
            Feature::Neon => "neon",
        }
    }

    /// Parses a short name (`avx2`, `avx512`, `neon`), case-insensitively.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the hardware (and OS) supports `feature`, ignoring the mask.
pub fn in_hardware(feature: Feature) -> bool {
    match feature {
        #[cfg(target_arch = "x86_64")]
        Feature::Avx2 => {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(target_arch = "x86_64")]
        Feature::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
        #[cfg(target_arch = "aarch64")]
        Feature::Neon => std::arch::is_aarch64_feature_detected!("neon"),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

static RUNTIME_MASK: AtomicU32 = AtomicU32::new(0);

fn env_mask() -> u32 {
    static MASK: OnceLock<u32> = OnceLock::new();
    *MASK.get_or_init(|| {
        let Ok(list) = std::env::var("KERNELS_DISABLE") else {
            return 0;
        };
        let mut mask = 0;
        for name in list.split(',').filter(|s| !s.trim().is_empty()) {
            match Feature::from_name(name) {
                Some(f) => mask |= f.bit(),
                None => eprintln!(
                    "warning: KERNELS_DISABLE names unknown feature `{}` (known: avx2, avx512, neon); ignored",
                    name.trim()
                ),
            }
        }
        mask
    })
}

/// Whether `feature` is masked, by `KERNELS_DISABLE` or by [`disable`].
pub fn masked(feature: Feature) -> bool {
    (env_mask() | RUNTIME_MASK.load(Ordering::Relaxed)) & feature.bit() != 0
}

/// Masks `feature` for the rest of the process. There is deliberately no way to unmask.
pub fn disable(feature: Feature) {
    RUNTIME_MASK.fetch_or(feature.bit(), Ordering::Relaxed);
}

/// Whether kernels needing `feature` may run: present in hardware and not masked.
#[inline]
pub fn available(feature: Feature) -> bool {
    !masked(feature) && in_hardware(feature)
}

/// Why `feature` is unavailable, or `None` when it is available.
pub fn unavailable_reason(feature: Feature) -> Option<String> {
    if !in_hardware(feature) {
        Some(format!(
            "this CPU ({}) lacks {feature}",
            std::env::consts::ARCH
        ))
    } else if masked(feature) {
        Some(format!(
            "{feature} is masked (KERNELS_DISABLE or cpu::disable)"
        ))
    } else {
        None
    }
}

/// `Ok(())` when `feature` may be used, else [`crate::KernelError::Unsupported`]. Every safe
/// wrapper around a `#[target_feature]` function calls this first.
#[inline]
pub fn require(feature: Feature) -> crate::Result<()> {
    if available(feature) {
        Ok(())
    } else {
        Err(crate::KernelError::Unsupported {
            feature,
            reason: unavailable_reason(feature).unwrap_or_default(),
        })
    }
}

/// The names of the available features, for reports and fingerprints.
pub fn available_names() -> Vec<&'static str> {
    Feature::ALL
        .into_iter()
        .filter(|f| available(*f))
        .map(Feature::name)
        .collect()
}
