//! Train/validation split by fraction.

use rand::RngExt;

use crate::dataset::{Dataset, Subset};
use crate::error::{DataError, Result};
use crate::rng::derived_rng;

/// Splits `dataset` into (training, validation) subsets, the validation set holding
/// `n - floor(n · (1 - fraction))` samples.
///
/// - `seed: None` follows Keras' `Model.fit(validation_split=fraction)`: the validation data
///   are the **last** samples, in order, taken before any shuffling (Keras computes
///   `split_at = floor(n · (1 - fraction))`); the training set is the samples before them.
/// - `seed: Some(s)` first draws a permutation of the samples from `s`, then splits it the
///   same way, giving a random split that is the same for the same seed. (Keras'
///   `ImageDataGenerator(validation_split)` instead takes the first fraction of each class
///   folder; use `None` on a dataset in that order for that.)
///
/// ```
/// use strata_data::{train_validation_split, Dataset, Shapes};
/// let data = Shapes::new(10, 0);
/// let (train, val) = train_validation_split(&data, 0.2, None)?;
/// assert_eq!(val.indices(), &[8, 9]);
/// assert_eq!(train.len(), 8);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn train_validation_split<D: Dataset + ?Sized>(
    dataset: &D,
    fraction: f64,
    seed: Option<u64>,
) -> Result<(Subset<'_, D>, Subset<'_, D>)> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(DataError::invalid(
            "train_validation_split",
            format!("fraction must be in [0, 1], found {fraction}"),
        ));
    }
    let n = dataset.len();
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(seed) = seed {
        let mut rng = derived_rng(seed, u64::MAX, 0);
        for i in (1..n).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
    }
    let split_at = ((n as f64) * (1.0 - fraction)).floor() as usize;
    let validation = order.split_off(split_at.min(n));
    Ok((
        Subset::new(dataset, order)?,
        Subset::new(dataset, validation)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::Shapes;

    #[test]
    fn keras_semantics_and_seeded_split() {
        let d = Shapes::new(7, 0);
        let (t, v) = train_validation_split(&d, 0.3, None).unwrap();
        // floor(7 * 0.7) = 4
        assert_eq!(t.indices(), &[0, 1, 2, 3]);
        assert_eq!(v.indices(), &[4, 5, 6]);
        let (t1, v1) = train_validation_split(&d, 0.3, Some(9)).unwrap();
        let (t2, v2) = train_validation_split(&d, 0.3, Some(9)).unwrap();
        assert_eq!((t1.indices(), v1.indices()), (t2.indices(), v2.indices()));
        let mut all: Vec<usize> = t1.indices().iter().chain(v1.indices()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..7).collect::<Vec<_>>());
        assert_eq!(v1.len(), 3);
        assert!(train_validation_split(&d, 1.5, None).is_err());
        let (t, v) = train_validation_split(&d, 0.0, None).unwrap();
        assert_eq!((t.len(), v.len()), (7, 0));
    }
}
