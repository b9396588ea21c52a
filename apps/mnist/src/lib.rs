//! The MNIST app's workflow: the course model, training on MNIST or Fashion-MNIST,
//! evaluation with per-class accuracy and a confusion matrix, a picture of the mistakes,
//! and predictions for image files. `main.rs` parses arguments and calls these.

pub mod bench;

use std::error::Error;
use std::path::{Path, PathBuf};

use strata_data::{
    load_all, load_digit, Batch, DataLoader, Dataset, IdxDataset, InMemoryDataset, Split, Subset,
};
use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig};
use strata_layers::loss::Loss;
use strata_layers::metrics::ConfusionMatrix;
use strata_layers::optim::{Adam, AdamConfig, ExponentialDecay};
use strata_layers::train::{batches_from_fn, EpochSchedule, FitConfig, History, Model, Verbosity};
use strata_layers::Sequential;
use strata_plot::{Chart, ImageGrid, Tile};
use strata_tensor::Tensor;

/// The app's error type: every library error already names what went wrong.
pub type AppResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// The course model (the TensorFlow CNN tutorial's): Conv2d 32 3×3 relu, MaxPool 2×2,
/// Conv2d 64 3×3 relu, MaxPool 2×2, Conv2d 64 3×3 relu, Flatten, Dense 64 relu, Dense 10
/// (logits), on 28×28 greyscale images: 93,322 parameters.
pub fn mnist_model(seed: u64) -> AppResult<Sequential<f32>> {
    Ok(Sequential::builder(&[1, 28, 28])
        .seed(seed)
        .add(Conv2dConfig::new(32, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(Conv2dConfig::new(64, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(Conv2dConfig::new(64, 3).activation(Activation::Relu))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(64).activation(Activation::Relu))
        .add(DenseConfig::new(10))
        .build()?)
}

/// Per-epoch factor of the learning rate (an exponential decay stepped once per epoch).
pub const LEARNING_RATE_DECAY: f64 = 0.75;

/// The model's loss: it outputs logits.
pub const LOSS: Loss = Loss::SparseCategoricalCrossentropy { from_logits: true };

/// Which dataset a folder holds: Fashion-MNIST when asked, or when the folder's path
/// mentions "fashion"; MNIST otherwise.
pub fn dataset_kind(dir: &Path, fashion: Option<bool>) -> IdxDataset {
    let guessed = dir.to_string_lossy().to_lowercase().contains("fashion");
    if fashion.unwrap_or(guessed) {
        IdxDataset::FashionMnist
    } else {
        IdxDataset::Mnist
    }
}

/// No MNIST files where the app looked: says where, and how to get them.
#[derive(Debug, thiserror::Error)]
#[error("no {kind:?} {split:?} files in {dir}: pass --data DIR, set STRATA_DATA to a folder holding mnist/, or fetch them with `mnist download --dest DIR`")]
pub struct NoData {
    /// The folder looked in.
    pub dir: PathBuf,
    /// The dataset.
    pub kind: IdxDataset,
    /// The split.
    pub split: Split,
    /// What the reader found.
    #[source]
    pub source: strata_data::DataError,
}

/// Opens a split of the folder `dir`; a folder without the files gives [`NoData`].
pub fn open_split(dir: &Path, kind: IdxDataset, split: Split) -> AppResult<InMemoryDataset> {
    kind.load(dir, split).map_err(|source| {
        let missing = matches!(source, strata_data::DataError::Folder { .. });
        if missing {
            NoData {
                dir: dir.to_path_buf(),
                kind,
                split,
                source,
            }
            .into()
        } else {
            source.into()
        }
    })
}

/// Reads a split as tensors `[N, 1, 28, 28]` in `[0, 1]` and labels, keeping the first
/// `limit` samples when given.
pub fn load_split(
    dir: &Path,
    kind: IdxDataset,
    split: Split,
    limit: Option<usize>,
) -> AppResult<(Tensor<f32>, Vec<usize>)> {
    let dataset = open_split(dir, kind, split)?;
    let batch = match limit {
        Some(n) if n < dataset.len() => load_all(&Subset::new(&dataset, (0..n).collect())?)?,
        _ => load_all(&dataset)?,
    };
    Ok((batch.images, batch.labels))
}

/// Settings of a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The folder of the IDX files.
    pub data: PathBuf,
    /// Fashion-MNIST (`Some(true)`), MNIST (`Some(false)`) or guessed from the folder.
    pub fashion: Option<bool>,
    /// Train on the first this many training images only.
    pub limit: Option<usize>,
    /// Validate on the first this many test images only.
    pub test_limit: Option<usize>,
    /// Epochs.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Adam's learning rate in the first epoch; each later epoch uses 0.75 times the one
    /// before.
    pub learning_rate: f64,
    /// Seed of the weights, the shuffles and dropout.
    pub seed: u64,
    /// Where the model is saved.
    pub model_path: PathBuf,
    /// Where the loss and accuracy charts are written (`<stem>-loss.png`, `<stem>-accuracy.png`).
    pub plot_stem: PathBuf,
    /// Print nothing.
    pub quiet: bool,
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainReport {
    /// Per-epoch figures.
    pub history: History,
    /// The dataset trained on.
    pub kind: IdxDataset,
}

/// Trains the course model with Adam and sparse categorical cross-entropy, validating on
/// the test set after every epoch (as the TensorFlow tutorial does); saves the model (with
/// the dataset's class names) and its charts.
pub fn train(options: &TrainOptions) -> AppResult<TrainReport> {
    let kind = dataset_kind(&options.data, options.fashion);
    let train_set = open_split(&options.data, kind, Split::Train)?;
    let test_set = open_split(&options.data, kind, Split::Test)?;
    let first = |dataset: &InMemoryDataset, limit: Option<usize>| {
        (0..limit.unwrap_or(usize::MAX).min(dataset.len())).collect::<Vec<usize>>()
    };
    let train_set = Subset::new(&train_set, first(&train_set, options.limit))?;
    let test_set = Subset::new(&test_set, first(&test_set, options.test_limit))?;
    // Batches are read, shuffled and stacked on a second thread while the step trains.
    let loader = DataLoader::new(&train_set, options.batch_size)?.shuffle(options.seed);
    let test_loader = DataLoader::new(&test_set, options.batch_size)?;
    let train_batches = batches_from_fn(Some(loader.num_batches()), |epoch, first| {
        loader
            .epoch_from(epoch as u64, first)
            .map(|b| b.map(Batch::into_parts))
    });
    let test_batches = batches_from_fn(Some(test_loader.num_batches()), |_, first| {
        test_loader
            .epoch_from(0, first)
            .map(|b| b.map(Batch::into_parts))
    });
    let mut network = mnist_model(options.seed)?;
    network.set_class_names(kind.class_names().map(String::from).to_vec())?;
    if !options.quiet {
        println!(
            "{} training images, {} test images ({kind:?})",
            train_set.len(),
            test_set.len()
        );
        println!("{}", network.summary());
    }
    let adam = Adam::new(AdamConfig {
        learning_rate: options.learning_rate,
        ..AdamConfig::default()
    })?;
    let mut model = Model::new(network, LOSS, adam);
    let config = FitConfig {
        epochs: options.epochs,
        batch_size: options.batch_size,
        seed: options.seed,
        schedule: Some(EpochSchedule(std::sync::Arc::new(ExponentialDecay {
            initial: options.learning_rate,
            decay_steps: 1,
            decay_rate: LEARNING_RATE_DECAY,
            staircase: true,
        }))),
        verbosity: if options.quiet {
            Verbosity::Silent
        } else {
            Verbosity::ProgressBar
        },
        ..FitConfig::default()
    };
    let history = model.fit_batches(&train_batches, Some(&test_batches), &config, &mut [])?;
    model.network().save(&options.model_path)?;
    let stem = options.plot_stem.to_string_lossy();
    let (loss_png, accuracy_png) = (
        PathBuf::from(format!("{stem}-loss.png")),
        PathBuf::from(format!("{stem}-accuracy.png")),
    );
    Chart::loss(&history).save_png(&loss_png, 800, 500)?;
    Chart::accuracy(&history).save_png(&accuracy_png, 800, 500)?;
    if !options.quiet {
        println!("model saved to {}", options.model_path.display());
        println!(
            "charts written to {} and {}",
            loss_png.display(),
            accuracy_png.display()
        );
        let seconds: f64 = history.epochs.iter().map(|e| e.train_seconds).sum();
        let per_epoch = seconds / history.epochs.len().max(1) as f64;
        let rate = history
            .epochs
            .iter()
            .map(|e| e.samples_per_second)
            .sum::<f64>()
            / history.epochs.len().max(1) as f64;
        println!("training: {per_epoch:.1} s per epoch, {rate:.0} images/s");
    }
    Ok(TrainReport { history, kind })
}

/// Loads a saved MNIST model; the error names the file and what is wrong with it.
pub fn load_model(path: &Path) -> AppResult<Sequential<f32>> {
    if !path.exists() {
        return Err(format!(
            "no model at {} (train one first: `mnist train`)",
            path.display()
        )
        .into());
    }
    Ok(Sequential::load_for(path, &[1, 28, 28], &[10])?)
}

/// Class probabilities for a batch `[N, 1, 28, 28]`, in batches of 1,000.
pub fn probabilities(model: &Sequential<f32>, x: &Tensor<f32>) -> AppResult<Tensor<f32>> {
    let n = x.shape()[0];
    let mut parts = Vec::new();
    for start in (0..n).step_by(1000) {
        let batch = x.narrow(0, start, 1000.min(n - start))?;
        parts.push(model.predict_batch(&batch)?.softmax(1)?);
    }
    if parts.is_empty() {
        return Ok(Tensor::zeros(&[0, 10]));
    }
    Ok(Tensor::concat(&parts, 0)?)
}

/// Test-set results: accuracy, per class, the confusion matrix and the mistakes.
#[derive(Debug)]
pub struct TestReport {
    /// Counts of (true, predicted) pairs.
    pub confusion: ConfusionMatrix,
    /// Indices of misclassified images with their predicted class.
    pub mistakes: Vec<(usize, usize)>,
}

/// Evaluates a model on images and labels.
pub fn evaluate(
    model: &Sequential<f32>,
    x: &Tensor<f32>,
    labels: &[usize],
) -> AppResult<TestReport> {
    let p = probabilities(model, x)?;
    let mut confusion = ConfusionMatrix::new(10);
    confusion.add(&p, labels)?;
    let mistakes = p
        .argmax(1)?
        .into_iter()
        .zip(labels)
        .enumerate()
        .filter(|(_, (predicted, truth))| predicted != *truth)
        .map(|(i, (predicted, _))| (i, predicted))
        .collect();
    Ok(TestReport {
        confusion,
        mistakes,
    })
}

/// Writes a grid of (at most `max`) misclassified images captioned with the predicted and
/// the true class.
pub fn save_mistakes(
    path: &Path,
    x: &Tensor<f32>,
    labels: &[usize],
    evaluation: &TestReport,
    class_names: &[&str],
    max: usize,
) -> AppResult<()> {
    let tiles = evaluation
        .mistakes
        .iter()
        .take(max)
        .map(|&(i, predicted)| {
            let short = |c: usize| {
                class_names[c]
                    .split('/')
                    .next()
                    .unwrap_or(class_names[c])
                    .to_string()
            };
            Ok(Tile {
                image: x.select(0, i)?,
                caption: format!("{} (true {})", short(predicted), short(labels[i])),
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

/// Reads image files (any size, dark or light background) as MNIST digits `[N, 1, 28, 28]`.
pub fn read_digits(paths: &[PathBuf]) -> AppResult<Tensor<f32>> {
    let digits = paths
        .iter()
        .map(|p| Ok(load_digit(p)?.unsqueeze(0)?))
        .collect::<AppResult<Vec<_>>>()?;
    if digits.is_empty() {
        return Err("no image files given".into());
    }
    Ok(Tensor::concat(&digits, 0)?)
}
