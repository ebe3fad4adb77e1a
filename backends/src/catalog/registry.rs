//! The registry: one line per implementation of an op family (a kernel module), through the
//! family spec's typed `register!` (`crate::spec`). Adding a variant means writing its kernel
//! and adding its line here; tests, benches and the tuner pick it up from the catalog.

use super::Impl;
use crate::adapters;
use crate::spec::{add, attention, bias_gelu, gelu, layernorm, matmul, softmax};
use kernels::cpu::Feature;

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

    // Element-wise and row ops.
    gelu::register!(v, "naive", kernels::gelu::naive, None);
    softmax::register!(v, "naive", kernels::softmax::naive, None);
    layernorm::register!(v, "naive", kernels::layernorm::naive, None);
    add::register!(v, "naive", kernels::add::naive, None);
    bias_gelu::register!(v, "naive", kernels::bias_gelu::naive, None);
    attention::register!(v, "naive", kernels::attention::naive, None);
    gelu::register!(v, "avx2", kernels::gelu::avx2, Some(Feature::Avx2));
    softmax::register!(v, "avx2", kernels::softmax::avx2, Some(Feature::Avx2));
    layernorm::register!(v, "avx2", kernels::layernorm::avx2, Some(Feature::Avx2));
    add::register!(v, "avx2", kernels::add::avx2, Some(Feature::Avx2));
    bias_gelu::register!(v, "avx2", kernels::bias_gelu::avx2, Some(Feature::Avx2));
    attention::register!(v, "avx2", kernels::attention::avx2, Some(Feature::Avx2));
    gelu::register!(v, "avx512", kernels::gelu::avx512, Some(Feature::Avx512));
    softmax::register!(v, "avx512", kernels::softmax::avx512, Some(Feature::Avx512));
    layernorm::register!(
        v,
        "avx512",
        kernels::layernorm::avx512,
        Some(Feature::Avx512)
    );
    add::register!(v, "avx512", kernels::add::avx512, Some(Feature::Avx512));
    bias_gelu::register!(
        v,
        "avx512",
        kernels::bias_gelu::avx512,
        Some(Feature::Avx512)
    );
    attention::register!(
        v,
        "avx512",
        kernels::attention::avx512,
        Some(Feature::Avx512)
    );
    #[cfg(target_arch = "aarch64")]
    {
        gelu::register!(v, "neon", kernels::gelu::neon, Some(Feature::Neon));
        softmax::register!(v, "neon", kernels::softmax::neon, Some(Feature::Neon));
        layernorm::register!(v, "neon", kernels::layernorm::neon, Some(Feature::Neon));
        add::register!(v, "neon", kernels::add::neon, Some(Feature::Neon));
        bias_gelu::register!(v, "neon", kernels::bias_gelu::neon, Some(Feature::Neon));
        attention::register!(v, "neon", kernels::attention::neon, Some(Feature::Neon));
    }
    v
}
