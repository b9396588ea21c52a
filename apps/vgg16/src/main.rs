//! `vgg16`: top-5 predictions, first-layer filters and feature maps of VGG-16 with imported
//! weights (PyTorch `.pth`, safetensors or Keras HDF5; torchvision, timm, Keras or Strata names).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use strata_import::WeightFormat;
use vgg16::model::load_vgg16;
use vgg16::predict::{image_files, predict_file, read_labels, Preprocess};
use vgg16::visualize::{activation_grid, filter_grid};
use vgg16::{AppError, AppResult};

#[derive(Parser)]
#[command(
    version,
    about = "Run VGG-16 with imported PyTorch or safetensors weights"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the top classes of images (files, or folders of images).
    Predict {
        /// The weight file (.pth or safetensors; the format is read from its content).
        #[arg(long)]
        weights: PathBuf,
        /// Images or folders of images.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Classes to show per image.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// The class names (default: <data>/imagenet/synset_words.txt).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// The shared data folder (default: $STRATA_DATA, then ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Preprocessing (default: follows the weights: torchvision for PyTorch files).
        #[arg(long, value_enum)]
        preprocess: Option<Preprocess>,
        /// Print JSON (one object per line) instead of a table.
        #[arg(long)]
        json: bool,
        /// Print the load and per-image times to stderr.
        #[arg(long)]
        timings: bool,
    },
    /// Draw the first convolution's filters as a colour grid (PNG).
    Filters {
        /// The weight file.
        #[arg(long)]
        weights: PathBuf,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw a layer's feature maps for one image as a grid (PNG).
    Activations {
        /// The weight file.
        #[arg(long)]
        weights: PathBuf,
        /// The layer (block1_conv1 … block5_pool).
        #[arg(long)]
        layer: String,
        /// The image.
        image: PathBuf,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
        /// Preprocessing (default: follows the weights).
        #[arg(long, value_enum)]
        preprocess: Option<Preprocess>,
        /// At most this many maps.
        #[arg(long, default_value_t = 64)]
        max_maps: usize,
    },
}

fn preprocess_for(weights: &Path, flag: Option<Preprocess>) -> AppResult<Preprocess> {
    match flag {
        Some(p) => Ok(p),
        None => Ok(Preprocess::for_format(WeightFormat::of_file(weights)?)),
    }
}

fn run(cli: Cli) -> AppResult<()> {
    match cli.command {
        Command::Predict {
            weights,
            images,
            top,
            labels,
            data,
            preprocess,
            json,
            timings,
        } => {
            let labels_path = labels.unwrap_or_else(|| {
                strata_data::data_dir(data.as_deref()).join("imagenet/synset_words.txt")
            });
            let labels = read_labels(&labels_path)?;
            let preprocess = preprocess_for(&weights, preprocess)?;
            let files = image_files(&images)?;
            let started = Instant::now();
            let model = load_vgg16(&weights)?;
            if timings {
                eprintln!("load: {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
            }
            let bar = if files.len() > 1 {
                let bar = ProgressBar::new(files.len() as u64);
                if let Ok(style) =
                    ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
                {
                    bar.set_style(style);
                }
                bar
            } else {
                ProgressBar::hidden()
            };
            for file in &files {
                let started = Instant::now();
                let prediction = predict_file(&model, file, preprocess, top, &labels)?;
                if timings {
                    bar.suspend(|| {
                        eprintln!(
                            "{}: {:.0} ms",
                            file.display(),
                            started.elapsed().as_secs_f64() * 1e3
                        )
                    });
                }
                bar.suspend(|| {
                    if json {
                        println!("{}", serde_json::to_string(&prediction).unwrap_or_default());
                    } else {
                        println!("{}", file.display());
                        for c in &prediction.top {
                            println!(
                                "  {:>6.2}%  {:>4}  {}",
                                c.probability * 100.0,
                                c.index,
                                c.label
                            );
                        }
                    }
                });
                bar.inc(1);
            }
            bar.finish_and_clear();
            Ok(())
        }
        Command::Filters { weights, out } => {
            let bgr = preprocess_for(&weights, None)? == Preprocess::Caffe;
            let model = load_vgg16(&weights)?;
            let kernel = model
                .parameters()
                .into_iter()
                .find(|(name, _)| name == "block1_conv1.weight")
                .map(|(_, var)| var.value())
                .ok_or_else(|| AppError::Message("the model has no block1_conv1.weight".into()))?;
            filter_grid(&kernel, bgr)?.save_png(&out)?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Activations {
            weights,
            layer,
            image,
            out,
            preprocess,
            max_maps,
        } => {
            let preprocess = preprocess_for(&weights, preprocess)?;
            let model = load_vgg16(&weights)?;
            let picture = strata_data::decode::decode_image_file(&image)
                .map_err(|e| AppError::Message(e.to_string()))?;
            let size = model.input_shape().get(1).copied().unwrap_or(224);
            let input = preprocess.apply(&picture, size)?;
            let (_, maps) = model.predict_with_activations(&input, &[layer.as_str()])?;
            let maps = maps
                .first()
                .ok_or_else(|| AppError::Message(format!("layer {layer} produced no output")))?;
            activation_grid(maps, max_maps)?.save_png(&out)?;
            println!("wrote {} ({:?})", out.display(), maps.shape());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
