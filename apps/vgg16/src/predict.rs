//! Preprocessing that follows the weights, ImageNet class names, and top-k predictions.

use std::path::{Path, PathBuf};

use image::DynamicImage;
use serde::Serialize;
use strata_data::imagenet::{caffe_preprocess, torchvision_preprocess};
use strata_data::IMAGE_EXTENSIONS;
use strata_import::WeightFormat;
use strata_layers::Sequential;
use strata_tensor::Tensor;

use crate::{AppError, AppResult};

/// How images become model inputs; it must match how the weights were trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preprocess {
    /// torchvision: resize the shorter side to 256, centre-crop 224, RGB in `[0, 1]`
    /// normalised with ImageNet's mean and std (torchvision's and timm's VGG-16).
    Torchvision,
    /// Keras "caffe": resize to 224×224, BGR in `[0, 255]` minus the ImageNet means
    /// (Keras's `vgg16_weights_tf_dim_ordering_tf_kernels.h5`).
    Caffe,
}

impl Preprocess {
    /// The convention of a weight file: Keras files use caffe's, PyTorch ones torchvision's.
    pub fn for_format(format: WeightFormat) -> Self {
        match format {
            WeightFormat::KerasH5 => Preprocess::Caffe,
            _ => Preprocess::Torchvision,
        }
    }

    /// The `[1, 3, size, size]` input of an image.
    pub fn apply(self, image: &DynamicImage, size: usize) -> AppResult<Tensor<f32>> {
        match self {
            Preprocess::Caffe => Ok(caffe_preprocess(image, size)?),
            Preprocess::Torchvision if size == 224 => Ok(torchvision_preprocess(image)?),
            Preprocess::Torchvision => Err(AppError::Message(format!(
                "torchvision preprocessing makes 224×224 inputs but the model takes {size}×{size}; use --preprocess caffe"
            ))),
        }
    }
}

/// The class names of `synset_words.txt` (`n01440764 tench, Tinca tinca` → `tench, Tinca
/// tinca`), in line order.
pub fn read_labels(path: &Path) -> AppResult<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::Message(format!("{}: {e} (set --labels or --data)", path.display()))
    })?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once(' ')
                .map_or(l, |(_, name)| name)
                .trim()
                .to_string()
        })
        .collect())
}

/// One class of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// Class index.
    pub index: usize,
    /// Its name (`class N` when no name is known).
    pub label: String,
    /// Softmax probability.
    pub probability: f32,
    /// The logit.
    pub logit: f32,
}

/// The best classes of one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The image file.
    pub file: PathBuf,
    /// The `k` most probable classes, best first.
    pub top: Vec<ClassScore>,
}

/// The `k` best classes of a logit vector, with softmax probabilities (ties: lower index
/// first).
pub fn top_k(logits: &[f32], k: usize, labels: &[String]) -> Vec<ClassScore> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|index| ClassScore {
            index,
            label: labels
                .get(index)
                .cloned()
                .unwrap_or_else(|| format!("class {index}")),
            probability: (f64::from(logits[index] - max).exp() / sum) as f32,
            logit: logits[index],
        })
        .collect()
}

/// The image files of a folder (by extension, sorted), or the given files as they are.
pub fn image_files(inputs: &[PathBuf]) -> AppResult<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input)
                .map_err(|e| AppError::Message(format!("{}: {e}", input.display())))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    if files.is_empty() {
        return Err(AppError::Message(
            "no images given (or the folder holds none)".into(),
        ));
    }
    Ok(files)
}

/// The top-`k` prediction of `model` for one image file.
pub fn predict_file(
    model: &Sequential<f32>,
    file: &Path,
    preprocess: Preprocess,
    k: usize,
    labels: &[String],
) -> AppResult<Prediction> {
    // Bounded and panic-guarded: a corrupt file is an error naming it, not a crash.
    let image = strata_data::decode::decode_image_file(file)
        .map_err(|e| AppError::Message(e.to_string()))?;
    let size = model.input_shape().get(1).copied().unwrap_or(224);
    let input = preprocess.apply(&image, size)?;
    let logits = model.predict_batch(&input)?.to_vec();
    Ok(Prediction {
        file: file.to_path_buf(),
        top: top_k(&logits, k, labels),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_and_normalises() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let top = top_k(&[1.0, 3.0, 2.0, 3.0], 3, &labels);
        assert_eq!(
            top.iter().map(|c| c.index).collect::<Vec<_>>(),
            vec![1, 3, 2]
        );
        assert_eq!(top[0].label, "b");
        assert_eq!(top[1].label, "class 3");
        let z: f32 = [1.0f32, 3.0, 2.0, 3.0].iter().map(|l| l.exp()).sum();
        assert!((top[2].probability - 2f32.exp() / z).abs() < 1e-6);
    }

    #[test]
    fn labels_drop_the_synset_id() {
        let dir = std::env::temp_dir().join(format!("vgg16-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("synset_words.txt");
        std::fs::write(&path, "n01440764 tench, Tinca tinca\nn01443537 goldfish\n").unwrap();
        assert_eq!(
            read_labels(&path).unwrap(),
            vec!["tench, Tinca tinca", "goldfish"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read_labels(Path::new("/nonexistent/synset_words.txt")).is_err());
    }
}
