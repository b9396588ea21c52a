//! `filters`: the course's first lessons as a tool: filter an image by convolution, walk a
//! photo through a small network's stages, and print the pixel values of a region.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use filters::{
    apply_filter, crop, find_image, named_filter, parse_range, read_filter_file, region_table,
    run_stages, stages_sheet, write_raw, Border, FilterError, StagesOptions, FILTER_NAMES,
};
use strata_data::{load_image, load_image_unscaled, ColorMode};
use strata_plot::{display_image, save_image_png};

#[derive(Parser)]
#[command(
    version,
    about = "Image filters by convolution, a network's stages, pixel values"
)]
struct Cli {
    /// The data folder for relative image paths not found as given (else env STRATA_DATA,
    /// else ../shared/data).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Filter an image and write the result as a picture (or its values with --raw).
    Apply {
        /// The image (PNG, JPEG, BMP, GIF), read at its own size.
        image: PathBuf,
        /// A named filter (see `filters list`) or a filter file (text rows or JSON).
        #[arg(long)]
        filter: String,
        /// The output file: PNG, or .npy/.csv with --raw.
        #[arg(long)]
        out: PathBuf,
        /// Border mode: valid, same or full.
        #[arg(long, default_value = "valid")]
        border: String,
        /// Step between windows.
        #[arg(long, default_value_t = 1)]
        stride: usize,
        /// Read the image in colour (the default for 3-channel filters).
        #[arg(long, conflicts_with = "grey")]
        color: bool,
        /// Read the image as one channel of luma (the default for plane filters).
        #[arg(long)]
        grey: bool,
        /// Write the values (.npy or .csv) instead of a picture.
        #[arg(long)]
        raw: bool,
    },
    /// Walk a photo through Conv2d, ReLU, MaxPool, Dropout2d, Flatten, Linear, Softmax.
    Layers {
        /// The image.
        image: PathBuf,
        /// The picture of every stage.
        #[arg(long)]
        out: PathBuf,
        /// Kernels of the random convolution.
        #[arg(long, default_value_t = 4)]
        kernels: usize,
        /// Their size.
        #[arg(long, default_value_t = 3)]
        kernel_size: usize,
        /// Outputs of the linear layer.
        #[arg(long, default_value_t = 10)]
        classes: usize,
        /// Seed of the weights and of dropout.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Resize the image to SIZE×SIZE first (default: its own size).
        #[arg(long)]
        size: Option<usize>,
    },
    /// Print the pixel values of a region and write it as a PNG.
    Show {
        /// The image.
        image: PathBuf,
        /// Rows A:B (B excluded).
        #[arg(long)]
        rows: String,
        /// Columns C:D (D excluded).
        #[arg(long)]
        cols: String,
        /// The cropped picture.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Read the image in colour.
        #[arg(long)]
        color: bool,
    },
    /// List the named filters.
    List,
}

fn mode(color: bool) -> ColorMode {
    if color {
        ColorMode::Rgb
    } else {
        ColorMode::Grayscale
    }
}

fn execute(cli: Cli) -> filters::Result<()> {
    let data = strata_data::data_dir(cli.data.as_deref());
    match cli.command {
        Command::Apply {
            image,
            filter,
            out,
            border,
            stride,
            color,
            grey,
            raw,
        } => {
            let border: Border = border.parse()?;
            let file = Path::new(&filter);
            let parsed = if FILTER_NAMES.contains(&filter.as_str()) || !file.exists() {
                None
            } else {
                Some(read_filter_file(file)?)
            };
            let kernel = match &parsed {
                Some(p) => p.filter.clone(),
                None => named_filter(&filter)?,
            };
            let colour = color || (!grey && kernel.channels() == Some(3));
            let path = find_image(&image, &data)?;
            let picture = load_image_unscaled(&path, mode(colour))?;
            if let Some(p) = &parsed {
                p.check_channels(picture.shape()[0])?;
            }
            let result = apply_filter(&picture, &kernel, border, stride)?;
            println!(
                "{}: {:?} filtered by {filter} ({:?}, {border:?}, stride {stride}): {:?}",
                path.display(),
                picture.shape(),
                kernel.shape,
                result.shape()
            );
            if raw {
                write_raw(&out, &result)?;
            } else {
                let (shown, scale) = if result.shape()[0] == 3 || result.shape()[0] == 1 {
                    display_image(&result)?
                } else {
                    return Err(FilterError::invalid(
                        "apply",
                        "cannot draw this many channels",
                    ));
                };
                save_image_png(&out, &shown)?;
                println!("shown as {scale}");
            }
            println!("wrote {}", out.display());
        }
        Command::Layers {
            image,
            out,
            kernels,
            kernel_size,
            classes,
            seed,
            size,
        } => {
            let path = find_image(&image, &data)?;
            let picture = match size {
                Some(s) => load_image(&path, s, s, ColorMode::Rgb)?,
                None => load_image_unscaled(&path, ColorMode::Rgb)?,
            };
            let options = StagesOptions {
                kernels,
                kernel_size,
                classes,
                seed,
            };
            let stages = run_stages(&picture, &options)?;
            for (name, value) in &stages {
                println!("{name:>20}: {:?}", value.shape());
            }
            stages_sheet(&stages, 8)?.save_png(&out)?;
            println!("wrote {}", out.display());
        }
        Command::Show {
            image,
            rows,
            cols,
            out,
            color,
        } => {
            let path = find_image(&image, &data)?;
            let picture = load_image_unscaled(&path, mode(color))?;
            let shape = picture.shape().to_vec();
            let r = parse_range(&rows, shape[1], "--rows")?;
            let c = parse_range(&cols, shape[2], "--cols")?;
            let region = crop(&picture, r, c)?;
            print!("{}", region_table(&region, r.0, c.0));
            if let Some(out) = out {
                save_image_png(&out, &region)?;
                println!("wrote {}", out.display());
            }
        }
        Command::List => {
            for name in FILTER_NAMES {
                println!("{name:>16}  {}", filters::describe(name));
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match execute(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
