//! Decoding untrusted image bytes with bounded dimensions and memory.

use std::io::Cursor;

use image::{DynamicImage, ImageReader, Limits};

use crate::error::InputError;

/// The largest width or height decoded, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// The most memory a decoder may allocate, in bytes (a 4096×4096 RGBA image at 8 bits per
/// channel needs 64 MiB; one at 16 bits, twice that, is refused).
pub const MAX_DECODE_BYTES: u64 = 64 << 20;

/// Decodes PNG, JPEG, BMP or GIF bytes, refusing images larger than [`MAX_SIDE`] on either
/// side before their pixels are decoded, and decoders that would allocate more than
/// [`MAX_DECODE_BYTES`].
///
/// # Errors
/// [`InputError::NotAnImage`] for bytes in no supported format or a corrupt image,
/// [`InputError::ImageTooLarge`] for one past the limits.
pub fn decode_image(bytes: &[u8]) -> Result<DynamicImage, InputError> {
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, InputError> {
        let mut reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| InputError::NotAnImage(e.to_string()))?;
        if reader.format().is_none() {
            return Err(InputError::NotAnImage(
                "the bytes are not PNG, JPEG, BMP or GIF".into(),
            ));
        }
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        reader.limits(limits);
        Ok(reader)
    };
    // The header first, so that the error can give the image's size.
    let mut unlimited = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| InputError::NotAnImage(e.to_string()))?;
    unlimited.no_limits();
    if unlimited.format().is_some() {
        // Reading the header is guarded as decoding is: a panic there is no answer.
        let dimensions =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unlimited.into_dimensions()));
        if let Ok(Ok((width, height))) = dimensions {
            if width > MAX_SIDE || height > MAX_SIDE {
                return Err(InputError::ImageTooLarge {
                    width,
                    height,
                    max: MAX_SIDE,
                });
            }
        }
    }
    // A decoder panic on corrupt data (see `strata_data::decode`) is an error too.
    strata_data::decode::decode_guarded(reader()?).map_err(|e| match e {
        image::ImageError::Limits(l) => InputError::NotAnImage(format!(
            "decoding would exceed the server's limits ({l}; at most {MAX_SIDE}×{MAX_SIDE} pixels, {MAX_DECODE_BYTES} bytes)"
        )),
        other => InputError::NotAnImage(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::GrayImage::new(width, height)
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn decodes_a_small_png() {
        let image = decode_image(&png(30, 20)).unwrap();
        assert_eq!((image.width(), image.height()), (30, 20));
    }

    #[test]
    fn text_and_truncated_images_are_not_images() {
        let err = decode_image(b"hello, this is a text file\n").unwrap_err();
        assert!(matches!(err, InputError::NotAnImage(_)), "{err}");
        let mut cut = png(30, 20);
        cut.truncate(cut.len() / 2);
        assert!(matches!(decode_image(&cut), Err(InputError::NotAnImage(_))));
        assert!(matches!(decode_image(&[]), Err(InputError::NotAnImage(_))));
    }

    #[test]
    fn a_jpeg_that_panics_the_decoder_is_not_an_image() {
        let bytes = include_bytes!("../../data/tests/fixtures/upsampler-panic.jpg");
        let err = decode_image(bytes).unwrap_err();
        assert!(
            matches!(&err, InputError::NotAnImage(m) if m.contains("corrupt image")),
            "{err}"
        );
        assert_eq!(err.status(), 415);
    }

    #[test]
    fn a_huge_png_is_refused_before_decoding() {
        // 10,000 × 10,000 black pixels compress to a small file; decoding would need 100 MB.
        let bytes = png(10_000, 10_000);
        assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
        let err = decode_image(&bytes).unwrap_err();
        assert_eq!(
            err,
            InputError::ImageTooLarge {
                width: 10_000,
                height: 10_000,
                max: MAX_SIDE
            }
        );
        assert_eq!(err.status(), 413);
    }
}
