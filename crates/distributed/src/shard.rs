//! Each rank's share of every batch: the global batches of one shared, seeded source, split
//! by rank, so that a step of N ranks trains on the samples of one step of one process.

use strata_layers::train::{BatchSource, EpochBatches, StepPosition};
use strata_layers::{LayersError, Result as LayersResult, Targets};
use strata_tensor::Element;

/// The rows of a global batch of `len` samples that rank `rank` of `world_size` trains on:
/// contiguous, in rank order, sizes differing by at most one
/// (`len·rank/world_size .. len·(rank+1)/world_size`).
pub fn shard_range(len: usize, rank: usize, world_size: usize) -> std::ops::Range<usize> {
    let world = world_size.max(1);
    let rank = rank.min(world - 1);
    (len * rank / world)..(len * (rank + 1) / world)
}

/// A [`BatchSource`] that gives rank `rank` its rows of each batch of `global`.
///
/// Every rank builds `global` the same way (same data, same seed), so the global batches
/// agree across ranks; epochs and steps count global batches, so a checkpoint's position
/// means the same on any number of ranks. A global batch with fewer samples than ranks is an
/// error on every rank (use a loader's `drop_last`, or a dataset size that leaves no such
/// batch).
///
/// Each rank reads (and augments) the whole global batch and keeps its rows: simple and
/// correct for any source, at the cost of repeated loading work on every rank. A loader
/// that reads only a rank's rows (the data crate's `DataLoader::shard`) avoids that; train
/// from it with [`DataParallel::fit_local`](crate::DataParallel::fit_local).
pub struct Shard<'s, T: Element> {
    global: &'s dyn BatchSource<T>,
    rank: usize,
    world_size: usize,
}

impl<'s, T: Element> Shard<'s, T> {
    /// Rank `rank`'s share of `global` among `world_size` ranks.
    pub fn new(global: &'s dyn BatchSource<T>, rank: usize, world_size: usize) -> Self {
        Self {
            global,
            rank,
            world_size: world_size.max(1),
        }
    }
}

impl<T: Element> BatchSource<T> for Shard<'_, T> {
    fn epoch(&self, epoch: usize, first_step: usize) -> LayersResult<EpochBatches<'_, T>> {
        let (rank, world) = (self.rank, self.world_size);
        let batches = self.global.epoch(epoch, first_step)?;
        Ok(Box::new(batches.enumerate().map(move |(i, batch)| {
            let (x, y) = batch?;
            let len = y.len();
            if len < world {
                let position = StepPosition {
                    epoch,
                    step: first_step + i,
                };
                return Err(LayersError::config(
                    "distributed batches",
                    format!(
                        "batch {} of epoch {} has {len} samples, fewer than the {world} ranks",
                        position.step + 1,
                        position.epoch + 1
                    ),
                )
                .into());
            }
            let rows: Vec<usize> = shard_range(len, rank, world).collect();
            let y = match y {
                Targets::Labels(labels) => {
                    Targets::Labels(rows.iter().map(|&r| labels[r]).collect())
                }
                Targets::Dense(t) => {
                    Targets::Dense(t.index_select(0, &rows).map_err(LayersError::from)?)
                }
            };
            Ok((x.index_select(0, &rows).map_err(LayersError::from)?, y))
        })))
    }

    fn steps_per_epoch(&self) -> Option<usize> {
        self.global.steps_per_epoch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_layers::train::TensorBatches;
    use strata_tensor::Tensor;

    #[test]
    fn shards_cover_each_batch_once_in_rank_order() {
        for len in 0..40 {
            for world in 1..6 {
                let all: Vec<usize> = (0..world)
                    .flat_map(|r| shard_range(len, r, world))
                    .collect();
                assert_eq!(all, (0..len).collect::<Vec<_>>());
                let sizes: Vec<usize> = (0..world)
                    .map(|r| shard_range(len, r, world).len())
                    .collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{len} over {world}: {sizes:?}");
            }
        }
    }

    #[test]
    fn the_ranks_together_see_the_global_batches() {
        let x = Tensor::<f32>::from_vec((0..11).map(|v| v as f32).collect(), &[11, 1]).unwrap();
        let y = Targets::Labels((0..11).collect());
        let global = TensorBatches::new(&x, &y, 6).unwrap().shuffle(4);
        let rows = |source: &dyn BatchSource<f32>, first: usize| -> Vec<Vec<f32>> {
            source
                .epoch(2, first)
                .unwrap()
                .map(|b| b.unwrap().0.to_vec())
                .collect()
        };
        for first in 0..2 {
            let whole = rows(&global, first);
            let parts: Vec<Vec<Vec<f32>>> = (0..3)
                .map(|r| rows(&Shard::new(&global, r, 3), first))
                .collect();
            for (step, batch) in whole.iter().enumerate() {
                let joined: Vec<f32> = parts.iter().flat_map(|p| p[step].clone()).collect();
                assert_eq!(&joined, batch);
            }
        }
        assert_eq!(Shard::new(&global, 1, 3).steps_per_epoch(), Some(2));
        // The last batch (5 samples) cannot be split over 6 ranks: every rank says so.
        let err = Shard::new(&global, 0, 6)
            .epoch(0, 0)
            .unwrap()
            .nth(1)
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("fewer than the 6 ranks"), "{err}");
    }
}
