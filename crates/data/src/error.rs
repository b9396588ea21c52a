//! The one error type of the data crate.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong while reading, generating, loading or downloading data.
///
/// Every variant names the file, folder or URL involved and what was wrong (expected versus
/// found), so that a message such as
/// `data/train-images-idx3-ubyte: truncated: header promises 47040000 data bytes, found 1000`
/// says exactly what to fix.
#[derive(Debug, Error)]
pub enum DataError {
    /// An operating-system error while reading or writing a path.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// What was being done (`"open"`, `"read"`, `"rename"`, ...).
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's contents do not follow its format (magic number, header, sizes, counts).
    #[error("{path}: {message}")]
    Format {
        /// The file involved (for an entry of an archive: `archive/entry`).
        path: PathBuf,
        /// What was wrong, with the expected and the found values.
        message: String,
    },
    /// A label is not smaller than the number of classes.
    #[error("{path}: label {label} of sample {index} is out of range: expected fewer than {classes} classes")]
    LabelOutOfRange {
        /// The file involved.
        path: PathBuf,
        /// Index of the sample within the file.
        index: usize,
        /// The label found.
        label: usize,
        /// Number of classes of the dataset.
        classes: usize,
    },
    /// An image file that the `image` crate cannot decode.
    #[error("{path}: cannot decode image: {source}")]
    Decode {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// A dataset folder whose layout is wrong (no class folders, an empty class folder).
    #[error("{path}: {message}")]
    Folder {
        /// The folder involved.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// An argument out of its valid range (batch size 0, a fraction outside [0, 1], ...).
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The function or operation that rejected the argument.
        op: &'static str,
        /// What was wrong, with the expected and the found values.
        message: String,
    },
    /// A download failed (connection, HTTP status, redirects, checksum).
    #[error("{url}: {message}")]
    Download {
        /// The URL being fetched.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A downloaded file's checksum differs from the expected one.
    #[error("{path}: {algorithm} checksum mismatch: expected {expected}, found {found}")]
    Checksum {
        /// The downloaded (partial) file, deleted after the mismatch.
        path: PathBuf,
        /// `"sha256"` or `"md5"`.
        algorithm: &'static str,
        /// The expected hex digest.
        expected: String,
        /// The digest of the bytes received.
        found: String,
    },
    /// An error of the tensor crate (building a batch tensor).
    #[error(transparent)]
    Tensor(#[from] strata_tensor::TensorError),
}

/// The data crate's result type.
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    /// A [`DataError::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A [`DataError::InvalidArgument`] for `op`.
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        DataError::InvalidArgument {
            op,
            message: message.into(),
        }
    }

    /// A [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            action,
            source,
        }
    }

    /// A [`DataError::Folder`] for `path`.
    pub fn folder(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Folder {
            path: path.into(),
            message: message.into(),
        }
    }
}
