//! Saved optimiser state.

use std::collections::BTreeMap;

use strata_tensor::{Element, Tensor};

use crate::error::{LayersError, Result};

/// What an optimiser needs to resume exactly: its kind, step count and named buffers
/// (`"<param name>.<buffer>"`, e.g. `conv2d.weight.exp_avg`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState<T: Element> {
    /// The optimiser's kind (`"adam"`, `"sgd"`, …), checked on load.
    pub kind: String,
    /// Steps taken so far.
    pub step: u64,
    /// Per-parameter buffers by name.
    pub buffers: BTreeMap<String, Tensor<T>>,
}

impl<T: Element> OptimizerState<T> {
    /// An empty state of an optimiser of `kind`.
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_string(),
            step: 0,
            buffers: BTreeMap::new(),
        }
    }

    /// Checks that this state belongs to an optimiser of `kind`.
    pub(crate) fn expect_kind(&self, kind: &str) -> Result<()> {
        if self.kind != kind {
            return Err(LayersError::config(
                "optimizer state",
                format!("saved by a {} optimiser, loading into {kind}", self.kind),
            ));
        }
        Ok(())
    }

    /// Takes the buffer `key` out as a vector (zeros on first use), checked against the
    /// parameter's shape. Put it back with [`OptimizerState::put`].
    pub(crate) fn take(&mut self, key: &str, shape: &[usize]) -> Result<Vec<T>> {
        match self.buffers.remove(key) {
            None => Ok(vec![T::zero(); strata_tensor::shape::numel(shape)]),
            Some(saved) if saved.shape() == shape => Ok(saved.into_vec()),
            Some(saved) => Err(LayersError::ShapeMismatch {
                name: key.to_string(),
                expected: shape.to_vec(),
                found: saved.shape().to_vec(),
            }),
        }
    }

    /// Stores a buffer taken with [`OptimizerState::take`].
    pub(crate) fn put(&mut self, key: &str, values: Vec<T>, shape: &[usize]) -> Result<()> {
        self.buffers
            .insert(key.to_string(), Tensor::from_vec(values, shape)?);
        Ok(())
    }
}
