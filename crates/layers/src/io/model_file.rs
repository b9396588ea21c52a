//! Model files: a [`Sequential`]'s architecture (as JSON in the metadata), class names and
//! every parameter and buffer in one safetensors file, loadable without code describing the
//! model. Checkpoints (`Model::save_checkpoint`) are model files with the optimiser's state
//! and the training position beside them.

use std::collections::HashMap;
use std::path::Path;

use strata_tensor::{Element, Tensor};

use super::{load_tensors, save_tensors, NamedTensors};
use crate::error::{LayersError, Result};
use crate::sequential::Architecture;
use crate::Sequential;

/// Metadata keys of our safetensors files.
pub(crate) const FORMAT: &str = "format";
const ARCHITECTURE: &str = "architecture";
/// Optional: the class names as a JSON array of strings.
const CLASS_NAMES: &str = "class_names";
const MODEL_FORMAT: &str = "strata-model-v1";
pub(crate) const CHECKPOINT_FORMAT: &str = "strata-checkpoint-v1";
/// Optimiser buffers are stored under this prefix beside the weights.
pub(crate) const OPTIMIZER_PREFIX: &str = "optimizer/";

/// A [`LayersError::Format`] naming the file.
pub(crate) fn format_error(path: &Path, message: impl Into<String>) -> LayersError {
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

/// The metadata entry `key`, or an error naming the file and the key.
pub(crate) fn metadata_value<'a>(
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

    pub(crate) fn metadata(&self, format: &str) -> Result<HashMap<String, String>> {
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
