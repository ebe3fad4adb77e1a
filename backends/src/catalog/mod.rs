//! The catalog: every variant this build offers, with a stable id, and whether it can run here.
//!
//! A **variant** is an implementation of an op × a memory strategy × a thread count, named
//! `op/implementation/memory/tN` (for example `matmul/avx512/pooled/t1`). Implementations are
//! listed once in [`registry`]; the catalog expands them over the memory strategies the op
//! allows and over the thread counts of this machine.

pub mod registry;

pub use crate::spec::signatures::*;
pub use crate::spec::Kernel;

use crate::spec::Op;
use crate::threads;
use kernels::cpu::{self, Feature};
use std::fmt;
use std::sync::OnceLock;

pub use crate::memory::Memory;
pub use crate::spec::Impl;

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

pub use crate::machine::checksum;

/// The process-wide catalog.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::build)
}
