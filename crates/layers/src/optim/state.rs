//! Saved optimiser state.

use std::collections::BTreeMap;

use strata_tensor::{Element, Tensor};

use super::{check_grad, ParamGrad};
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

    /// One optimiser step, the part every optimiser shares: for each parameter (checked
    /// against its gradient's shape), takes its `B` named buffers (`<name>.<buffer>`, zeros
    /// on first use), lets `update` change the value's elements in place given the
    /// gradient's, stores the buffers back, and counts the step. Returns the new values.
    ///
    /// Every gradient and saved buffer is checked before any buffer is touched: a step that
    /// fails leaves the state as it was.
    pub(crate) fn apply<const B: usize>(
        &mut self,
        params: &[ParamGrad<'_, T>],
        buffer_names: [&str; B],
        mut update: impl FnMut(&mut [T], &[T], &mut [Vec<T>; B]),
    ) -> Result<Vec<Tensor<T>>> {
        let mut updated = Vec::with_capacity(params.len());
        // Keys are looked up through one reused string and moved back into the map with
        // their buffers: after the first step, a step builds no key.
        let mut scratch = String::new();
        for p in params {
            check_grad(p)?;
            for name in buffer_names {
                let key = buffer_key(&mut scratch, p.name, name);
                match self.buffers.get(key) {
                    Some(saved) if saved.shape() != p.value.shape() => {
                        return Err(LayersError::ShapeMismatch {
                            name: key.to_string(),
                            expected: p.value.shape().to_vec(),
                            found: saved.shape().to_vec(),
                        })
                    }
                    _ => {}
                }
            }
        }
        for p in params {
            let shape = p.value.shape();
            let mut keys: [String; B] = std::array::from_fn(|_| String::new());
            let mut buffers: [Vec<T>; B] = std::array::from_fn(|_| Vec::new());
            for ((key, buffer), name) in keys.iter_mut().zip(&mut buffers).zip(buffer_names) {
                (*key, *buffer) = self.take(buffer_key(&mut scratch, p.name, name), shape)?;
            }
            let mut value = p.value.to_vec();
            // Borrowed, not copied: a gradient is contiguous (then this shares its storage).
            let grad = p.grad.contiguous();
            update(&mut value, grad.storage(), &mut buffers);
            for (key, buffer) in keys.into_iter().zip(buffers) {
                self.put(key, buffer, shape)?;
            }
            updated.push(Tensor::from_vec(value, shape)?);
        }
        self.step += 1;
        Ok(updated)
    }

    /// Takes the buffer `key` out with its key (zeros and a new key on first use), checked
    /// against the parameter's shape. Put it back with [`OptimizerState::put`].
    fn take(&mut self, key: &str, shape: &[usize]) -> Result<(String, Vec<T>)> {
        match self.buffers.remove_entry(key) {
            None => Ok((
                key.to_string(),
                vec![T::zero(); strata_tensor::shape::numel(shape)],
            )),
            Some((key, saved)) if saved.shape() == shape => Ok((key, saved.into_vec())),
            Some((key, saved)) => Err(LayersError::ShapeMismatch {
                name: key,
                expected: shape.to_vec(),
                found: saved.shape().to_vec(),
            }),
        }
    }

    /// Stores a buffer taken with [`OptimizerState::take`].
    fn put(&mut self, key: String, values: Vec<T>, shape: &[usize]) -> Result<()> {
        self.buffers.insert(key, Tensor::from_vec(values, shape)?);
        Ok(())
    }
}

/// `<parameter>.<buffer>`, written into `scratch` (reused across lookups).
fn buffer_key<'s>(scratch: &'s mut String, parameter: &str, buffer: &str) -> &'s str {
    scratch.clear();
    scratch.push_str(parameter);
    scratch.push('.');
    scratch.push_str(buffer);
    scratch
}
