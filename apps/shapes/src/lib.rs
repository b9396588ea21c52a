//! The shapes app's workflow: generate the circle/square/triangle images, train the course
//! model on them, plot the losses, save, reload and predict. `main.rs` parses arguments and
//! calls these functions; the integration test runs them scaled down.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use strata_data::{
    load_all, load_image, train_validation_split, Augment, Batch, ColorMode, DataLoader, Dataset,
    HorizontalFlip, ImageFolder, RandomShift, Shapes, SHAPES_CLASSES, SHAPES_SIZE,
};
use strata_distributed::{Communicator, DataParallel};
use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, DropoutConfig, FlattenConfig, MaxPool2dConfig,
};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::{
    batches_from_fn, BatchSource, Callback, FitConfig, History, Model, ModelCheckpoint,
    TensorBatches, Validation, Verbosity,
};
use strata_layers::Sequential;
use strata_layers::Targets;
use strata_plot::Chart;
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

/// The augmentation of `--augment`: shifts of up to 10% of the width and height, then a
/// horizontal flip with probability ½ (Keras's `ImageDataGenerator(width_shift_range=0.1,
/// height_shift_range=0.1, horizontal_flip=True)`).
pub fn course_augmentation() -> AppResult<Augment> {
    Ok(Augment::new()
        .then(RandomShift::new(0.1, 0.1)?)
        .then(HorizontalFlip))
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
    /// The fraction of each class held out for validation (a seeded random choice).
    pub validation_split: f64,
    /// Augment the training images: random shifts of up to a tenth of the width and
    /// height, and horizontal flips, drawn afresh every epoch.
    pub augment: bool,
    /// Read every training image into one tensor first and train on it (Keras's
    /// `fit(x, y)`), instead of preparing batches while training.
    pub in_memory: bool,
    /// Where to keep a checkpoint (weights, optimiser state, epoch and step), written
    /// atomically after every epoch; none: no checkpoints.
    pub checkpoint: Option<PathBuf>,
    /// Also write the checkpoint after every this many steps (0: after epochs only).
    pub checkpoint_every_steps: usize,
    /// Continue from the checkpoint when there is one (bitwise the run that was stopped).
    pub resume: bool,
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
///
/// Batches come from the data crate's loader, prepared on a second thread while the current
/// step trains: images are generated (or read from the folder) and augmented on the fly.
/// The validation set is a seeded, stratified share of every class, so a folder listed class
/// by class validates on all of them.
pub fn train(options: &TrainOptions) -> AppResult<TrainReport> {
    train_on(options, None)
}

/// [`train`], data-parallel over the ranks of `ranks` when given (each rank one process under
/// `mpirun`): every rank builds the same data and model, trains on its share of global
/// batches of `batch_size` × ranks samples, and averages gradients every step; rank 0 alone
/// prints, writes the checkpoint, the model and the chart. Positions count global batches:
/// a checkpoint resumes on another number of ranks with the same global batch.
pub fn train_on(
    options: &TrainOptions,
    ranks: Option<Rc<dyn Communicator>>,
) -> AppResult<TrainReport> {
    let trainer = ranks.map(DataParallel::shared);
    let root = trainer.as_ref().is_none_or(DataParallel::is_root);
    let world = trainer.as_ref().map_or(1, DataParallel::world_size);
    let options = &TrainOptions {
        quiet: options.quiet || !root,
        ..options.clone()
    };
    let global_batch = options.batch_size * world;
    let folder;
    let shapes;
    let dataset: &dyn Dataset = match &options.data {
        Some(dir) => {
            folder = ImageFolder::new(dir, SHAPES_SIZE, SHAPES_SIZE, ColorMode::Rgb)?;
            if !options.quiet {
                println!("{} images in {}", folder.len(), dir.display());
            }
            &folder
        }
        None => {
            shapes = Shapes::new(options.images, options.seed);
            &shapes
        }
    };
    let (train_set, validation_set) =
        train_validation_split(dataset, options.validation_split, Some(options.seed))?;
    if train_set.is_empty() {
        return Err("no training images left after the validation split".into());
    }
    if options.in_memory && options.augment {
        return Err(
            "--augment draws new images every epoch: it cannot train from --in-memory tensors"
                .into(),
        );
    }
    let mut loader = DataLoader::new(&train_set, global_batch)?.shuffle(options.seed);
    if let Some(trainer) = &trainer {
        // Each rank reads and augments only its rows of every global batch.
        loader = loader.shard(trainer.rank(), world);
    }
    if options.augment {
        loader = loader.transform(course_augmentation()?);
    }
    let validation_loader = DataLoader::new(&validation_set, options.batch_size)?;
    let train_batches = batches_from_fn(Some(loader.num_batches()), |epoch, first| {
        loader
            .epoch_from(epoch as u64, first)
            .map(|b| b.map(Batch::into_parts))
    });
    let validation_batches = batches_from_fn(Some(validation_loader.num_batches()), |_, first| {
        validation_loader
            .epoch_from(0, first)
            .map(|b| b.map(Batch::into_parts))
    });
    let network = course_model(options.seed)?;
    if !options.quiet {
        println!("{}", network.summary());
        if world > 1 {
            println!(
                "data-parallel on {world} ranks: global batches of {global_batch} ({} per rank)",
                options.batch_size
            );
        }
    }
    let adam = Adam::new(AdamConfig {
        learning_rate: options.learning_rate,
        ..AdamConfig::default()
    })?;
    let mut model = Model::new(network, LOSS, adam);
    let mut callbacks: Vec<ModelCheckpoint> = Vec::new();
    if let Some(path) = &options.checkpoint {
        if options.resume && path.exists() {
            model.load_checkpoint(path)?;
            if !options.quiet {
                println!(
                    "resuming from {}: {} epochs and {} steps done",
                    path.display(),
                    model.epochs_done(),
                    model.steps_done()
                );
            }
        }
        callbacks
            .push(ModelCheckpoint::every_epoch(path).every_steps(options.checkpoint_every_steps));
    }
    let mut callbacks: Vec<&mut dyn Callback<f32>> = callbacks
        .iter_mut()
        .map(|c| c as &mut dyn Callback<f32>)
        .collect();
    let config = FitConfig {
        epochs: options.epochs,
        batch_size: options.batch_size,
        seed: options.seed,
        verbosity: if options.quiet {
            Verbosity::Silent
        } else {
            Verbosity::ProgressBar
        },
        ..FitConfig::default()
    }
    .resume_from(&model);
    let validation =
        (!validation_set.is_empty()).then_some(&validation_batches as &dyn BatchSource<f32>);
    let history = match (&trainer, options.in_memory) {
        (None, true) => {
            // Keras's fit(x, y): every image in one tensor first, then the same loop.
            let train = load_all(&train_set)?;
            let config = FitConfig {
                validation: match validation_set.is_empty() {
                    true => Validation::None,
                    false => {
                        let val = load_all(&validation_set)?;
                        Validation::Data(val.images, Targets::Labels(val.labels))
                    }
                },
                ..config
            };
            model.fit(
                &train.images,
                &Targets::Labels(train.labels),
                &config,
                &mut callbacks,
            )?
        }
        (None, false) => model.fit_batches(&train_batches, validation, &config, &mut callbacks)?,
        (Some(trainer), in_memory) => {
            let tensors;
            let targets;
            let in_memory_batches;
            let report = if in_memory {
                let train = load_all(&train_set)?;
                tensors = train.images;
                targets = Targets::Labels(train.labels);
                in_memory_batches =
                    TensorBatches::new(&tensors, &targets, global_batch)?.shuffle(options.seed);
                trainer.fit(
                    &mut model,
                    &in_memory_batches,
                    validation,
                    &config,
                    &mut callbacks,
                )?
            } else {
                let local = &train_batches;
                trainer.fit_local(&mut model, local, validation, &config, &mut callbacks)?
            };
            if !options.quiet {
                let steps = report.reduce.steps.max(1) as f64;
                println!(
                    "all-reduce: {:.2} ms per step ({:.1} MB of gradients per step)",
                    report.reduce.time.as_secs_f64() * 1e3 / steps,
                    report.reduce.bytes as f64 / steps / 1e6
                );
            }
            report.history
        }
    };
    let train_seconds: f64 = history.epochs.iter().map(|e| e.train_seconds).sum();
    let trained: f64 = history
        .epochs
        .iter()
        .map(|e| e.samples_per_second * e.train_seconds)
        .sum();
    if root {
        model.network().save(&options.model_path)?;
        if !history.epochs.is_empty() {
            Chart::loss(&history).save_png(&options.plot_path, 800, 500)?;
        }
    }
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
