//! Function-pointer signatures of each op, and [`Kernel`], one implementation of one op.

use kernels::gelu::GeluKind;
use kernels::layernorm::{Affine, LayerNormGrads, LayerNormOut, Saved};
use kernels::matmul::{Gemm, MatMulFn};
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

/// One implementation of one op: the kernel's entry points, copied around by value.
#[derive(Clone, Copy)]
pub enum Kernel {
    MatMul {
        run: MatMulFn,
        scratch_len: ScratchLenFn,
    },
    Gelu {
        kind: GeluKind,
        run: GeluFn,
        inplace: GeluInplaceFn,
    },
    GeluBackward {
        kind: GeluKind,
        run: GeluBackwardFn,
    },
    Softmax {
        run: RowsFn,
        inplace: RowsInplaceFn,
    },
    SoftmaxCausal {
        run: CausalFn,
        inplace: CausalInplaceFn,
    },
    SoftmaxBackward {
        run: RowsPairFn,
    },
    LayerNorm {
        run: LayerNormFn,
    },
    AddLayerNorm {
        run: AddLayerNormFn,
    },
    LayerNormBackward {
        run: LayerNormBackwardFn,
    },
    Add {
        run: PairFn,
        inplace: PairInplaceFn,
    },
    AddBias {
        run: RowsPairFn,
        inplace: RowsPairInplaceFn,
    },
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kernel(..)")
    }
}
