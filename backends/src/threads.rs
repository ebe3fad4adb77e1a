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
            .start_handler(pin_to_cpu)
            .build()
            .expect("building a rayon thread pool"),
    ));
    pools.push((threads, p));
    p
}

/// Pins worker `index` of a pool to the `index`-th CPU this process may run on (modulo their
/// number). Left to itself, the scheduler may wake both workers of a two-thread pool on the
/// same CPU and share it between them for milliseconds, so a threaded variant measured no
/// faster than one thread in about half the runs on the 2-core development VM; pinned, it
/// scales (as OpenMP's `OMP_PROC_BIND` does). Where pinning fails nothing changes.
#[cfg(target_os = "linux")]
fn pin_to_cpu(index: usize) {
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set; the libc calls
    // get the size of the set they are given and only read or write that set.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &allowed))
            .collect();
        if cpus.len() < 2 {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[index % cpus.len()], &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_to_cpu(_index: usize) {}
