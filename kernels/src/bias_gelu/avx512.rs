//! Fused bias add + GELU (tanh) with AVX-512F (16 lanes; compiled on every x86_64, chosen only
//! where the CPU has it), instantiating the private `simd` kernels: bit-identical to this
//! ISA's bias add followed by its GELU, so its error against [`super::naive`] is the one
//! [`crate::gelu::avx512`] documents.

instantiate!(bias_gelu_wrappers, avx512);
