//! The problem shapes of the ops the harness tunes and the size key a dispatch table ranges
//! over: plain data, below the op specs (`crate::spec`), which say which family each op's
//! shapes belong to (and parse a shape for an op, `spec/op.rs`).

use kernels::attention::Attention;
use kernels::matmul::Gemm;
use kernels::Rows;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How an op's problem is shaped, which decides how it is split over threads and keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeKind {
    MatMul,
    /// A flat vector of `n` elements.
    Elems,
    /// A contiguous rows×cols matrix.
    Rows,
    /// Causal attention of query rows against cached keys and values
    /// ([`kernels::attention::Attention`]): keyed like MatMul, by its row count's bucket and
    /// rows·total·width (the work of its score and weighted-sum products), split by heads.
    Attention,
}

/// A concrete problem shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    MatMul(Gemm),
    Elems(usize),
    Rows(Rows),
    Attention(Attention),
}

impl Shape {
    /// The key a dispatch table ranges over for this shape.
    pub fn key(&self) -> Key {
        match *self {
            Shape::MatMul(g) => Key::matmul(g.m, g.k, g.n),
            Shape::Elems(n) => Key {
                bucket: Bucket::All,
                size: n as u64,
            },
            Shape::Rows(r) => Key {
                bucket: Bucket::All,
                size: r.len() as u64,
            },
            Shape::Attention(a) => Key::attention(&a),
        }
    }

    /// Elements of the op's main output (for bandwidth figures and buffer sizes).
    pub fn elems(&self) -> usize {
        match *self {
            Shape::MatMul(g) => g.m * g.n,
            Shape::Elems(n) => n,
            Shape::Rows(r) => r.len(),
            Shape::Attention(a) => a.rows.saturating_mul(a.heads.saturating_mul(a.head_dim)),
        }
    }

    /// The shape family this shape belongs to.
    pub fn kind(&self) -> ShapeKind {
        match self {
            Shape::MatMul(_) => ShapeKind::MatMul,
            Shape::Elems(_) => ShapeKind::Elems,
            Shape::Rows(_) => ShapeKind::Rows,
            Shape::Attention(_) => ShapeKind::Attention,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::MatMul(g) => write!(f, "{}x{}x{}", g.m, g.k, g.n),
            Shape::Elems(n) => write!(f, "{n}"),
            Shape::Rows(r) => write!(f, "{}x{}", r.rows, r.cols),
            Shape::Attention(a) => write!(f, "{}x{}x{}x{}", a.rows, a.past, a.heads, a.head_dim),
        }
    }
}

/// A coarse class of shapes whose winners are tuned separately. MatMul keeps the row count
/// apart from the work, because one decoded token (m = 1) is a matrix-vector product whose
/// best kernel differs from a square product's of the same work. Attention is bucketed the
/// same way by its query rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Every shape of an element-wise or row op.
    All,
    /// MatMul with m = 1, attention of one query row (decoding one token).
    M1,
    /// MatMul with 2 ≤ m ≤ 64, attention of as many rows (prefill of a few tokens).
    SmallM,
    /// MatMul with m > 64, attention of as many rows.
    LargeM,
}

impl Bucket {
    pub const ALL: [Bucket; 4] = [Bucket::All, Bucket::M1, Bucket::SmallM, Bucket::LargeM];

    pub fn name(self) -> &'static str {
        match self {
            Bucket::All => "all",
            Bucket::M1 => "m1",
            Bucket::SmallM => "small_m",
            Bucket::LargeM => "large_m",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a problem falls in a dispatch table: a bucket and a size within it (elements for
/// element-wise and row ops, m·k·n for MatMul).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub bucket: Bucket,
    pub size: u64,
}

impl Key {
    /// The key of an m×k by k×n MatMul.
    #[inline]
    pub fn matmul(m: usize, k: usize, n: usize) -> Key {
        let bucket = match m {
            0 | 1 => Bucket::M1,
            2..=64 => Bucket::SmallM,
            _ => Bucket::LargeM,
        };
        Key {
            bucket,
            size: m as u64 * k as u64 * n as u64,
        }
    }

    /// The key of a causal attention call: bucketed by its query rows as MatMul is (one
    /// decoded token, a prompt, a long sequence), sized by rows·total·width, the work of each
    /// of its two products (saturating).
    #[inline]
    pub fn attention(a: &Attention) -> Key {
        let total = a.past.saturating_add(a.rows) as u64;
        let width = (a.heads as u64).saturating_mul(a.head_dim as u64);
        let mut key = Key::matmul(a.rows, 1, 1);
        key.size = (a.rows as u64).saturating_mul(total).saturating_mul(width);
        key
    }

    /// The key of an element-wise or row op over `elems` elements.
    #[inline]
    pub fn elems(elems: usize) -> Key {
        Key {
            bucket: Bucket::All,
            size: elems as u64,
        }
    }
}
