//! The shapes app's workflow: generate the circle/square/triangle images, train the course
//! model on them, plot the losses, save, reload and predict. `main.rs` parses arguments and
//! calls these functions; the integration test runs them scaled down.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use strata_data::{
    load_image, ColorMode, DataLoader, Dataset, ImageFolder, Shapes, SHAPES_CLASSES, SHAPES_SIZE,
};
use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, DropoutConfig, FlattenConfig, MaxPool2dConfig,
};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::plot::Chart;
use strata_layers::train::{FitConfig, History, Model, Validation, Verbosity};
use strata_layers::Sequential;
use strata_layers::Targets;
use strata_tensor::Tensor;

/// The app's error type: every library error already names what went wrong.
pub type AppResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// The course model: Conv2d 32 6×6 relu, MaxPool 2×2, Conv2d 32 6×6 relu, MaxPool 2×2,
/// Dropout 0.2, Flatten, Dense 3 softmax, on 128×128 RGB images.
pub fn course_model(seed: u64) -> AppResult<Sequential<f32>> {
    Ok(Sequential::builder(&[3, SHAPES_SIZE, SHAPES_SIZE])
        .seed(seed)
        .add(Conv2dConfig::new(32, 6).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(Conv2dConfig::new(32, 6).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.2))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3).activation(Activation::Softmax))
        .build()?)
}

/// The loss of the course model: its output is already a softmax.
pub const LOSS: Loss = Loss::SparseCategoricalCrossentropy { from_logits: false };

/// Reads a dataset into memory with a progress bar (hidden when `quiet`).
pub fn load_with_progress<D: Dataset>(
    dataset: &D,
    what: &str,
    quiet: bool,
) -> AppResult<(Tensor<f32>, Vec<usize>)> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(dataset.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    let mut images = Vec::new();
    let mut labels = Vec::with_capacity(dataset.len());
    for batch in DataLoader::new(dataset, 100)?.epoch(0) {
        let batch = batch?;
        bar.inc(batch.labels.len() as u64);
        labels.extend_from_slice(&batch.labels);
        images.push(batch.images);
    }
    bar.finish_and_clear();
    if images.is_empty() {
        return Err(format!("{what}: the dataset is empty").into());
    }
    Ok((Tensor::concat(&images, 0)?, labels))
}

/// Settings of a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Images to generate when no folder is given.
    pub images: usize,
    /// A folder of class subfolders to train on instead of generated images.
    pub data: Option<PathBuf>,
    /// Epochs.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of the data, the weights, the shuffles and dropout.
    pub seed: u64,
    /// The fraction held out for validation (the last samples, as Keras).
    pub validation_split: f64,
    /// Where the model is saved.
    pub model_path: PathBuf,
    /// Where the loss chart is written.
    pub plot_path: PathBuf,
    /// Print nothing.
    pub quiet: bool,
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainReport {
    /// Per-epoch figures.
    pub history: History,
    /// Seconds spent in training steps (all epochs).
    pub train_seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// Trains the course model on generated shapes (or a folder), prints the summary and
/// progress, saves the model and the loss chart.
pub fn train(options: &TrainOptions) -> AppResult<TrainReport> {
    let (x, y) = match &options.data {
        Some(dir) => {
            let folder = ImageFolder::new(dir, SHAPES_SIZE, SHAPES_SIZE, ColorMode::Rgb)?;
            load_with_progress(
                &folder,
                &format!("reading {}", dir.display()),
                options.quiet,
            )?
        }
        None => {
            let shapes = Shapes::new(options.images, options.seed);
            load_with_progress(
                &shapes,
                &format!("generating {} images", options.images),
                options.quiet,
            )?
        }
    };
    let network = course_model(options.seed)?;
    if !options.quiet {
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
        validation: Validation::Split(options.validation_split),
        verbosity: if options.quiet {
            Verbosity::Silent
        } else {
            Verbosity::ProgressBar
        },
        ..FitConfig::default()
    };
    let history = model.fit(&x, &Targets::Labels(y), &config, &mut [])?;
    let train_seconds: f64 = history.epochs.iter().map(|e| e.train_seconds).sum();
    let trained: f64 = history
        .epochs
        .iter()
        .map(|e| e.samples_per_second * e.train_seconds)
        .sum();
    model.network().save(&options.model_path)?;
    Chart::loss(&history).save_png(&options.plot_path, 800, 500)?;
    if !options.quiet {
        println!("model saved to {}", options.model_path.display());
        println!("loss chart written to {}", options.plot_path.display());
    }
    Ok(TrainReport {
        history,
        train_seconds,
        images_per_second: trained / train_seconds.max(1e-9),
    })
}

/// One prediction: the class and every class's probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The most probable class.
    pub class: usize,
    /// Probabilities in class order (circle, square, triangle).
    pub probabilities: Vec<f32>,
}

impl std::fmt::Display for Prediction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (", SHAPES_CLASSES[self.class])?;
        for (i, (name, p)) in SHAPES_CLASSES.iter().zip(&self.probabilities).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{name} {p:.3}")?;
        }
        write!(f, ")")
    }
}

/// Predicts the classes of a batch of images `[N, 3, 128, 128]`.
pub fn predict(model: &Sequential<f32>, images: &Tensor<f32>) -> AppResult<Vec<Prediction>> {
    let probabilities = model.predict_batch(images)?;
    let classes = probabilities.argmax(1)?;
    let rows = probabilities.to_vec();
    Ok(classes
        .into_iter()
        .zip(rows.chunks(SHAPES_CLASSES.len()))
        .map(|(class, p)| Prediction {
            class,
            probabilities: p.to_vec(),
        })
        .collect())
}

/// Loads a saved shapes model; the error names the file and what is wrong with it.
pub fn load_model(path: &Path) -> AppResult<Sequential<f32>> {
    if !path.exists() {
        return Err(format!(
            "no model at {} (train one first: `shapes train`)",
            path.display()
        )
        .into());
    }
    Ok(Sequential::load_for(
        path,
        &[3, SHAPES_SIZE, SHAPES_SIZE],
        &[SHAPES_CLASSES.len()],
    )?)
}

/// Reads image files of any size as a batch for the model (resized to 128×128 RGB).
pub fn read_images(paths: &[PathBuf]) -> AppResult<Tensor<f32>> {
    let images = paths
        .iter()
        .map(|p| Ok(load_image(p, SHAPES_SIZE, SHAPES_SIZE, ColorMode::Rgb)?.unsqueeze(0)?))
        .collect::<AppResult<Vec<_>>>()?;
    if images.is_empty() {
        return Err("no image files given".into());
    }
    Ok(Tensor::concat(&images, 0)?)
}

/// The whole course workflow with the default settings, under `out_dir`: train, plot, save,
/// load back, and classify a freshly generated shape. Returns the report and the
/// prediction with the fresh image's true class.
pub fn run_default(options: &TrainOptions) -> AppResult<(TrainReport, Prediction, usize)> {
    let started = Instant::now();
    let report = train(options)?;
    let model = load_model(&options.model_path)?;
    // A fresh image from a seed the training data did not use.
    let fresh = Shapes::new(3, options.seed.wrapping_add(0x5eed));
    let index = (options.seed % 3) as usize;
    let (image, label) = {
        let mut pixels = vec![0.0f32; 3 * SHAPES_SIZE * SHAPES_SIZE];
        let label = fresh.read(index, &mut pixels)?;
        (
            Tensor::from_vec(pixels, &[1, 3, SHAPES_SIZE, SHAPES_SIZE])?,
            label,
        )
    };
    let prediction = predict(&model, &image)?.remove(0);
    if !options.quiet {
        println!(
            "a fresh {} was classified as {prediction}",
            SHAPES_CLASSES[label]
        );
        if let Some(last) = report.history.last() {
            println!(
                "validation accuracy {:.1}% after {} epochs; training {:.0} images/s; whole run {:.1}s",
                100.0 * last.val_accuracy.unwrap_or(0.0),
                report.history.epochs.len(),
                report.images_per_second,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok((report, prediction, label))
}
