//! A plain tensor-to-PNG writer: one image, its pixels as they are, no frame or caption.

use std::path::Path;

use strata_tensor::Tensor;

use super::{save_png_bytes, PngColor};
use crate::error::{PlotError, Result};

/// The channels, height and width of an image tensor: `[H, W]` (greyscale), `[1, H, W]`
/// or `[3, H, W]` (RGB).
pub(crate) fn image_dims(image: &Tensor<f32>, what: &str) -> Result<[usize; 3]> {
    match *image.shape() {
        [h, w] => Ok([1, h, w]),
        [c @ (1 | 3), h, w] => Ok([c, h, w]),
        _ => Err(PlotError::invalid(
            what,
            format!(
                "an image must be [H, W], [1, H, W] or [3, H, W], found {:?}",
                image.shape()
            ),
        )),
    }
}

/// A value in `[0, 1]` (clamped; NaN reads 0) as a byte.
pub(crate) fn unit_byte(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Writes an image tensor as a PNG file, atomically: `[H, W]` or `[1, H, W]` as greyscale,
/// `[3, H, W]` as RGB, values in `[0, 1]` (clamped) mapped to bytes `0..=255`. For values
/// of another range, scale them first with [`display_image`](super::display_image).
///
/// ```
/// use strata_plot::save_image_png;
/// use strata_tensor::Tensor;
/// let dir = std::env::temp_dir().join(format!("strata-doc-png-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let image = Tensor::<f32>::from_vec(vec![0.0, 0.5, 1.0, 0.25], &[1, 2, 2])?;
/// save_image_png(&dir.join("tiny.png"), &image)?;
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), strata_plot::PlotError>(())
/// ```
///
/// # Errors
/// A tensor of another shape, an empty image, or a file that cannot be written.
pub fn save_image_png(path: &Path, image: &Tensor<f32>) -> Result<()> {
    let [c, h, w] = image_dims(image, &path.display().to_string())?;
    if h == 0 || w == 0 || h > u32::MAX as usize || w > u32::MAX as usize {
        return Err(PlotError::invalid(
            path.display().to_string(),
            format!("cannot write an image of {h}×{w} pixels"),
        ));
    }
    let values = image.to_vec();
    let bytes: Vec<u8> = if c == 1 {
        values.iter().map(|&v| unit_byte(v)).collect()
    } else {
        let plane = h * w;
        (0..plane)
            .flat_map(|p| (0..3).map(move |k| k * plane + p))
            .map(|i| unit_byte(values[i]))
            .collect()
    };
    let color = if c == 1 {
        PngColor::Grey
    } else {
        PngColor::Rgb
    };
    save_png_bytes(path, &bytes, w as u32, h as u32, color)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("strata-plot-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn decode(path: &Path) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn writes_grey_and_rgb_pixels_as_they_are() {
        let dir = scratch("image");
        let grey = Tensor::from_vec(vec![0.0, 1.0, 0.5, 2.0, -1.0, f32::NAN], &[2, 3]).unwrap();
        save_image_png(&dir.join("g.png"), &grey).unwrap();
        let (info, px) = decode(&dir.join("g.png"));
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(px, vec![0, 255, 128, 255, 0, 0]);
        let rgb = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 0.2, 0.4], &[3, 1, 2]).unwrap();
        save_image_png(&dir.join("c.png"), &rgb).unwrap();
        let (info, px) = decode(&dir.join("c.png"));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(px, vec![255, 0, 51, 0, 255, 102]);
        let bad = Tensor::<f32>::zeros(&[2, 2, 2]);
        let err = save_image_png(&dir.join("b.png"), &bad).unwrap_err();
        assert!(err.to_string().contains("[2, 2, 2]"), "{err}");
        assert!(!dir.join("b.png").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
