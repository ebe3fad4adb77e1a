//! Helpers the kernels' integration tests share: a test's table of variants built from the
//! ISA modules of each op, and the check that a variant this machine cannot run refuses.

// Each test file uses only some of the helpers.
#![allow(dead_code, unused_macros)]

use kernels::cpu::{self, Feature};
use kernels::{KernelError, Result};
use proptest::prelude::*;
use std::ops::Range;

/// Declares a test's table of variants: the struct `$ty` with the variant's `name`, the
/// `feature` it needs and one function pointer per field, `$ty::all()`, one value for each
/// ISA module listed (`naive`, `avx2`, `avx512`, `neon`; each may carry a `#[cfg]`), in that
/// order, whose fields are `$op::<isa>::$f`, and `variants()`, the ones the tests run. Each
/// field is written once, with its type and its function, and `name` and `feature` come from
/// the module's name (`feature` is `None` for `naive`).
///
/// With `probe "op" => |v| ...;` (one call of a variant's function), `variants()` holds only
/// the variants this machine can run, each other one checked to refuse the probe with a note
/// (`$ty::runnable`, through [`runs`]); without it, all of them.
///
/// An op's own test file gives only its fields and probe: its table is the struct `Variant`
/// for `naive`, `avx2` and `avx512`.
macro_rules! variant_table {
    (
        $($field:ident: $fty:ty = $op:ident::$f:ident),+;
        probe $name:literal => $probe:expr;
    ) => {
        $crate::common::variant_table! {
            /// One variant: its functions for every form of the op.
            struct Variant for [naive, avx2, avx512] {
                $($field: $fty = $op::$f),+
            }
            probe $name => $probe;
        }
    };
    (
        $(#[$doc:meta])*
        struct $ty:ident for [$($(#[$attr:meta])* $isa:ident),* $(,)?] {
            $($field:ident: $fty:ty = $op:ident::$f:ident),* $(,)?
        }
        $(probe $name:literal => $probe:expr;)?
    ) => {
        $(#[$doc])*
        struct $ty {
            name: &'static str,
            feature: Option<kernels::cpu::Feature>,
            $($field: $fty),*
        }

        impl $ty {
            /// Every ISA's variant, whether this machine runs it or not.
            fn all() -> Vec<$ty> {
                $crate::common::variant_table!(
                    @all $ty [$($(#[$attr])* $isa),*] { $($field: $op::$f),* }
                )
            }

            /// The variants this machine can run; each other one gets a note and must refuse
            /// `probe` with `Unsupported` (see [`common::runs`]).
            #[allow(dead_code)] // Used only by a table with a probe.
            fn runnable(op: &str, probe: impl Fn(&$ty) -> kernels::Result<()>) -> Vec<$ty> {
                Self::all()
                    .into_iter()
                    .filter(|v| {
                        $crate::common::runs(&format!("{op}/{}", v.name), v.feature, || probe(v))
                    })
                    .collect()
            }
        }

        /// The variants the tests run: with a probe, those this machine can run (the others
        /// are checked to refuse, with a note); without, all of them.
        fn variants() -> Vec<$ty> {
            $crate::common::variant_table!(@variants $ty $($name $probe)?)
        }
    };
    (@variants $ty:ident) => {
        $ty::all()
    };
    (@variants $ty:ident $name:literal $probe:expr) => {
        $ty::runnable($name, $probe)
    };
    (@all $ty:ident [$($(#[$attr:meta])* $isa:ident),*] $fields:tt) => {
        vec![$($(#[$attr])* $crate::common::variant_table!(@one $ty $isa $fields)),*]
    };
    (@one $ty:ident $isa:ident { $($field:ident: $op:ident::$f:ident),* }) => {
        $ty {
            name: stringify!($isa),
            feature: kernels::cpu::Feature::from_name(stringify!($isa)),
            $($field: $op::$isa::$f),*
        }
    };
}
#[allow(unused_imports)] // Not every test file declares a table.
pub(crate) use variant_table;

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

/// Asserts that `r`, the result of a call given a buffer of the wrong length, is a
/// [`KernelError::Length`] (`what` names the variant or the case).
#[track_caller]
pub fn assert_length_error(what: &str, r: Result<()>) {
    assert!(
        matches!(r, Err(KernelError::Length { .. })),
        "{what}: expected a length error, got {r:?}"
    );
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

/// The sizes around the vector widths (4, 8 and 16 lanes) and their tails, from 1.
const WIDTH_EDGES: [usize; 17] = [1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65];

/// A buffer length for the proptests of the element-wise ops (0 too), as [`sizes`].
pub fn lengths() -> impl Strategy<Value = usize> {
    let edges = [&[0][..], &WIDTH_EDGES, &[127, 257]].concat();
    sizes(edges, 100_003, 0..300)
}

/// A row length for the proptests of the row ops (at least 1), as [`sizes`]: the width
/// edges, `wide` (a length the op's tests single out) and 1024.
pub fn row_lengths(wide: usize) -> impl Strategy<Value = usize> {
    let edges = [&WIDTH_EDGES[..], &[wide, 1024]].concat();
    sizes(edges, 100_003, 1..300)
}
