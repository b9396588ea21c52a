//! The one error type of the plot crate.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong when drawing a picture or writing it.
#[derive(Debug, Error)]
pub enum PlotError {
    /// What was asked cannot be drawn (no values, images of different sizes, a picture too
    /// large), naming the picture and what was wrong.
    #[error("{what}: {message}")]
    Invalid {
        /// The picture or value at fault.
        what: String,
        /// What was wrong.
        message: String,
    },
    /// A tensor operation on the images failed.
    #[error(transparent)]
    Tensor(#[from] strata_tensor::TensorError),
    /// Writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Encoding the PNG failed.
    #[error("{path}: PNG: {message}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
}

impl PlotError {
    /// A [`PlotError::Invalid`] naming `what` was wrong.
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// The result type of the plot crate.
pub type Result<T, E = PlotError> = std::result::Result<T, E>;
