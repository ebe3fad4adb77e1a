//! Helpers the kernels' integration tests share: a test's table of variants built from the
//! ISA modules of each op, and the check that a variant this machine cannot run refuses.

// Each test file uses only some of the helpers.
#![allow(dead_code, unused_macros, unused_imports)]

use kernels::cpu::{self, Feature};
use kernels::{KernelError, Result};
use proptest::prelude::*;
use std::ops::Range;

/// `vec![$ty { name, feature, $field: $op::<isa>::$f, … }, …]`, one value for each ISA module
/// listed (`naive`, `avx2`, `avx512`, `neon`; each may carry a `#[cfg]`), in that order. The
/// `name` is the module's name and the `feature` the one it names (`None` for `naive`), so a
/// test's table of variants is written once, not once per ISA.
macro_rules! isa_variants {
    ($ty:ident [$($(#[$attr:meta])* $isa:ident),* $(,)?] $fields:tt) => {
        vec![$($(#[$attr])* $crate::common::isa_variants!(@one $ty $isa $fields)),*]
    };
    (@one $ty:ident $isa:ident { $($field:ident: $op:ident::$f:ident),* $(,)? }) => {
        $ty {
            name: stringify!($isa),
            feature: kernels::cpu::Feature::from_name(stringify!($isa)),
            $($field: $op::$isa::$f),*
        }
    };
}
pub(crate) use isa_variants;

/// Whether a variant that needs `feature` runs on this machine. When it does not, prints a
/// note naming it (`what`) and checks that `probe`, one call of it, refuses with
/// [`KernelError::Unsupported`] (so a skipped variant is still proved to refuse cleanly).
pub fn runs(what: &str, feature: Option<Feature>, probe: impl FnOnce() -> Result<()>) -> bool {
    let Some(f) = feature else { return true };
    if cpu::available(f) {
        return true;
    }
    eprintln!(
        "note: skipping {what}: {}",
        cpu::unavailable_reason(f).unwrap_or_default()
    );
    let r = probe();
    assert!(
        matches!(r, Err(KernelError::Unsupported { .. })),
        "{what}: expected Unsupported, got {r:?}"
    );
    false
}

/// A proptest configuration of `cases` cases that writes no failure-persistence file.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A length or column count for the proptests: most often one of `edges` (the sizes around
/// vector widths and tails), sometimes `big` (past the caches), else any in `range`.
pub fn sizes(edges: Vec<usize>, big: usize, range: Range<usize>) -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => prop::sample::select(edges),
        1 => Just(big),
        2 => range,
    ]
}

/// A buffer length for the proptests of the element-wise ops (0 too), as [`sizes`].
pub fn lengths() -> impl Strategy<Value = usize> {
    sizes(
        vec![
            0, 1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 257,
        ],
        100_003,
        0..300,
    )
}
