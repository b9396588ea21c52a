//! `shapes`: trains a CNN to tell circles, squares and triangles apart, on images it draws
//! itself. With no arguments it runs the whole course workflow.

use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::{Args, Parser, Subcommand};
use shapes::{
    course_model, load_model, predict, read_images, run_default, train, train_on, AppResult,
    TrainOptions,
};
use strata_data::Shapes;
use strata_distributed::Communicator;

#[derive(Parser)]
#[command(
    version,
    about = "Classify generated circles, squares and triangles with a CNN"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The whole workflow (the default): generate, train, plot, save, reload, predict.
    Run(TrainArgs),
    /// Write the generated dataset as a folder per class of PNG images.
    Generate {
        /// The folder to write (created if absent).
        #[arg(long, default_value = "shapes-data")]
        out: PathBuf,
        /// How many images.
        #[arg(long, default_value_t = 1200, value_parser = at_least_one)]
        count: usize,
        /// Seed of the images.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Train the course model and save it with its loss chart.
    Train(TrainArgs),
    /// Classify image files (any size; resized to 128×128) with a saved model.
    Predict {
        /// The saved model.
        #[arg(long, default_value = "shapes-output/shapes.safetensors")]
        model: PathBuf,
        /// Image files (PNG, JPEG, BMP, GIF).
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Print the course model's summary.
    Summary,
}

#[derive(Args, Clone)]
struct TrainArgs {
    /// Train on a folder of class subfolders instead of generated images.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Images to generate (when no --data).
    #[arg(long, default_value_t = 1200, value_parser = at_least_one)]
    images: usize,
    /// Epochs.
    #[arg(long, default_value_t = 5, value_parser = at_least_one)]
    epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 30, value_parser = at_least_one)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.001, value_parser = learning_rate)]
    learning_rate: f64,
    /// Seed of the data, the weights, the shuffles and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The fraction of each class held out for validation (a seeded random choice).
    #[arg(long, default_value_t = 0.3)]
    validation_split: f64,
    /// Augment the training images on the fly: random shifts up to 10% and horizontal flips.
    #[arg(long)]
    augment: bool,
    /// Read all training images into memory first and train on that tensor (as Keras's
    /// fit(x, y)) instead of preparing batches on a second thread while training.
    #[arg(long, conflicts_with = "augment")]
    in_memory: bool,
    /// Also write the checkpoint (<out>/checkpoint.safetensors, always written after each
    /// epoch) after every N steps.
    #[arg(long, default_value_t = 0)]
    checkpoint_every_steps: usize,
    /// Continue from <out>/checkpoint.safetensors when it exists.
    #[arg(long)]
    resume: bool,
    /// Where outputs go: the model (shapes.safetensors), the chart (loss.png) and the
    /// checkpoint (checkpoint.safetensors).
    #[arg(long, default_value = "shapes-output")]
    out: PathBuf,
    /// Data-parallel training on the ranks started by mpirun (`train` only; needs the
    /// build feature `distributed`): --batch-size is per rank, and rank 0 alone prints and
    /// writes.
    #[arg(long)]
    distributed: bool,
}

impl Default for TrainArgs {
    fn default() -> Self {
        Self {
            data: None,
            images: 1200,
            epochs: 5,
            batch_size: 30,
            learning_rate: 0.001,
            seed: 42,
            validation_split: 0.3,
            augment: false,
            in_memory: false,
            checkpoint_every_steps: 0,
            resume: false,
            out: PathBuf::from("shapes-output"),
            distributed: false,
        }
    }
}

impl TrainArgs {
    fn options(&self) -> AppResult<TrainOptions> {
        std::fs::create_dir_all(&self.out).map_err(|e| format!("{}: {e}", self.out.display()))?;
        Ok(TrainOptions {
            images: self.images,
            data: self.data.clone(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            seed: self.seed,
            validation_split: self.validation_split,
            augment: self.augment,
            in_memory: self.in_memory,
            checkpoint: Some(self.out.join("checkpoint.safetensors")),
            checkpoint_every_steps: self.checkpoint_every_steps,
            resume: self.resume,
            model_path: self.out.join("shapes.safetensors"),
            plot_path: self.out.join("loss.png"),
            quiet: false,
        })
    }
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
        Command::Run(args) => {
            if args.distributed {
                return Err(
                    "--distributed works with the train subcommand: shapes train --distributed"
                        .into(),
                );
            }
            run_default(&args.options()?)?;
        }
        Command::Train(args) if args.distributed => {
            let ranks = mpi_ranks()?;
            let root = ranks.rank() == 0;
            let world = ranks.world_size();
            let report = train_on(&args.options()?, Some(ranks))?;
            if root {
                println!(
                    "training on {world} ranks: {:.1}s, {:.0} images/s (rank 0's share; all ranks: {:.0})",
                    report.train_seconds,
                    report.images_per_second,
                    report.images_per_second * world as f64
                );
            }
        }
        Command::Train(args) => {
            let report = train(&args.options()?)?;
            println!(
                "training: {:.1}s, {:.0} images/s",
                report.train_seconds, report.images_per_second
            );
        }
        Command::Generate { out, count, seed } => {
            Shapes::new(count, seed).write_folder(&out)?;
            println!(
                "wrote {count} images to {}/{{circle,square,triangle}}",
                out.display()
            );
        }
        Command::Predict { model, images } => {
            let network = load_model(&model)?;
            let batch = read_images(&images)?;
            for (path, prediction) in images.iter().zip(predict(&network, &batch)?) {
                println!("{}: {prediction}", path.display());
            }
        }
        Command::Summary => println!("{}", course_model(0)?.summary()),
    }
    Ok(())
}

/// The ranks started by mpirun (one process each).
#[cfg(feature = "distributed")]
fn mpi_ranks() -> AppResult<Rc<dyn Communicator>> {
    Ok(Rc::new(strata_distributed::Mpi::init()?))
}

/// Without the `distributed` feature there is no MPI: say how to build it.
#[cfg(not(feature = "distributed"))]
fn mpi_ranks() -> AppResult<Rc<dyn Communicator>> {
    Err("--distributed needs a build with MPI: cargo build --release -p shapes --features distributed (and Open MPI: apt-get install openmpi-bin libopenmpi-dev libclang-dev)".into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run(TrainArgs::default()));
    match execute(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
