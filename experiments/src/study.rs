//! The original study's sizes, shared by the benches, the profiler and the studies so that
//! every figure in the harness is taken at the same points.

/// Square MatMul sizes (n×n by n×n).
pub const MATMUL_SQUARE: [usize; 4] = [64, 128, 256, 512];

/// The models' MatMul shapes as `MxKxN`: the small preset's, then the medium preset's. Rows of
/// 1 are one decoded token; 64 and 128 rows are a prefill.
pub const MATMUL_MODEL: [&str; 12] = [
    "1x128x384",
    "1x128x512",
    "1x512x128",
    "1x128x256",
    "64x128x384",
    "64x128x512",
    "64x512x128",
    "1x256x768",
    "1x256x1024",
    "1x1024x256",
    "1x256x512",
    "128x256x768",
];

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
