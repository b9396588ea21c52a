//! Decoding image files that may be corrupt or hostile: bounded dimensions and memory, and
//! a decoder failure of any kind returned as an error.
//!
//! The `image` crate's decoders are meant to return errors on bad data, but some corrupt
//! files still reach an assertion inside them (a JPEG whose sampling factors disagree with
//! its size trips one in the JPEG upsampler of `zune-jpeg` 0.4). [`decode_guarded`] runs the
//! decoder under [`std::panic::catch_unwind`] as a last guard, so such a file is an error
//! naming it instead of a crash of the whole program. The guard only works with unwinding
//! panics (the default; not `panic = "abort"`), and the panic hook still prints the
//! decoder's message to standard error before the error is returned.

use std::io::{BufRead, Cursor, Seek};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use image::error::{DecodingError, ImageFormatHint};
use image::{DynamicImage, ImageError, ImageReader, Limits};

use crate::error::{DataError, Result};

/// The largest width or height the dataset readers decode, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// The most memory one decode may allocate, in bytes (an 8192 × 8192 RGBA image at 8 bits
/// per channel).
pub const MAX_IMAGE_DECODE_BYTES: u64 = 256 << 20;

/// The limits the dataset readers decode with: [`MAX_IMAGE_SIDE`] on either side and
/// [`MAX_IMAGE_DECODE_BYTES`] of allocation.
pub fn image_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_DECODE_BYTES);
    limits
}

/// Decodes with `reader` (its limits as set), turning a panic inside the decoder into an
/// [`ImageError::Decoding`] that says so (see the [module documentation](self)).
pub fn decode_guarded<R: BufRead + Seek>(
    reader: ImageReader<R>,
) -> std::result::Result<DynamicImage, ImageError> {
    let format = reader.format();
    match catch_unwind(AssertUnwindSafe(|| reader.decode())) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            let hint = format.map_or(ImageFormatHint::Unknown, ImageFormatHint::Exact);
            Err(ImageError::Decoding(DecodingError::new(
                hint,
                format!("corrupt image: the decoder failed an internal check ({message})"),
            )))
        }
    }
}

/// Decodes image bytes (PNG, JPEG, BMP or GIF, guessed from the bytes) within
/// [`image_limits`]; `path` names them in errors.
///
/// # Errors
/// [`DataError::Decode`] for bytes in no supported format, a corrupt image (including one
/// that makes the decoder panic), or one past the limits.
pub fn decode_image_bytes(path: &Path, bytes: &[u8]) -> Result<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DataError::io(path, "read", e))?;
    reader.limits(image_limits());
    decode_guarded(reader).map_err(|source| DataError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and decodes an image file as [`decode_image_bytes`] does.
///
/// # Errors
/// A file that cannot be read, or any error of [`decode_image_bytes`].
pub fn decode_image_file(path: &Path) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, "read", e))?;
    decode_image_bytes(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 37 × 29 JPEG written by `image`'s encoder with one byte of its frame header changed
    /// (a component's sampling factors): `zune-jpeg` 0.4.21 fails an `assert_eq!` in its
    /// upsampler on it.
    const UPSAMPLER_PANIC: &[u8] = include_bytes!("../tests/fixtures/upsampler-panic.jpg");

    #[test]
    fn a_jpeg_that_panics_the_decoder_is_an_error() {
        let err = decode_image_bytes(Path::new("bad.jpg"), UPSAMPLER_PANIC)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.jpg") && err.contains("corrupt image"),
            "{err}"
        );
    }

    #[test]
    fn images_past_the_limits_are_refused() {
        let mut png = Vec::new();
        image::GrayImage::new(MAX_IMAGE_SIDE + 1, 1)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let err = decode_image_bytes(Path::new("wide.png"), &png).unwrap_err();
        assert!(
            matches!(
                &err,
                DataError::Decode {
                    source: ImageError::Limits(_),
                    ..
                }
            ),
            "{err}"
        );
        let mut small = Vec::new();
        image::GrayImage::new(3, 2)
            .write_to(&mut Cursor::new(&mut small), image::ImageFormat::Png)
            .unwrap();
        let image = decode_image_bytes(Path::new("small.png"), &small).unwrap();
        assert_eq!((image.width(), image.height()), (3, 2));
        let err = decode_image_bytes(Path::new("text.png"), b"not an image").unwrap_err();
        assert!(err.to_string().contains("text.png"), "{err}");
    }
}
