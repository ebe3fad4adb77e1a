//! The original study's sizes, shared by the benches, the profiler and the studies so that
//! every figure in the harness is taken at the same points.

use backends::Op;
use models::calls::{calls, Workload};
use models::Config;
use std::sync::LazyLock;

/// Square MatMul sizes (n×n by n×n).
pub const MATMUL_SQUARE: [usize; 4] = [64, 128, 256, 512];

/// The models' MatMul shapes as `MxKxN`: those a decode step and a prefill of the full
/// context dispatch ([`models::calls`]), the small preset's, then the medium preset's, each
/// once. Rows of 1 are one decoded token (and the last layer of a prefill past its
/// attention); 64 and 128 rows are a prefill.
pub static MATMUL_MODEL: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut out: Vec<String> = Vec::new();
    for cfg in [Config::small(), Config::medium()] {
        let workloads = [
            Workload::DecodeStep { pos: 0 },
            Workload::Prefill {
                prompt_len: cfg.context,
            },
        ];
        for w in workloads {
            for c in calls(&cfg, w).unwrap_or_default() {
                let text = c.shape.to_string();
                if c.op == Op::Matmul && !out.contains(&text) {
                    out.push(text);
                }
            }
        }
    }
    out
});

/// GELU vector lengths.
pub const GELU: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// Softmax row lengths (columns); each problem has [`SOFTMAX_ROWS`] rows.
pub const SOFTMAX_COLS: [usize; 4] = [256, 512, 1024, 2048];

/// Rows of every softmax problem.
pub const SOFTMAX_ROWS: usize = 64;

/// LayerNorm rows × columns.
pub const LAYERNORM: (usize, usize) = (32, 512);

/// TensorAdd length.
pub const ADD: usize = 10_000;

/// BroadcastAdd rows × columns (a bias of `cols` added to every row).
pub const BROADCAST_ADD: (usize, usize) = (100, 100);

/// `2·m·k·n`, the floating-point operations of one MatMul.
pub fn matmul_flops(m: usize, k: usize, n: usize) -> u64 {
    2 * m as u64 * k as u64 * n as u64
}

/// A human label for an element count: `1K`, `10K`, `1M`.
pub fn short_count(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}K", n / 1_000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model shapes come from the presets' call lists: both presets' decode and
    /// prefill products, each once, every one a valid MatMul shape.
    #[test]
    fn the_model_matmul_shapes_are_the_presets_calls() {
        let shapes = &*MATMUL_MODEL;
        for s in [
            "1x128x384",
            "1x512x128",
            "64x128x512",
            "1x256x768",
            "128x256x768",
        ] {
            assert!(shapes.iter().any(|x| x == s), "{s} in {shapes:?}");
        }
        for (i, s) in shapes.iter().enumerate() {
            assert!(backends::Shape::parse(Op::Matmul, s).is_ok(), "{s}");
            assert!(!shapes[..i].contains(s), "{s} twice");
        }
    }
}
