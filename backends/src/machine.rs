//! What machine this is: architecture, CPU model, features, threads and cache sizes, and a
//! fingerprint derived from them that a dispatch table records.

use serde::{Deserialize, Serialize};

/// Cache sizes in bytes (per core for L1d and L2), where the OS reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Caches {
    pub l1d: Option<u64>,
    pub l2: Option<u64>,
    pub l3: Option<u64>,
}

/// The machine a table was tuned on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub arch: String,
    pub cpu: String,
    /// Hardware features (not affected by `KERNELS_DISABLE`).
    pub features: Vec<String>,
    pub threads: usize,
    pub caches: Caches,
    pub fingerprint: String,
}

impl Machine {
    /// This machine, read from the CPU and `/sys` (missing facts stay `None` or "unknown").
    pub fn detect() -> Machine {
        let arch = std::env::consts::ARCH.to_string();
        let cpu = cpu_model().unwrap_or_else(|| "unknown".into());
        let features: Vec<String> = kernels::cpu::Feature::ALL
            .into_iter()
            .filter(|f| kernels::cpu::in_hardware(*f))
            .map(|f| f.name().to_string())
            .collect();
        let threads = crate::threads::available();
        let cpu_caches = kernels::cpu::caches();
        let caches = Caches {
            l1d: cache_size(1, "Data").or_else(|| cpuid_cache(&cpu_caches.l1d)),
            l2: cache_size(2, "Unified").or_else(|| cpuid_cache(&cpu_caches.l2)),
            l3: cache_size(3, "Unified").or_else(|| cpu_caches.l3.as_ref().and_then(cpuid_cache)),
        };
        let fingerprint = fingerprint(&arch, &cpu, &features, threads, &caches);
        Machine {
            arch,
            cpu,
            features,
            threads,
            caches,
            fingerprint,
        }
    }
}

/// `arch-<16 hex digits>` over the facts that decide which variant wins.
pub fn fingerprint(
    arch: &str,
    cpu: &str,
    features: &[String],
    threads: usize,
    c: &Caches,
) -> String {
    let facts = format!(
        "{arch}|{cpu}|{}|{threads}|{:?}|{:?}|{:?}",
        features.join(","),
        c.l1d,
        c.l2,
        c.l3
    );
    format!("{arch}-{}", checksum(std::iter::once(facts.as_str())))
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| {
            l.starts_with("model name") || l.starts_with("Model") || l.starts_with("CPU part")
        })
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
}

fn cache_size(level: u32, kind: &str) -> Option<u64> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    for entry in dir.flatten() {
        let p = entry.path();
        let read = |name: &str| {
            std::fs::read_to_string(p.join(name))
                .ok()
                .map(|s| s.trim().to_string())
        };
        if read("level")?.parse::<u32>().ok()? == level && read("type")? == kind {
            let size = read("size")?;
            let (num, mult) = match size.chars().last()? {
                'K' => (&size[..size.len() - 1], 1024),
                'M' => (&size[..size.len() - 1], 1024 * 1024),
                _ => (&size[..], 1),
            };
            return num.parse::<u64>().ok().map(|n| n * mult);
        }
    }
    None
}

/// A cache's size as CPUID reported it to [`kernels::cpu::caches`] (deterministic cache
/// parameters: leaf 4 on Intel, 0x8000_001D on AMD), for VMs whose `/sys` has no cache
/// directory; `None` where kernels fell back to its defaults (no CPUID, e.g. off x86_64).
fn cpuid_cache(level: &kernels::cpu::CacheLevel) -> Option<u64> {
    (level.source == kernels::cpu::CacheSource::Cpuid).then_some(level.size as u64)
}

/// FNV-1a 64 over the given strings, each followed by a newline, as 16 hex digits.
pub fn checksum<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in items {
        for b in s.bytes().chain(std::iter::once(b'\n')) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
