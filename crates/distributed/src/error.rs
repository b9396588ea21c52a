//! The crate's error type.

use strata_layers::LayersError;
use thiserror::Error;

/// What went wrong in data-parallel training.
#[derive(Debug, Error)]
pub enum DistributedError {
    /// A collective operation failed (a rank left, timed out, or the transport failed).
    #[error("rank {rank} of {world_size}: {operation}: {message}")]
    Communication {
        /// The rank that saw the failure.
        rank: usize,
        /// Ranks in the group.
        world_size: usize,
        /// The operation (`all_reduce`, `all_gather`, …).
        operation: &'static str,
        /// What happened.
        message: String,
    },
    /// The ranks do not hold the same model (different weights, optimiser state or
    /// position), so training them together would diverge.
    #[error("ranks out of sync: rank {rank} has {what} fingerprint {found:#018x}, rank 0 has {expected:#018x}")]
    OutOfSync {
        /// The first rank that differs from rank 0.
        rank: usize,
        /// What was compared.
        what: &'static str,
        /// Rank 0's fingerprint.
        expected: u64,
        /// That rank's fingerprint.
        found: u64,
    },
    /// A setting or an input that cannot work (named, with what was expected and found).
    #[error("{what}: {message}")]
    InvalidConfig {
        /// The setting or input.
        what: String,
        /// Why.
        message: String,
    },
    /// Training itself failed.
    #[error(transparent)]
    Layers(#[from] LayersError),
}

impl DistributedError {
    /// An [`DistributedError::InvalidConfig`].
    pub fn config(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, DistributedError>;
