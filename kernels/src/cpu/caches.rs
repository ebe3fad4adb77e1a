//! Cache facts read from the CPU itself, for the SGEMM blocking model
//! ([`crate::matmul::blocking::model`]).
//!
//! The kernels crate does no I/O, so it cannot read `/sys`; but CPUID is an instruction. On
//! x86_64 the *deterministic cache parameters* leaf describes every cache level: leaf 4 on
//! Intel, leaf `0x8000_001D` on AMD and Hygon (present when CPUID `0x8000_0001` ECX bit 22,
//! TopologyExtensions, is set; leaf 4 is reserved there). Each sub-leaf gives a cache's
//! type and level, its ways, partitions, line size and sets (size = ways · partitions ·
//! line · sets) and how many logical processors share it.
//!
//! # Fallbacks
//! A level that cannot be read (no such leaf, a hypervisor that zeroes it, a value that fails
//! the sanity checks of [`CacheLevel`]) takes the matching [`FALLBACK`] value, marked
//! [`CacheSource::Fallback`]: L1d 32 KiB 8-way, L2 512 KiB 8-way (both private), L3 8 MiB
//! 16-way shared by 4 cores, 64-byte lines. That is a small recent x86 core (Zen 3 has
//! exactly these L1d and L2), so blocking derived from it is safe, if not best, on larger
//! caches. On aarch64 (and any other target) there is no CPUID and every level is the
//! fallback (the NEON kernel is not blocked by this model). When CPUID enumerates the caches
//! but lists no L3, there is none (`l3` is `None`), as on cores whose last level is the L2.
//!
//! # Sharing
//! CPUID reports the *logical processors* sharing a cache; [`CacheLevel::shared_by`] is in
//! cores: that count divided by the L1d's (the threads of one core, 2 with SMT). On Intel
//! the count is "the maximum number of addressable IDs", a power of two that can exceed the
//! cores actually present, so the L3 share per core can be underestimated there; the model
//! only uses it to size NC, which has a floor. A hypervisor reports whatever it was told (a
//! 2-vCPU guest on a Zen 4 reports its 32 MiB L3 shared by 2).

use std::sync::OnceLock;

/// Where a [`CacheLevel`]'s facts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheSource {
    /// Read from CPUID on this machine.
    Cpuid,
    /// CPUID could not tell; the documented fallback (see the module docs).
    Fallback,
    /// Built by a caller with [`CacheLevel::new`] (tests, what-if studies).
    Given,
}

/// One cache level (one instance of it, e.g. one core's L2 or one CCX's L3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheLevel {
    /// Capacity in bytes.
    pub size: usize,
    /// Associativity (ways per set); `size / line` for a fully associative cache.
    pub ways: usize,
    /// Line size in bytes.
    pub line: usize,
    /// Cores sharing this instance (1 = private to a core).
    pub shared_by: usize,
    /// Where the facts came from.
    pub source: CacheSource,
}

impl CacheLevel {
    /// A level with these facts, marked [`CacheSource::Given`]. Zeroes are raised to 1 so the
    /// derived quantities never divide by zero.
    pub const fn new(size: usize, ways: usize, line: usize, shared_by: usize) -> CacheLevel {
        const fn at_least_1(x: usize) -> usize {
            if x == 0 {
                1
            } else {
                x
            }
        }
        CacheLevel {
            size: at_least_1(size),
            ways: at_least_1(ways),
            line: at_least_1(line),
            shared_by: at_least_1(shared_by),
            source: CacheSource::Given,
        }
    }

    /// Bytes of one way (sets · line): what a block occupying one way of every set holds.
    pub fn way_bytes(&self) -> usize {
        (self.size / self.ways.max(1)).max(1)
    }

    /// Bytes per sharing core, `size / shared_by`.
    pub fn per_core(&self) -> usize {
        self.size / self.shared_by.max(1)
    }

    /// Ways of this cache that `bytes` of contiguous data occupy in every set (rounded up).
    pub fn ways_for(&self, bytes: usize) -> usize {
        bytes.div_ceil(self.way_bytes())
    }

    /// Whether the facts are plausible for a data cache: a power-of-two line of 16..=1024
    /// bytes, 1..=256 ways, at least one line per way and 1 KiB..=4 GiB in all.
    fn plausible(&self) -> bool {
        self.line.is_power_of_two()
            && (16..=1024).contains(&self.line)
            && (1..=256).contains(&self.ways)
            && self.size >= 1024
            && self.size as u64 <= 1 << 32
            && self.size / self.ways >= self.line
            && self.shared_by >= 1
    }
}

/// The data-cache hierarchy the blocking model sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Caches {
    /// Level-1 data cache.
    pub l1d: CacheLevel,
    /// Level-2 cache (unified).
    pub l2: CacheLevel,
    /// Level-3 cache, `None` where there is none.
    pub l3: Option<CacheLevel>,
}

/// What [`caches`] reports for a level CPUID cannot describe (see the module docs).
pub const FALLBACK: Caches = Caches {
    l1d: CacheLevel {
        size: 32 << 10,
        ways: 8,
        line: 64,
        shared_by: 1,
        source: CacheSource::Fallback,
    },
    l2: CacheLevel {
        size: 512 << 10,
        ways: 8,
        line: 64,
        shared_by: 1,
        source: CacheSource::Fallback,
    },
    l3: Some(CacheLevel {
        size: 8 << 20,
        ways: 16,
        line: 64,
        shared_by: 4,
        source: CacheSource::Fallback,
    }),
};

/// This machine's data caches, read from CPUID once (the first call) and then cached; levels
/// CPUID cannot describe are the [`FALLBACK`] values, marked as such.
pub fn caches() -> &'static Caches {
    static CACHES: OnceLock<Caches> = OnceLock::new();
    CACHES.get_or_init(|| from_cpu().unwrap_or(FALLBACK))
}

/// One enumerated cache: (level, is data or unified, facts with `shared_by` in logical
/// processors).
#[allow(dead_code)] // Built only on x86_64.
struct Raw {
    level: u32,
    kind: u32,
    facts: CacheLevel,
}

/// Assembles the hierarchy from an enumeration: data (1) or unified (3) caches of levels 1–3,
/// implausible entries dropped, sharing converted from threads to cores, missing L1d or L2
/// taken from the fallback. `None` when nothing was enumerated.
#[allow(dead_code)] // Used only on x86_64 (and by the tests).
fn assemble(raw: &[Raw]) -> Option<Caches> {
    if raw.is_empty() {
        return None;
    }
    let find = |level: u32| {
        raw.iter()
            .find(|r| r.level == level && (r.kind == 1 || r.kind == 3) && r.facts.plausible())
            .map(|r| r.facts)
    };
    let (l1, l2, l3) = (find(1), find(2), find(3));
    // Threads per core: the L1d is private to a core and shared by its SMT threads.
    let threads = l1.map_or(1, |c| c.shared_by.max(1));
    let cores = |c: CacheLevel| CacheLevel {
        shared_by: (c.shared_by / threads).max(1),
        source: CacheSource::Cpuid,
        ..c
    };
    Some(Caches {
        l1d: l1.map_or(FALLBACK.l1d, cores),
        l2: l2.map_or(FALLBACK.l2, cores),
        l3: l3.map(cores),
    })
}

/// The hierarchy from CPUID's deterministic cache parameters; `None` when the CPU has no such
/// leaf.
#[cfg(target_arch = "x86_64")]
fn from_cpu() -> Option<Caches> {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // CPUID exists on every x86_64 CPU (it is safe to execute, and `std` exposes it as a safe
    // function); the leaves used are checked against the reported maxima first.
    let vendor = __cpuid(0);
    let max_basic = vendor.eax;
    let max_ext = __cpuid(0x8000_0000).eax;
    // "AuthenticAMD" and "HygonGenuine": EBX holds the first four bytes of the vendor string.
    let amd_like = vendor.ebx == 0x6874_7541 || vendor.ebx == 0x6f67_7948;
    let leaf = if amd_like {
        let topoext = max_ext >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 22) != 0;
        if !(topoext && max_ext >= 0x8000_001D) {
            return None;
        }
        0x8000_001D
    } else if max_basic >= 4 {
        4
    } else {
        return None;
    };
    let mut raw = Vec::new();
    for sub in 0..32 {
        let r = __cpuid_count(leaf, sub);
        let kind = r.eax & 0x1f;
        if kind == 0 {
            break;
        }
        let ways = ((r.ebx >> 22) & 0x3ff) as usize + 1;
        let parts = ((r.ebx >> 12) & 0x3ff) as usize + 1;
        let line = (r.ebx & 0xfff) as usize + 1;
        let sets = r.ecx as usize + 1;
        let fully = r.eax & (1 << 9) != 0;
        let threads = ((r.eax >> 14) & 0xfff) as usize + 1;
        // The fields allow products up to 2⁶⁴ (a hypervisor can report anything): checked.
        let size = ways
            .checked_mul(parts)
            .and_then(|x| x.checked_mul(line))
            .and_then(|x| x.checked_mul(sets));
        let Some(size) = size else { continue };
        raw.push(Raw {
            level: (r.eax >> 5) & 0x7,
            kind,
            facts: CacheLevel {
                size,
                ways: if fully { size / line } else { ways },
                line,
                shared_by: threads,
                source: CacheSource::Cpuid,
            },
        });
    }
    assemble(&raw)
}

/// No CPUID off x86_64: every level is the fallback.
#[cfg(not(target_arch = "x86_64"))]
fn from_cpu() -> Option<Caches> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(level: u32, kind: u32, size: usize, ways: usize, threads: usize) -> Raw {
        Raw {
            level,
            kind,
            facts: CacheLevel {
                size,
                ways,
                line: 64,
                shared_by: threads,
                source: CacheSource::Cpuid,
            },
        }
    }

    #[test]
    fn enumeration_becomes_a_hierarchy_in_cores() {
        // A Zen 3 CCD with SMT: L1i, L1d and L2 shared by 2 threads, L3 by 16.
        let c = assemble(&[
            raw(1, 1, 32 << 10, 8, 2),
            raw(1, 2, 32 << 10, 8, 2),
            raw(2, 3, 512 << 10, 8, 2),
            raw(3, 3, 32 << 20, 16, 16),
        ])
        .unwrap();
        assert_eq!((c.l1d.size, c.l1d.ways, c.l1d.shared_by), (32 << 10, 8, 1));
        assert_eq!((c.l2.size, c.l2.shared_by), (512 << 10, 1));
        let l3 = c.l3.unwrap();
        assert_eq!(
            (l3.size, l3.ways, l3.shared_by, l3.per_core()),
            (32 << 20, 16, 8, 4 << 20)
        );
        assert_eq!(c.l1d.source, CacheSource::Cpuid);
    }

    #[test]
    fn missing_or_implausible_levels_fall_back() {
        // No L2 reported, an L1d of 0 ways (dropped): both fall back; no L3 means none.
        let c = assemble(&[raw(1, 1, 32 << 10, 0, 1), raw(1, 2, 32 << 10, 8, 1)]).unwrap();
        assert_eq!(c.l1d, FALLBACK.l1d);
        assert_eq!(c.l2, FALLBACK.l2);
        assert_eq!(c.l3, None);
        assert_eq!(assemble(&[]), None);
    }

    #[test]
    fn this_machine_reports_something_usable() {
        let c = caches();
        for l in [c.l1d, c.l2].into_iter().chain(c.l3) {
            assert!(l.plausible(), "{l:?}");
        }
        assert!(c.l2.size >= c.l1d.size, "{c:?}");
        assert!(std::ptr::eq(c, caches()), "read once");
    }

    #[test]
    fn derived_quantities() {
        let l2 = CacheLevel::new(1 << 20, 16, 64, 1);
        assert_eq!(l2.way_bytes(), 64 << 10);
        assert_eq!(l2.ways_for(1), 1);
        assert_eq!(l2.ways_for(64 << 10), 1);
        assert_eq!(l2.ways_for((64 << 10) + 1), 2);
        let zero = CacheLevel::new(0, 0, 0, 0);
        assert_eq!((zero.way_bytes(), zero.per_core()), (1, 1));
    }
}
