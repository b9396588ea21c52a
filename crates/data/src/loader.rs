//! The batch loader: seeded shuffling, drop-last, parallel decoding and augmentation.

use std::sync::Arc;

use rayon::prelude::*;
use strata_tensor::Tensor;

use crate::augment::{Sample, Transform};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use strata_tensor::seed::{seeded_rng, shuffle};

/// Stream number (XORed into the seed) of the shuffling generator, apart from the per-sample
/// augmentation generators.
const SHUFFLE_SALT: u64 = 0x5348_5546_464c_4521;

/// One batch: images `[B, C, H, W]` and their labels.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The images, `[batch, channels, height, width]`.
    pub images: Tensor<f32>,
    /// The label of each image.
    pub labels: Vec<usize>,
}

impl Batch {
    /// The images and labels as a pair, e.g. to hand a batch to a training loop that takes
    /// `(inputs, labels)`.
    pub fn into_parts(self) -> (Tensor<f32>, Vec<usize>) {
        (self.images, self.labels)
    }
}

/// Reads a whole dataset into one batch: all images as `[N, C, H, W]` in dataset order, and
/// their labels (for models trained on in-memory tensors, as Keras's `fit(x, y)`).
///
/// ```
/// use strata_data::{load_all, Shapes};
/// let batch = load_all(&Shapes::new(6, 1))?;
/// assert_eq!(batch.images.shape(), &[6, 3, 128, 128]);
/// assert_eq!(batch.labels, vec![0, 1, 2, 0, 1, 2]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn load_all<D: Dataset + ?Sized>(dataset: &D) -> Result<Batch> {
    let [c, h, w] = dataset.sample_shape();
    if dataset.len() == 0 {
        return Ok(Batch {
            images: Tensor::zeros(&[0, c, h, w]),
            labels: Vec::new(),
        });
    }
    DataLoader::new(dataset, dataset.len())?
        .epoch(0)
        .next()
        .unwrap_or_else(|| {
            Err(DataError::invalid(
                "load_all",
                "the loader yielded no batch",
            ))
        })
}

/// Yields batches of a [`Dataset`], in parallel with `rayon`.
///
/// - With [`shuffle`](DataLoader::shuffle), epoch `e` visits the samples in a permutation
///   drawn from `(seed, e)`; otherwise in order.
/// - With [`drop_last`](DataLoader::drop_last), a final batch smaller than the batch size is
///   left out.
/// - A [`Transform`] (e.g. an [`Augment`](crate::Augment) chain) is applied to each sample
///   with a generator derived from `(seed, epoch, sample index)`, so batches are bitwise the
///   same whatever the number of threads.
///
/// ```
/// use strata_data::{DataLoader, Shapes, HorizontalFlip};
/// let shapes = Shapes::new(10, 1);
/// let loader = DataLoader::new(&shapes, 4)?.shuffle(7).drop_last(true).transform(HorizontalFlip);
/// let batches: Vec<_> = loader.epoch(0).collect::<Result<_, _>>()?;
/// assert_eq!(batches.len(), 2);
/// assert_eq!(batches[0].images.shape(), &[4, 3, 128, 128]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone)]
pub struct DataLoader<'a, D: Dataset + ?Sized> {
    dataset: &'a D,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    transform: Option<Arc<dyn Transform>>,
    /// (rank, ranks): each batch keeps only this rank's rows.
    shard: Option<(usize, usize)>,
}

impl<'a, D: Dataset + ?Sized> DataLoader<'a, D> {
    /// A loader of `dataset` in batches of `batch_size` (positive), in order, no transform.
    pub fn new(dataset: &'a D, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::invalid(
                "DataLoader::new",
                "batch size must be positive, found 0",
            ));
        }
        Ok(Self {
            dataset,
            batch_size,
            shuffle: false,
            seed: 0,
            drop_last: false,
            transform: None,
            shard: None,
        })
    }

    /// Shuffles each epoch with a permutation drawn from `(seed, epoch)`; `seed` also seeds
    /// the augmentation.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = true;
        self.seed = seed;
        self
    }

    /// Seeds the augmentation without shuffling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Leaves out a final batch smaller than the batch size.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Keeps, of every batch, only the rows of rank `rank` among `ranks` (data-parallel
    /// training): contiguous rows `len·rank/ranks .. len·(rank+1)/ranks` of each batch of
    /// `len` samples, the split of `strata_distributed::shard_range`. The batches, the shuffle
    /// and each sample's augmentation are those of the unsharded loader, but a rank reads
    /// only its own rows. A batch with fewer samples than ranks is an error on every rank.
    pub fn shard(mut self, rank: usize, ranks: usize) -> Self {
        let ranks = ranks.max(1);
        self.shard = Some((rank.min(ranks - 1), ranks));
        self
    }

    /// Applies `transform` to every sample.
    pub fn transform(mut self, transform: impl Transform + 'static) -> Self {
        self.transform = Some(Arc::new(transform));
        self
    }

    /// Number of batches per epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// The shape `[C, H, W]` of the samples after the transform.
    pub fn sample_shape(&self) -> Result<[usize; 3]> {
        let input = self.dataset.sample_shape();
        match &self.transform {
            Some(t) => t.output_shape(input),
            None => Ok(input),
        }
    }

    /// The order in which epoch `epoch` visits the samples.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.shuffle {
            shuffle(
                &mut order,
                &mut seeded_rng(self.seed ^ SHUFFLE_SALT, &[epoch, 0]),
            );
        }
        order
    }

    /// The batches of epoch `epoch`. Each item is a batch or the error of the first sample
    /// of that batch (in batch order) that failed to load.
    pub fn epoch(&self, epoch: u64) -> Batches<'_, 'a, D> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of epoch `epoch` from batch `first_batch` (0-based) on, without reading
    /// the batches before it: the same batches as the rest of [`DataLoader::epoch`] (to
    /// resume training mid-epoch).
    pub fn epoch_from(&self, epoch: u64, first_batch: usize) -> Batches<'_, 'a, D> {
        let order = self.order(epoch);
        let next = first_batch.saturating_mul(self.batch_size).min(order.len());
        Batches {
            loader: self,
            order,
            epoch,
            next,
            shape: self.sample_shape(),
        }
    }

    fn load_batch(&self, indices: &[usize], epoch: u64, shape: [usize; 3]) -> Result<Batch> {
        let in_shape = self.dataset.sample_shape();
        let per_out: usize = shape.iter().product();
        let mut data = vec![0.0f32; per_out * indices.len()];
        let labels: Vec<Result<usize>> = data
            .par_chunks_mut(per_out.max(1))
            .zip(indices.par_iter())
            .map(|(out, &index)| match &self.transform {
                None => self.dataset.read(index, out),
                Some(t) => {
                    let mut sample = Sample {
                        data: vec![0.0; in_shape.iter().product()],
                        shape: in_shape,
                    };
                    let label = self.dataset.read(index, &mut sample.data)?;
                    t.apply(
                        &mut sample,
                        &mut seeded_rng(self.seed, &[epoch, index as u64]),
                    );
                    out.copy_from_slice(&sample.data);
                    Ok(label)
                }
            })
            .collect();
        let labels = labels.into_iter().collect::<Result<Vec<usize>>>()?;
        let images = Tensor::from_vec(data, &[indices.len(), shape[0], shape[1], shape[2]])?;
        Ok(Batch { images, labels })
    }
}

/// The batches of one epoch (see [`DataLoader::epoch`]).
pub struct Batches<'l, 'a, D: Dataset + ?Sized> {
    loader: &'l DataLoader<'a, D>,
    order: Vec<usize>,
    epoch: u64,
    next: usize,
    shape: Result<[usize; 3]>,
}

impl<D: Dataset + ?Sized> Iterator for Batches<'_, '_, D> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        let shape = match &self.shape {
            Ok(shape) => *shape,
            Err(_) => {
                // Report a transform that does not fit the dataset once, then stop.
                let err = std::mem::replace(&mut self.shape, Ok([0; 3]));
                self.next = self.order.len();
                return err.err().map(Err);
            }
        };
        let remaining = self.order.len() - self.next;
        let size = remaining.min(self.loader.batch_size);
        if size == 0 || (self.loader.drop_last && size < self.loader.batch_size) {
            return None;
        }
        let mut indices = &self.order[self.next..self.next + size];
        self.next += size;
        if let Some((rank, ranks)) = self.loader.shard {
            if size < ranks {
                return Some(Err(DataError::invalid(
                    "DataLoader::shard",
                    format!("a batch of {size} samples cannot be shared by {ranks} ranks"),
                )));
            }
            indices = &indices[size * rank / ranks..size * (rank + 1) / ranks];
        }
        Some(self.loader.load_batch(indices, self.epoch, shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::{Augment, HorizontalFlip, RandomCrop, RandomShift};
    use crate::dataset::InMemoryDataset;
    use crate::shapes::Shapes;

    fn tiny(n: usize) -> InMemoryDataset {
        let pixels = (0..n * 4).map(|i| i as u8).collect();
        InMemoryDataset::new(
            pixels,
            [1, 2, 2],
            (0..n).map(|i| i % 3).collect(),
            vec!["a".into(), "b".into(), "c".into()],
        )
        .unwrap()
    }

    #[test]
    fn batches_in_order_and_drop_last() {
        let d = tiny(10);
        let loader = DataLoader::new(&d, 4).unwrap();
        let batches: Vec<Batch> = loader.epoch(0).collect::<Result<_>>().unwrap();
        assert_eq!(
            batches.iter().map(|b| b.labels.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        assert_eq!(batches[2].images.shape(), &[2, 1, 2, 2]);
        assert_eq!(batches[2].labels, [2, 0]);
        assert_eq!(batches[0].images.to_vec()[5], 5.0 / 255.0);
        assert_eq!(loader.num_batches(), 3);
        let loader = loader.drop_last(true);
        assert_eq!(loader.epoch(0).count(), 2);
        assert_eq!(loader.num_batches(), 2);
        assert!(DataLoader::new(&d, 0).is_err());
    }

    #[test]
    fn shards_together_are_the_batches_and_augment_alike() {
        let d = tiny(11);
        let whole = DataLoader::new(&d, 6)
            .unwrap()
            .shuffle(2)
            .transform(Augment::new().then(HorizontalFlip));
        let batches: Vec<Batch> = whole.epoch_from(1, 0).collect::<Result<_>>().unwrap();
        for ranks in 1..=5 {
            let parts: Vec<Vec<Batch>> = (0..ranks)
                .map(|r| {
                    whole
                        .clone()
                        .shard(r, ranks)
                        .epoch_from(1, 0)
                        .collect::<Result<_>>()
                        .unwrap()
                })
                .collect();
            for (step, batch) in batches.iter().enumerate() {
                let labels: Vec<usize> =
                    parts.iter().flat_map(|p| p[step].labels.clone()).collect();
                let pixels: Vec<f32> = parts.iter().flat_map(|p| p[step].images.to_vec()).collect();
                assert_eq!(labels, batch.labels, "{ranks} ranks");
                assert_eq!(pixels, batch.images.to_vec(), "{ranks} ranks");
            }
        }
        // The last batch (5 samples) cannot be split over 6 ranks.
        let err = whole.shard(0, 6).epoch(1).nth(1).unwrap().unwrap_err();
        assert!(err.to_string().contains("6 ranks"), "{err}");
    }

    #[test]
    fn shuffling_is_a_seeded_permutation_per_epoch() {
        let d = tiny(50);
        let loader = DataLoader::new(&d, 8).unwrap().shuffle(3);
        let (a, b) = (loader.order(0), loader.order(1));
        assert_ne!(a, b);
        assert_eq!(a, DataLoader::new(&d, 8).unwrap().shuffle(3).order(0));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        let labels: Vec<usize> = loader.epoch(0).flat_map(|b| b.unwrap().labels).collect();
        assert_eq!(labels, a.iter().map(|i| i % 3).collect::<Vec<_>>());
    }

    #[test]
    fn same_batches_with_one_or_two_threads() {
        let shapes = Shapes::new(12, 5);
        let run = |threads: usize| -> Vec<(Vec<f32>, Vec<usize>)> {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let augment = Augment::new()
                    .then(RandomShift::new(0.1, 0.1).unwrap())
                    .then(HorizontalFlip)
                    .then(RandomCrop {
                        height: 96,
                        width: 96,
                        padding: 4,
                    });
                let loader = DataLoader::new(&shapes, 5)
                    .unwrap()
                    .shuffle(11)
                    .transform(augment);
                (0..2)
                    .flat_map(|e| loader.epoch(e).map(|b| b.unwrap()).collect::<Vec<_>>())
                    .map(|b| (b.images.to_vec(), b.labels))
                    .collect()
            })
        };
        let one = run(1);
        assert_eq!(one.len(), 6);
        assert_eq!(one, run(2));
        // The augmentation actually varies between epochs.
        assert_ne!(one[0].0, one[3].0);
        // Starting an epoch at a batch gives the rest of that epoch's batches.
        let augment = Augment::new().then(RandomShift::new(0.1, 0.1).unwrap());
        let loader = DataLoader::new(&shapes, 5)
            .unwrap()
            .shuffle(11)
            .transform(augment);
        let all: Vec<Vec<f32>> = loader
            .epoch(1)
            .map(|b| b.unwrap().images.to_vec())
            .collect();
        let rest: Vec<Vec<f32>> = loader
            .epoch_from(1, 1)
            .map(|b| b.unwrap().images.to_vec())
            .collect();
        assert_eq!(rest, all[1..]);
        assert_eq!(loader.epoch_from(1, 9).count(), 0);
    }

    #[test]
    fn errors_surface_per_batch() {
        let d = tiny(4);
        let loader = DataLoader::new(&d, 2).unwrap().transform(RandomCrop {
            height: 9,
            width: 9,
            padding: 0,
        });
        let items: Vec<_> = loader.epoch(0).collect();
        assert_eq!(items.len(), 1);
        assert!(items[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("RandomCrop"));
    }
}
