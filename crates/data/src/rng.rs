//! Per-sample random generators derived from (seed, stream, index), so that parallel work
//! gives the same values whatever the number of threads or the order of execution.

use rand::rngs::StdRng;
use rand::SeedableRng;

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A generator for item `index` of `stream` (e.g. an epoch) under `seed`.
pub(crate) fn derived_rng(seed: u64, stream: u64, index: u64) -> StdRng {
    StdRng::seed_from_u64(mix(mix(mix(seed) ^ stream) ^ index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_differ_and_repeat() {
        let a: u64 = derived_rng(1, 0, 5).random();
        assert_eq!(a, derived_rng(1, 0, 5).random::<u64>());
        assert_ne!(a, derived_rng(1, 1, 5).random::<u64>());
        assert_ne!(a, derived_rng(1, 0, 6).random::<u64>());
        assert_ne!(a, derived_rng(2, 0, 5).random::<u64>());
    }
}
