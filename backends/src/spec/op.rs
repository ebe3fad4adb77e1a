//! What the harness asks of an op, answered by its spec ([`Op::spec`]): its name, shape
//! family, in-place form, whether it splits over threads, its buckets, and how a shape for it
//! is read from text.

use super::Op;
use crate::op::{Bucket, Shape, ShapeKind};
use kernels::attention::Attention;
use kernels::matmul::Gemm;
use kernels::Rows;
use std::fmt;

/// What the harness asks of an op, each answered by its spec ([`Op::spec`]).
impl Op {
    /// The op's name as used in variant ids and tables.
    pub fn name(self) -> &'static str {
        self.spec().name()
    }

    /// Parses an op name.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The shape family of this op's problems.
    pub fn shape_kind(self) -> ShapeKind {
        self.spec().shape_kind()
    }

    /// Whether the op has an in-place form (its output may overwrite its first input).
    pub fn has_inplace(self) -> bool {
        self.spec().inplace()
    }

    /// Whether the op may be split over threads (the LayerNorm backward accumulates
    /// parameter gradients across rows, so it stays single-threaded).
    pub fn parallel(self) -> bool {
        self.spec().parallel()
    }

    /// The buckets this op's keys fall in ([`crate::Key::matmul`], [`crate::Key::elems`]): MatMul's three
    /// row-count classes, or the one bucket of every other op.
    pub fn buckets(self) -> &'static [Bucket] {
        match self.shape_kind() {
            ShapeKind::MatMul | ShapeKind::Attention => {
                &[Bucket::M1, Bucket::SmallM, Bucket::LargeM]
            }
            ShapeKind::Elems | ShapeKind::Rows => &[Bucket::All],
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Shape {
    /// Parses `MxKxN` (MatMul), `N`, `ROWSxCOLS` or `ROWSxPASTxHEADSxHEAD_DIM` (attention)
    /// for `op`.
    pub fn parse(op: Op, text: &str) -> Result<Shape, String> {
        let nums: Result<Vec<usize>, _> = text
            .split(['x', 'X', '×'])
            .map(|p| p.trim().replace('_', "").parse::<usize>())
            .collect();
        let nums = nums.map_err(|e| format!("shape `{text}`: {e}"))?;
        // Every buffer's element count and byte size must fit a usize (and the key's m·k·n a
        // u64), checked here because release builds wrap silently.
        let fits = |what: &str, factors: &[usize]| -> Result<(), String> {
            factors
                .iter()
                .try_fold(4u128, |acc, &f| acc.checked_mul(f as u128))
                .filter(|b| *b <= isize::MAX as u128)
                .map(|_| ())
                .ok_or_else(|| {
                    format!(
                        "shape `{text}`: {what} = {} elements is too large for this machine's address space",
                        factors
                            .iter()
                            .map(|f| f.to_string())
                            .collect::<Vec<_>>()
                            .join("·")
                    )
                })
        };
        let gemm = |m: usize, k: usize, n: usize| -> Result<Shape, String> {
            fits("A (m·k)", &[m, k])?;
            fits("B (k·n)", &[k, n])?;
            fits("C (m·n)", &[m, n])?;
            (m as u128 * k as u128 * n as u128 <= u64::MAX as u128)
                .then_some(Shape::MatMul(Gemm::new(m, k, n)))
                .ok_or_else(|| format!("shape `{text}`: m·k·n overflows 64 bits"))
        };
        match (op.shape_kind(), nums.as_slice()) {
            (ShapeKind::MatMul, [m, k, n]) => gemm(*m, *k, *n),
            (ShapeKind::MatMul, [n]) => gemm(*n, *n, *n),
            (ShapeKind::Elems, [n]) => fits("the element count", &[*n]).map(|_| Shape::Elems(*n)),
            (ShapeKind::Elems, [r, c]) => fits("rows·cols", &[*r, *c]).map(|_| Shape::Elems(r * c)),
            (ShapeKind::Rows, [r, c]) => {
                fits("rows·cols", &[*r, *c]).map(|_| Shape::Rows(Rows::new(*r, *c)))
            }
            (ShapeKind::Attention, [rows, past, heads, hd]) => {
                let total = rows.checked_add(*past).ok_or_else(|| {
                    format!("shape `{text}`: rows + past overflows this machine's address space")
                })?;
                fits("q and out (rows·heads·head_dim)", &[*rows, *heads, *hd])?;
                fits("k and v (total·heads·head_dim)", &[total, *heads, *hd])?;
                (*rows as u128 * total as u128 * (*heads as u128 * *hd as u128) <= u64::MAX as u128)
                    .then_some(Shape::Attention(Attention::new(*rows, *past, *heads, *hd)))
                    .ok_or_else(|| format!("shape `{text}`: rows·total·width overflows 64 bits"))
            }
            _ => Err(format!(
                "shape `{text}` does not fit {op}: use {}",
                match op.shape_kind() {
                    ShapeKind::MatMul => "MxKxN (or N for a square product)",
                    ShapeKind::Elems => "N",
                    ShapeKind::Rows => "ROWSxCOLS",
                    ShapeKind::Attention => "ROWSxPASTxHEADSxHEAD_DIM",
                }
            )),
        }
    }
}
