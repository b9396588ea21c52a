//! `mnist`: trains the course CNN on MNIST (or Fashion-MNIST), evaluates it, reads
//! digits from image files, and serves a page to draw them on.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mnist::bench::{measure, profile, BenchMode};
use mnist::{
    dataset_kind, evaluate, load_model, load_split, mnist_model, probabilities, read_digits,
    save_mistakes, train, AppResult, TrainOptions,
};
use strata_bench::TimingConfig;
use strata_data::download::{Downloader, RemoteFiles};
use strata_data::{data_dir, Split};
use strata_serve::{Classifier, Preprocess, Server, ServerConfig};

#[derive(Parser)]
#[command(
    version,
    about = "Train, evaluate and apply a CNN on MNIST or Fashion-MNIST"
)]
struct Cli {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_parser = at_least_one)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

/// Which dataset the folder holds.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Classes {
    /// Guess from the folder's name ("fashion" in it means Fashion-MNIST).
    Auto,
    /// Handwritten digits.
    Digits,
    /// Fashion-MNIST's clothing.
    Fashion,
}

impl Classes {
    fn fashion(self) -> Option<bool> {
        match self {
            Classes::Auto => None,
            Classes::Digits => Some(false),
            Classes::Fashion => Some(true),
        }
    }
}

/// The MNIST folder: `--data`, else `$STRATA_DATA/mnist`, else `../shared/data/mnist`
/// relative to the working directory.
fn mnist_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| data_dir(None).join("mnist"))
}

#[derive(Subcommand)]
enum Command {
    /// Train the course model and save it with its loss and accuracy charts.
    Train {
        /// The folder of the four IDX files (raw or .gz) [default: $STRATA_DATA/mnist, else
        /// ../shared/data/mnist relative to the working directory].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Which dataset the folder holds.
        #[arg(long, value_enum, default_value_t = Classes::Auto)]
        classes: Classes,
        /// Epochs.
        #[arg(long, default_value_t = 10, value_parser = at_least_one)]
        epochs: usize,
        /// Samples per step.
        #[arg(long, default_value_t = 64, value_parser = at_least_one)]
        batch_size: usize,
        /// Adam's learning rate in the first epoch (0.75 times the previous one after that).
        #[arg(long, default_value_t = 0.001, value_parser = learning_rate)]
        learning_rate: f64,
        /// Seed of the weights, shuffles and dropout.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Train on the first N training images only.
        #[arg(long, value_parser = at_least_one)]
        limit: Option<usize>,
        /// Where to save the model; the charts go beside it.
        #[arg(long, default_value = "mnist-output/mnist.safetensors")]
        model: PathBuf,
    },
    /// Test accuracy, per-class accuracy and the confusion matrix of a saved model.
    Eval {
        /// The saved model.
        #[arg(long, default_value = "mnist-output/mnist.safetensors")]
        model: PathBuf,
        /// The folder of the IDX files [default: as for `train`].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Which dataset the folder holds.
        #[arg(long, value_enum, default_value_t = Classes::Auto)]
        classes: Classes,
        /// Write a grid of misclassified images, captioned "predicted (true label)", to this PNG.
        #[arg(long)]
        errors: Option<PathBuf>,
    },
    /// Classify image files (PNG/JPEG, any size, dark or light background).
    Predict {
        /// The saved model.
        #[arg(long, default_value = "mnist-output/mnist.safetensors")]
        model: PathBuf,
        /// Class names of Fashion-MNIST instead of digits.
        #[arg(long, value_enum, default_value_t = Classes::Digits)]
        classes: Classes,
        /// The images.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Download the four MNIST files (checked against their published MD5 sums).
    Download {
        /// Where to put them [default: the folder `train` reads: $STRATA_DATA/mnist, else
        /// ../shared/data/mnist].
        #[arg(long)]
        dest: Option<PathBuf>,
        /// A mirror to download from (plain http), ending with '/'.
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Serve a saved model: a page to draw a digit on at http://HOST:PORT/, and POST /predict.
    Serve {
        /// The saved model (any image classifier of [1, 28, 28] images saved by Strata).
        #[arg(long, default_value = "mnist-output/mnist.safetensors")]
        model: PathBuf,
        /// The port (0: any free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The address to listen on: loopback unless you choose to listen wider
        /// (`--host 0.0.0.0` serves every network the machine is on).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
    /// Print the course model's summary.
    Summary,
    /// Throughput on random data (train steps at each batch size, inference at batch 1,000),
    /// printed as the reference PyTorch and TensorFlow scripts print theirs.
    Bench {
        /// Batch sizes of the train steps (comma-separated; none: skip).
        #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = [64, 1000])]
        train_batches: Vec<usize>,
        /// Batch sizes of inference (comma-separated; none: skip).
        #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = [1000])]
        infer_batches: Vec<usize>,
        /// Also print a per-layer profile of this many train steps at each batch size.
        #[arg(long, default_value_t = 0)]
        profile_steps: usize,
    },
}

/// Parses a count that must be at least 1 (`--epochs 0` would train nothing and save an
/// untrained model).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses a learning rate: a finite number above 0 (numbers far from 1 are echoed in
/// scientific notation, not as hundreds of digits).
fn learning_rate(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|e| format!("{e}"))?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!(
            "must be a finite number greater than 0 (such as 0.001), found {}",
            strata_layers::optim::readable_number(value)
        ))
    }
}

fn execute(command: Command) -> AppResult<()> {
    match command {
        Command::Train {
            data,
            classes,
            epochs,
            batch_size,
            learning_rate,
            seed,
            limit,
            model,
        } => {
            if let Some(dir) = model.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let report = train(&TrainOptions {
                data: mnist_dir(data),
                fashion: classes.fashion(),
                limit,
                test_limit: None,
                epochs,
                batch_size,
                learning_rate,
                seed,
                plot_stem: model.with_extension(""),
                model_path: model,
                quiet: false,
            })?;
            if let Some(last) = report.history.last() {
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
            classes,
            errors,
        } => {
            let network = load_model(&model)?;
            let data = mnist_dir(data);
            let kind = dataset_kind(&data, classes.fashion());
            let (x, y) = load_split(&data, kind, Split::Test, None)?;
            let evaluation = evaluate(&network, &x, &y)?;
            let names = kind.class_names();
            println!(
                "test accuracy: {:.2}% ({} images)",
                100.0 * evaluation.confusion.accuracy(),
                y.len()
            );
            for (class, accuracy) in evaluation
                .confusion
                .per_class_accuracy()
                .into_iter()
                .enumerate()
            {
                let shown = accuracy.map_or("-".to_string(), |a| format!("{:.2}%", 100.0 * a));
                println!("  {:>12}: {shown}", names[class]);
            }
            println!(
                "confusion matrix (rows: true class, columns: predicted):\n{}",
                evaluation.confusion
            );
            if let Some(path) = errors {
                save_mistakes(&path, &x, &y, &evaluation, names, 100)?;
                println!(
                    "{} mistakes; the first {} drawn in {}",
                    evaluation.mistakes.len(),
                    evaluation.mistakes.len().min(100),
                    path.display()
                );
            }
        }
        Command::Predict {
            model,
            classes,
            images,
        } => {
            let network = load_model(&model)?;
            let names = if classes.fashion() == Some(true) {
                strata_data::FASHION_MNIST_CLASSES
            } else {
                strata_data::MNIST_CLASSES
            };
            let p = probabilities(&network, &read_digits(&images)?)?;
            for (path, (class, row)) in images
                .iter()
                .zip(p.argmax(1)?.into_iter().zip(p.to_vec().chunks(10)))
            {
                let all: Vec<String> = row
                    .iter()
                    .enumerate()
                    .map(|(c, v)| format!("{}:{v:.3}", names[c]))
                    .collect();
                println!(
                    "{}: {} (p = {:.3}) [{}]",
                    path.display(),
                    names[class],
                    row[class],
                    all.join(" ")
                );
            }
        }
        Command::Download { dest, base_url } => {
            let mut files = RemoteFiles::mnist();
            if let Some(url) = base_url {
                files.base_url = url;
            }
            for path in files.fetch_all(&Downloader::new(), &mnist_dir(dest))? {
                println!("{}", path.display());
            }
        }
        Command::Bench {
            train_batches,
            infer_batches,
            profile_steps,
        } => {
            let timing = TimingConfig::default();
            let runs = train_batches
                .iter()
                .map(|&b| (BenchMode::Train, b))
                .chain(infer_batches.iter().map(|&b| (BenchMode::Infer, b)));
            for (mode, batch) in runs {
                println!("{}", measure(mode, batch, &timing)?.result_line());
            }
            if profile_steps > 0 {
                for &batch in &train_batches {
                    println!("\nper-layer profile of a train step at batch {batch}:");
                    println!("{}", profile(batch, 5, profile_steps)?);
                }
            }
        }
        Command::Serve { model, port, host } => {
            let classifier = Classifier::load(&model, Preprocess::Digit)?;
            let address = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let server = Server::bind(&address, classifier, ServerConfig::default())?;
            println!(
                "serving {} on http://{}/ (Ctrl-C stops)",
                model.display(),
                server.local_addr()?
            );
            server.run_until_ctrl_c()?;
            println!("stopped");
        }
        Command::Summary => println!("{}", mnist_model(0)?.summary()),
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
