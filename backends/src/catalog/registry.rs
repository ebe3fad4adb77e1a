//! The registry: one line per implementation of an op family (a kernel module), through the
//! family spec's typed `register!` (`crate::spec`). Adding a variant means writing its kernel
//! and adding its line here; tests, benches and the tuner pick it up from the catalog.

use super::Impl;
use crate::adapters;
use crate::spec::{add, attention, bias_gelu, gelu, layernorm, matmul, softmax};
use kernels::cpu::Feature;

/// Registers, onto `$out`, implementation `$isa` (its name and the module of that name in
/// every kernel folder) of each element-wise and row-op family and of attention, needing
/// `$req`: every ISA provides all of them, so one line per ISA keeps the lists alike.
macro_rules! row_ops {
    ($out:ident, $isa:ident, $req:expr) => {
        gelu::register!($out, stringify!($isa), kernels::gelu::$isa, $req);
        softmax::register!($out, stringify!($isa), kernels::softmax::$isa, $req);
        layernorm::register!($out, stringify!($isa), kernels::layernorm::$isa, $req);
        add::register!($out, stringify!($isa), kernels::add::$isa, $req);
        bias_gelu::register!($out, stringify!($isa), kernels::bias_gelu::$isa, $req);
        attention::register!($out, stringify!($isa), kernels::attention::$isa, $req);
    };
}

/// Every implementation this build knows, in a fixed order (the reference first).
pub fn implementations() -> Vec<Impl> {
    let mut v = Vec::new();
    // MatMul: our kernels, then the peer crates.
    matmul::register!(v, "naive", kernels::matmul::naive, None);
    matmul::register!(v, "tiled", kernels::matmul::tiled, None);
    matmul::register!(
        v,
        "avx2",
        kernels::matmul::avx2,
        Some(Feature::Avx2),
        tunable
    );
    matmul::register!(
        v,
        "avx512",
        kernels::matmul::avx512,
        Some(Feature::Avx512),
        tunable
    );
    #[cfg(target_arch = "aarch64")]
    matmul::register!(v, "neon", kernels::matmul::neon, Some(Feature::Neon));
    matmul::register!(v, "matrixmultiply", adapters::matrixmultiply, None);
    #[cfg(target_arch = "x86_64")]
    matmul::register!(v, "gemm", adapters::gemm, None);
    #[cfg(feature = "openblas")]
    matmul::register!(v, "openblas", adapters::openblas, None);

    // Element-wise and row ops, and attention: each ISA's modules in turn.
    row_ops!(v, naive, None);
    row_ops!(v, avx2, Some(Feature::Avx2));
    row_ops!(v, avx512, Some(Feature::Avx512));
    #[cfg(target_arch = "aarch64")]
    row_ops!(v, neon, Some(Feature::Neon));
    v
}
