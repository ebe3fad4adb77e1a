//! Adapters that present the peer crates (`gemm`, `matrixmultiply`) and, with the `openblas`
//! feature, the system OpenBLAS through the kernels' MatMul signature, so they sit in the
//! catalog beside the project's own kernels.

#[cfg(target_arch = "x86_64")]
pub mod gemm;
pub mod matrixmultiply;
#[cfg(feature = "openblas")]
pub mod openblas;
