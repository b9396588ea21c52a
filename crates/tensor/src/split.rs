//! Train/validation splits of sample indices, shared by in-memory training and datasets.

use std::collections::BTreeMap;

use crate::error::{Result, TensorError};
use crate::seed::{seeded_rng, shuffle};

/// Stream word of the split's generator (see [`crate::seed`]).
const SPLIT_STREAM: u64 = 0x5350_4c49_5400_0001;

/// How [`split_indices`] chooses the validation samples.
#[derive(Debug, Clone, Copy)]
pub enum SplitMethod<'a> {
    /// The last samples, in order, as Keras's `fit(validation_split=…)`: the first
    /// `⌊n · (1 − fraction)⌋` train, the rest validate.
    Tail,
    /// A seeded random subset of `n − ⌊n · (1 − fraction)⌋` samples.
    Shuffled {
        /// Seed of the draw.
        seed: u64,
    },
    /// A seeded random subset of each class, `round(count · fraction)` of a class with
    /// `count` samples, so that both sides keep the class proportions (scikit-learn's
    /// `train_test_split(stratify=labels)`).
    Stratified {
        /// One class label per sample.
        labels: &'a [usize],
        /// Seed of the draw.
        seed: u64,
    },
}

/// Splits the indices `0..n` into (training, validation), each in increasing order.
/// `fraction` (in `[0, 1]`) is the share held out for validation.
///
/// ```
/// use strata_tensor::split::{split_indices, SplitMethod};
/// let (train, val) = split_indices(10, 0.2, SplitMethod::Tail)?;
/// assert_eq!(val, [8, 9]);
/// let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
/// let (_, val) = split_indices(10, 0.5, SplitMethod::Stratified { labels: &labels, seed: 1 })?;
/// assert_eq!(val.iter().filter(|&&i| labels[i] == 0).count(), 2);
/// assert_eq!(val.iter().filter(|&&i| labels[i] == 1).count(), 3);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
pub fn split_indices(
    n: usize,
    fraction: f64,
    method: SplitMethod<'_>,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(TensorError::invalid(
            "split_indices",
            format!("the validation fraction must be in [0, 1], found {fraction}"),
        ));
    }
    let tail_split = |mut order: Vec<usize>| {
        let split_at = ((order.len() as f64) * (1.0 - fraction)).floor() as usize;
        let mut validation = order.split_off(split_at.min(order.len()));
        order.sort_unstable();
        validation.sort_unstable();
        (order, validation)
    };
    match method {
        SplitMethod::Tail => Ok(tail_split((0..n).collect())),
        SplitMethod::Shuffled { seed } => {
            let mut order: Vec<usize> = (0..n).collect();
            shuffle(&mut order, &mut seeded_rng(seed, &[SPLIT_STREAM]));
            Ok(tail_split(order))
        }
        SplitMethod::Stratified { labels, seed } => {
            if labels.len() != n {
                return Err(TensorError::invalid(
                    "split_indices",
                    format!("{n} samples but {} labels", labels.len()),
                ));
            }
            let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (i, &label) in labels.iter().enumerate() {
                by_class.entry(label).or_default().push(i);
            }
            let (mut train, mut validation) = (Vec::new(), Vec::new());
            for (class, mut members) in by_class {
                shuffle(
                    &mut members,
                    &mut seeded_rng(seed, &[SPLIT_STREAM, class as u64]),
                );
                let held = ((members.len() as f64) * fraction).round() as usize;
                validation.extend_from_slice(&members[..held]);
                train.extend_from_slice(&members[held..]);
            }
            train.sort_unstable();
            validation.sort_unstable();
            Ok((train, validation))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keras_tail_and_seeded_shuffle() {
        // ⌊7 · 0.7⌋ = 4
        let (t, v) = split_indices(7, 0.3, SplitMethod::Tail).unwrap();
        assert_eq!((t, v), (vec![0, 1, 2, 3], vec![4, 5, 6]));
        let a = split_indices(7, 0.3, SplitMethod::Shuffled { seed: 9 }).unwrap();
        assert_eq!(
            a,
            split_indices(7, 0.3, SplitMethod::Shuffled { seed: 9 }).unwrap()
        );
        assert_eq!(a.1.len(), 3);
        assert!(split_indices(7, 1.5, SplitMethod::Tail).is_err());
        assert_eq!(split_indices(7, 0.0, SplitMethod::Tail).unwrap().1.len(), 0);
    }

    #[test]
    fn a_class_sorted_folder_validates_on_every_class() {
        // 30 circles, then 30 squares, then 30 triangles, as a folder lists them.
        let labels: Vec<usize> = (0..90).map(|i| i / 30).collect();
        let (_, tail) = split_indices(90, 0.3, SplitMethod::Tail).unwrap();
        assert!(tail.iter().all(|&i| labels[i] == 2));
        let (train, val) = split_indices(
            90,
            0.3,
            SplitMethod::Stratified {
                labels: &labels,
                seed: 4,
            },
        )
        .unwrap();
        for class in 0..3 {
            assert_eq!(val.iter().filter(|&&i| labels[i] == class).count(), 9);
            assert_eq!(train.iter().filter(|&&i| labels[i] == class).count(), 21);
        }
    }

    proptest! {
        #[test]
        fn stratified_splits_keep_class_proportions(
            labels in proptest::collection::vec(0usize..4, 0..200),
            fraction in 0.0f64..=1.0,
            seed in any::<u64>(),
        ) {
            let n = labels.len();
            let (train, val) =
                split_indices(n, fraction, SplitMethod::Stratified { labels: &labels, seed }).unwrap();
            let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
            for class in 0..4 {
                let count = labels.iter().filter(|&&l| l == class).count();
                let held = val.iter().filter(|&&i| labels[i] == class).count();
                // Each class holds out its own share, to the nearest sample.
                prop_assert!((held as f64 - count as f64 * fraction).abs() <= 0.5 + 1e-9);
            }
        }
    }
}
