//! Add with AVX-512F (16 lanes), instantiating the private `simd` kernels: bit-identical to
//! [`super::naive`] (one IEEE addition per element; masked tails).

instantiate!(add_wrappers, avx512);
