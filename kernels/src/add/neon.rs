//! Add with NEON (4 lanes; aarch64 only), instantiating the private `simd` kernels: bit-identical to
//! [`super::naive`] (one IEEE addition per element; masked tails).

instantiate!(add_wrappers, neon);
