//! Pictures for people: line charts of training curves, grids of images
//! with or without captions, titled sheets of grids, single images, and the display scaling
//! (with a diverging colour map for signed values) that turns feature maps into pictures.
//!
//! Drawn with `plotters` into an RGB buffer and encoded with `png`; text uses the bundled
//! DejaVu Sans font (see `assets/DejaVuSans-LICENSE.txt`), so no system font or C library
//! is needed.

#![warn(missing_docs)]

mod chart;
mod display;
mod error;
mod grid;
mod image;
mod sheet;

pub use chart::{Chart, Series};
pub use display::{display_image, diverging, vector_image, DisplayScale};
pub use error::{PlotError, Result};
pub use grid::{ImageGrid, Tile};
pub use image::save_image_png;
pub use sheet::Sheet;

use std::path::Path;
use std::sync::Once;

use plotters::style::{register_font, FontStyle};
use strata_tensor::fsio::write_bytes_atomic;

/// The bundled font.
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Makes the bundled font plotters' `sans-serif` (once per process).
fn register_bundled_font() {
    static FONT_REGISTERED: Once = Once::new();
    FONT_REGISTERED.call_once(|| {
        // Registration fails only for bytes that are not a font; ours are.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws black text lines in the bundled font, `size` pixels high, at their top-left corners
/// `(text, x, y)`, onto RGB pixels of `(width, height)`; `what` names the picture in errors.
fn draw_texts<'t>(
    pixels: &mut [u8],
    (width, height): (usize, usize),
    size: u32,
    what: &str,
    texts: impl IntoIterator<Item = (&'t str, usize, usize)>,
) -> Result<()> {
    use plotters::prelude::*;
    register_bundled_font();
    let draw_error = |e: &dyn std::fmt::Display| PlotError::invalid(what, e.to_string());
    let root =
        BitMapBackend::with_buffer(pixels, (width as u32, height as u32)).into_drawing_area();
    for (text, x, y) in texts {
        root.draw(&Text::new(
            text,
            (x as i32, y as i32),
            ("sans-serif", size).into_font().color(&BLACK),
        ))
        .map_err(|e| draw_error(&e))?;
    }
    root.present().map_err(|e| draw_error(&e))?;
    Ok(())
}

/// Writes RGB pixels (`width × height × 3` bytes, row-major) as a PNG file, atomically.
fn save_rgb_png(path: &Path, pixels: &[u8], width: u32, height: u32) -> Result<()> {
    save_png_bytes(path, pixels, width, height, PngColor::Rgb)
}

/// The pixel layouts PNG files are written in.
#[derive(Clone, Copy)]
enum PngColor {
    /// One byte per pixel.
    Grey,
    /// Three bytes per pixel.
    Rgb,
}

/// Writes row-major pixels as a PNG file, atomically.
fn save_png_bytes(
    path: &Path,
    pixels: &[u8],
    width: u32,
    height: u32,
    color: PngColor,
) -> Result<()> {
    let mut encoded = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut encoded, width, height);
        encoder.set_color(match color {
            PngColor::Grey => png::ColorType::Grayscale,
            PngColor::Rgb => png::ColorType::Rgb,
        });
        encoder.set_depth(png::BitDepth::Eight);
        let png_error = |e: png::EncodingError| PlotError::Encode {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    write_bytes_atomic(path, &encoded).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
