//! The dataset trait, and the in-memory dataset of byte images every reader returns.

use std::sync::Arc;

use crate::error::{DataError, Result};

/// A labelled image dataset with samples of one shape `[channels, height, width]`.
///
/// `Sync` so that a [`DataLoader`](crate::DataLoader) can decode samples in parallel.
pub trait Dataset: Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether the dataset has no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape `[channels, height, width]` of every sample.
    fn sample_shape(&self) -> [usize; 3];

    /// The class names; a label is an index into them.
    fn class_names(&self) -> &[String];

    /// Writes sample `index` into `out` (`channels * height * width` values in `[0, 1]`,
    /// channel-major) and returns its label.
    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize>;

    /// The label of sample `index` (without decoding the image where possible).
    fn label(&self, index: usize) -> Result<usize>;
}

/// The error for a sample index past the end of a dataset of `len` samples.
pub(crate) fn index_error(op: &'static str, index: usize, len: usize) -> DataError {
    DataError::invalid(
        op,
        format!("sample index {index} out of range for {len} samples"),
    )
}

/// Bytes `0..=255` to `f32` in `[0, 1]`.
pub(crate) fn bytes_to_unit(src: &[u8], out: &mut [f32]) {
    for (o, &b) in out.iter_mut().zip(src) {
        *o = f32::from(b) / 255.0;
    }
}

/// Checks the arguments of [`Dataset::read`]; shared by the implementations.
pub(crate) fn check_read(
    op: &'static str,
    len: usize,
    shape: [usize; 3],
    index: usize,
    out: &[f32],
) -> Result<()> {
    if index >= len {
        return Err(index_error(op, index, len));
    }
    let need = shape.iter().product::<usize>();
    if out.len() != need {
        return Err(DataError::invalid(
            op,
            format!(
                "output buffer of {} values, expected {need} for shape {shape:?}",
                out.len()
            ),
        ));
    }
    Ok(())
}

/// Images held in memory as bytes (`0..=255`, channel-major `[N, C, H, W]`) with their labels.
///
/// This is what the MNIST, CIFAR and shapes readers return; reading a sample scales it to
/// `[0, 1]` as `f32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMemoryDataset {
    pixels: Arc<Vec<u8>>,
    shape: [usize; 3],
    labels: Vec<usize>,
    class_names: Vec<String>,
}

impl InMemoryDataset {
    /// Builds a dataset, checking that `pixels` holds one `shape`-sized image per label and
    /// that every label is smaller than the number of classes.
    pub fn new(
        pixels: Vec<u8>,
        shape: [usize; 3],
        labels: Vec<usize>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let op = "InMemoryDataset::new";
        let per = shape.iter().product::<usize>();
        if pixels.len() != per * labels.len() {
            return Err(DataError::invalid(
                op,
                format!(
                    "{} labels of shape {shape:?} need {} pixel bytes, found {}",
                    labels.len(),
                    per * labels.len(),
                    pixels.len()
                ),
            ));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l >= class_names.len())
        {
            return Err(DataError::invalid(
                op,
                format!(
                    "label {l} of sample {i} is out of range for {} classes",
                    class_names.len()
                ),
            ));
        }
        Ok(Self {
            pixels: Arc::new(pixels),
            shape,
            labels,
            class_names,
        })
    }

    /// The same images with other labels (the pixels are shared, not copied); used for
    /// CIFAR-100's coarse labels.
    pub fn with_labels(&self, labels: Vec<usize>, class_names: Vec<String>) -> Result<Self> {
        if labels.len() != self.labels.len() {
            return Err(DataError::invalid(
                "InMemoryDataset::with_labels",
                format!(
                    "{} labels given for {} images",
                    labels.len(),
                    self.labels.len()
                ),
            ));
        }
        let mut out = Self::new(Vec::new(), [0, 0, 0], labels, class_names)?;
        out.pixels = Arc::clone(&self.pixels);
        out.shape = self.shape;
        Ok(out)
    }

    /// All pixels, `[N, C, H, W]` bytes.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The bytes of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let per = self.shape.iter().product::<usize>();
        let start = index.checked_mul(per)?;
        self.pixels.get(start..start.checked_add(per)?)
    }

    /// All labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Per-channel mean and standard deviation of the pixel values scaled to `[0, 1]`
    /// (population statistics over every sample and position).
    pub fn channel_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let [c, h, w] = self.shape;
        let plane = h * w;
        let mut hist = vec![[0u64; 256]; c];
        if plane > 0 {
            for (i, chunk) in self.pixels.chunks_exact(plane).enumerate() {
                let counts = &mut hist[i % c];
                for &p in chunk {
                    counts[usize::from(p)] += 1;
                }
            }
        }
        stats_from_histograms(&hist)
    }
}

/// Mean and standard deviation per channel from byte histograms (exact, order-free).
fn stats_from_histograms(hist: &[[u64; 256]]) -> (Vec<f64>, Vec<f64>) {
    hist.iter()
        .map(|counts| {
            let n: u64 = counts.iter().sum();
            if n == 0 {
                return (0.0, 0.0);
            }
            let n = n as f64;
            let mean = counts
                .iter()
                .enumerate()
                .map(|(v, &k)| v as f64 / 255.0 * k as f64)
                .sum::<f64>()
                / n;
            let var = counts
                .iter()
                .enumerate()
                .map(|(v, &k)| (v as f64 / 255.0 - mean).powi(2) * k as f64)
                .sum::<f64>()
                / n;
            (mean, var.sqrt())
        })
        .unzip()
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn sample_shape(&self) -> [usize; 3] {
        self.shape
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize> {
        check_read("InMemoryDataset::read", self.len(), self.shape, index, out)?;
        let per = out.len();
        let src = &self.pixels[index * per..(index + 1) * per];
        bytes_to_unit(src, out);
        Ok(self.labels[index])
    }

    fn label(&self, index: usize) -> Result<usize> {
        self.labels
            .get(index)
            .copied()
            .ok_or_else(|| index_error("InMemoryDataset::label", index, self.len()))
    }
}

/// A view of some samples of another dataset, in a given order (see [`crate::train_validation_split`]).
#[derive(Debug, Clone)]
pub struct Subset<'a, D: Dataset + ?Sized> {
    inner: &'a D,
    indices: Vec<usize>,
}

impl<'a, D: Dataset + ?Sized> Subset<'a, D> {
    /// The samples `indices` of `inner`; each index must be in range.
    pub fn new(inner: &'a D, indices: Vec<usize>) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= inner.len()) {
            return Err(DataError::invalid(
                "Subset::new",
                format!("index {bad} out of range for {} samples", inner.len()),
            ));
        }
        Ok(Self { inner, indices })
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl<D: Dataset + ?Sized> Dataset for Subset<'_, D> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn sample_shape(&self) -> [usize; 3] {
        self.inner.sample_shape()
    }

    fn class_names(&self) -> &[String] {
        self.inner.class_names()
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize> {
        let i = self.map("Subset::read", index)?;
        self.inner.read(i, out)
    }

    fn label(&self, index: usize) -> Result<usize> {
        let i = self.map("Subset::label", index)?;
        self.inner.label(i)
    }
}

impl<D: Dataset + ?Sized> Subset<'_, D> {
    fn map(&self, op: &'static str, index: usize) -> Result<usize> {
        self.indices
            .get(index)
            .copied()
            .ok_or_else(|| index_error(op, index, self.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn new_checks_sizes_and_labels() {
        assert!(InMemoryDataset::new(vec![0; 8], [1, 2, 2], vec![0, 1], names(2)).is_ok());
        let e = InMemoryDataset::new(vec![0; 7], [1, 2, 2], vec![0, 1], names(2)).unwrap_err();
        assert!(e.to_string().contains("need 8 pixel bytes, found 7"), "{e}");
        let e = InMemoryDataset::new(vec![0; 8], [1, 2, 2], vec![0, 2], names(2)).unwrap_err();
        assert!(e.to_string().contains("label 2 of sample 1"), "{e}");
    }

    #[test]
    fn read_scales_and_subset_maps() {
        let d =
            InMemoryDataset::new(vec![0, 255, 51, 102], [1, 1, 2], vec![1, 0], names(2)).unwrap();
        let mut out = [0f32; 2];
        assert_eq!(d.read(1, &mut out).unwrap(), 0);
        assert_eq!(out, [0.2, 0.4]);
        let s = Subset::new(&d, vec![1, 0]).unwrap();
        assert_eq!(s.read(1, &mut out).unwrap(), 1);
        assert_eq!(out, [0.0, 1.0]);
        assert!(s.read(2, &mut out).is_err());
        assert!(d.read(0, &mut [0f32; 3]).is_err());
        assert!(Subset::new(&d, vec![2]).is_err());
    }

    #[test]
    fn channel_stats_are_exact() {
        // two channels of 2 pixels, two images
        let d = InMemoryDataset::new(
            vec![0, 255, 51, 51, 255, 0, 51, 51],
            [2, 1, 2],
            vec![0, 0],
            names(1),
        )
        .unwrap();
        let (m, s) = d.channel_stats();
        assert!((m[0] - 0.5).abs() < 1e-12 && (s[0] - 0.5).abs() < 1e-12);
        assert!((m[1] - 0.2).abs() < 1e-12 && s[1].abs() < 1e-12);
    }
}
