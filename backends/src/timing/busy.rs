//! Another process's load, imitated: a thread that spins on one CPU while a measurement runs,
//! so that a threaded call can be timed as it runs when the machine is shared (its helper on
//! that CPU is descheduled for whole time slices, and the caller claims its parts).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A spinning thread pinned to one CPU, from [`BusyCore::start`] until dropped.
pub struct BusyCore {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    cpu: Option<usize>,
}

impl BusyCore {
    /// Starts spinning on the last CPU this process may use (the CPU of a two-thread team's
    /// helper; every team pins its helpers from the second CPU on), or unpinned where CPUs
    /// cannot be read. `None` when the thread cannot be spawned.
    pub fn start() -> Option<BusyCore> {
        let cpu = crate::threads::cpus().last().copied();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("busy-core".into())
            .spawn(move || {
                if let Some(c) = cpu {
                    crate::threads::pin_current_to(c);
                }
                let mut x = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
            .ok()?;
        Some(BusyCore {
            stop,
            handle: Some(handle),
            cpu,
        })
    }

    /// The CPU the thread spins on, where it was pinned.
    pub fn cpu(&self) -> Option<usize> {
        self.cpu
    }
}

impl Drop for BusyCore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread spins while held and stops when dropped (the drop joins it).
    #[test]
    fn busy_core_spins_until_dropped() {
        let b = BusyCore::start().expect("a thread can be spawned");
        let running = b.handle.as_ref().is_some_and(|h| !h.is_finished());
        assert!(running);
        drop(b);
    }
}
