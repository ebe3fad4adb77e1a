//! [`AlignedVec`]: f32 storage whose first element starts a 64-byte cache line at a chosen
//! offset within its 4 KiB page (its *phase*).
//!
//! Where `malloc` puts a buffer changes a kernel's speed by 20–50 % on the CPUs this harness
//! tunes for, for two reasons: a 512-bit load or store that straddles two cache lines costs
//! about two, and a load whose address matches an earlier in-flight store's in the low 12
//! bits (4 KiB aliasing) waits for it as if they overlapped. Both depend on allocator luck,
//! which differs from run to run and flipped the tuner's choices between consecutive runs.
//! So every buffer the harness hands a kernel is placed: aligned to a cache line, and at a
//! phase chosen by its role — problem inputs at 0, 512, 1024, 1536 bytes, outputs (pooled
//! and direct alike) at 2048 — so no input stream aliases an output stream, and each variant
//! is measured the same way every time.

use std::ops::{Deref, DerefMut};

/// Alignment of the first element, in bytes (one cache line).
pub const ALIGN: usize = 64;
/// The page size phases are taken within.
pub const PAGE: usize = 4096;
/// The phase of output buffers (pooled and direct): half a page from input 0.
pub const OUTPUT_PHASE: usize = 2048;
/// Slack elements allocated so that a start at any phase always exists.
const SLACK: usize = PAGE / 4 - 1;

/// The phase of problem input `i`: 0, 512, 1024, 1536 bytes, repeating.
pub fn input_phase(i: usize) -> usize {
    (i % 4) * 512
}

/// A fixed-length, zero-initialised f32 vector whose data starts at a chosen 64-byte-aligned
/// offset (phase) within a 4 KiB page.
///
/// Built on a plain `Vec<f32>` with up to 4 KiB of slack (so a fresh large one is still
/// lazily zeroed by the OS, as `vec![0.0; n]` is); the heap block never moves, so the offset
/// found at construction stays valid.
#[derive(Default)]
pub struct AlignedVec {
    raw: Vec<f32>,
    off: usize,
    len: usize,
    phase: usize,
}

impl AlignedVec {
    /// `len` zeros at phase 0.
    pub fn zeroed(len: usize) -> AlignedVec {
        AlignedVec::zeroed_at(len, 0)
    }

    /// `len` zeros starting `phase` bytes into a page (`phase` is taken modulo the page and
    /// rounded down to a cache line).
    pub fn zeroed_at(len: usize, phase: usize) -> AlignedVec {
        let phase = phase % PAGE / ALIGN * ALIGN;
        if len == 0 {
            return AlignedVec {
                phase,
                ..AlignedVec::default()
            };
        }
        let raw = vec![0.0f32; len + SLACK];
        // The element offset that puts the start at `phase` within its page; a Vec<f32> is
        // 4-byte aligned, so it is a whole number of elements, at most SLACK.
        let addr = raw.as_ptr() as usize;
        let off = ((phase + PAGE - addr % PAGE) % PAGE) / 4;
        AlignedVec {
            raw,
            off,
            len,
            phase,
        }
    }

    /// A copy of `s` at phase 0.
    pub fn from_slice(s: &[f32]) -> AlignedVec {
        AlignedVec::copy_at(s, 0)
    }

    /// A copy of `s` starting `phase` bytes into a page.
    pub fn copy_at(s: &[f32], phase: usize) -> AlignedVec {
        let mut v = AlignedVec::zeroed_at(s.len(), phase);
        v.copy_from_slice(s);
        v
    }

    /// Where the data starts within its page, in bytes.
    pub fn phase(&self) -> usize {
        self.phase
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
    /// A new allocation at the same phase (a derived clone could land anywhere).
    fn clone(&self) -> AlignedVec {
        AlignedVec::copy_at(self, self.phase)
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
    fn starts_at_its_phase_whatever_the_length() {
        for (len, phase) in [(1, 0), (5, 512), (100, 2048), (4097, 1536), (1 << 20, 2048)] {
            let v = AlignedVec::zeroed_at(len, phase);
            assert_eq!(v.as_ptr() as usize % PAGE, phase, "len {len}");
            assert_eq!(v.clone().as_ptr() as usize % PAGE, phase);
            assert_eq!(v.phase(), phase);
        }
        assert_eq!(input_phase(5), 512);
    }

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
