//! Synchronous data-parallel training for Strata.
//!
//! Each rank (a process under `mpirun`, or a thread in tests) trains the same model on its
//! share of every global batch; an all-reduce averages the gradients before each optimiser
//! step, so every rank applies the same update and the weights stay bit for bit the same on
//! every rank. The parts that need no transport are plain Rust over the small
//! [`Communicator`] trait:
//!
//! - [`Shard`] / [`shard_range`]: each rank's rows of each global batch of one shared, seeded
//!   source, so N ranks × B samples train on what one process trains on at N·B;
//! - [`GradientAverager`]: the averaging step, weighted by each rank's share, in buckets of
//!   bounded size, each summed by a [`ring_all_reduce`] in a fixed order (or by the
//!   communicator's rank-order all-reduce, [`ReduceAlgorithm`]);
//! - [`OverlappedAverager`]: the same, summing each bucket on a background thread while
//!   the backward pass still runs ([`DataParallel::overlap`]);
//! - [`RankZero`]: callbacks (checkpoints, charts, early stopping) on rank 0 only, with its
//!   decision to stop given to every rank;
//! - [`check_in_sync`]: fingerprints of weights, optimiser state and position compared
//!   across ranks;
//! - [`DataParallel`]: all of it around `Model::fit_batches`;
//! - [`cost_model`]: the ring all-reduce cost model behind the scaling table of
//!   `docs/benchmarks.md`.
//!
//! Communicators: [`SingleProcess`] (the group of one), [`LocalGroup`] (threads of one
//! process, for tests) and, with the cargo feature `mpi` (or `distributed`), `Mpi` (Open MPI
//! or MPICH through the `mpi` crate; the default build needs no C library).
//!
//! ```
//! use strata_distributed::{DataParallel, LocalGroup};
//! use strata_layers::layer::DenseConfig;
//! use strata_layers::loss::Loss;
//! use strata_layers::optim::{Sgd, SgdConfig};
//! use strata_layers::train::{FitConfig, Model, TensorBatches, Verbosity};
//! use strata_layers::{Sequential, Targets};
//! use strata_tensor::Tensor;
//!
//! // Two ranks as two threads; under mpirun each process would use `Mpi::init()?` instead.
//! let ranks = LocalGroup::ranks(2)?;
//! let weights: Vec<Vec<f32>> = std::thread::scope(|s| {
//!     let handles: Vec<_> = ranks
//!         .into_iter()
//!         .map(|comm| {
//!             s.spawn(move || -> Result<Vec<f32>, Box<dyn std::error::Error + Send + Sync>> {
//!                 // The same model and the same global batches on every rank.
//!                 let network = Sequential::builder(&[2]).seed(1).add(DenseConfig::new(2)).build()?;
//!                 let sgd = Sgd::new(SgdConfig::default())?;
//!                 let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
//!                 let mut model = Model::new(network, loss, sgd);
//!                 let x = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[4, 2])?;
//!                 let y = Targets::Labels(vec![0, 1, 0, 1]);
//!                 let global = TensorBatches::new(&x, &y, 4)?.shuffle(7); // global batch 4
//!                 let config = FitConfig { epochs: 3, verbosity: Verbosity::Silent, ..FitConfig::default() };
//!                 let trainer = DataParallel::new(comm);
//!                 trainer.fit(&mut model, &global, None, &config, &mut [])?;
//!                 Ok(model.network().parameters()[0].1.value().to_vec())
//!             })
//!         })
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
//! });
//! assert_eq!(weights[0], weights[1]); // bit for bit
//! # Ok::<(), strata_distributed::DistributedError>(())
//! ```

mod average;
mod communicator;
pub mod cost_model;
mod error;
mod fingerprint;
mod local;
#[cfg(feature = "mpi")]
mod mpi_comm;
mod overlap;
mod rank_zero;
mod ring;
mod shard;
mod trainer;

pub use average::{GradientAverager, ReduceAlgorithm, ReduceStats, DEFAULT_BUCKET_ELEMENTS};
pub use communicator::{Communicator, CommunicatorRecipe, Reducible, SingleProcess};
pub use error::{DistributedError, Result};
pub use fingerprint::{check_in_sync, state_fingerprint, weights_fingerprint};
pub use local::{LocalCommunicator, LocalGroup};
#[cfg(feature = "mpi")]
pub use mpi_comm::{Mpi, ReduceOrder};
pub use overlap::OverlappedAverager;
pub use rank_zero::RankZero;
pub use ring::ring_all_reduce;
pub use shard::{shard_range, Shard};
pub use trainer::{DataParallel, FitReport};

#[cfg(test)]
mod trainer_tests;
