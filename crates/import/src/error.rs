//! The one error type of the import crate.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong while reading a weight file.
///
/// Every variant names the file; those about one tensor also name its key and the shapes or
/// sizes involved, so that a message says exactly what was wrong.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file's first bytes match no format this crate reads.
    #[error("{path}: unrecognised weight format (first bytes {head:02x?}); expected a PyTorch .pth (zip or legacy), safetensors or Keras HDF5 file")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Up to 8 first bytes.
        head: Vec<u8>,
    },
    /// An HDF5 file (Keras weights) that the HDF5 reader refused.
    #[error("{path}: {source}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The HDF5 reader's error (it names the object and offset); boxed, as it is large.
        source: Box<strata_hdf5::Error>,
    },
    /// The container (zip archive, safetensors header) is malformed or truncated.
    #[error("{path}: malformed {container}: {message}")]
    Container {
        /// The file.
        path: PathBuf,
        /// `zip archive`, `safetensors`, `legacy torch file`, …
        container: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The pickle program is malformed or uses something a weights-only reader refuses.
    #[error("{path}: pickle {entry}: at byte {offset}: {message}")]
    Pickle {
        /// The file.
        path: PathBuf,
        /// The pickle's name inside the file (`archive/data.pkl`).
        entry: String,
        /// Offset of the opcode in the pickle.
        offset: usize,
        /// What was wrong (naming the opcode or global).
        message: String,
    },
    /// One tensor's declaration is inconsistent with its data.
    #[error("{path}: tensor {key}: {message}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's key.
        key: String,
        /// What was wrong, with the shapes and sizes.
        message: String,
    },
    /// A name or shape does not fit the model the weights are mapped to.
    #[error("{source_name}: {message}")]
    Mapping {
        /// Where the tensors came from (a file name).
        source_name: String,
        /// What was wrong (the key, the expected and found shapes).
        message: String,
    },
}

/// The import crate's result.
pub type Result<T> = std::result::Result<T, ImportError>;
