//! The one error type of the layers crate.

use strata_autograd::AutogradError;
use strata_tensor::TensorError;
use thiserror::Error;

/// Everything that can go wrong when building, training, saving or loading a model.
#[derive(Debug, Error)]
pub enum LayersError {
    /// A tensor operation failed; the message names the op and the shapes.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A differentiable operation failed; the message names the op and the shapes.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// A configuration value outside its valid range, naming the setting.
    #[error("{what}: {message}")]
    InvalidConfig {
        /// The layer, optimiser or setting at fault.
        what: String,
        /// What was wrong.
        message: String,
    },
    /// A parameter's shape differs from the shape its optimiser state or checkpoint holds.
    #[error("{name}: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The parameter's name (`conv2d.weight`, …).
        name: String,
        /// The shape that was expected.
        expected: Vec<usize>,
        /// The shape that was found.
        found: Vec<usize>,
    },
    /// Training produced a loss that is NaN or infinite.
    #[error("the loss became {value} at epoch {epoch}, step {step}: lower the learning rate or check the data")]
    NonFiniteLoss {
        /// The epoch (1-based).
        epoch: usize,
        /// The step within the epoch (1-based).
        step: usize,
        /// The loss value.
        value: f64,
    },
    /// Building or running one layer failed; names the layer and keeps the cause.
    #[error("layer {layer}: {source}")]
    Layer {
        /// The layer's name (`conv2d_1`, …).
        layer: String,
        /// What went wrong in it.
        #[source]
        source: Box<LayersError>,
    },
    /// A batch source (a loader, or an iterator of batches) failed while training or
    /// evaluating; keeps the source's own error.
    #[error("batch {step} of epoch {epoch}: {source}")]
    BatchSource {
        /// The epoch (1-based).
        epoch: usize,
        /// The batch within the epoch (1-based).
        step: usize,
        /// The source's error, e.g. a `strata_data::DataError`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A gradient hook (see `Model::set_gradient_hook`) failed; keeps the hook's own
    /// error (e.g. a failed collective operation of data-parallel training).
    #[error("the gradient hook at batch {step} of epoch {epoch}: {source}")]
    GradientHook {
        /// The epoch (1-based).
        epoch: usize,
        /// The batch within the epoch (1-based).
        step: usize,
        /// The hook's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Training produced a gradient that is NaN or infinite.
    #[error("the gradient of {parameter} became non-finite at epoch {epoch}, step {step}: lower the learning rate or check the data")]
    NonFiniteGradient {
        /// The epoch (1-based).
        epoch: usize,
        /// The step within the epoch (1-based).
        step: usize,
        /// The first parameter (in the network's order) with a non-finite gradient.
        parameter: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's contents are not what they should be, naming the file and what was wrong.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong (missing key, dtype, shape, …).
        message: String,
    },
}

impl LayersError {
    /// Wraps `self` as the failure of layer `layer`.
    pub fn in_layer(self, layer: impl Into<String>) -> Self {
        Self::Layer {
            layer: layer.into(),
            source: Box::new(self),
        }
    }

    /// An [`LayersError::InvalidConfig`] naming `what` was wrong.
    pub fn config(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// Attaches a path to I/O errors.
pub(crate) trait IoContext<T> {
    /// Wraps the error with the file it concerns.
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| LayersError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The result type of the layers crate.
pub type Result<T, E = LayersError> = std::result::Result<T, E>;
