//! Training the course model with the course's augmentation, a checkpoint every epoch and
//! resumption from it.

use std::path::PathBuf;
use std::rc::Rc;

use strata_data::{
    Augment, Batch, CifarReader, DataLoader, Dataset, HorizontalFlip, Normalize, RandomShift,
    Split, Subset,
};
use strata_distributed::{Communicator, DataParallel};
use strata_layers::train::{batches_from_fn, FitConfig, History, ModelCheckpoint, Verbosity};
use strata_plot::Chart;

use crate::data::{open_split, DatasetKind, Standardization};
use crate::model::{cifar_model, compile, Dropout};
use crate::AppResult;

/// The course's random shifts: up to this fraction of the width and of the height.
pub const SHIFT_FRACTION: f32 = 0.1;

/// Settings of a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The archive or extracted folder (or the folder holding the archive).
    pub data: PathBuf,
    /// The dataset and label set.
    pub kind: DatasetKind,
    /// Accept files with any number of records (subsets, test files) instead of the
    /// official counts.
    pub any_count: bool,
    /// Train on the first this many training images only.
    pub limit: Option<usize>,
    /// Validate on the first this many test images only.
    pub test_limit: Option<usize>,
    /// Train until this many epochs are done (counting those of a resumed checkpoint).
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Random shifts and horizontal flips (the course's augmentation); the featurewise
    /// standardisation is applied either way.
    pub augment: bool,
    /// Seed of the weights, the shuffles, the augmentation and dropout.
    pub seed: u64,
    /// Where the trained model is saved (its standardisation goes beside it).
    pub model_path: PathBuf,
    /// Where the checkpoint is written after every epoch.
    pub checkpoint_path: PathBuf,
    /// Continue from the checkpoint at `checkpoint_path`.
    pub resume: bool,
    /// Where the loss and accuracy charts are written (`<stem>-loss.png`,
    /// `<stem>-accuracy.png`).
    pub plot_stem: PathBuf,
    /// Print nothing.
    pub quiet: bool,
}

/// What a training run produced.
#[derive(Debug)]
pub struct TrainReport {
    /// Per-epoch figures of the epochs this run trained.
    pub history: History,
    /// The standardisation fitted on the training set.
    pub standardization: Standardization,
    /// The loss and accuracy charts, when any epoch was trained.
    pub charts: Option<(PathBuf, PathBuf)>,
}

fn first<D: Dataset>(dataset: &D, limit: Option<usize>) -> AppResult<Subset<'_, D>> {
    let n = limit.unwrap_or(usize::MAX).min(dataset.len());
    Ok(Subset::new(dataset, (0..n).collect())?)
}

/// Trains the course model with Adam and categorical cross-entropy, on the training set
/// standardised featurewise (mean and standard deviation per channel fitted on it), with
/// random shifts and horizontal flips, validating on the test set after every epoch (as the
/// Keras example does); saves a checkpoint every epoch, then the model, its
/// standardisation and its charts.
pub fn train(options: &TrainOptions) -> AppResult<TrainReport> {
    train_on(options, None)
}

/// [`train`], data-parallel over the ranks of `ranks` when given (each rank one process under
/// `mpirun`): every rank reads the same files and builds the same model, trains on its share
/// of global batches of `batch_size` × ranks samples, and averages gradients every step;
/// rank 0 alone prints and writes the checkpoint, the model, its standardisation and the
/// charts. Checkpoints count global batches: they resume on another number of ranks with the
/// same global batch.
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
    let reader = if options.any_count {
        CifarReader::new().any_count()
    } else {
        CifarReader::new()
    };
    let train_all = open_split(&reader, &options.data, options.kind, Split::Train)?;
    let test_all = open_split(&reader, &options.data, options.kind, Split::Test)?;
    let train_set = first(&train_all, options.limit)?;
    let test_set = first(&test_all, options.test_limit)?;
    let normalize = Normalize::fit_featurewise(&train_set, true, true)?;
    let standardization = Standardization::of(&normalize);
    let mut augment = Augment::new();
    if options.augment {
        augment = augment
            .then(RandomShift::new(SHIFT_FRACTION, SHIFT_FRACTION)?)
            .then(HorizontalFlip);
    }
    let augment = augment.then(normalize.clone());
    // Batches are read, augmented and stacked on a second thread while the step trains.
    let mut loader = DataLoader::new(&train_set, options.batch_size * world)?
        .shuffle(options.seed)
        .transform(augment);
    if let Some(trainer) = &trainer {
        // Each rank reads and augments only its rows of every global batch.
        loader = loader.shard(trainer.rank(), world);
    }
    let test_loader = DataLoader::new(&test_set, options.batch_size)?.transform(normalize);
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
    let mut network = cifar_model(options.kind.classes(), Dropout::On, options.seed)?;
    network.set_class_names(train_all.class_names().to_vec())?;
    let mut model = compile(network, options.learning_rate)?;
    let mut config = FitConfig {
        epochs: options.epochs,
        seed: options.seed,
        verbosity: if options.quiet {
            Verbosity::Silent
        } else {
            Verbosity::ProgressBar
        },
        ..FitConfig::default()
    };
    if options.resume {
        model.load_checkpoint(&options.checkpoint_path)?;
        config = config.resume_from(&model);
    }
    if !options.quiet {
        println!(
            "{} training images, {} test images ({:?})",
            train_set.len(),
            test_set.len(),
            options.kind
        );
        if options.resume {
            println!(
                "resuming from {} after {} epochs and {} steps",
                options.checkpoint_path.display(),
                model.epochs_done(),
                model.steps_done()
            );
        }
        println!("{}", model.network().summary());
        if world > 1 {
            println!(
                "data-parallel on {world} ranks: global batches of {} ({} per rank)",
                options.batch_size * world,
                options.batch_size
            );
        }
    }
    let mut checkpoint = ModelCheckpoint::every_epoch(&options.checkpoint_path);
    let history = match &trainer {
        None => model.fit_batches(
            &train_batches,
            Some(&test_batches),
            &config,
            &mut [&mut checkpoint],
        )?,
        Some(trainer) => {
            let report = trainer.fit_local(
                &mut model,
                &train_batches,
                Some(&test_batches),
                &config,
                &mut [&mut checkpoint],
            )?;
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
    if !root {
        return Ok(TrainReport {
            history,
            standardization,
            charts: None,
        });
    }
    model.network().save(&options.model_path)?;
    standardization.save(&Standardization::path_for(&options.model_path))?;
    let charts = if history.epochs.is_empty() {
        None
    } else {
        let stem = options.plot_stem.to_string_lossy();
        let loss_png = PathBuf::from(format!("{stem}-loss.png"));
        let accuracy_png = PathBuf::from(format!("{stem}-accuracy.png"));
        Chart::loss(&history).save_png(&loss_png, 800, 500)?;
        Chart::accuracy(&history).save_png(&accuracy_png, 800, 500)?;
        Some((loss_png, accuracy_png))
    };
    if !options.quiet {
        println!("model saved to {}", options.model_path.display());
        println!("checkpoint at {}", options.checkpoint_path.display());
        if let Some((loss, accuracy)) = &charts {
            println!(
                "charts written to {} and {}",
                loss.display(),
                accuracy.display()
            );
        }
    }
    Ok(TrainReport {
        history,
        standardization,
        charts,
    })
}
