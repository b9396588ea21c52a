//! `cifar10`: trains the course CNN on CIFAR-10 (or CIFAR-100), evaluates it, classifies
//! photos, downloads the official archive and measures the train step.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use cifar10::bench::measure;
use cifar10::{
    cifar_model, download, evaluate, save_mistakes, train_on, AppResult, DatasetKind, Dropout,
    TrainOptions, Trained,
};
use clap::{Args, Parser, Subcommand};
use strata_bench::TimingConfig;
use strata_data::{data_dir, CifarReader};
use strata_distributed::Communicator;

#[derive(Parser)]
#[command(
    version,
    about = "Train, evaluate and apply the course CNN on CIFAR-10"
)]
struct Cli {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_parser = at_least_one)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

/// Where the data is and which labels to read.
#[derive(Args)]
struct DataArgs {
    /// The official binary archive (cifar-10-binary.tar.gz, or cifar-100-binary.tar.gz with
    /// --fine/--coarse), its extracted folder, or a folder holding either [default:
    /// $STRATA_DATA, else ../shared/data relative to the working directory].
    #[arg(long)]
    data: Option<PathBuf>,
    /// CIFAR-100 with its 100 fine labels.
    #[arg(long, conflicts_with = "coarse")]
    fine: bool,
    /// CIFAR-100 with its 20 coarse labels (superclasses).
    #[arg(long)]
    coarse: bool,
    /// Accept files with any whole number of records (subsets, test files) instead of
    /// insisting on the official counts.
    #[arg(long)]
    any_count: bool,
}

impl DataArgs {
    fn kind(&self) -> DatasetKind {
        match (self.fine, self.coarse) {
            (true, _) => DatasetKind::Cifar100Fine,
            (_, true) => DatasetKind::Cifar100Coarse,
            _ => DatasetKind::Cifar10,
        }
    }

    fn source(&self) -> PathBuf {
        data_dir(self.data.as_deref())
    }

    fn reader(&self) -> CifarReader {
        if self.any_count {
            CifarReader::new().any_count()
        } else {
            CifarReader::new()
        }
    }
}

/// The ranks started by mpirun (one process each).
#[cfg(feature = "distributed")]
fn mpi_ranks() -> AppResult<Rc<dyn Communicator>> {
    Ok(Rc::new(strata_distributed::Mpi::init()?))
}

/// Without the `distributed` feature there is no MPI: say how to build it.
#[cfg(not(feature = "distributed"))]
fn mpi_ranks() -> AppResult<Rc<dyn Communicator>> {
    Err("--distributed needs a build with MPI: cargo build --release -p cifar10 --features distributed (and Open MPI: apt-get install openmpi-bin libopenmpi-dev libclang-dev)".into())
}

const DEFAULT_MODEL: &str = "cifar10-output/cifar10.safetensors";

#[derive(Subcommand)]
enum Command {
    /// Train the course model (checkpoint every epoch) and save it with its charts.
    Train {
        #[command(flatten)]
        data: DataArgs,
        /// Train until this many epochs are done (counting a resumed checkpoint's).
        #[arg(long, default_value_t = 50, value_parser = at_least_one)]
        epochs: usize,
        /// Samples per step.
        #[arg(long, default_value_t = 32, value_parser = at_least_one)]
        batch_size: usize,
        /// Adam's learning rate.
        #[arg(long, default_value_t = 0.001)]
        learning_rate: f64,
        /// Seed of the weights, shuffles, augmentation and dropout.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Train on the first N training images only.
        #[arg(long, value_parser = at_least_one)]
        limit: Option<usize>,
        /// Validate on the first N test images only.
        #[arg(long, value_parser = at_least_one)]
        test_limit: Option<usize>,
        /// No random shifts and flips (the standardisation stays).
        #[arg(long)]
        no_augment: bool,
        /// Where to save the model; its standardisation, checkpoint and charts go beside it.
        #[arg(long, default_value = DEFAULT_MODEL)]
        model: PathBuf,
        /// Continue from the checkpoint beside the model.
        #[arg(long)]
        resume: bool,
        /// Data-parallel training on the ranks started by mpirun (needs the build feature
        /// `distributed`): --batch-size is per rank, and rank 0 alone prints and writes.
        #[arg(long)]
        distributed: bool,
    },
    /// Test accuracy, per-class accuracy and the confusion matrix of a saved model.
    Eval {
        /// The saved model.
        #[arg(long, default_value = DEFAULT_MODEL)]
        model: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Evaluate on the first N test images only.
        #[arg(long, value_parser = at_least_one)]
        limit: Option<usize>,
        /// Write a grid of misclassified images, captioned "predicted (true class)", to this PNG.
        #[arg(long)]
        errors: Option<PathBuf>,
    },
    /// Classify photos (PNG/JPEG/BMP/GIF, any size; resized to 32×32).
    Predict {
        /// The saved model.
        #[arg(long, default_value = DEFAULT_MODEL)]
        model: PathBuf,
        /// The images.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Download the official CIFAR-10 binary archive (checked against its published MD5).
    Download {
        /// Where to put it [default: the folder `train` reads: $STRATA_DATA, else
        /// ../shared/data].
        #[arg(long)]
        dest: Option<PathBuf>,
        /// A mirror to download from (plain http), ending with '/'.
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Train-step throughput on random data at each batch size, printed as the reference
    /// PyTorch and TensorFlow scripts print theirs (W4).
    Bench {
        /// Batch sizes (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [32, 128], value_parser = at_least_one)]
        batches: Vec<usize>,
        /// Timed samples per batch size (the reference scripts take 7).
        #[arg(long, default_value_t = 7, value_parser = at_least_one)]
        samples: usize,
        /// Least time of one sample, in milliseconds.
        #[arg(long)]
        min_sample_ms: Option<u64>,
        /// Warm-up time, in milliseconds.
        #[arg(long)]
        warmup_ms: Option<u64>,
    },
    /// Print the course model's summary.
    Summary,
}

/// Parses a count that must be at least 1 (`--epochs 0` would train nothing).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn create_parent(path: &Path) -> AppResult<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

fn execute(command: Command) -> AppResult<()> {
    match command {
        Command::Train {
            data,
            epochs,
            batch_size,
            learning_rate,
            seed,
            limit,
            test_limit,
            no_augment,
            model,
            resume,
            distributed,
        } => {
            create_parent(&model)?;
            let ranks = distributed.then(mpi_ranks).transpose()?;
            let root = ranks.as_ref().is_none_or(|r| r.rank() == 0);
            let report = train_on(
                &TrainOptions {
                    data: data.source(),
                    kind: data.kind(),
                    any_count: data.any_count,
                    limit,
                    test_limit,
                    epochs,
                    batch_size,
                    learning_rate,
                    augment: !no_augment,
                    seed,
                    checkpoint_path: model.with_extension("checkpoint.safetensors"),
                    resume,
                    plot_stem: model.with_extension(""),
                    model_path: model,
                    quiet: false,
                },
                ranks,
            )?;
            if let Some(last) = report.history.last().filter(|_| root) {
                println!(
                    "test accuracy after {} epochs: {:.2}%",
                    last.epoch + 1,
                    100.0 * last.val_accuracy.unwrap_or(0.0)
                );
            }
        }
        Command::Eval {
            model,
            data,
            limit,
            errors,
        } => {
            let trained = Trained::load(&model)?;
            let report = evaluate(&trained, &data.reader(), &data.source(), data.kind(), limit)?;
            let names = trained.class_names();
            println!(
                "test accuracy: {:.2}% ({} images)",
                100.0 * report.confusion.accuracy(),
                report.images.labels.len()
            );
            for (class, accuracy) in report
                .confusion
                .per_class_accuracy()
                .into_iter()
                .enumerate()
            {
                let shown = accuracy.map_or("-".to_string(), |a| format!("{:.2}%", 100.0 * a));
                println!("  {:>14}: {shown}", names[class]);
            }
            println!(
                "confusion matrix (rows: true class, columns: predicted):\n{}",
                report.confusion
            );
            if let Some(path) = errors {
                if report.mistakes.is_empty() {
                    println!("no mistakes: nothing drawn");
                } else {
                    create_parent(&path)?;
                    save_mistakes(&path, &report, &names, 100)?;
                    println!(
                        "{} mistakes; the first {} drawn in {}",
                        report.mistakes.len(),
                        report.mistakes.len().min(100),
                        path.display()
                    );
                }
            }
        }
        Command::Predict { model, images } => {
            let trained = Trained::load(&model)?;
            let names = trained.class_names();
            let p = trained.predict_files(&images)?;
            let classes = trained.classes();
            for (path, (class, row)) in images
                .iter()
                .zip(p.argmax(1)?.into_iter().zip(p.to_vec().chunks(classes)))
            {
                let mut ranked: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                let top: Vec<String> = ranked
                    .iter()
                    .take(5)
                    .map(|&(c, v)| format!("{}:{v:.3}", names[c]))
                    .collect();
                println!(
                    "{}: {} (p = {:.3}) [{}]",
                    path.display(),
                    names[class],
                    row[class],
                    top.join(" ")
                );
            }
        }
        Command::Download { dest, base_url } => {
            let path = download(&data_dir(dest.as_deref()), base_url.as_deref())?;
            println!("{}", path.display());
        }
        Command::Bench {
            batches,
            samples,
            min_sample_ms,
            warmup_ms,
        } => {
            let mut timing = TimingConfig {
                samples,
                ..TimingConfig::default()
            };
            if let Some(ms) = min_sample_ms {
                timing.min_sample = std::time::Duration::from_millis(ms);
            }
            if let Some(ms) = warmup_ms {
                timing.warmup = std::time::Duration::from_millis(ms);
            }
            for batch in batches {
                println!("{}", measure(batch, &timing)?.result_line());
            }
        }
        Command::Summary => println!("{}", cifar_model::<f32>(10, Dropout::On, 0)?.summary()),
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
        {
            eprintln!("error: cannot use {threads} threads: {e}");
            return ExitCode::FAILURE;
        }
    }
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
