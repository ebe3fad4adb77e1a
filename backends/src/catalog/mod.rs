//! The catalog: every variant this build offers, with a stable id, and whether it can run here.
//!
//! A **variant** is an implementation of an op × a memory strategy × a thread count, named
//! `op/implementation/memory/tN` (for example `matmul/avx512/pooled/t1`). Implementations are
//! listed once in [`registry`]; the catalog expands them over the memory strategies the op
//! allows and over the thread counts of this machine.

mod kernel;
pub mod registry;

pub use kernel::*;

use crate::op::Op;
use crate::spec::Registered;
use crate::threads;
use kernels::cpu::{self, Feature};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

/// How a variant obtains the memory it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Memory {
    /// Output and scratch come from the size-class pool and go back to it.
    Pooled,
    /// Output and scratch are fresh allocations on every call.
    Direct,
    /// The output overwrites the first input (only ops with an in-place form).
    InPlace,
}

impl Memory {
    pub const ALL: [Memory; 3] = [Memory::Pooled, Memory::Direct, Memory::InPlace];

    pub fn name(self) -> &'static str {
        match self {
            Memory::Pooled => "pooled",
            Memory::Direct => "direct",
            Memory::InPlace => "inplace",
        }
    }

    pub fn from_name(name: &str) -> Option<Memory> {
        Memory::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// One implementation of one op, as registered.
#[derive(Debug, Clone, Copy)]
pub struct Impl {
    /// Short name: `naive`, `tiled`, `avx2`, `avx512`, `neon`, `gemm`, `matrixmultiply`
    /// (and `openblas` with that feature).
    pub name: &'static str,
    /// The CPU feature it needs, if any.
    pub requires: Option<Feature>,
    pub kernel: Kernel,
}

impl Impl {
    /// One implementation of the op `S`: `kernel` has `S`'s kernel type, so a kernel cannot
    /// be registered under another op.
    pub fn new<S: Registered>(
        name: &'static str,
        requires: Option<Feature>,
        kernel: S::Kernel,
    ) -> Impl {
        Impl {
            name,
            requires,
            kernel: S::wrap(kernel),
        }
    }

    /// The op this implementation computes.
    pub fn op(&self) -> Op {
        self.kernel.op()
    }
}

/// Index of a variant in [`catalog()`]; valid for this process only (ids are the stable names).
pub type VariantIndex = u32;

/// One entry of the catalog.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Stable id, `op/implementation/memory/tN`.
    pub id: String,
    pub op: Op,
    pub implementation: &'static str,
    pub memory: Memory,
    pub threads: usize,
    pub requires: Option<Feature>,
    pub kernel: Kernel,
}

impl Variant {
    /// `Ok` when this variant can run on this CPU now, else why not.
    pub fn runnable(&self) -> Result<(), String> {
        match self.requires {
            Some(f) => cpu::unavailable_reason(f).map_or(Ok(()), Err),
            None => Ok(()),
        }
    }

    /// Whether this is the op's reference (naive, direct, one thread).
    pub fn is_reference(&self) -> bool {
        self.implementation == "naive" && self.memory == Memory::Direct && self.threads == 1
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// The variant id for its parts.
pub fn variant_id(op: Op, implementation: &str, memory: Memory, threads: usize) -> String {
    format!(
        "{}/{}/{}/t{}",
        op.name(),
        implementation,
        memory.name(),
        threads
    )
}

/// Splits a variant id into (op, implementation, memory, threads); `None` if malformed.
pub fn parse_id(id: &str) -> Option<(Op, &str, Memory, usize)> {
    let mut parts = id.split('/');
    let op = Op::from_name(parts.next()?)?;
    let imp = parts.next()?;
    let memory = Memory::from_name(parts.next()?)?;
    let threads = parts.next()?.strip_prefix('t')?.parse().ok()?;
    if parts.next().is_some() || imp.is_empty() || threads == 0 {
        return None;
    }
    Some((op, imp, memory, threads))
}

/// All variants of this build on this machine.
#[derive(Debug)]
pub struct Catalog {
    variants: Vec<Variant>,
}

impl Catalog {
    fn build() -> Catalog {
        let counts = threads::counts();
        let mut variants = Vec::new();
        for imp in registry::implementations() {
            let op = imp.op();
            for memory in Memory::ALL {
                if memory == Memory::InPlace && !op.has_inplace() {
                    continue;
                }
                for &t in &counts {
                    // The reference stays single-threaded, and some ops cannot be split.
                    if t > 1 && (imp.name == "naive" || !op.parallel()) {
                        continue;
                    }
                    variants.push(Variant {
                        id: variant_id(op, imp.name, memory, t),
                        op,
                        implementation: imp.name,
                        memory,
                        threads: t,
                        requires: imp.requires,
                        kernel: imp.kernel,
                    });
                }
            }
        }
        Catalog { variants }
    }

    /// Every variant, in registry order.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// The variants of one op.
    pub fn of(&self, op: Op) -> impl Iterator<Item = &Variant> {
        self.variants.iter().filter(move |v| v.op == op)
    }

    /// Looks a variant up by id.
    pub fn find(&self, id: &str) -> Option<(VariantIndex, &Variant)> {
        self.variants
            .iter()
            .enumerate()
            .find(|(_, v)| v.id == id)
            .map(|(i, v)| (i as VariantIndex, v))
    }

    /// The variant at `index`.
    pub fn get(&self, index: VariantIndex) -> &Variant {
        &self.variants[index as usize]
    }

    /// The op's reference variant (naive, direct, one thread): the safe default.
    pub fn reference(&self, op: Op) -> (VariantIndex, &Variant) {
        self.variants
            .iter()
            .enumerate()
            .find(|(_, v)| v.op == op && v.is_reference())
            .map(|(i, v)| (i as VariantIndex, v))
            .expect("every op registers a naive implementation")
    }

    /// A checksum of every variant id (FNV-1a, hex): a table tuned against another set of
    /// variants is recognisable.
    pub fn checksum(&self) -> String {
        checksum(self.variants.iter().map(|v| v.id.as_str()))
    }
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

/// The process-wide catalog.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::build)
}
