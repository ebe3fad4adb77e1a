//! Add with AVX2 + FMA (8 lanes), instantiating the private `simd` kernels: bit-identical to
//! [`super::naive`] (one IEEE addition per element; masked tails).

instantiate!(add_wrappers, avx2);
