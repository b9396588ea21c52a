//! # strata-data
//!
//! Datasets and batch loading for training CNNs with Strata:
//!
//! - readers for MNIST and Fashion-MNIST ([`IdxDataset`], IDX files raw or `.gz`), CIFAR-10
//!   and CIFAR-100 ([`CifarReader`], binary version, folder or `.tar.gz`), image folders
//!   laid out as for Keras' `flow_from_directory` ([`ImageFolder`]), and the generated
//!   shapes dataset ([`Shapes`]);
//! - a [`DataLoader`] yielding [`Batch`]es of `[B, C, H, W]` [`strata_tensor::Tensor`]s with
//!   seeded shuffling, drop-last and parallel decoding and augmentation whose results do not
//!   depend on the thread count; [`train_validation_split`];
//! - composable seeded augmentation ([`Augment`], [`RandomShift`], [`HorizontalFlip`],
//!   [`RandomCrop`], [`Normalize`] including a featurewise fit) and ImageNet preprocessing
//!   ([`imagenet`]);
//! - a resumable, checksum-verified, atomic downloader over plain HTTP ([`download`]).
//!
//! Every fallible function returns [`DataError`], which names the file and what was wrong.
//!
//! ```
//! use strata_data::{Augment, DataLoader, HorizontalFlip, RandomShift, Shapes};
//! let shapes = Shapes::new(32, 42); // circles, squares, triangles, 128×128 RGB
//! let augment = Augment::new().then(RandomShift::new(0.1, 0.1)?).then(HorizontalFlip);
//! let loader = DataLoader::new(&shapes, 16)?.shuffle(1).transform(augment);
//! for batch in loader.epoch(0) {
//!     let batch = batch?;
//!     assert_eq!(batch.images.shape(), &[16, 3, 128, 128]);
//! }
//! # Ok::<(), strata_data::DataError>(())
//! ```

#![warn(missing_docs)]

mod augment;
pub mod cifar;
mod dataset;
pub mod decode;
mod digit;
pub mod download;
mod error;
mod fsio;
mod http;
pub mod idx;
mod image_folder;
pub mod imagenet;
mod loader;
mod mnist;
mod shapes;
mod split;

pub use augment::{Augment, HorizontalFlip, Normalize, RandomCrop, RandomShift, Sample, Transform};
pub use cifar::{Cifar100, CifarReader};
pub use dataset::{Dataset, InMemoryDataset, Subset};
pub use digit::{load_digit, prepare_digit};
pub use error::{DataError, Result};
pub use fsio::{
    data_dir, read_maybe_gz, read_maybe_gz_within, DEFAULT_DATA_DIR, MAX_INFLATED_BYTES,
};
pub use image_folder::{load_image, load_image_unscaled, ColorMode, ImageFolder, IMAGE_EXTENSIONS};
pub use loader::{load_all, Batch, Batches, DataLoader};
pub use mnist::{IdxDataset, Split, FASHION_MNIST_CLASSES, MNIST_CLASSES};
pub use shapes::{Shapes, SHAPES_CLASSES, SHAPES_SIZE};
pub use split::train_validation_split;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
