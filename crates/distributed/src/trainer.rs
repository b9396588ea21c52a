//! The trainer wrapper: `fit_batches` on every rank, each on its shard of the global
//! batches, with gradients averaged before each optimiser step and side effects on rank 0.

use std::rc::Rc;

use strata_layers::train::{
    BatchSource, Callback, Control, EpochStats, FitConfig, History, Model, StepPosition,
    Validation, Verbosity,
};
use strata_layers::{LayersError, Result as LayersResult};
use strata_tensor::seed::derive_seed;
use strata_tensor::Element;

use crate::average::{GradientAverager, ReduceAlgorithm, ReduceStats, DEFAULT_BUCKET_ELEMENTS};
use crate::communicator::{Communicator, Reducible};
use crate::error::{DistributedError, Result};
use crate::fingerprint::{check_in_sync, weights_fingerprint};
use crate::overlap::OverlappedAverager;
use crate::rank_zero::RankZero;
use crate::shard::Shard;

/// What [`DataParallel::fit`] returns on each rank.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The epochs trained. Training loss is the mean over the global batches; accuracy is
    /// that of this rank's shards; validation figures are on rank 0 only (the other ranks
    /// skip validation, whose answer only rank 0's callbacks use).
    pub history: History,
    /// Time and bytes of the gradient averaging on this rank.
    pub reduce: ReduceStats,
    /// With [`DataParallel::verify_every_step`]: the weights' fingerprint after each step,
    /// checked equal on every rank.
    pub fingerprints: Vec<u64>,
}

/// Seed word that gives each rank its own dropout stream (see `strata_tensor::seed`).
const RANK_DROPOUT: u64 = 0x7261_6e6b; // "rank"

/// A callback run on every rank (not only rank 0): compares the weights across ranks after
/// each step.
struct VerifySync<'a> {
    comm: &'a dyn Communicator,
    fingerprints: Vec<u64>,
}

impl<T: Element> Callback<T> for VerifySync<'_> {
    fn on_step_end(&mut self, _: StepPosition, model: &Model<T>) -> LayersResult<Control> {
        check_in_sync(self.comm, model)
            .map_err(|e| LayersError::config("verify_every_step", e.to_string()))?;
        self.fingerprints.push(weights_fingerprint(model));
        Ok(Control::Continue)
    }

    fn on_epoch_end(&mut self, _: &EpochStats, _: &Model<T>) -> LayersResult<Control> {
        Ok(Control::Continue)
    }
}

/// Synchronous data-parallel training over the ranks of a [`Communicator`].
///
/// Every rank builds the same model (same architecture and seed, or the same checkpoint)
/// and the same global batch source (same data and seed), then calls
/// [`DataParallel::fit`]. Each step, each rank trains on its rows of the global batch
/// ([`Shard`]), the gradients are averaged across ranks ([`GradientAverager`]), and every
/// rank applies the same update, so the weights stay bit for bit the same on every rank.
/// Callbacks (checkpoints, charts, early stopping) and progress run on rank 0 only, and
/// rank 0's decision to stop is every rank's.
///
/// Positions count global batches, so a checkpoint written at any world size resumes at any
/// other with [`FitConfig::resume_from`], as long as the global batch size is the same.
pub struct DataParallel {
    comm: Rc<dyn Communicator>,
    bucket_elements: usize,
    algorithm: ReduceAlgorithm,
    overlap: bool,
    verify: bool,
}

impl DataParallel {
    /// Trains over the ranks of `comm`, in buckets of [`DEFAULT_BUCKET_ELEMENTS`].
    pub fn new(comm: impl Communicator + 'static) -> Self {
        Self::shared(Rc::new(comm))
    }

    /// As [`DataParallel::new`], with a communicator also used elsewhere.
    pub fn shared(comm: Rc<dyn Communicator>) -> Self {
        Self {
            comm,
            bucket_elements: DEFAULT_BUCKET_ELEMENTS,
            algorithm: ReduceAlgorithm::default(),
            overlap: false,
            verify: false,
        }
    }

    /// Reduces gradients in buckets of at most `elements` (at least 1) values.
    pub fn bucket_elements(mut self, elements: usize) -> Self {
        self.bucket_elements = elements.max(1);
        self
    }

    /// Sums each bucket with `algorithm` (default [`ReduceAlgorithm::Ring`]).
    pub fn algorithm(mut self, algorithm: ReduceAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Whether to sum gradients during the backward pass ([`OverlappedAverager`]: a
    /// background thread reduces each bucket once its gradients are final) instead of after
    /// it. Needs a communicator with [`Communicator::background`] (`Mpi::init_threaded`
    /// under MPI). Default off: on the 2-core machine of `docs/benchmarks.md` it was not
    /// measurably faster.
    pub fn overlap(mut self, overlap: bool) -> Self {
        self.overlap = overlap;
        self
    }

    /// Checks after every step that every rank holds the same weights (a collective
    /// fingerprint comparison, which costs a pass over the weights), and records the
    /// fingerprints in [`FitReport::fingerprints`]. Default off.
    pub fn verify_every_step(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// The communicator.
    pub fn communicator(&self) -> Rc<dyn Communicator> {
        self.comm.clone()
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// Ranks in the group.
    pub fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    /// Whether this is rank 0, the one that writes files and prints.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// [`Model::fit_batches`] on this rank's shard of `train`'s global batches, with
    /// gradients averaged across ranks; `callbacks` and progress run on rank 0 only. First
    /// checks that every rank holds the same model (see
    /// [`check_in_sync`](crate::check_in_sync)). A collective operation: every rank must
    /// call it with the same sources and settings.
    ///
    /// Every rank reads each whole global batch and keeps its rows; a source that can read
    /// only this rank's rows (the data crate's `DataLoader::shard`) goes to
    /// [`DataParallel::fit_local`] instead.
    pub fn fit<T: Reducible>(
        &self,
        model: &mut Model<T>,
        train: &dyn BatchSource<T>,
        validation: Option<&dyn BatchSource<T>>,
        config: &FitConfig<T>,
        callbacks: &mut [&mut dyn Callback<T>],
    ) -> Result<FitReport> {
        let shard = Shard::new(train, self.rank(), self.world_size());
        self.fit_local(model, &shard, validation, config, callbacks)
    }

    /// As [`DataParallel::fit`], from a source that already gives this rank's rows of each
    /// global batch (in the split of [`shard_range`](crate::shard_range), with the same
    /// number of batches on every rank).
    pub fn fit_local<T: Reducible>(
        &self,
        model: &mut Model<T>,
        local: &dyn BatchSource<T>,
        validation: Option<&dyn BatchSource<T>>,
        config: &FitConfig<T>,
        callbacks: &mut [&mut dyn Callback<T>],
    ) -> Result<FitReport> {
        check_in_sync(self.comm.as_ref(), model)?;
        let (hook, stats): (Box<dyn strata_layers::train::GradientHook<T>>, _) = if self.overlap {
            let averager =
                OverlappedAverager::new(self.comm.clone(), self.bucket_elements, self.algorithm)?;
            let stats = averager.stats();
            (Box::new(averager), stats)
        } else {
            let averager = GradientAverager::new(self.comm.clone(), self.bucket_elements)
                .with_algorithm(self.algorithm);
            let stats = averager.stats();
            (Box::new(averager), stats)
        };
        if let Some(previous) = model.set_gradient_hook(Some(hook)) {
            model.set_gradient_hook(Some(previous));
            return Err(DistributedError::config(
                "DataParallel::fit",
                "the model already has a gradient hook: remove it (Model::set_gradient_hook(None)) first",
            ));
        }
        let root = self.is_root();
        let config = FitConfig {
            // Rank 0 keeps the run's dropout seed (one rank trains as a plain fit does); the
            // others draw their own masks, not copies of rank 0's.
            seed: match self.rank() {
                0 => config.seed,
                rank => derive_seed(config.seed, &[RANK_DROPOUT, rank as u64]),
            },
            verbosity: if root {
                config.verbosity
            } else {
                Verbosity::Silent
            },
            validation: if root {
                config.validation.clone()
            } else {
                Validation::None
            },
            ..config.clone()
        };
        let validation = validation.filter(|_| root);
        let mut wrapped: Vec<RankZero<'_, T>> = callbacks
            .iter_mut()
            .map(|c| RankZero::new(self.comm.clone(), &mut **c))
            .collect();
        let mut verify = VerifySync {
            comm: self.comm.as_ref(),
            fingerprints: Vec::new(),
        };
        let mut wrapped: Vec<&mut dyn Callback<T>> = wrapped
            .iter_mut()
            .map(|c| c as &mut dyn Callback<T>)
            .collect();
        if self.verify {
            wrapped.push(&mut verify);
        }
        let result = model.fit_batches(local, validation, &config, &mut wrapped);
        drop(wrapped);
        model.set_gradient_hook(None);
        let history = result?;
        let reduce = *stats.borrow();
        Ok(FitReport {
            history,
            reduce,
            fingerprints: verify.fingerprints,
        })
    }
}
