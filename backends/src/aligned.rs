//! [`AlignedVec`]: f32 storage whose first element starts a 64-byte cache line.
//!
//! A 512-bit load or store that straddles two cache lines costs about two on the CPUs this
//! harness tunes for, so the same kernel on the same shape can run 20–40 % slower when
//! `malloc` happens to return an address that is 16 bytes past a line. Measurements that
//! depend on allocator luck differ from run to run and flip the tuner's choices; every
//! buffer the harness hands a kernel (problem inputs, pooled and direct outputs) is therefore
//! aligned, so each variant is measured at its best and the same way every time.

use std::ops::{Deref, DerefMut};

/// Alignment of the first element, in bytes (one cache line).
pub const ALIGN: usize = 64;
/// Slack elements allocated so that an aligned start always exists.
const SLACK: usize = ALIGN / 4 - 1;

/// A fixed-length, zero-initialised f32 vector whose data starts on a 64-byte boundary.
///
/// Built on a plain `Vec<f32>` with a little slack (so a fresh large one is still lazily
/// zeroed by the OS, as `vec![0.0; n]` is); the heap block never moves, so the offset found
/// at construction stays valid.
#[derive(Default)]
pub struct AlignedVec {
    raw: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeroed(len: usize) -> AlignedVec {
        if len == 0 {
            return AlignedVec::default();
        }
        let raw = vec![0.0f32; len + SLACK];
        // A Vec<f32> is at least 4-byte aligned, so the offset is at most SLACK elements.
        let off = raw.as_ptr().align_offset(ALIGN).min(SLACK);
        AlignedVec { raw, off, len }
    }

    /// A copy of `s`.
    pub fn from_slice(s: &[f32]) -> AlignedVec {
        let mut v = AlignedVec::zeroed(s.len());
        v.copy_from_slice(s);
        v
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.raw[self.off..self.off + self.len]
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.raw[self.off..self.off + self.len]
    }
}

impl Clone for AlignedVec {
    /// A new allocation, aligned in its own right (a derived clone could land anywhere).
    fn clone(&self) -> AlignedVec {
        AlignedVec::from_slice(self)
    }

    fn clone_from(&mut self, src: &AlignedVec) {
        if self.len == src.len {
            self.copy_from_slice(src);
        } else {
            *self = src.clone();
        }
    }
}

impl FromIterator<f32> for AlignedVec {
    fn from_iter<I: IntoIterator<Item = f32>>(iter: I) -> AlignedVec {
        let v: Vec<f32> = iter.into_iter().collect();
        AlignedVec::from_slice(&v)
    }
}

impl From<&[f32]> for AlignedVec {
    fn from(s: &[f32]) -> AlignedVec {
        AlignedVec::from_slice(s)
    }
}

impl std::fmt::Debug for AlignedVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for AlignedVec {
    fn eq(&self, other: &AlignedVec) -> bool {
        self[..] == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line_whatever_the_length() {
        for len in [1, 2, 3, 15, 16, 17, 100, 4097, 1 << 20] {
            let v = AlignedVec::zeroed(len);
            assert_eq!(v.len(), len);
            assert_eq!(v.as_ptr() as usize % ALIGN, 0, "len {len}");
            assert!(v.iter().all(|&x| x == 0.0));
            let w = v.clone();
            assert_eq!(w.as_ptr() as usize % ALIGN, 0);
            assert_eq!(v, w);
        }
        let e = AlignedVec::zeroed(0);
        assert!(e.is_empty());
        let c: AlignedVec = (0..5).map(|i| i as f32).collect();
        assert_eq!(&c[..], &[0.0, 1.0, 2.0, 3.0, 4.0]);
        let mut d = AlignedVec::zeroed(3);
        d.clone_from(&c);
        assert_eq!(d, c);
    }
}
