//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading an HDF5 file.
///
/// Each variant names the file and, where known, the object path (`/a/b`), the
/// attribute or the Keras key that was being read, so that a message alone says
/// where to look. `object` is empty when the failure happened before any object
/// was reached (for example in the superblock).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read from disk.
    #[error("cannot read HDF5 file {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A structure would extend past the end of the file.
    #[error("{file}: {object}: {what} at offset {offset} with length {len} runs past the end of the file ({size} bytes)")]
    OutOfBounds {
        /// The file.
        file: PathBuf,
        /// The object being read.
        object: String,
        /// The structure.
        what: &'static str,
        /// Its offset in the file.
        offset: u64,
        /// Its length in bytes.
        len: u64,
        /// The file's size in bytes.
        size: u64,
    },
    /// A structure does not have the form the HDF5 specification requires.
    #[error("{file}: {object}: bad {what} at offset {offset}: expected {expected}, found {found}")]
    Malformed {
        /// The file.
        file: PathBuf,
        /// The object being read.
        object: String,
        /// The structure or field.
        what: &'static str,
        /// Its offset in the file.
        offset: u64,
        /// What the specification allows.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// A valid HDF5 feature that this reader does not implement.
    #[error("{file}: {object}: unsupported HDF5 feature {feature} at offset {offset}")]
    Unsupported {
        /// The file.
        file: PathBuf,
        /// The object being read.
        object: String,
        /// The feature, e.g. "layout message version 4".
        feature: String,
        /// Where it was met.
        offset: u64,
    },
    /// A structure was reached twice while following links (a cycle).
    #[error("{file}: {object}: {what} at offset {offset} was reached twice (cycle)")]
    Cycle {
        /// The file.
        file: PathBuf,
        /// The object being read.
        object: String,
        /// The structure.
        what: &'static str,
        /// Its offset.
        offset: u64,
    },
    /// A tree or chain of structures nests deeper than this reader allows.
    #[error("{file}: {object}: {what} nests deeper than {limit} levels")]
    TooDeep {
        /// The file.
        file: PathBuf,
        /// The object being read.
        object: String,
        /// The structure.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A declared size is larger than the file could justify.
    #[error("{file}: {object}: {what} declares {declared} bytes, more than the bound of {bound} bytes this file allows")]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The object being read.
        object: String,
        /// The quantity.
        what: &'static str,
        /// The declared size in bytes.
        declared: u64,
        /// The largest size accepted.
        bound: u64,
    },
    /// No object, member or attribute of that name.
    #[error("{file}: {object}: no {what} named {name:?}")]
    NotFound {
        /// The file.
        file: PathBuf,
        /// The group or object searched.
        object: String,
        /// "member", "attribute", ...
        what: &'static str,
        /// The name looked for.
        name: String,
    },
    /// An object or value is of another kind than the caller asked for.
    #[error("{file}: {object}: expected {expected}, found {found}")]
    WrongKind {
        /// The file.
        file: PathBuf,
        /// The object, attribute or key.
        object: String,
        /// What was asked for.
        expected: String,
        /// What is there.
        found: String,
    },
}

impl Error {
    /// Fills in the object path of an error that was raised below the level that knows it.
    pub(crate) fn in_object(mut self, path: &str) -> Self {
        match &mut self {
            Error::OutOfBounds { object, .. }
            | Error::Malformed { object, .. }
            | Error::Unsupported { object, .. }
            | Error::Cycle { object, .. }
            | Error::TooDeep { object, .. }
            | Error::TooLarge { object, .. }
            | Error::NotFound { object, .. }
            | Error::WrongKind { object, .. } => {
                if object.is_empty() {
                    *object = path.to_string();
                }
            }
            Error::Io { .. } => {}
        }
        self
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
