//! Saving and loading: models (architecture and weights, loadable without code) and
//! checkpoints (also optimiser state and epoch, so that training resumes exactly).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use strata_tensor::{Element, Tensor};

use super::model::Tally;
use super::Model;
use crate::error::{LayersError, Result};
use crate::io::{load_tensors, save_tensors, NamedTensors};
use crate::optim::OptimizerState;
use crate::sequential::Architecture;
use crate::Sequential;

/// Metadata keys of our safetensors files.
const FORMAT: &str = "format";
const ARCHITECTURE: &str = "architecture";
/// Optional: the class names as a JSON array of strings.
const CLASS_NAMES: &str = "class_names";
const MODEL_FORMAT: &str = "strata-model-v1";
const CHECKPOINT_FORMAT: &str = "strata-checkpoint-v1";
const OPTIMIZER_KIND: &str = "optimizer_kind";
const OPTIMIZER_STEP: &str = "optimizer_step";
const EPOCHS_DONE: &str = "epochs_done";
/// Optional (0 when absent): batches trained of the epoch after `epochs_done`.
const STEPS_DONE: &str = "steps_done";
/// Optional: the running figures of that epoch, `loss_sum correct counted has_accuracy`, so
/// that a run resumed mid-epoch reports the epoch as an uninterrupted run does.
const EPOCH_TALLY: &str = "epoch_tally";
/// Optimiser buffers are stored under this prefix beside the weights.
const OPTIMIZER_PREFIX: &str = "optimizer/";

fn format_error(path: &Path, message: impl Into<String>) -> LayersError {
    LayersError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Fails, naming the file, the key and both shapes, unless `weights` holds exactly the
/// tensors of `expected` (names and shapes).
fn check_stored_shapes<T: Element>(
    path: &Path,
    expected: &[(String, Vec<usize>)],
    weights: &NamedTensors<T>,
) -> Result<()> {
    for (name, shape) in expected {
        match weights.get(name) {
            None => {
                return Err(format_error(
                    path,
                    format!("missing key {name} (expected shape {shape:?})"),
                ))
            }
            Some(t) if t.shape() != shape.as_slice() => {
                return Err(format_error(
                    path,
                    format!(
                        "shape mismatch for {name}: the architecture expects {shape:?}, the file holds {:?}",
                        t.shape()
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if weights.len() != expected.len() {
        let mut extra: Vec<&String> = weights
            .keys()
            .filter(|k| !expected.iter().any(|(name, _)| name == *k))
            .collect();
        extra.sort();
        if let Some(first) = extra.first() {
            return Err(format_error(
                path,
                format!("unexpected key {first} (the architecture has no such parameter)"),
            ));
        }
    }
    Ok(())
}

fn metadata_value<'a>(
    path: &Path,
    metadata: &'a HashMap<String, String>,
    key: &str,
) -> Result<&'a str> {
    metadata
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| format_error(path, format!("metadata has no {key:?} entry")))
}

impl<T: Element> Sequential<T> {
    /// Saves the architecture (as JSON in the file's metadata), the class names when set,
    /// and every parameter and buffer (by stable name) to one safetensors file, atomically.
    /// The file loads with
    /// [`Sequential::load`] without any code describing the model, and its tensors with any
    /// safetensors reader.
    pub fn save(&self, path: &Path) -> Result<()> {
        save_tensors(path, &self.state_dict(), Some(self.metadata(MODEL_FORMAT)?))
    }

    fn metadata(&self, format: &str) -> Result<HashMap<String, String>> {
        let architecture = serde_json::to_string(self.architecture())
            .map_err(|e| LayersError::config("save", format!("architecture to JSON: {e}")))?;
        let mut metadata = HashMap::from([
            (FORMAT.to_string(), format.to_string()),
            (ARCHITECTURE.to_string(), architecture),
        ]);
        if let Some(names) = self.class_names() {
            let json = serde_json::to_string(names)
                .map_err(|e| LayersError::config("save", format!("class names to JSON: {e}")))?;
            metadata.insert(CLASS_NAMES.to_string(), json);
        }
        Ok(metadata)
    }

    /// Loads a model saved by [`Sequential::save`] (or a checkpoint's model); an error names
    /// the file and what is wrong (missing or unexpected key, expected vs found shape, bad
    /// architecture).
    pub fn load(path: &Path) -> Result<Self> {
        let (tensors, metadata) = load_tensors::<T>(path)?;
        let weights: NamedTensors<T> = tensors
            .into_iter()
            .filter(|(name, _)| !name.starts_with(OPTIMIZER_PREFIX))
            .collect();
        Self::from_parts(path, weights, &metadata)
    }

    /// Loads a model as [`Sequential::load`] does and checks that it takes samples of
    /// `input_shape` and gives outputs of `output_shape`, naming the file and both shapes
    /// when it does not (an app loading "its" model from a path a user typed).
    pub fn load_for(path: &Path, input_shape: &[usize], output_shape: &[usize]) -> Result<Self> {
        let model = Self::load(path)?;
        if model.input_shape() != input_shape || model.output_shape() != output_shape {
            return Err(format_error(
                path,
                format!(
                    "expected a model from {input_shape:?} to {output_shape:?}, found one from {:?} to {:?}",
                    model.input_shape(),
                    model.output_shape()
                ),
            ));
        }
        Ok(model)
    }

    fn from_parts(
        path: &Path,
        weights: NamedTensors<T>,
        metadata: &HashMap<String, String>,
    ) -> Result<Self> {
        let format = metadata_value(path, metadata, FORMAT)?;
        if format != MODEL_FORMAT && format != CHECKPOINT_FORMAT {
            return Err(format_error(
                path,
                format!("format {format:?} is not a Strata model"),
            ));
        }
        let architecture: Architecture =
            serde_json::from_str(metadata_value(path, metadata, ARCHITECTURE)?)
                .map_err(|e| format_error(path, format!("architecture JSON: {e}")))?;
        // The file's own values bound what its architecture may allocate: an edited kernel
        // size fails here, before any weight is drawn.
        let held = weights.values().map(Tensor::numel).sum();
        let expected = Self::expected_state(&architecture, held)
            .map_err(|e| format_error(path, e.to_string()))?;
        // Every stored tensor is checked against the architecture before any layer allocates.
        check_stored_shapes(path, &expected, &weights)?;
        let mut model = Self::from_architecture_within(&architecture, held)
            .map_err(|e| format_error(path, e.to_string()))?;
        if let Some(json) = metadata.get(CLASS_NAMES) {
            let names: Vec<String> = serde_json::from_str(json).map_err(|e| {
                format_error(path, format!("class names JSON (an array of strings): {e}"))
            })?;
            model
                .set_class_names(names)
                .map_err(|e| format_error(path, e.to_string()))?;
        }
        model.load_state_dict(weights, &path.display().to_string())?;
        Ok(model)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::DenseConfig;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("strata-class-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn three_classes() -> Sequential<f32> {
        Sequential::builder(&[4])
            .add(DenseConfig::new(3))
            .build()
            .unwrap()
    }

    #[test]
    fn class_names_are_saved_and_loaded_with_the_model() {
        let mut model = three_classes();
        assert_eq!(model.class_names(), None);
        let names: Vec<String> = ["cat", "dog", "bird"].map(String::from).to_vec();
        model.set_class_names(names.clone()).unwrap();
        let path = scratch("named.safetensors");
        model.save(&path).unwrap();
        let loaded = Sequential::<f32>::load(&path).unwrap();
        assert_eq!(loaded.class_names(), Some(names.as_slice()));
        // A model without names loads without them.
        three_classes().save(&path).unwrap();
        assert_eq!(Sequential::<f32>::load(&path).unwrap().class_names(), None);
    }

    #[test]
    fn class_names_must_match_the_outputs() {
        let mut model = three_classes();
        let err = model
            .set_class_names(vec!["a".into(), "b".into()])
            .unwrap_err();
        assert!(err.to_string().contains("2 names"), "{err}");
        // A file whose names do not fit, or are not a JSON array of strings, is refused.
        let path = scratch("bad.safetensors");
        for bad in [r#"["a","b"]"#, r#"{"a":1}"#] {
            let mut metadata = model.metadata(MODEL_FORMAT).unwrap();
            metadata.insert(CLASS_NAMES.into(), bad.into());
            save_tensors(&path, &model.state_dict(), Some(metadata)).unwrap();
            let err = Sequential::<f32>::load(&path).unwrap_err().to_string();
            assert!(
                err.contains("bad.safetensors") && err.contains("class names"),
                "{err}"
            );
        }
    }
}
