//! The `vgg16` app's library: VGG-16 built with `Sequential` and loaded from imported weights,
//! top-k predictions with ImageNet names, and pictures of filters and feature maps.

#![warn(missing_docs)]

pub mod model;
pub mod predict;
pub mod visualize;

use thiserror::Error;

/// Everything the app can fail with; each wraps the library error that names the file,
/// key or shape.
#[derive(Debug, Error)]
pub enum AppError {
    /// Reading or mapping a weight file.
    #[error(transparent)]
    Import(#[from] strata_import::ImportError),
    /// Building or running the model.
    #[error(transparent)]
    Layers(#[from] strata_layers::LayersError),
    /// Drawing or writing a picture.
    #[error(transparent)]
    Plot(#[from] strata_plot::PlotError),
    /// Decoding or preprocessing an image.
    #[error(transparent)]
    Data(#[from] strata_data::DataError),
    /// A tensor operation.
    #[error(transparent)]
    Tensor(#[from] strata_tensor::TensorError),
    /// Anything else, with its explanation.
    #[error("{0}")]
    Message(String),
}

/// The app's result.
pub type AppResult<T> = std::result::Result<T, AppError>;
