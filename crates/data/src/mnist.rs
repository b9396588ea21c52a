//! MNIST and Fashion-MNIST from their IDX files (raw or `.gz`).

use std::path::Path;

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use crate::fsio::raw_or_gz;
use crate::idx::read_idx;

/// Which part of a dataset to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

/// The two datasets stored in MNIST's IDX layout (same file names, same shapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdxDataset {
    /// Handwritten digits 0-9.
    Mnist,
    /// Zalando's Fashion-MNIST: ten kinds of clothing.
    FashionMnist,
}

/// MNIST's class names: the digits.
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Fashion-MNIST's class names, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

impl IdxDataset {
    /// The class names, in label order.
    pub fn class_names(self) -> &'static [&'static str; 10] {
        match self {
            IdxDataset::Mnist => &MNIST_CLASSES,
            IdxDataset::FashionMnist => &FASHION_MNIST_CLASSES,
        }
    }

    /// The file names (without `.gz`) of the images and labels of `split`.
    pub fn file_names(self, split: Split) -> (&'static str, &'static str) {
        match split {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }

    /// Reads `split` from `dir`, which holds the four IDX files raw or gzip-compressed.
    ///
    /// Images become `[N, 1, 28, 28]` samples (bytes, read as `[0, 1]` floats); the image
    /// and label counts must agree and every label must be below 10.
    ///
    /// ```no_run
    /// use strata_data::{Dataset, IdxDataset, Split};
    /// let train = IdxDataset::Mnist.load(&strata_data::data_dir(None).join("mnist"), Split::Train)?;
    /// assert_eq!(train.len(), 60_000);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn load(self, dir: &Path, split: Split) -> Result<InMemoryDataset> {
        let (images_name, labels_name) = self.file_names(split);
        let images_path = raw_or_gz(dir, images_name)?;
        let labels_path = raw_or_gz(dir, labels_name)?;
        let (images, labels) = rayon::join(|| read_idx(&images_path), || read_idx(&labels_path));
        let (images, labels) = (images?, labels?);
        if images.dims.len() != 3 || images.dims[1] != 28 || images.dims[2] != 28 {
            return Err(DataError::format(
                &images_path,
                format!(
                    "expected images of dimensions [N, 28, 28], found {:?}",
                    images.dims
                ),
            ));
        }
        if labels.dims.len() != 1 {
            return Err(DataError::format(
                &labels_path,
                format!("expected labels of dimensions [N], found {:?}", labels.dims),
            ));
        }
        if images.dims[0] != labels.dims[0] {
            return Err(DataError::format(
                &labels_path,
                format!(
                    "{} labels but {} has {} images",
                    labels.dims[0],
                    images_path.display(),
                    images.dims[0]
                ),
            ));
        }
        let classes = self.class_names();
        if let Some((index, &label)) = labels
            .data
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= classes.len())
        {
            return Err(DataError::LabelOutOfRange {
                path: labels_path,
                index,
                label: usize::from(label),
                classes: classes.len(),
            });
        }
        let labels = labels.data.iter().map(|&l| usize::from(l)).collect();
        let names = classes.iter().map(|s| s.to_string()).collect();
        InMemoryDataset::new(images.data, [1, 28, 28], labels, names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;
    use crate::fsio::{
        data_dir,
        tests::{gzip, scratch},
        write_atomic,
    };
    use crate::idx::{encode_idx, write_idx};

    /// The shared MNIST folder, or `None` (with a message) when it is absent.
    pub(crate) fn shared_mnist() -> Option<std::path::PathBuf> {
        let dir = data_dir(None).join("mnist");
        if dir.join("train-images-idx3-ubyte.gz").is_file()
            || dir.join("train-images-idx3-ubyte").is_file()
        {
            Some(dir)
        } else {
            eprintln!(
                "SKIPPED: MNIST not found in {} (set STRATA_DATA to the folder holding mnist/)",
                dir.display()
            );
            None
        }
    }

    #[test]
    fn shared_mnist_matches_the_published_facts() {
        let Some(dir) = shared_mnist() else { return };
        let train = IdxDataset::Mnist.load(&dir, Split::Train).unwrap();
        let test = IdxDataset::Mnist.load(&dir, Split::Test).unwrap();
        assert_eq!(train.len(), 60_000);
        assert_eq!(test.len(), 10_000);
        assert_eq!(train.sample_shape(), [1, 28, 28]);
        assert_eq!(&train.labels()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        let (mean, std) = train.channel_stats();
        assert!((mean[0] - 0.1307).abs() < 5e-5, "mean {}", mean[0]);
        assert!((std[0] - 0.3081).abs() < 5e-5, "std {}", std[0]);
    }

    fn write_fixture(dir: &Path, n_images: usize, labels: &[u8], gz: bool) {
        let images = encode_idx(&[n_images, 28, 28], &vec![128; n_images * 784]).unwrap();
        let labels = encode_idx(&[labels.len()], labels).unwrap();
        if gz {
            write_atomic(&dir.join("t10k-images-idx3-ubyte.gz"), &gzip(&images)).unwrap();
            write_atomic(&dir.join("t10k-labels-idx1-ubyte.gz"), &gzip(&labels)).unwrap();
        } else {
            write_atomic(&dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
            write_atomic(&dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
        }
    }

    #[test]
    fn reads_raw_and_gz_fixtures() {
        for gz in [false, true] {
            let dir = scratch(&format!("mnist-fixture-{gz}"));
            write_fixture(&dir, 3, &[9, 0, 3], gz);
            let d = IdxDataset::FashionMnist.load(&dir, Split::Test).unwrap();
            assert_eq!(d.labels(), &[9, 0, 3]);
            assert_eq!(d.class_names()[9], "Ankle boot");
        }
    }

    #[test]
    fn bad_files_name_the_file_and_the_fault() {
        let dir = scratch("mnist-bad");
        write_fixture(&dir, 3, &[1, 2], false);
        let e = IdxDataset::Mnist
            .load(&dir, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t10k-labels-idx1-ubyte")
                && e.contains("2 labels")
                && e.contains("3 images"),
            "{e}"
        );

        write_fixture(&dir, 2, &[1, 10], false);
        let e = IdxDataset::Mnist
            .load(&dir, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t10k-labels-idx1-ubyte") && e.contains("label 10 of sample 1"),
            "{e}"
        );

        write_idx(
            &dir.join("t10k-images-idx3-ubyte"),
            &[2, 27, 28],
            &[0; 2 * 27 * 28],
        )
        .unwrap();
        let e = IdxDataset::Mnist
            .load(&dir, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[N, 28, 28]") && e.contains("[2, 27, 28]"),
            "{e}"
        );

        let e = IdxDataset::Mnist
            .load(&dir, Split::Train)
            .unwrap_err()
            .to_string();
        assert!(e.contains("train-images-idx3-ubyte.gz"), "{e}");
    }
}
