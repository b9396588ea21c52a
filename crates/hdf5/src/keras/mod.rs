//! Keras weight files: the legacy Keras 2 `.h5` layout and the Keras 3
//! `.weights.h5` layout, read into one form.
//!
//! Every weight comes back exactly as Keras stores it: row-major values with the
//! Keras shape. So a `Conv2D` kernel is `[kh, kw, in, out]` (HWIO), a
//! `DepthwiseConv2D` kernel `[kh, kw, in, multiplier]`, a `Dense` kernel
//! `[in, out]`, biases `[out]`, and `BatchNormalization` holds gamma, beta,
//! moving mean, moving variance. Converting to another layout (e.g. OIHW) is the
//! caller's job. f16 and f64 datasets are converted to f32; integer variables
//! (such as a Keras 3 seed generator's state) are converted too, and
//! [`Weight::datatype`] tells what was stored.

mod legacy;
mod v3;

use std::path::Path;

use crate::error::Result;
use crate::{Datatype, File};

/// Which of the two Keras layouts a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Keras 2 (`tf.keras`, `tf_keras`): `layer_names` and `weight_names`
    /// attributes, at the root (`save_weights`) or under `model_weights/`
    /// (`model.save` of a whole model).
    Legacy,
    /// Keras 3 (and `tf_keras` `.weights.h5`): `layers/<key>/vars/0`, `1`, ...
    Keras3,
}

/// One variable of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// The weight's name: in the legacy layout its `weight_names` entry (e.g.
    /// `block1_conv1/kernel:0`); in the Keras 3 layout the variable's index
    /// (`0`, `1`, ...), which Keras 3 files give instead of names.
    pub name: String,
    /// The dataset's path in the file.
    pub path: String,
    /// The shape as Keras stores it (see the module documentation).
    pub shape: Vec<usize>,
    /// The element type stored in the file.
    pub datatype: Datatype,
    /// The values, row-major, converted to f32.
    pub values: Vec<f32>,
}

/// One layer and its weights, in the order Keras stored them.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// The layer's Keras name (e.g. `block1_conv1`). In the Keras 3 layout this is
    /// the `name` attribute of the layer's `vars` group when present, else the
    /// layer's key.
    pub name: String,
    /// The layer's group in the file (e.g. `/block1_conv1`, `/layers/conv2d`).
    pub path: String,
    /// The weights; empty for layers without variables (pooling, flatten, ...).
    pub weights: Vec<Weight>,
}

/// All layers of a Keras weight file.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// The layout the file uses.
    pub format: Format,
    /// The layers in file order: the `layer_names` order for the legacy layout;
    /// for Keras 3, a depth-first walk of `layers/` with siblings in the order the
    /// file records their creation, which is the order Keras saved them (the
    /// model's layer order).
    pub layers: Vec<Layer>,
}

impl Weights {
    /// The layers that have at least one weight.
    pub fn with_weights(&self) -> impl Iterator<Item = &Layer> + '_ {
        self.layers.iter().filter(|l| !l.weights.is_empty())
    }

    /// The layer called `name`.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }
}

/// Opens the file at `path` and reads its Keras weights.
pub fn read(path: impl AsRef<Path>) -> Result<Weights> {
    read_file(&File::open(path)?)
}

/// Reads the Keras weights of an open file, detecting its layout.
pub fn read_file(file: &File) -> Result<Weights> {
    let format = detect(file)?;
    let layers = match format {
        Format::Legacy => legacy::read(file)?,
        Format::Keras3 => v3::read(file)?,
    };
    Ok(Weights { format, layers })
}

/// Reads the layers of an open file (the `layers` of [`read_file`]).
pub fn read_weights(file: &File) -> Result<Vec<Layer>> {
    Ok(read_file(file)?.layers)
}

/// Tells which Keras layout a file uses, or fails naming what was looked for.
pub fn detect(file: &File) -> Result<Format> {
    let root = file.root()?;
    if legacy::weights_group(file)?.is_some() {
        return Ok(Format::Legacy);
    }
    if root.contains("layers")? || root.contains("_layer_checkpoint_dependencies")? {
        return Ok(Format::Keras3);
    }
    Err(crate::Error::WrongKind {
        file: file.path().to_path_buf(),
        object: "/".to_string(),
        expected: "a Keras weight file: a layer_names attribute (at the root or on model_weights/) or a layers/ group"
            .to_string(),
        found: format!("members {:?}", root.member_names()?),
    })
}

/// Reads one dataset as a [`Weight`].
fn weight(file: &File, name: String, path: &str) -> Result<Weight> {
    let d = file.dataset(path)?;
    let values = d.read_f32()?;
    let shape = d.shape().iter().map(|&s| s as usize).collect();
    Ok(Weight {
        name,
        path: d.path().to_string(),
        shape,
        datatype: d.datatype().clone(),
        values,
    })
}

#[cfg(test)]
mod tests;
