//! Which shapes to measure: the size grid of each op, the model presets' shapes, bisection
//! points between neighbouring sizes, and held-out shapes for validation.
//!
//! Sizes are keyed as the dispatch table keys them ([`backends::Key`]): element-wise and row
//! ops by their element count; MatMul by a bucket of its row count m (`m1`: m = 1, a decoded
//! token; `small_m`: 2 ≤ m ≤ 64; `large_m`: m > 64) and, inside the bucket, its work m·k·n.

use backends::op::ShapeKind;
use backends::{Op, Shape};
use kernels::attention::Attention;
use kernels::matmul::Gemm;
use kernels::Rows;
use models::calls::{calls, Workload};

/// One of the study's model presets: its name and its dimensions, taken from the models'
/// own presets ([`models::Config::small`], [`models::Config::medium`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub vocab: usize,
    pub ctx: usize,
    pub width: usize,
    pub heads: usize,
    pub layers: usize,
    pub mlp: usize,
}

pub const SMALL: Preset = Preset::of("small", &models::Config::small());

pub const MEDIUM: Preset = Preset::of("medium", &models::Config::medium());

impl Preset {
    /// The dimensions of the model config `c`, named `name`.
    const fn of(name: &'static str, c: &models::Config) -> Preset {
        Preset {
            name,
            vocab: c.vocab_size,
            ctx: c.context,
            width: c.width,
            heads: c.heads,
            layers: c.layers,
            mlp: c.mlp_hidden,
        }
    }

    /// `small` or `medium`.
    pub fn from_name(name: &str) -> Option<Preset> {
        match name.trim().to_ascii_lowercase().as_str() {
            "small" => Some(SMALL),
            "medium" => Some(MEDIUM),
            _ => None,
        }
    }

    /// The token counts a preset runs at: one decoded token, a short prompt, the full context.
    pub fn seq_lens(&self) -> [usize; 3] {
        [1, 10, self.ctx]
    }

    /// The workloads whose calls a preset tunes: a decode step, prefills of the token counts
    /// of [`Preset::seq_lens`] (a full recompute's window of the context is the last), and
    /// the training step the end-to-end race times ([`models::bench::train_step`]).
    pub fn workloads(&self) -> Vec<Workload> {
        let mut w = vec![Workload::DecodeStep { pos: 0 }];
        w.extend(
            self.seq_lens()[1..]
                .iter()
                .map(|&prompt_len| Workload::Prefill { prompt_len }),
        );
        w.push(Workload::TrainStep {
            batch: models::bench::train_step::TRAIN_BATCH,
            seq: self.ctx,
        });
        w
    }

    /// Exactly the shapes this preset's workloads dispatch `op` at ([`models::calls`]), each
    /// once, in the order of first use.
    pub fn shapes(&self, op: Op) -> Vec<Shape> {
        let Ok(cfg) = models::Config::preset(self.name) else {
            return Vec::new();
        };
        let out = self
            .workloads()
            .into_iter()
            .flat_map(|w| calls(&cfg, w).unwrap_or_default())
            .filter(|c| c.op == op)
            .map(|c| c.shape)
            .collect();
        dedup(out)
    }
}

impl Preset {
    /// Whether this preset's workloads call `op` at `shape` in its in-place form (any of its
    /// calls there; [`models::calls::Call::inplace`]).
    pub fn called_inplace(&self, op: Op, shape: &Shape) -> bool {
        let Ok(cfg) = models::Config::preset(self.name) else {
            return false;
        };
        let text = shape.to_string();
        self.workloads()
            .into_iter()
            .flat_map(|w| calls(&cfg, w).unwrap_or_default())
            .any(|c| c.op == op && c.inplace && c.shape.to_string() == text)
    }
}

fn dedup(mut v: Vec<Shape>) -> Vec<Shape> {
    let mut seen = Vec::new();
    v.retain(|s| {
        let k = s.to_string();
        if seen.contains(&k) {
            false
        } else {
            seen.push(k);
            true
        }
    });
    v
}

/// The column count used for a row op of `n` elements: a power of two near √n within 64..=1024.
pub fn cols_for(n: usize) -> usize {
    let root = (n as f64).sqrt();
    let p = 2f64.powf(root.log2().round()) as usize;
    p.clamp(64, 1024)
}

/// A shape of `op` with about `n` elements. The causal softmax gets square shapes (T×T, as
/// in a model's attention): on a wide, short shape row r sees only r + 1 columns, so almost
/// nothing is computed and the trivial naive loop would win ranges that real square shapes
/// of the same size never give it.
pub fn elems_shape(op: Op, n: usize) -> Shape {
    match op.shape_kind() {
        ShapeKind::Rows if op == Op::SoftmaxCausal => {
            let t = ((n as f64).sqrt().round() as usize).max(1);
            Shape::Rows(Rows::new(t, t))
        }
        ShapeKind::Rows => {
            let cols = cols_for(n);
            Shape::Rows(Rows::new((n / cols).max(1), cols))
        }
        _ => Shape::Elems(n),
    }
}

/// Grid options.
#[derive(Debug, Clone, Copy)]
pub struct GridOptions {
    pub quick: bool,
    /// Largest square MatMul n.
    pub max_square: usize,
}

/// The coarse grid of `op`, sorted by (bucket, size).
pub fn grid(op: Op, o: GridOptions) -> Vec<Shape> {
    let mut out = Vec::new();
    match op.shape_kind() {
        ShapeKind::MatMul => {
            let mm = |m, k, n| Shape::MatMul(Gemm::new(m, k, n));
            if o.quick {
                for n in [8, 32, 128, 512] {
                    if n <= o.max_square {
                        out.push(mm(n, n, n));
                    }
                }
                for (m, k, n) in [
                    (1, 128, 384),
                    (1, 256, 1024),
                    (1, 1024, 1024),
                    (10, 128, 384),
                    (64, 128, 512),
                    (128, 256, 768),
                ] {
                    out.push(mm(m, k, n));
                }
            } else {
                let mut n = 8;
                while n <= o.max_square {
                    out.push(mm(n, n, n));
                    n *= 2;
                }
                // Decoding (m = 1): matrix-vector products from tiny to beyond the caches.
                for k in [64usize, 256, 1024, 2048.min(o.max_square.max(1024))] {
                    out.push(mm(1, k, k));
                }
                out.push(mm(1, 4096, 4096));
                // Both presets' transformer shapes at T = 1, 10 and the context.
                for p in [SMALL, MEDIUM] {
                    out.extend(p.shapes(Op::Matmul));
                }
                // Rectangular large-m products.
                out.push(mm(256, 1024, 256));
                out.push(mm(512, 512, 2048));
            }
        }
        ShapeKind::Attention => {
            // One decoded row after pasts from none to far beyond the presets' contexts, and
            // prompts from an empty cache, at the grid's head layout.
            let (rows_past, prompts): (&[usize], &[usize]) = if o.quick {
                (&[0, 63, 511], &[10, 128])
            } else {
                (&[0, 7, 31, 127, 511, 2047], &[4, 16, 64, 256])
            };
            out.extend(rows_past.iter().map(|&past| grid_attention(1, past)));
            out.extend(prompts.iter().map(|&rows| grid_attention(rows, 0)));
            if !o.quick {
                for p in [SMALL, MEDIUM] {
                    out.extend(p.shapes(op));
                }
            }
        }
        _ => {
            let sizes: Vec<usize> = if o.quick {
                vec![256, 4096, 65_536, 1 << 20]
            } else {
                // 256 to 4M elements (beyond the last-level cache) in steps of 2.
                (8..=22).map(|p| 1usize << p).collect()
            };
            for n in sizes {
                out.push(elems_shape(op, n));
            }
            if !o.quick {
                // The presets' own sizes, so the model's shapes are measured, not interpolated.
                for p in [SMALL, MEDIUM] {
                    out.extend(p.shapes(op));
                }
            }
        }
    }
    sort(dedup(out))
}

/// Heads and head width of the attention grid (the medium preset's layout).
pub const GRID_HEADS: (usize, usize) = (8, 32);

/// An attention shape of the grid's head layout ([`GRID_HEADS`]), contiguous.
pub fn grid_attention(rows: usize, past: usize) -> Shape {
    Shape::Attention(Attention::new(rows, past, GRID_HEADS.0, GRID_HEADS.1))
}

/// Sorts shapes by their table key.
pub fn sort(mut v: Vec<Shape>) -> Vec<Shape> {
    v.sort_by_key(|s| s.key());
    v
}

fn gmean(a: usize, b: usize) -> usize {
    ((a as f64) * (b as f64)).sqrt().round().max(1.0) as usize
}

/// A shape between `a` and `b` (same op and bucket) at about the geometric mean of their
/// sizes, or `None` when they are too close (less than 1.25× apart) to bisect.
pub fn midpoint(op: Op, a: &Shape, b: &Shape) -> Option<Shape> {
    let (ka, kb) = (a.key(), b.key());
    if ka.bucket != kb.bucket {
        return None;
    }
    let (lo, hi) = (ka.size.min(kb.size), ka.size.max(kb.size));
    if lo == 0 || (hi as f64) < lo as f64 * 1.25 {
        return None;
    }
    let mid = match (a, b) {
        (Shape::MatMul(x), Shape::MatMul(y)) => {
            Shape::MatMul(Gemm::new(gmean(x.m, y.m), gmean(x.k, y.k), gmean(x.n, y.n)))
        }
        (Shape::Rows(x), Shape::Rows(y)) => {
            let n = gmean(x.len(), y.len());
            let cols = gmean(x.cols, y.cols).max(1);
            Shape::Rows(Rows::new((n / cols).max(1), cols))
        }
        (Shape::Elems(x), Shape::Elems(y)) => {
            let n = gmean(*x, *y);
            Shape::Elems(if n > 64 { n / 16 * 16 } else { n })
        }
        // The same head layout in between: the geometric mean of the rows and of the
        // totals (a past of at least 0).
        (Shape::Attention(x), Shape::Attention(y))
            if (x.heads, x.head_dim) == (y.heads, y.head_dim) =>
        {
            let rows = gmean(x.rows, y.rows);
            let total = gmean(x.rows + x.past, y.rows + y.past).max(rows);
            Shape::Attention(Attention::new(rows, total - rows, x.heads, x.head_dim))
        }
        _ => return None,
    };
    let km = mid.key();
    (km.bucket == ka.bucket && km.size > lo && km.size < hi && op.shape_kind() == mid.kind())
        .then_some(mid)
}

/// A smaller shape of the same structure, for verifying candidates where the reference is
/// too slow to run at `s` itself (and `None` when `s` is small enough).
pub fn verify_shape(s: &Shape) -> Option<Shape> {
    match *s {
        Shape::MatMul(g) if (g.m * g.k * g.n) as u64 > VERIFY_MATMUL => Some(Shape::MatMul(
            Gemm::new(g.m.min(67), g.k.min(259), g.n.min(261)),
        )),
        Shape::Elems(n) if n as u64 > VERIFY_ELEMS => Some(Shape::Elems(65_536 + 17)),
        Shape::Rows(r) if r.len() as u64 > VERIFY_ELEMS => Some(Shape::Rows(Rows::new(
            (65_536 / r.cols.max(1)).max(1) + 1,
            r.cols,
        ))),
        Shape::Attention(a) if s.key().size > VERIFY_MATMUL => Some(Shape::Attention(Attention {
            rows: a.rows.min(33),
            past: a.past.min(257),
            ..a
        })),
        _ => None,
    }
}

/// Largest MatMul work (m·k·n) verified at the measured shape itself.
pub const VERIFY_MATMUL: u64 = 1 << 24;
/// Largest element count verified at the measured shape itself.
pub const VERIFY_ELEMS: u64 = 1 << 20;

/// Shapes the tuner's grid never measures (off the powers of two, odd sizes, other column
/// counts), for `validate`.
pub fn heldout(op: Op, quick: bool) -> Vec<Shape> {
    let mut out = Vec::new();
    match op.shape_kind() {
        ShapeKind::MatMul => {
            let mm = |m, k, n| Shape::MatMul(Gemm::new(m, k, n));
            let list: &[(usize, usize, usize)] = if quick {
                &[
                    (24, 24, 24),
                    (96, 96, 96),
                    (384, 384, 384),
                    (1, 192, 576),
                    (1, 768, 768),
                    (24, 192, 576),
                    (96, 192, 768),
                ]
            } else {
                &[
                    (12, 12, 12),
                    (24, 24, 24),
                    (48, 48, 48),
                    (96, 96, 96),
                    (192, 192, 192),
                    (384, 384, 384),
                    (768, 768, 768),
                    (1, 96, 288),
                    (1, 192, 576),
                    (1, 384, 1536),
                    (1, 768, 768),
                    (1, 1536, 1536),
                    (5, 192, 576),
                    (24, 192, 576),
                    (48, 384, 384),
                    (40, 48, 40),
                    (96, 192, 768),
                    (256, 384, 384),
                    (96, 768, 192),
                ]
            };
            for &(m, k, n) in list {
                out.push(mm(m, k, n));
            }
        }
        ShapeKind::Attention => {
            // Pasts and prompt lengths off the grid's, and other head layouts.
            let list: &[(usize, usize, usize, usize)] = if quick {
                &[(1, 200, 8, 32), (24, 0, 4, 32)]
            } else {
                &[
                    (1, 20, 8, 32),
                    (1, 300, 8, 32),
                    (1, 1000, 12, 64),
                    (1, 90, 4, 32),
                    (7, 0, 8, 32),
                    (48, 0, 4, 32),
                    (100, 0, 12, 64),
                ]
            };
            for &(rows, past, heads, hd) in list {
                out.push(Shape::Attention(Attention::new(rows, past, heads, hd)));
            }
        }
        kind => {
            let count = if quick { 4 } else { 7 };
            let step = if quick { 2 } else { 1 };
            for i in 0..count {
                let n = 384usize * 4usize.pow((i * step) as u32) + 24;
                out.push(match kind {
                    // The causal softmax is held out on square shapes too, as it is tuned
                    // and as attention runs it (see `elems_shape`): 20×20 … 1569×1569.
                    ShapeKind::Rows if op == Op::SoftmaxCausal => elems_shape(op, n),
                    ShapeKind::Rows => {
                        let cols = [96usize, 192, 384, 768][i % 4].min(n);
                        Shape::Rows(Rows::new((n / cols).max(1), cols))
                    }
                    _ => Shape::Elems(n),
                });
            }
        }
    }
    sort(out)
}
