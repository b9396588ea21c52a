//! The CIFAR-10 app's workflow: the course model, training with the course's augmentation,
//! checkpoints and resumption, evaluation with per-class accuracy and a confusion matrix, a
//! picture of the mistakes, predictions for photos, and the download of the official
//! archive. `main.rs` parses arguments and calls these.

#![warn(missing_docs)]

pub mod bench;
pub mod data;
pub mod eval;
pub mod model;
pub mod train;

use std::error::Error;
use std::path::{Path, PathBuf};

use strata_data::download::{Downloader, RemoteFiles};

pub use data::{open_split, resolve_source, DatasetKind, Standardization};
pub use eval::{evaluate, save_mistakes, TestReport, Trained};
pub use model::{cifar_model, compile, Dropout, INPUT_SHAPE, LOSS};
pub use train::{train, train_on, TrainOptions, TrainReport};

/// The app's error type: every library error already names what went wrong.
pub type AppResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Downloads the official CIFAR-10 binary archive into `dest` (skipped when a file with the
/// published MD5 sum is already there), from `base_url` instead of the official site when
/// given; returns its path.
pub fn download(dest: &Path, base_url: Option<&str>) -> AppResult<PathBuf> {
    let mut files = RemoteFiles::cifar10();
    if let Some(url) = base_url {
        files.base_url = url.to_string();
    }
    download_files(&files, dest)
}

/// Downloads the files of `files` into `dest`; returns the first one's path.
pub fn download_files(files: &RemoteFiles, dest: &Path) -> AppResult<PathBuf> {
    files
        .fetch_all(&Downloader::new(), dest)?
        .into_iter()
        .next()
        .ok_or_else(|| "nothing to download".into())
}
