//! Sources of batches for training and evaluation: tensors held in memory, a data loader,
//! or any iterator of batches a user writes. [`Model::fit`](super::Model::fit) and
//! [`Model::fit_batches`](super::Model::fit_batches) both train from a [`BatchSource`].

use std::error::Error;
use std::marker::PhantomData;

use strata_tensor::seed::{seeded_rng, shuffle};
use strata_tensor::{Element, Tensor};

use super::SHUFFLE;
use crate::error::{LayersError, Result};
use crate::targets::Targets;

/// Inputs `[B, …]` and the targets of their `B` samples.
pub type TrainingBatch<T> = (Tensor<T>, Targets<T>);

/// The error a batch source yields: any error type, kept whole (its source chain too).
pub type BatchError = Box<dyn Error + Send + Sync>;

/// The batches of one epoch, prepared on any thread.
pub type EpochBatches<'a, T> =
    Box<dyn Iterator<Item = std::result::Result<TrainingBatch<T>, BatchError>> + Send + 'a>;

/// Where training or evaluation batches come from, one epoch at a time.
///
/// Epoch `e` must give the same batches whenever it is asked for (draw shuffles and
/// augmentation from a seed and the epoch, as the data crate's `DataLoader` does): that
/// is what makes a resumed run repeat an uninterrupted one bitwise.
pub trait BatchSource<T: Element> {
    /// The batches of epoch `epoch` (0-based) from batch `first_step` (0-based) on; a run
    /// resumed mid-epoch asks for the batches it has not trained on yet.
    fn epoch(&self, epoch: usize, first_step: usize) -> Result<EpochBatches<'_, T>>;

    /// Batches per epoch, when known (the progress bar's length).
    fn steps_per_epoch(&self) -> Option<usize>;
}

/// Converts what a user's iterator yields into a [`TrainingBatch`]: `(inputs, targets)` or
/// `(inputs, class labels)`.
pub trait IntoTrainingBatch<T: Element> {
    /// The batch.
    fn into_training_batch(self) -> TrainingBatch<T>;
}

impl<T: Element> IntoTrainingBatch<T> for (Tensor<T>, Targets<T>) {
    fn into_training_batch(self) -> TrainingBatch<T> {
        self
    }
}

impl<T: Element> IntoTrainingBatch<T> for (Tensor<T>, Vec<usize>) {
    fn into_training_batch(self) -> TrainingBatch<T> {
        (self.0, Targets::Labels(self.1))
    }
}

/// In-memory tensors in batches, shuffled each epoch from a seed (what `fit(x, y)` trains
/// on).
///
/// ```
/// use strata_layers::train::{BatchSource, TensorBatches};
/// use strata_layers::Targets;
/// use strata_tensor::Tensor;
/// let x = Tensor::<f32>::zeros(&[10, 3]);
/// let y = Targets::Labels(vec![0; 10]);
/// let source = TensorBatches::new(&x, &y, 4)?.shuffle(7);
/// assert_eq!(source.steps_per_epoch(), Some(3));
/// let sizes: Vec<usize> = source
///     .epoch(0, 1)?
///     .map(|b| b.map(|(x, _)| x.shape()[0]))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(sizes, [4, 2]); // batch 0 skipped
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TensorBatches<'a, T: Element> {
    inputs: &'a Tensor<T>,
    targets: &'a Targets<T>,
    batch_size: usize,
    seed: Option<u64>,
}

impl<'a, T: Element> TensorBatches<'a, T> {
    /// `inputs` `[N, …]` and their `N` targets in batches of `batch_size` (at least 1), in
    /// order; the last batch may be smaller.
    pub fn new(inputs: &'a Tensor<T>, targets: &'a Targets<T>, batch_size: usize) -> Result<Self> {
        let n = inputs.shape().first().copied().unwrap_or(0);
        if targets.len() != n {
            return Err(LayersError::config(
                "batches",
                format!("{n} samples but {} targets", targets.len()),
            ));
        }
        if batch_size == 0 {
            return Err(LayersError::config(
                "batches",
                "batch size must be at least 1",
            ));
        }
        Ok(Self {
            inputs,
            targets,
            batch_size,
            seed: None,
        })
    }

    /// Visits the samples of each epoch in a permutation drawn from `(seed, epoch)`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    fn len(&self) -> usize {
        self.targets.len()
    }

    /// The order in which epoch `epoch` visits the samples.
    fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        if let Some(seed) = self.seed {
            shuffle(&mut order, &mut seeded_rng(seed, &[SHUFFLE, epoch as u64]));
        }
        order
    }
}

impl<T: Element> BatchSource<T> for TensorBatches<'_, T> {
    fn epoch(&self, epoch: usize, first_step: usize) -> Result<EpochBatches<'_, T>> {
        let order = self.order(epoch);
        let starts = (0..order.len()).step_by(self.batch_size).skip(first_step);
        let batch_size = self.batch_size;
        Ok(Box::new(starts.map(move |start| {
            let batch = &order[start..(start + batch_size).min(order.len())];
            let inputs = self
                .inputs
                .index_select(0, batch)
                .map_err(LayersError::from)?;
            let targets = self.targets.select(batch)?;
            Ok((inputs, targets))
        })))
    }

    fn steps_per_epoch(&self) -> Option<usize> {
        Some(self.len().div_ceil(self.batch_size))
    }
}

/// A source made of a closure that gives the batches of an epoch from a step on, e.g. over
/// the data crate's loader:
///
/// ```
/// use strata_layers::train::{batches_from_fn, BatchSource};
/// use strata_tensor::Tensor;
/// // Two batches per epoch of two samples each, made up on the fly.
/// let source = batches_from_fn(Some(2), |_epoch, first_step| {
///     (first_step..2).map(|_| -> Result<_, std::io::Error> {
///         Ok((Tensor::<f32>::zeros(&[2, 3]), vec![0usize, 1]))
///     })
/// });
/// assert_eq!(source.epoch(0, 0)?.count(), 2);
/// # Ok::<(), strata_layers::LayersError>(())
/// ```
pub fn batches_from_fn<'l, T, F, I, B, E>(
    steps_per_epoch: Option<usize>,
    make: F,
) -> FnBatches<'l, F>
where
    T: Element,
    F: Fn(usize, usize) -> I,
    I: IntoIterator<Item = std::result::Result<B, E>>,
    I::IntoIter: Send + 'l,
    B: IntoTrainingBatch<T>,
    E: Into<BatchError>,
{
    FnBatches {
        make,
        steps_per_epoch,
        borrows: PhantomData,
    }
}

/// The source [`batches_from_fn`] makes.
/// (`'l` is how long the batches it makes may borrow, e.g. a loader.)
#[derive(Debug, Clone)]
pub struct FnBatches<'l, F> {
    make: F,
    steps_per_epoch: Option<usize>,
    borrows: PhantomData<&'l ()>,
}

impl<'l, T, F, I, B, E> BatchSource<T> for FnBatches<'l, F>
where
    T: Element,
    F: Fn(usize, usize) -> I,
    I: IntoIterator<Item = std::result::Result<B, E>>,
    I::IntoIter: Send + 'l,
    B: IntoTrainingBatch<T>,
    E: Into<BatchError>,
{
    fn epoch(&self, epoch: usize, first_step: usize) -> Result<EpochBatches<'_, T>> {
        let batches = (self.make)(epoch, first_step).into_iter();
        Ok(Box::new(batches.map(|item| {
            item.map(IntoTrainingBatch::into_training_batch)
                .map_err(Into::into)
        })))
    }

    fn steps_per_epoch(&self) -> Option<usize> {
        self.steps_per_epoch
    }
}
