//! The fork-join team behind every multi-threaded variant.
//!
//! A call with `t` threads runs part 0 on the calling thread and parts `1..t` on `t − 1`
//! helper threads pinned to the CPUs after the first, and waits for them by spinning, never by
//! sleeping. The calling thread is pinned to the first CPU on its first such call
//! ([`crate::threads::pin_caller`]), unless the program pinned it already; `KERNELS_PIN=0`
//! turns all pinning off ([`crate::threads::pinning`]).
//!
//! Why not a rayon pool: with `install` + `join` the caller sleeps until the pool is done,
//! and the second half runs in parallel only if another worker wakes in time to steal it. On
//! the development VM waking a sleeping thread takes about 25 µs, so a 128×91×128 MatMul took
//! 40 µs on two threads against 27 µs on one, and whether a two-thread variant won at mid
//! sizes changed from run to run with the host's timing. Here a call costs one hand-off to
//! helpers that are still spinning from the previous call (or one wake-up when they have
//! parked), the caller never sleeps, and nothing is allocated per call.
//!
//! Cost beyond the work, measured on the development VM (`cargo bench -p backends --bench
//! team`): 0.1–0.16 µs a call while the helpers spin (back-to-back calls), about 7 µs for a
//! call that must wake parked helpers (the `futex` wake on a VM); 4 ns for a team of one.
//!
//! Parts are claimed, not assigned: the caller and the helpers take the next unclaimed part
//! until none is left, so a helper the host has not scheduled (a stolen vCPU) delays nothing;
//! the caller runs its parts instead. Helpers spin for [`SPIN`] after a call, then park until
//! the next one. A caller that finds the team busy (another thread's call, or a nested call
//! from inside a part) runs every part itself, in order.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle helper keeps spinning for the next call before it parks.
pub const SPIN: Duration = Duration::from_micros(100);

/// The type-erased entry of a call's job: calls the `Fn(usize)` behind the data pointer.
type Call = unsafe fn(*const (), usize);

/// Calls the `F` behind `data` with part `i`.
///
/// # Safety
/// `data` points to a live `F`.
unsafe fn call_job<F: Fn(usize) + Sync>(data: *const (), i: usize) {
    // SAFETY: per the contract, `data` is a `&F` that outlives this call.
    let f = unsafe { &*(data as *const F) };
    f(i)
}

/// What the caller and the helpers share.
///
/// The protocol: `word` holds the call's epoch (high 32 bits) and the next unclaimed part
/// (low 32 bits). A caller writes the job (`data`, `call`), resets `done`, then stores a new
/// epoch with part 0 (publishing the job). Anyone claims part `i` of epoch `e` by a CAS from
/// `(e, i)` to `(e, i + 1)` with `i < parts`, reads the job only after that claim succeeded,
/// runs it and increments `done`. The caller returns only when `done == parts`, so a
/// successful claim always finds the job of a call still in progress, whose closure is alive.
struct Shared {
    parts: u64,
    word: AtomicU64,
    data: AtomicPtr<()>,
    call: AtomicPtr<()>,
    done: AtomicUsize,
    panicked: AtomicBool,
    /// Per helper: whether it is parked (or about to), so the caller knows whom to unpark.
    parked: Vec<AtomicBool>,
    /// Helpers that have started (the team is handed out once all have).
    started: AtomicUsize,
}

impl Shared {
    /// Claims the next part of epoch `epoch`, if any is left.
    fn claim(&self, epoch: u64) -> Option<usize> {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            if w >> 32 != epoch || (w & 0xffff_ffff) >= self.parts {
                return None;
            }
            match self
                .word
                .compare_exchange_weak(w, w + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some((w & 0xffff_ffff) as usize),
                Err(now) => w = now,
            }
        }
    }

    /// Claims and runs parts of `epoch` until none is left; a panic is recorded, not raised.
    fn work(&self, epoch: u64) {
        while let Some(i) = self.claim(epoch) {
            let data = self.data.load(Ordering::Acquire) as *const ();
            // SAFETY: `call` holds a `Call` stored by the caller of this epoch before it
            // published the epoch, and the claim above succeeded, so it is that call's.
            let call: Call = unsafe { std::mem::transmute(self.call.load(Ordering::Acquire)) };
            // SAFETY: the claim succeeded, so the call is in progress and its closure, behind
            // `data`, lives until `done` reaches `parts`, which needs this part.
            let r = panic::catch_unwind(AssertUnwindSafe(|| unsafe { call(data, i) }));
            if r.is_err() {
                self.panicked.store(true, Ordering::Release);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

/// A team of `threads`: the caller plus `threads − 1` helpers.
pub struct Team {
    threads: usize,
    shared: Arc<Shared>,
    helpers: Vec<Thread>,
    busy: Mutex<()>,
}

impl Team {
    /// A team of `threads` (at least 1); helper `i` is pinned to `cpus[(i + 1) % cpus.len()]`.
    fn new(threads: usize, cpus: &[usize]) -> Team {
        let threads = threads.max(1);
        let n = threads - 1;
        let shared = Arc::new(Shared {
            parts: threads as u64,
            word: AtomicU64::new(0),
            data: AtomicPtr::new(std::ptr::null_mut()),
            call: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            parked: (0..n).map(|_| AtomicBool::new(false)).collect(),
            started: AtomicUsize::new(0),
        });
        let mut helpers = Vec::with_capacity(n);
        for i in 0..n {
            let sh = Arc::clone(&shared);
            let cpu =
                (crate::threads::pinning() && !cpus.is_empty()).then(|| cpus[(i + 1) % cpus.len()]);
            let spawned = thread::Builder::new()
                .name(format!("kernels-t{threads}-{}", i + 1))
                .spawn(move || helper(sh, i, cpu));
            match spawned {
                Ok(h) => helpers.push(h.thread().clone()),
                // Out of threads: parts are claimed, so fewer helpers only means less
                // parallelism (none at all: the caller runs every part).
                Err(_) => break,
            }
        }
        // Wait until every helper has started (thread start-up allocates and pins): after
        // this, calls on the team allocate nothing, on any thread.
        while shared.started.load(Ordering::Acquire) < helpers.len() {
            thread::yield_now();
        }
        Team {
            threads,
            shared,
            helpers,
            busy: Mutex::new(()),
        }
    }

    /// The number of parts a call runs.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(0)`, …, `f(threads − 1)` on the caller and the helpers and returns when all
    /// have finished. Panics (after every part has finished) if a part panicked.
    pub fn run<F: Fn(usize) + Sync>(&self, f: &F) {
        let _busy = match self.busy.try_lock() {
            Ok(g) => g,
            // A part panicked in an earlier call: the team itself is intact.
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                // Another call is in flight (another thread's, or ours from inside a part).
                (0..self.threads).for_each(f);
                return;
            }
        };
        if self.helpers.is_empty() {
            (0..self.threads).for_each(f);
            return;
        }
        crate::threads::pin_caller();
        let sh = &*self.shared;
        sh.data.store(f as *const F as *mut (), Ordering::Relaxed);
        sh.call
            .store(call_job::<F> as Call as *mut (), Ordering::Relaxed);
        sh.done.store(0, Ordering::Relaxed);
        sh.panicked.store(false, Ordering::Relaxed);
        let epoch = ((sh.word.load(Ordering::Relaxed) >> 32) + 1) & 0xffff_ffff;
        sh.word.store(epoch << 32, Ordering::SeqCst);
        for (i, t) in self.helpers.iter().enumerate() {
            if sh.parked[i].load(Ordering::SeqCst) {
                t.unpark();
            }
        }
        sh.work(epoch);
        wait_for(&sh.done, self.threads);
        if sh.panicked.load(Ordering::Acquire) {
            panic!("a part of a multi-threaded kernel call panicked");
        }
    }
}

/// Spins until `done` reaches `parts`; after a few µs it yields between checks, so a helper
/// that shares the CPU with the caller still gets to run.
fn wait_for(done: &AtomicUsize, parts: usize) {
    let t0 = Instant::now();
    let mut spins = 0u32;
    while done.load(Ordering::Acquire) != parts {
        spins = spins.saturating_add(1);
        if spins < 64 || t0.elapsed() < Duration::from_micros(5) {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
}

/// A helper's life: wait for a new epoch (spin, yielding now and then, then park), then claim
/// and run parts of it until none is left.
fn helper(sh: Arc<Shared>, index: usize, cpu: Option<usize>) {
    if let Some(c) = cpu {
        crate::threads::pin_current_to(c);
    }
    // The handle `park` needs, made now rather than at the first park.
    let _ = thread::current();
    sh.started.fetch_add(1, Ordering::Release);
    // The epoch a new team starts at: a call made before this thread got here has already
    // moved past it, and is then seen as new.
    let mut seen = 0;
    loop {
        let t0 = Instant::now();
        let mut spins = 0u32;
        loop {
            let e = sh.word.load(Ordering::Acquire) >> 32;
            if e != seen {
                seen = e;
                break;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(64) {
                std::hint::spin_loop();
                continue;
            }
            if t0.elapsed() < SPIN {
                // Let a thread sharing this CPU go on (a caller may be about to start the
                // call we are waiting for).
                thread::yield_now();
                continue;
            }
            // Park; the caller unparks us when it sees the flag after publishing an epoch.
            sh.parked[index].store(true, Ordering::SeqCst);
            if sh.word.load(Ordering::SeqCst) >> 32 == seen {
                thread::park();
            }
            sh.parked[index].store(false, Ordering::SeqCst);
        }
        sh.work(seen);
    }
}

/// The team of `threads` (created on first use, shared by every caller for the process's
/// lifetime). Up to [`INDEXED`] threads the lookup is one atomic load, since it runs on
/// every threaded call; larger teams sit behind a lock.
pub fn team(threads: usize) -> &'static Team {
    static TEAMS: [OnceLock<Team>; INDEXED + 1] = [const { OnceLock::new() }; INDEXED + 1];
    static LARGER: Mutex<Vec<&'static Team>> = Mutex::new(Vec::new());
    let threads = threads.max(1);
    let create = || {
        // Read before any thread is pinned.
        let _ = crate::threads::available();
        Team::new(threads, &crate::threads::cpus())
    };
    if threads <= INDEXED {
        return TEAMS[threads].get_or_init(create);
    }
    let mut larger = LARGER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = larger.iter().find(|t| t.threads == threads) {
        return t;
    }
    let t: &'static Team = Box::leak(Box::new(create()));
    larger.push(t);
    t
}

/// Thread counts whose team is found without a lock.
const INDEXED: usize = 256;
