//! Training: a [`Model`] (network, loss and optimiser, as Keras's `compile`), `fit` over
//! in-memory tensors or any [`BatchSource`], `evaluate` and `predict`, progress output,
//! callbacks and checkpoints.

mod callbacks;
mod checkpoint;
mod fit;
mod gradient_hook;
mod history;
mod model;
mod profile;
mod progress;
mod source;
mod step_observer;

pub use callbacks::{Callback, Control, EarlyStopping, EpochHook, ModelCheckpoint, Monitor};
pub use fit::{EpochSchedule, FitConfig, StepPosition, Validation};
pub use gradient_hook::{GradientHook, HookResult, ReadyGradient, StepGradients};
pub use history::{EpochStats, Evaluation, History};
pub use model::Model;
pub use profile::{LayerTime, StepProfile};
pub use progress::Verbosity;
pub use source::{
    batches_from_fn, BatchError, BatchSource, EpochBatches, FnBatches, IntoTrainingBatch,
    TensorBatches, TrainingBatch,
};

/// Seed word of each epoch's shuffle (see [`strata_tensor::seed`]): the draw of epoch `e`
/// under seed `s` comes from `seeded_rng(s, &[SHUFFLE, e])`.
pub(crate) const SHUFFLE: u64 = 1;
/// Seed word of dropout: step `t` of epoch `e` draws from `derive_seed(s, &[DROPOUT, e, t])`,
/// so a run resumed at any step repeats an uninterrupted one.
pub(crate) const DROPOUT: u64 = 2;
