//! What training reports: per-epoch statistics.

use serde::{Deserialize, Serialize};

/// The figures of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// The epoch's index (0 for the first).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (weighted by batch size).
    pub loss: f64,
    /// Training accuracy over the epoch (`None` when the targets are not classes).
    pub accuracy: Option<f64>,
    /// Validation loss after the epoch, if there is validation data.
    pub val_loss: Option<f64>,
    /// Validation accuracy after the epoch.
    pub val_accuracy: Option<f64>,
    /// Seconds the epoch's training steps took (validation excluded).
    pub train_seconds: f64,
    /// Training samples per second.
    pub samples_per_second: f64,
}

/// Loss and accuracy of a model on a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f64,
    /// Accuracy (`None` when the targets are not classes).
    pub accuracy: Option<f64>,
}

/// The per-epoch record of a `fit` call, as Keras's `History`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<EpochStats>,
}

impl History {
    /// Training loss per epoch.
    pub fn loss(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.loss).collect()
    }

    /// Validation loss per epoch (epochs without validation are skipped).
    pub fn val_loss(&self) -> Vec<f64> {
        self.epochs.iter().filter_map(|e| e.val_loss).collect()
    }

    /// Training accuracy per epoch.
    pub fn accuracy(&self) -> Vec<f64> {
        self.epochs.iter().filter_map(|e| e.accuracy).collect()
    }

    /// Validation accuracy per epoch.
    pub fn val_accuracy(&self) -> Vec<f64> {
        self.epochs.iter().filter_map(|e| e.val_accuracy).collect()
    }

    /// The last epoch's figures.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }
}
