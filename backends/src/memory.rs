//! How a variant obtains the memory it writes: the memory part of a variant id
//! (`op/implementation/memory/tN`), a leaf below the catalog, the specs and the thread splits.

use serde::{Deserialize, Serialize};

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
