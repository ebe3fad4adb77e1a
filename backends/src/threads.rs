//! Thread counts as part of a variant, the CPUs they run on, and pinning; the fork-join team
//! that runs a threaded call is in [`crate::team`].

use std::sync::OnceLock;

/// The number of threads this machine offers (at least 1), as the process started: read
/// once, so that pinning a thread later (see [`pin_caller`]) does not change it.
pub fn available() -> usize {
    static AVAILABLE: OnceLock<usize> = OnceLock::new();
    *AVAILABLE.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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

/// The CPUs this process may run on, as it started (read once, before any pinning), in
/// ascending order; empty where that cannot be read (then nothing is pinned).
pub fn cpus() -> Vec<usize> {
    static CPUS: OnceLock<Vec<usize>> = OnceLock::new();
    CPUS.get_or_init(allowed_cpus).clone()
}

#[cfg(target_os = "linux")]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set; the libc call
    // gets the size of the set it is given and only writes that set.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &allowed))
            .collect()
    }
}

#[cfg(not(target_os = "linux"))]
fn allowed_cpus() -> Vec<usize> {
    Vec::new()
}

/// Whether threads are pinned at all: yes unless `KERNELS_PIN` is `0`, `off` or `false` (for
/// several processes sharing the CPUs, which would otherwise all pin their callers to the same
/// first CPU). Unpinned, a threaded call is still correct and never slower than running its
/// parts in turn, but it scales less reliably.
pub fn pinning() -> bool {
    static PIN: OnceLock<bool> = OnceLock::new();
    *PIN.get_or_init(|| {
        !matches!(
            std::env::var("KERNELS_PIN").as_deref().map(str::trim),
            Ok("0" | "off" | "false")
        )
    })
}

/// Pins the calling thread, once, to the first CPU of [`cpus`] (where the helpers of every
/// team are not), when nothing has restricted it yet: a caller that waits for helpers on the
/// CPU one of them is pinned to runs its parts in turn with it instead of beside it, and the
/// scheduler left it there in most runs on the development VM (two-thread variants then
/// measured 1.4× slower than one thread). OpenMP binds its initial thread the same way
/// (`OMP_PROC_BIND`). A thread the program pinned itself is left alone.
pub fn pin_caller() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if DONE.with(|d| d.replace(true)) {
        return;
    }
    let all = cpus();
    if pinning() && all.len() > 1 && current_affinity_len() == Some(all.len()) {
        pin_current_to(all[0]);
    }
}

/// How many CPUs the calling thread may run on now.
#[cfg(target_os = "linux")]
fn current_affinity_len() -> Option<usize> {
    // SAFETY: as in `allowed_cpus`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        Some(libc::CPU_COUNT(&set) as usize)
    }
}

#[cfg(not(target_os = "linux"))]
fn current_affinity_len() -> Option<usize> {
    None
}

/// Pins the calling thread to `cpu` (helpers, and callers through [`pin_caller`]). Left to
/// itself, the scheduler may put a helper on the CPU of the thread that waits for it, and the
/// two then take turns for milliseconds. Where pinning fails nothing changes.
#[cfg(target_os = "linux")]
pub fn pin_current_to(cpu: usize) {
    if cpu >= libc::CPU_SETSIZE as usize {
        return;
    }
    // SAFETY: as above; `cpu` is below CPU_SETSIZE, so CPU_SET stays inside the set.
    unsafe {
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn pin_current_to(_cpu: usize) {}
