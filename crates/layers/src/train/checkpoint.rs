//! Checkpoints: a model file (see `io::model_file`) with the optimiser's state and the
//! training position beside the weights, so that training resumes exactly.

use std::collections::BTreeMap;
use std::path::Path;

use strata_tensor::Element;

use super::model::Tally;
use super::Model;
use crate::error::Result;
use crate::io::model_file::{
    format_error, metadata_value, CHECKPOINT_FORMAT, FORMAT, OPTIMIZER_PREFIX,
};
use crate::io::{load_tensors, save_tensors, NamedTensors};
use crate::optim::OptimizerState;

const OPTIMIZER_KIND: &str = "optimizer_kind";
const OPTIMIZER_STEP: &str = "optimizer_step";
const EPOCHS_DONE: &str = "epochs_done";
/// Optional (0 when absent): batches trained of the epoch after `epochs_done`.
const STEPS_DONE: &str = "steps_done";
/// Optional: the running figures of that epoch, `loss_sum correct counted has_accuracy`, so
/// that a run resumed mid-epoch reports the epoch as an uninterrupted run does.
const EPOCH_TALLY: &str = "epoch_tally";

impl<T: Element> Model<T> {
    /// Saves the network, the optimiser's state and the number of epochs done to one
    /// safetensors file, atomically.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let mut tensors = self.network().state_dict();
        let state = self.optimizer().state();
        for (key, buffer) in state.buffers {
            tensors.insert(format!("{OPTIMIZER_PREFIX}{key}"), buffer);
        }
        let mut metadata = self.network().metadata(CHECKPOINT_FORMAT)?;
        metadata.insert(OPTIMIZER_KIND.into(), state.kind);
        metadata.insert(OPTIMIZER_STEP.into(), state.step.to_string());
        metadata.insert(EPOCHS_DONE.into(), self.epochs_done().to_string());
        metadata.insert(STEPS_DONE.into(), self.steps_done().to_string());
        let t = self.tally();
        metadata.insert(
            EPOCH_TALLY.into(),
            format!(
                "{} {} {} {}",
                t.loss_sum, t.correct, t.counted, !t.no_accuracy
            ),
        );
        save_tensors(path, &tensors, Some(metadata))
    }

    /// Restores weights, optimiser state and position (epochs and steps done) from a
    /// checkpoint of this model; continue with `fit` and
    /// [`FitConfig::resume_from`](super::FitConfig::resume_from).
    pub fn load_checkpoint(&mut self, path: &Path) -> Result<()> {
        let (tensors, metadata) = load_tensors::<T>(path)?;
        if metadata_value(path, &metadata, FORMAT)? != CHECKPOINT_FORMAT {
            return Err(format_error(
                path,
                "not a checkpoint (saved by Sequential::save?)",
            ));
        }
        let mut weights = NamedTensors::new();
        let mut buffers = BTreeMap::new();
        for (name, tensor) in tensors {
            match name.strip_prefix(OPTIMIZER_PREFIX) {
                Some(key) => {
                    buffers.insert(key.to_string(), tensor);
                }
                None => {
                    weights.insert(name, tensor);
                }
            }
        }
        let parse = |key: &str| -> Result<u64> {
            metadata_value(path, &metadata, key)?
                .parse()
                .map_err(|e| format_error(path, format!("metadata {key:?}: {e}")))
        };
        let state = OptimizerState {
            kind: metadata_value(path, &metadata, OPTIMIZER_KIND)?.to_string(),
            step: parse(OPTIMIZER_STEP)?,
            buffers,
        };
        let epochs = parse(EPOCHS_DONE)? as usize;
        let steps = match metadata.get(STEPS_DONE) {
            Some(_) => parse(STEPS_DONE)? as usize,
            None => 0,
        };
        self.network()
            .load_state_dict(weights, &path.display().to_string())?;
        self.optimizer_mut()
            .load_state(state)
            .map_err(|e| format_error(path, e.to_string()))?;
        let tally = match metadata.get(EPOCH_TALLY) {
            None => Tally::default(),
            Some(text) => parse_tally(text).ok_or_else(|| {
                format_error(
                    path,
                    format!("metadata {EPOCH_TALLY:?}: cannot read {text:?}"),
                )
            })?,
        };
        self.set_position(epochs, steps);
        self.set_tally(tally);
        Ok(())
    }
}

/// Reads `loss_sum correct counted has_accuracy`.
fn parse_tally(text: &str) -> Option<Tally> {
    let mut words = text.split(' ');
    let tally = Tally {
        loss_sum: words.next()?.parse().ok()?,
        correct: words.next()?.parse().ok()?,
        counted: words.next()?.parse().ok()?,
        no_accuracy: !words.next()?.parse::<bool>().ok()?,
    };
    words.next().is_none().then_some(tally)
}
