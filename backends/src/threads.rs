//! Thread counts as part of a variant: one rayon pool per count, built on first use.

use std::sync::{Mutex, OnceLock};

/// The number of threads this machine offers (at least 1).
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread counts the catalog offers: 1 and every power of two up to the available count,
/// plus that count itself.
pub fn counts() -> Vec<usize> {
    let max = available();
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |t| Some(t * 2))
        .take_while(|&t| t < max)
        .collect();
    v.push(max);
    v.dedup();
    v
}

/// The rayon pool with exactly `threads` workers (shared, created once per count).
pub fn pool(threads: usize) -> &'static rayon::ThreadPool {
    static POOLS: OnceLock<Mutex<Vec<(usize, &'static rayon::ThreadPool)>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = pools.iter().find(|(t, _)| *t == threads) {
        return p;
    }
    let p: &'static rayon::ThreadPool = Box::leak(Box::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("kernels-t{threads}-{i}"))
            .build()
            .expect("building a rayon thread pool"),
    ));
    pools.push((threads, p));
    p
}
