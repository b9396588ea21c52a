//! The course's first lessons as a library: named filters and filter files ([`named_filter`],
//! [`read_filter_file`]), filtering with strata-tensor's `conv2d` ([`apply_filter`]), raw
//! outputs ([`write_raw`]), the PyTorch notebook's walk-through of a network's stages
//! ([`run_stages`]), and the pixel values of a region ([`region_table`]). `main.rs` parses
//! arguments and calls these.

#![warn(missing_docs)]

mod convolve;
mod error;
mod kernels;
mod parse;
mod raw;
mod region;
mod stages;

use std::path::{Path, PathBuf};

pub use convolve::{apply_filter, Border};
pub use error::{FilterError, Result};
pub use kernels::{describe, named_filter, Filter, FILTER_NAMES};
pub use parse::{parse_filter, read_filter_file, ParsedFilter, MAX_FILTER_BYTES};
pub use raw::{csv_text, npy_bytes, write_raw};
pub use region::{crop, parse_range, region_table};
pub use stages::{run_stages, stages_sheet, StagesOptions};

/// Finds an image: the path as given when it exists, else the path inside the data folder
/// (so `images/grace_hopper.jpg` names the shared portrait).
///
/// # Errors
/// Neither exists; the message names both places.
pub fn find_image(path: &Path, data: &Path) -> Result<PathBuf> {
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let inside = data.join(path);
    if path.is_relative() && inside.exists() {
        return Ok(inside);
    }
    Err(FilterError::invalid(
        path.display().to_string(),
        format!(
            "no such image here nor in the data folder ({})",
            inside.display()
        ),
    ))
}
