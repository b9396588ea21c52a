//! Training: a [`Model`] (network, loss and optimiser, as Keras's `compile`), `fit`,
//! `evaluate` and `predict`, progress output, callbacks and checkpoints.

mod callbacks;
mod checkpoint;
mod history;
mod model;
mod profile;
mod progress;

pub use callbacks::{Callback, Control, EarlyStopping, EpochHook, ModelCheckpoint, Monitor};
pub use history::{EpochStats, Evaluation, History};
pub use model::{EpochSchedule, FitConfig, Model, Validation};
pub use profile::{LayerTime, StepProfile};
pub use progress::Verbosity;

/// A seed for one purpose at one point of training, mixed from the run's seed so that
/// every epoch's shuffle and every step's dropout are independent and reproducible (and so
/// that a run resumed at an epoch boundary repeats an uninterrupted one exactly).
pub(crate) fn derive_seed(seed: u64, purpose: u64, epoch: u64, step: u64) -> u64 {
    // SplitMix64 over the combined words.
    let mut z = seed
        ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ epoch.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ step.wrapping_mul(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
