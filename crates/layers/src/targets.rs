//! Targets: integer labels or dense tensors, what a loss compares a model's output with.

use strata_tensor::{Element, Tensor};

use crate::error::{LayersError, Result};

/// What a loss compares the model's output with, for a batch or a whole dataset: one class
/// index per sample (sparse categorical cross-entropy) or a tensor `[N, …]` (one-hot or
/// probabilities, binary targets, regression values).
#[derive(Debug, Clone)]
pub enum Targets<T: Element> {
    /// One class index per sample.
    Labels(Vec<usize>),
    /// A tensor `[N, …]` of per-sample targets.
    Dense(Tensor<T>),
}

impl<T: Element> Targets<T> {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Self::Labels(l) => l.len(),
            Self::Dense(t) => t.shape().first().copied().unwrap_or(0),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the samples at `indices`.
    pub(crate) fn select(&self, indices: &[usize]) -> Result<Self> {
        Ok(match self {
            Self::Labels(l) => Self::Labels(
                indices
                    .iter()
                    .map(|&i| {
                        l.get(i).copied().ok_or_else(|| {
                            LayersError::config("targets", format!("sample {i} of {}", l.len()))
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            Self::Dense(t) => Self::Dense(t.index_select(0, indices)?),
        })
    }

    /// Labels for accuracy: the labels themselves, or each dense row's largest entry.
    pub(crate) fn class_labels(&self) -> Result<Option<Vec<usize>>> {
        match self {
            Self::Labels(l) => Ok(Some(l.clone())),
            Self::Dense(t) if t.rank() == 2 && t.shape()[1] > 1 => Ok(Some(t.argmax(1)?)),
            Self::Dense(_) => Ok(None),
        }
    }
}
