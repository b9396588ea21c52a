//! Train/validation split of a dataset, by fraction.

use strata_tensor::split::{split_indices, SplitMethod};

use crate::dataset::{Dataset, Subset};
use crate::error::Result;

/// Splits `dataset` into (training, validation) subsets, the validation set holding the
/// share `fraction` (in `[0, 1]`) of the samples.
///
/// - `seed: None` follows Keras's `Model.fit(validation_split=fraction)`: the validation data
///   are the **last** `n − ⌊n · (1 − fraction)⌋` samples, in order, taken before any
///   shuffling; the training set is the samples before them.
/// - `seed: Some(s)` draws a random subset of each class from `s`, `round(count · fraction)`
///   of a class with `count` samples, so that both sides keep the class proportions (as
///   scikit-learn's `train_test_split(stratify=y)`), the same for the same seed. Use this for
///   a folder listed class by class, whose last samples are all of one class.
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
    let n = dataset.len();
    let labels: Vec<usize>;
    let method = match seed {
        None => SplitMethod::Tail,
        Some(seed) => {
            labels = (0..n).map(|i| dataset.label(i)).collect::<Result<_>>()?;
            SplitMethod::Stratified {
                labels: &labels,
                seed,
            }
        }
    };
    let (train, validation) = split_indices(n, fraction, method)?;
    Ok((
        Subset::new(dataset, train)?,
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
        // Seven shapes cycle circle, square, triangle: classes of 3, 2 and 2 samples keep
        // round(0.9), round(0.6), round(0.6) = 1 each for validation.
        let labels: Vec<usize> = v1.indices().iter().map(|&i| d.label(i).unwrap()).collect();
        let mut sorted = labels.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2]);
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
