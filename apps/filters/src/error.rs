//! The one error type of the filters library.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong while filtering, walking a network or showing a region.
#[derive(Debug, Error)]
pub enum FilterError {
    /// A filter file is malformed; names the file, the line and column (1-based) and what.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The filter file.
        path: PathBuf,
        /// Line of the fault, from 1.
        line: usize,
        /// Column of the fault, from 1 (in characters).
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// An argument outside its valid range, naming it.
    #[error("{what}: {message}")]
    Invalid {
        /// The argument or setting at fault.
        what: String,
        /// What was wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Loading an image or writing raw values failed.
    #[error(transparent)]
    Data(#[from] strata_data::DataError),
    /// Building or running the network failed.
    #[error(transparent)]
    Layers(#[from] strata_layers::LayersError),
    /// Drawing or writing a picture failed.
    #[error(transparent)]
    Plot(#[from] strata_plot::PlotError),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] strata_tensor::TensorError),
}

impl FilterError {
    /// An [`FilterError::Invalid`] naming `what`.
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, FilterError>;
