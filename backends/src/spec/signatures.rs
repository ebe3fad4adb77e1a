//! Function-pointer signatures of the kernels of each op family; each op's spec bundles them
//! into its kernel struct, and [`super::Kernel`] holds one of those.

use kernels::gelu::GeluKind;
use kernels::layernorm::{Affine, LayerNormGrads, LayerNormOut, Saved};
use kernels::matmul::Gemm;
use kernels::{Result, Rows};

pub type ScratchLenFn = fn(&Gemm) -> usize;
pub type GeluFn = fn(GeluKind, &[f32], &mut [f32]) -> Result<()>;
pub type GeluInplaceFn = fn(GeluKind, &mut [f32]) -> Result<()>;
pub type GeluBackwardFn = fn(GeluKind, &[f32], &[f32], &mut [f32]) -> Result<()>;
pub type RowsFn = fn(Rows, &[f32], &mut [f32]) -> Result<()>;
pub type RowsInplaceFn = fn(Rows, &mut [f32]) -> Result<()>;
pub type CausalFn = fn(Rows, f32, usize, &[f32], &mut [f32]) -> Result<()>;
pub type CausalInplaceFn = fn(Rows, f32, usize, &mut [f32]) -> Result<()>;
pub type RowsPairFn = fn(Rows, &[f32], &[f32], &mut [f32]) -> Result<()>;
pub type RowsPairInplaceFn = fn(Rows, &mut [f32], &[f32]) -> Result<()>;
pub type PairFn = fn(&[f32], &[f32], &mut [f32]) -> Result<()>;
pub type PairInplaceFn = fn(&mut [f32], &[f32]) -> Result<()>;
pub type LayerNormFn = fn(Rows, f32, &[f32], Affine, LayerNormOut) -> Result<()>;
pub type AddLayerNormFn =
    fn(Rows, f32, &[f32], &[f32], &mut [f32], Affine, LayerNormOut) -> Result<()>;
pub type LayerNormBackwardFn = fn(Rows, Saved, &[f32], LayerNormGrads) -> Result<()>;
