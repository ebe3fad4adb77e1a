//! The size-class buffer pool behind the **pooled** memory strategy.
//!
//! Buffers are kept per power-of-two capacity class; [`take`] hands out one of at least the
//! requested length (contents unspecified, never uninitialised) and dropping the [`Buf`] gives
//! it back. Every buffer, pooled or direct, starts on a cache line half a page away from the
//! problem inputs' ([`AlignedVec`], [`crate::aligned::OUTPUT_PHASE`]), so a variant's speed
//! does not depend on where `malloc` put it. The pool holds at most [`MAX_PER_CLASS`] buffers per class, so a burst of large
//! requests cannot pin memory for ever.

use crate::aligned::{AlignedVec, OUTPUT_PHASE};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Buffers kept per size class.
pub const MAX_PER_CLASS: usize = 16;
const CLASSES: usize = 48;

struct Pool {
    classes: [Mutex<Vec<AlignedVec>>; CLASSES],
    hits: AtomicU64,
    misses: AtomicU64,
}

static POOL: Pool = Pool {
    classes: [const { Mutex::new(Vec::new()) }; CLASSES],
    hits: AtomicU64::new(0),
    misses: AtomicU64::new(0),
};

fn class_of(len: usize) -> usize {
    len.max(1).next_power_of_two().trailing_zeros() as usize
}

/// An f32 buffer from the pool (returned on drop) or from a direct allocation.
pub struct Buf {
    vec: AlignedVec,
    len: usize,
    pooled: bool,
}

impl Buf {
    /// A fresh zeroed allocation of exactly `len` elements: the **direct** strategy.
    pub fn direct(len: usize) -> Buf {
        Buf {
            vec: AlignedVec::zeroed_at(len, OUTPUT_PHASE),
            len,
            pooled: false,
        }
    }

    /// Whether this buffer goes back to the pool when dropped.
    pub fn is_pooled(&self) -> bool {
        self.pooled
    }

    /// Copies the contents into a plain vector.
    pub fn to_vec(&self) -> Vec<f32> {
        self[..].to_vec()
    }
}

impl Deref for Buf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.vec[..self.len]
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.vec[..self.len]
    }
}

impl std::fmt::Debug for Buf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buf")
            .field("len", &self.len)
            .field("pooled", &self.pooled)
            .finish()
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if self.pooled && !self.vec.is_empty() {
            let class = class_of(self.vec.len());
            if let Ok(mut free) = POOL.classes[class].lock() {
                if free.len() < MAX_PER_CLASS {
                    free.push(std::mem::take(&mut self.vec));
                }
            }
        }
    }
}

/// A buffer of `len` elements from the pool: the **pooled** strategy. Its contents are
/// whatever the last user left (kernels overwrite their outputs).
pub fn take(len: usize) -> Buf {
    if len == 0 {
        return Buf {
            vec: AlignedVec::default(),
            len: 0,
            pooled: true,
        };
    }
    let class = class_of(len);
    let reused = POOL.classes[class]
        .lock()
        .ok()
        .and_then(|mut free| free.pop());
    let vec = match reused {
        Some(v) => {
            POOL.hits.fetch_add(1, Ordering::Relaxed);
            v
        }
        None => {
            POOL.misses.fetch_add(1, Ordering::Relaxed);
            AlignedVec::zeroed_at(1 << class, OUTPUT_PHASE)
        }
    };
    Buf {
        vec,
        len,
        pooled: true,
    }
}

/// Pool activity since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    /// Bytes held by idle buffers now.
    pub idle_bytes: usize,
}

/// Current pool statistics.
pub fn stats() -> Stats {
    let idle_bytes = POOL
        .classes
        .iter()
        .map(|c| {
            c.lock()
                .map(|v| v.iter().map(|b| b.len() * 4).sum())
                .unwrap_or(0)
        })
        .sum();
    Stats {
        hits: POOL.hits.load(Ordering::Relaxed),
        misses: POOL.misses.load(Ordering::Relaxed),
        idle_bytes,
    }
}

/// Frees every idle buffer.
pub fn clear() {
    for c in &POOL.classes {
        if let Ok(mut v) = c.lock() {
            v.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_buffers_are_reused_and_sized() {
        let a = take(777_777);
        assert_eq!(a.len(), 777_777);
        assert!(a.is_pooled());
        let ptr = a.as_ptr();
        drop(a);
        let b = take(600_000); // same class (2^20), which no other test uses
        assert_eq!(b.len(), 600_000);
        assert_eq!(b.as_ptr(), ptr);
        let d = Buf::direct(5);
        assert_eq!(&d[..], &[0.0; 5]);
        assert!(!d.is_pooled());
        assert_eq!(take(0).len(), 0);
    }
}
