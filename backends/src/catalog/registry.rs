//! The registry: one line per implementation of an op (or, for the element-wise families,
//! one line per op module). Adding a variant means writing its kernel and adding its line
//! here; tests, benches and the tuner pick it up from the catalog.

use super::{Impl, Kernel};
use crate::adapters;
use kernels::cpu::Feature;
use kernels::gelu::GeluKind;

/// Registers the GELU forward (both kinds) and backward of one kernel module.
macro_rules! gelu {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $m as k;
        for kind in [GeluKind::Tanh, GeluKind::Erf] {
            $out.push(Impl::new(
                $name,
                $req,
                Kernel::Gelu {
                    kind,
                    run: k::gelu,
                    inplace: k::gelu_inplace,
                },
            ));
            $out.push(Impl::new(
                $name,
                $req,
                Kernel::GeluBackward {
                    kind,
                    run: k::gelu_backward,
                },
            ));
        }
    }};
}

/// Registers softmax, the fused causal softmax and the softmax backward of one module.
macro_rules! softmax {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $m as k;
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::Softmax {
                run: k::softmax,
                inplace: k::softmax_inplace,
            },
        ));
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::SoftmaxCausal {
                run: k::softmax_causal,
                inplace: k::softmax_causal_inplace,
            },
        ));
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::SoftmaxBackward {
                run: k::softmax_backward,
            },
        ));
    }};
}

/// Registers LayerNorm, the fused residual-add + LayerNorm and the backward of one module.
macro_rules! layernorm {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $m as k;
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::LayerNorm { run: k::layernorm },
        ));
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::AddLayerNorm {
                run: k::add_layernorm,
            },
        ));
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::LayerNormBackward {
                run: k::layernorm_backward,
            },
        ));
    }};
}

/// Registers Add and the bias Add of one module.
macro_rules! add {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $m as k;
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::Add {
                run: k::add,
                inplace: k::add_inplace,
            },
        ));
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::AddBias {
                run: k::add_bias,
                inplace: k::add_bias_inplace,
            },
        ));
    }};
}

/// Registers one MatMul kernel module (`matmul` + `scratch_len`).
macro_rules! matmul {
    ($out:ident, $name:expr, $m:path, $req:expr) => {{
        use $m as k;
        $out.push(Impl::new(
            $name,
            $req,
            Kernel::MatMul {
                run: k::matmul,
                scratch_len: k::scratch_len,
            },
        ));
    }};
}

/// Every implementation this build knows, in a fixed order (the reference first).
pub fn implementations() -> Vec<Impl> {
    let mut v = Vec::new();
    // MatMul: our kernels, then the peer crates.
    matmul!(v, "naive", kernels::matmul::naive, None);
    matmul!(v, "tiled", kernels::matmul::tiled, None);
    matmul!(v, "avx2", kernels::matmul::avx2, Some(Feature::Avx2));
    matmul!(v, "avx512", kernels::matmul::avx512, Some(Feature::Avx512));
    #[cfg(target_arch = "aarch64")]
    matmul!(v, "neon", kernels::matmul::neon, Some(Feature::Neon));
    matmul!(v, "matrixmultiply", adapters::matrixmultiply, None);
    #[cfg(target_arch = "x86_64")]
    matmul!(v, "gemm", adapters::gemm, None);
    #[cfg(feature = "openblas")]
    matmul!(v, "openblas", adapters::openblas, None);

    // Element-wise and row ops.
    gelu!(v, "naive", kernels::gelu::naive, None);
    softmax!(v, "naive", kernels::softmax::naive, None);
    layernorm!(v, "naive", kernels::layernorm::naive, None);
    add!(v, "naive", kernels::add::naive, None);
    gelu!(v, "avx2", kernels::gelu::avx2, Some(Feature::Avx2));
    softmax!(v, "avx2", kernels::softmax::avx2, Some(Feature::Avx2));
    layernorm!(v, "avx2", kernels::layernorm::avx2, Some(Feature::Avx2));
    add!(v, "avx2", kernels::add::avx2, Some(Feature::Avx2));
    gelu!(v, "avx512", kernels::gelu::avx512, Some(Feature::Avx512));
    softmax!(v, "avx512", kernels::softmax::avx512, Some(Feature::Avx512));
    layernorm!(
        v,
        "avx512",
        kernels::layernorm::avx512,
        Some(Feature::Avx512)
    );
    add!(v, "avx512", kernels::add::avx512, Some(Feature::Avx512));
    #[cfg(target_arch = "aarch64")]
    {
        gelu!(v, "neon", kernels::gelu::neon, Some(Feature::Neon));
        softmax!(v, "neon", kernels::softmax::neon, Some(Feature::Neon));
        layernorm!(v, "neon", kernels::layernorm::neon, Some(Feature::Neon));
        add!(v, "neon", kernels::add::neon, Some(Feature::Neon));
    }
    v
}
