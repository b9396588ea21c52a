//! The one seeded-randomness scheme of the stack: every random draw (a weight, a shuffle, a
//! dropout mask, an augmentation) comes from a generator seeded by mixing the run's seed with
//! the words that say what the draw is for (a purpose, an epoch, a step, a sample index).
//!
//! Draws made this way do not depend on the order in which work runs or on the number of
//! threads, and a run restarted at any step repeats the draws of an uninterrupted one.
//!
//! ```
//! use strata_tensor::seed::{derive_seed, permutation, seeded_rng};
//! // The shuffle of epoch 3 under seed 7, the same every time.
//! let order = permutation(5, &mut seeded_rng(7, &[1, 3]));
//! assert_eq!(order, permutation(5, &mut seeded_rng(7, &[1, 3])));
//! assert_ne!(derive_seed(7, &[1, 3]), derive_seed(7, &[1, 4]));
//! ```

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of the draw named by `words` (e.g. `[purpose, epoch, step]`) under `seed`:
/// `mix(…mix(mix(seed) ^ words[0]) ^ words[1]…)` with SplitMix64's finaliser as `mix`.
pub fn derive_seed(seed: u64, words: &[u64]) -> u64 {
    words.iter().fold(mix(seed), |z, &w| mix(z ^ w))
}

/// A generator for the draw named by `words` under `seed` (see [`derive_seed`]).
pub fn seeded_rng(seed: u64, words: &[u64]) -> StdRng {
    StdRng::seed_from_u64(derive_seed(seed, words))
}

/// A uniformly random permutation of `0..n` (Fisher–Yates, from the last position down).
pub fn permutation<R: Rng + ?Sized>(n: usize, rng: &mut R) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, rng);
    order
}

/// Shuffles `items` in place uniformly (Fisher–Yates, from the last position down).
pub fn shuffle<T, R: Rng + ?Sized>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.random_range(0..=i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        let a: u64 = seeded_rng(1, &[0, 5]).random();
        assert_eq!(a, seeded_rng(1, &[0, 5]).random::<u64>());
        assert_ne!(a, seeded_rng(1, &[1, 5]).random::<u64>());
        assert_ne!(a, seeded_rng(1, &[0, 6]).random::<u64>());
        assert_ne!(a, seeded_rng(2, &[0, 5]).random::<u64>());
        // Word order matters: (epoch 1, step 2) is not (epoch 2, step 1).
        assert_ne!(derive_seed(0, &[1, 2]), derive_seed(0, &[2, 1]));
    }

    #[test]
    fn permutations_hold_every_index_once() {
        let order = permutation(100, &mut seeded_rng(3, &[]));
        assert_ne!(order, (0..100).collect::<Vec<_>>());
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert!(permutation(0, &mut seeded_rng(3, &[])).is_empty());
    }
}
