//! Fused bias add + GELU (tanh) with NEON (4 lanes; aarch64 only), instantiating the private `simd`
//! kernels: bit-identical to this ISA's bias add followed by its GELU, so its error against
//! [`super::naive`] is the one [`crate::gelu::neon`] documents.

instantiate!(bias_gelu_wrappers, neon);
