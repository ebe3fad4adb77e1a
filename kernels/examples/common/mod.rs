//! What the speed examples share.

/// A xorshift32 stream from `seed` (any seed, 0 too): reproducible inputs without a random
/// number crate.
pub fn xorshift(seed: u32) -> impl Iterator<Item = u32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    std::iter::repeat_with(move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s
    })
}
