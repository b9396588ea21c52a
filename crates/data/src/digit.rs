//! Preparing a photo or drawing of a digit as MNIST prepared its digits.

use std::path::Path;

use image::imageops::FilterType;
use image::GrayImage;
use strata_tensor::Tensor;

use crate::error::{DataError, Result};
use crate::image_folder::decode_image;

/// Side of an MNIST image.
const SIDE: usize = 28;
/// MNIST fits each digit's bounding box into this many pixels, keeping its aspect ratio.
const BOX: u32 = 20;
/// Pixels at least this bright (after inversion, on a 0–1 scale) count as ink.
const INK: f32 = 0.2;

/// Reads an image file of any size and prepares it as an MNIST digit `[1, 28, 28]` in
/// `[0, 1]` with a bright digit on black (see [`prepare_digit`]).
pub fn load_digit(path: &Path) -> Result<Tensor<f32>> {
    let image = decode_image(path)?;
    prepare_digit(&image.to_luma8()).map_err(|e| DataError::format(path, e.to_string()))
}

/// Prepares a greyscale picture of one digit as MNIST did: a dark digit on a light
/// background is inverted (judged by the mean brightness), the digit's bounding box is
/// scaled to fit 20×20 keeping its aspect ratio, and it is placed in a 28×28 image with its
/// centre of mass at the centre.
///
/// ```
/// use strata_data::prepare_digit;
/// // A black "1" drawn on white paper, 60×90 pixels.
/// let mut paper = image::GrayImage::from_pixel(60, 90, image::Luma([255]));
/// for y in 10..80 { for x in 27..33 { paper.put_pixel(x, y, image::Luma([0])); } }
/// let digit = prepare_digit(&paper)?;
/// assert_eq!(digit.shape(), &[1, 28, 28]);
/// assert!(digit.get(&[0, 14, 14])? > 0.5); // bright ink in the middle
/// assert_eq!(digit.get(&[0, 0, 0])?, 0.0); // black background
/// # Ok::<(), strata_data::DataError>(())
/// ```
///
/// # Errors
/// An empty image, or one with no ink.
pub fn prepare_digit(image: &GrayImage) -> Result<Tensor<f32>> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(DataError::invalid("prepare_digit", "the image is empty"));
    }
    let mut values: Vec<f32> = image
        .as_raw()
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    if mean > 0.5 {
        values.iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    // The bounding box of the ink.
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (i, &v) in values.iter().enumerate() {
        if v >= INK {
            let (x, y) = ((i as u32) % w, (i as u32) / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        return Err(DataError::invalid(
            "prepare_digit",
            "no digit found: the image has no ink",
        ));
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let cropped = GrayImage::from_fn(bw, bh, |x, y| {
        let v = values[((y0 + y) * w + x0 + x) as usize];
        image::Luma([(v * 255.0).round() as u8])
    });
    let scale = BOX as f32 / bw.max(bh) as f32;
    let (sw, sh) = (
        ((bw as f32 * scale).round() as u32).max(1),
        ((bh as f32 * scale).round() as u32).max(1),
    );
    let scaled = image::imageops::resize(&cropped, sw, sh, FilterType::Triangle);
    // Centre of mass of the scaled digit, then the offset that moves it to the centre.
    let (mut mass, mut mx, mut my) = (0f32, 0f32, 0f32);
    for (x, y, p) in scaled.enumerate_pixels() {
        let v = f32::from(p[0]);
        mass += v;
        mx += v * x as f32;
        my += v * y as f32;
    }
    let (cx, cy) = if mass > 0.0 {
        (mx / mass, my / mass)
    } else {
        (sw as f32 / 2.0, sh as f32 / 2.0)
    };
    let max_x = (SIDE as u32 - sw) as f32;
    let max_y = (SIDE as u32 - sh) as f32;
    let left = (SIDE as f32 / 2.0 - cx).round().clamp(0.0, max_x) as usize;
    let top = (SIDE as f32 / 2.0 - cy).round().clamp(0.0, max_y) as usize;
    let mut out = vec![0f32; SIDE * SIDE];
    for (x, y, p) in scaled.enumerate_pixels() {
        out[(top + y as usize) * SIDE + left + x as usize] = f32::from(p[0]) / 255.0;
    }
    Ok(Tensor::from_vec(out, &[1, SIDE, SIDE])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn light_and_dark_backgrounds_give_the_same_digit() {
        let mut dark = GrayImage::new(40, 40);
        for y in 5..35 {
            for x in 18..22 {
                dark.put_pixel(x, y, image::Luma([255]));
            }
        }
        let mut light = dark.clone();
        light.pixels_mut().for_each(|p| p[0] = 255 - p[0]);
        let a = prepare_digit(&dark).unwrap();
        let b = prepare_digit(&light).unwrap();
        assert_eq!(a, b);
        // The stroke is 20 pixels tall and centred.
        let column: Vec<f32> = (0..28).map(|y| a.get(&[0, y, 14]).unwrap()).collect();
        let inked = column.iter().filter(|&&v| v > 0.5).count();
        assert!((19..=21).contains(&inked), "{column:?}");
        assert!(column[14] > 0.5 && column[0] == 0.0 && column[27] == 0.0);
    }

    #[test]
    fn blank_and_empty_images_are_errors() {
        assert!(prepare_digit(&GrayImage::from_pixel(10, 10, image::Luma([255]))).is_err());
        assert!(prepare_digit(&GrayImage::new(0, 0)).is_err());
    }
}
