//! Applying a trained model: test-set evaluation (accuracy, per class, confusion matrix, a
//! picture of the mistakes) and predictions for photos.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::SeedableRng;
use strata_data::{
    load_all, load_image, Batch, CifarReader, ColorMode, DataLoader, Dataset, Normalize, Sample,
    Split, Subset, Transform,
};
use strata_layers::metrics::ConfusionMatrix;
use strata_layers::Sequential;
use strata_plot::{ImageGrid, Tile};
use strata_tensor::Tensor;

use crate::data::{open_split, DatasetKind, Standardization};
use crate::model::INPUT_SHAPE;
use crate::AppResult;

/// Images per inference call.
const BATCH: usize = 500;

/// A trained model with the standardisation it was trained with.
#[derive(Debug)]
pub struct Trained {
    /// The network (ending in softmax).
    pub network: Sequential<f32>,
    /// The per-channel statistics its inputs are standardised with.
    pub normalize: Normalize,
}

impl Trained {
    /// Loads a model saved by `cifar10 train` and the standardisation beside it; errors
    /// name the file and what is wrong.
    pub fn load(path: &Path) -> AppResult<Self> {
        if !path.exists() {
            return Err(format!(
                "no model at {} (train one first: `cifar10 train`)",
                path.display()
            )
            .into());
        }
        let network = Sequential::<f32>::load(path)?;
        if network.input_shape() != INPUT_SHAPE {
            return Err(format!(
                "{}: the model takes inputs {:?}, expected {INPUT_SHAPE:?}",
                path.display(),
                network.input_shape()
            )
            .into());
        }
        let normalize = Standardization::load_for(path)?.normalize()?;
        Ok(Self { network, normalize })
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.network.output_shape().iter().product()
    }

    /// The class names saved with the model (or the class numbers).
    pub fn class_names(&self) -> Vec<String> {
        match self.network.class_names() {
            Some(names) => names.to_vec(),
            None => (0..self.classes()).map(|c| c.to_string()).collect(),
        }
    }

    /// Class probabilities `[N, classes]` of a dataset's images, standardised.
    pub fn probabilities<D: Dataset>(&self, dataset: &D) -> AppResult<Tensor<f32>> {
        let loader = DataLoader::new(dataset, BATCH)?.transform(self.normalize.clone());
        let parts = loader
            .epoch(0)
            .map(|batch| Ok(self.network.predict_batch(&batch?.images)?))
            .collect::<AppResult<Vec<_>>>()?;
        if parts.is_empty() {
            return Ok(Tensor::zeros(&[0, self.classes()]));
        }
        Ok(Tensor::concat(&parts, 0)?)
    }

    /// Class probabilities `[N, classes]` of image files of any size (resized to 32×32,
    /// converted to RGB, standardised).
    pub fn predict_files(&self, paths: &[PathBuf]) -> AppResult<Tensor<f32>> {
        if paths.is_empty() {
            return Err("no image files given".into());
        }
        // Standardisation draws nothing; the generator is only the transform's argument.
        let mut rng = StdRng::seed_from_u64(0);
        let images = paths
            .iter()
            .map(|p| {
                let image = load_image(p, INPUT_SHAPE[1], INPUT_SHAPE[2], ColorMode::Rgb)?;
                let mut sample = Sample {
                    data: image.to_vec(),
                    shape: INPUT_SHAPE,
                };
                self.normalize.apply(&mut sample, &mut rng);
                Ok(Tensor::from_vec(sample.data, &[1, 3, 32, 32])?)
            })
            .collect::<AppResult<Vec<_>>>()?;
        let parts = images
            .chunks(BATCH)
            .map(|chunk| Ok(self.network.predict_batch(&Tensor::concat(chunk, 0)?)?))
            .collect::<AppResult<Vec<_>>>()?;
        Ok(Tensor::concat(&parts, 0)?)
    }
}

/// Test-set results: the confusion matrix and the mistakes.
#[derive(Debug)]
pub struct TestReport {
    /// Counts of (true, predicted) pairs.
    pub confusion: ConfusionMatrix,
    /// Indices of misclassified images with their predicted class.
    pub mistakes: Vec<(usize, usize)>,
    /// The test images as read (in `[0, 1]`, not standardised) and their labels.
    pub images: Batch,
}

/// Evaluates a trained model on the test split of `source` (the first `limit` images when
/// given).
pub fn evaluate(
    trained: &Trained,
    reader: &CifarReader,
    source: &Path,
    kind: DatasetKind,
    limit: Option<usize>,
) -> AppResult<TestReport> {
    if trained.classes() != kind.classes() {
        return Err(format!(
            "the model has {} classes, the {kind:?} labels {}",
            trained.classes(),
            kind.classes()
        )
        .into());
    }
    let test = open_split(reader, source, kind, Split::Test)?;
    let n = limit.unwrap_or(usize::MAX).min(test.len());
    let test = Subset::new(&test, (0..n).collect())?;
    let p = trained.probabilities(&test)?;
    let images = load_all(&test)?;
    let mut confusion = ConfusionMatrix::new(kind.classes());
    confusion.add(&p, &images.labels)?;
    let mistakes = p
        .argmax(1)?
        .into_iter()
        .zip(&images.labels)
        .enumerate()
        .filter(|(_, (predicted, truth))| predicted != *truth)
        .map(|(i, (predicted, _))| (i, predicted))
        .collect();
    Ok(TestReport {
        confusion,
        mistakes,
        images,
    })
}

/// Writes a grid of (at most `max`) misclassified images captioned with the predicted and
/// the true class.
pub fn save_mistakes(
    path: &Path,
    report: &TestReport,
    class_names: &[String],
    max: usize,
) -> AppResult<()> {
    let name = |c: usize| class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let tiles = report
        .mistakes
        .iter()
        .take(max)
        .map(|&(i, predicted)| {
            Ok(Tile {
                image: report.images.images.select(0, i)?,
                caption: format!(
                    "{} (true {})",
                    name(predicted),
                    name(report.images.labels[i])
                ),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    if tiles.is_empty() {
        return Err("no mistakes to draw".into());
    }
    ImageGrid {
        tiles,
        columns: 10,
        scale: 3,
    }
    .save_png(path)?;
    Ok(())
}
