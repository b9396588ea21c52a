//! Image folders as read by Keras' `flow_from_directory`: one subfolder per class.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::DynamicImage;
use rayon::prelude::*;

use crate::dataset::{bytes_to_unit, check_read, index_error, Dataset, InMemoryDataset};
use crate::error::{DataError, Result};

/// File extensions (lower case) of the formats this crate decodes; other files are ignored,
/// as Keras ignores files outside its list of image formats.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "gif"];

/// Colour handling of decoded images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorMode {
    /// Three channels, red, green, blue.
    Rgb,
    /// One channel of luma (ITU-R BT.709 weights, as the `image` crate computes it).
    Grayscale,
}

impl ColorMode {
    /// Number of channels of this mode.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Rgb => 3,
            ColorMode::Grayscale => 1,
        }
    }
}

/// A folder with one subfolder per class, the classes being the subfolders' names in sorted
/// order (label `i` is the `i`-th name), each holding images in any format of
/// [`IMAGE_EXTENSIONS`]. Images are decoded when read, converted to the colour mode, resized
/// to the target size and scaled to `[0, 1]`.
///
/// Resizing uses nearest-neighbour by default, as Keras' `load_img`; see
/// [`ImageFolder::filter`].
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    files: Vec<PathBuf>,
    labels: Vec<usize>,
    class_names: Vec<String>,
    height: usize,
    width: usize,
    mode: ColorMode,
    filter: FilterType,
}

impl ImageFolder {
    /// Scans `root`; images will be resized to `height × width`.
    ///
    /// Fails, naming the folder, when there is no class subfolder or a class folder holds no
    /// image, and when the target size is zero.
    pub fn new(root: &Path, height: usize, width: usize, mode: ColorMode) -> Result<Self> {
        if height == 0 || width == 0 || height > u32::MAX as usize || width > u32::MAX as usize {
            return Err(DataError::invalid(
                "ImageFolder::new",
                format!("target size {height}×{width} must be positive and fit in u32"),
            ));
        }
        let mut classes = sorted_entries(root)?
            .into_iter()
            .filter(|p| p.is_dir())
            .collect::<Vec<_>>();
        classes.sort();
        if classes.is_empty() {
            return Err(DataError::folder(root, "no class subfolders"));
        }
        let mut files = Vec::new();
        let mut labels = Vec::new();
        let mut class_names = Vec::new();
        for (label, dir) in classes.iter().enumerate() {
            let images: Vec<PathBuf> = sorted_entries(dir)?
                .into_iter()
                .filter(|p| p.is_file() && has_image_extension(p))
                .collect();
            if images.is_empty() {
                return Err(DataError::folder(
                    dir,
                    format!(
                        "empty class folder: no file with an extension among {IMAGE_EXTENSIONS:?}"
                    ),
                ));
            }
            labels.extend(std::iter::repeat_n(label, images.len()));
            files.extend(images);
            class_names.push(
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
        Ok(Self {
            root: root.to_path_buf(),
            files,
            labels,
            class_names,
            height,
            width,
            mode,
            filter: FilterType::Nearest,
        })
    }

    /// Uses `filter` for resizing (e.g. `FilterType::Triangle` for bilinear).
    pub fn filter(mut self, filter: FilterType) -> Self {
        self.filter = filter;
        self
    }

    /// The folder scanned.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The image files, in sample order (classes in order, files sorted by name).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Decodes every image (in parallel) into memory. Fails on the first image, in sample
    /// order, that does not decode.
    pub fn load_all(&self) -> Result<InMemoryDataset> {
        let shape = self.sample_shape();
        let per: usize = shape.iter().product();
        let mut pixels = vec![0u8; per * self.files.len()];
        let results: Vec<Result<()>> = pixels
            .par_chunks_mut(per.max(1))
            .zip(self.files.par_iter())
            .map(|(out, path)| {
                let bytes = self.decode(path)?;
                out.copy_from_slice(&bytes);
                Ok(())
            })
            .collect();
        results.into_iter().collect::<Result<Vec<()>>>()?;
        InMemoryDataset::new(pixels, shape, self.labels.clone(), self.class_names.clone())
    }

    /// Decodes, converts and resizes one file into planar bytes.
    fn decode(&self, path: &Path) -> Result<Vec<u8>> {
        decode_planar(path, self.height, self.width, self.mode, self.filter)
    }
}

/// Reads one image file of any format the `image` crate decodes, converts it to `mode` and
/// resizes it to `height × width` (ignoring the aspect ratio, as Keras's `load_img` with a
/// target size), as a `[C, height, width]` tensor scaled to `[0, 1]`.
///
/// # Errors
/// A file that cannot be read or decoded, or an empty image, naming the file.
pub fn load_image(
    path: &Path,
    height: usize,
    width: usize,
    mode: ColorMode,
) -> Result<strata_tensor::Tensor<f32>> {
    let bytes = decode_planar(path, height, width, mode, FilterType::Triangle)?;
    let values = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    Ok(strata_tensor::Tensor::from_vec(
        values,
        &[mode.channels(), height, width],
    )?)
}

/// Reads one image file of any format the `image` crate decodes at its own size (no
/// resizing), converted to `mode`, as a `[C, H, W]` tensor scaled to `[0, 1]`.
///
/// # Errors
/// A file that cannot be read or decoded, or an empty image, naming the file.
pub fn load_image_unscaled(path: &Path, mode: ColorMode) -> Result<strata_tensor::Tensor<f32>> {
    let image = decode_image(path)?;
    let (width, height) = (image.width() as usize, image.height() as usize);
    if width == 0 || height == 0 {
        return Err(DataError::format(path, "the image is empty (0 pixels)"));
    }
    let bytes = to_planar(&image, height, width, mode, FilterType::Nearest);
    let values = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    Ok(strata_tensor::Tensor::from_vec(
        values,
        &[mode.channels(), height, width],
    )?)
}

/// Decodes, converts and resizes one file into planar bytes.
fn decode_planar(
    path: &Path,
    height: usize,
    width: usize,
    mode: ColorMode,
    filter: FilterType,
) -> Result<Vec<u8>> {
    let image = decode_image(path)?;
    if image.width() == 0 || image.height() == 0 {
        return Err(DataError::format(path, "the image is empty (0 pixels)"));
    }
    Ok(to_planar(&image, height, width, mode, filter))
}

/// Decodes an image file of any format the `image` crate reads (guessed from its bytes),
/// within the dataset readers' limits, a decoder panic returned as an error
/// ([`crate::decode`]).
pub(crate) fn decode_image(path: &Path) -> Result<DynamicImage> {
    crate::decode::decode_image_file(path)
}

/// Resizes `image` to `height × width` (exactly, ignoring the aspect ratio, as Keras does) and
/// returns planar bytes in colour mode `mode`.
pub(crate) fn to_planar(
    image: &DynamicImage,
    height: usize,
    width: usize,
    mode: ColorMode,
    filter: FilterType,
) -> Vec<u8> {
    let (w, h) = (width as u32, height as u32);
    match mode {
        ColorMode::Grayscale => {
            let grey = image.to_luma8();
            let grey = if grey.dimensions() == (w, h) {
                grey
            } else {
                image::imageops::resize(&grey, w, h, filter)
            };
            grey.into_raw()
        }
        ColorMode::Rgb => {
            let rgb = image.to_rgb8();
            let rgb = if rgb.dimensions() == (w, h) {
                rgb
            } else {
                image::imageops::resize(&rgb, w, h, filter)
            };
            let mut out = vec![0u8; 3 * height * width];
            interleaved_to_planar(rgb.as_raw(), &mut out);
            out
        }
    }
}

/// Interleaved RGB values (HWC) to planar (CHW); `out` is as long as `src`.
pub(crate) fn interleaved_to_planar<T: Copy>(src: &[T], out: &mut [T]) {
    let plane = src.len() / 3;
    for (i, px) in src.chunks_exact(3).enumerate() {
        out[i] = px[0];
        out[plane + i] = px[1];
        out[2 * plane + i] = px[2];
    }
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, "list folder", e))?;
    let mut out = Vec::new();
    for entry in read {
        out.push(
            entry
                .map_err(|e| DataError::io(dir, "list folder", e))?
                .path(),
        );
    }
    out.sort();
    Ok(out)
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn sample_shape(&self) -> [usize; 3] {
        [self.mode.channels(), self.height, self.width]
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize> {
        check_read(
            "ImageFolder::read",
            self.len(),
            self.sample_shape(),
            index,
            out,
        )?;
        let bytes = self.decode(&self.files[index])?;
        bytes_to_unit(&bytes, out);
        Ok(self.labels[index])
    }

    fn label(&self, index: usize) -> Result<usize> {
        self.labels
            .get(index)
            .copied()
            .ok_or_else(|| index_error("ImageFolder::label", index, self.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsio::{tests::scratch, write_atomic};
    use crate::shapes::Shapes;

    #[test]
    fn reads_back_the_shapes_folder() {
        let dir = scratch("folder-shapes");
        let shapes = Shapes::new(6, 9);
        shapes.write_folder(&dir).unwrap();
        std::fs::write(dir.join("circle/notes.txt"), "ignored").unwrap();
        let folder = ImageFolder::new(&dir, 128, 128, ColorMode::Rgb).unwrap();
        assert_eq!(folder.class_names(), ["circle", "square", "triangle"]);
        let all = folder.load_all().unwrap();
        let mem = shapes.generate().unwrap();
        // Folder order: circles 0, 3; squares 1, 4; triangles 2, 5.
        for (k, i) in [0, 3, 1, 4, 2, 5].into_iter().enumerate() {
            assert_eq!(all.image(k).unwrap(), mem.image(i).unwrap());
            assert_eq!(all.labels()[k], i % 3);
        }
        let small = ImageFolder::new(&dir, 32, 16, ColorMode::Grayscale).unwrap();
        assert_eq!(small.sample_shape(), [1, 32, 16]);
        let mut out = vec![0.0; 32 * 16];
        assert_eq!(small.read(5, &mut out).unwrap(), 2);
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(out[0], 1.0);
    }

    #[test]
    fn load_image_unscaled_keeps_the_files_size() {
        let dir = scratch("unscaled");
        let path = dir.join("odd.png");
        let mut img = image::RgbImage::new(5, 3);
        img.put_pixel(4, 2, image::Rgb([255, 0, 51]));
        img.save(&path).unwrap();
        let rgb = load_image_unscaled(&path, ColorMode::Rgb).unwrap();
        assert_eq!(rgb.shape(), &[3, 3, 5]);
        let v = rgb.to_vec();
        assert_eq!((v[14], v[15 + 14], v[30 + 14]), (1.0, 0.0, 0.2));
        let grey = load_image_unscaled(&path, ColorMode::Grayscale).unwrap();
        assert_eq!(grey.shape(), &[1, 3, 5]);
        let err = load_image_unscaled(&dir.join("absent.png"), ColorMode::Rgb).unwrap_err();
        assert!(err.to_string().contains("absent.png"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn load_image_resizes_and_scales_one_file() {
        let dir = scratch("load-image");
        Shapes::new(2, 3).write_folder(&dir).unwrap();
        let path = dir.join("square/square_000001.png");
        let full = load_image(&path, 128, 128, ColorMode::Rgb).unwrap();
        let mem = Shapes::new(2, 3).generate().unwrap();
        let expected: Vec<f32> = mem
            .image(1)
            .unwrap()
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect();
        assert_eq!(full.to_vec(), expected);
        let small = load_image(&path, 28, 20, ColorMode::Grayscale).unwrap();
        assert_eq!(small.shape(), &[1, 28, 20]);
        let err = load_image(&dir.join("absent.png"), 8, 8, ColorMode::Rgb).unwrap_err();
        assert!(err.to_string().contains("absent.png"), "{err}");
        std::fs::write(dir.join("broken.png"), b"not a png").unwrap();
        let err = load_image(&dir.join("broken.png"), 8, 8, ColorMode::Rgb).unwrap_err();
        assert!(err.to_string().contains("broken.png"), "{err}");
    }

    #[test]
    fn bad_folders_and_images_name_the_path() {
        let dir = scratch("folder-bad");
        let e = ImageFolder::new(&dir, 8, 8, ColorMode::Rgb)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no class subfolders"), "{e}");
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        Shapes::new(1, 0).write_folder(&dir.join("tmp")).unwrap();
        std::fs::rename(
            dir.join("tmp/circle/circle_000000.png"),
            dir.join("a/x.PNG"),
        )
        .unwrap();
        std::fs::remove_dir_all(dir.join("tmp")).unwrap();
        let e = ImageFolder::new(&dir, 8, 8, ColorMode::Rgb)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("empty class folder") && e.contains("/b: "),
            "{e}"
        );
        write_atomic(&dir.join("b/broken.jpg"), b"\xff\xd8 not really a jpeg").unwrap();
        let folder = ImageFolder::new(&dir, 8, 8, ColorMode::Rgb).unwrap();
        let mut out = vec![0.0; 3 * 64];
        assert_eq!(folder.read(0, &mut out).unwrap(), 0);
        let e = folder.read(1, &mut out).unwrap_err().to_string();
        assert!(
            e.contains("broken.jpg") && e.contains("cannot decode"),
            "{e}"
        );
        let e = folder.load_all().unwrap_err().to_string();
        assert!(e.contains("broken.jpg"), "{e}");
    }

    #[test]
    fn a_jpeg_that_panics_the_decoder_fails_every_reader_cleanly() {
        let dir = scratch("folder-panic");
        std::fs::create_dir_all(dir.join("a")).unwrap();
        let bad = dir.join("a/upsampler.jpg");
        write_atomic(
            &bad,
            include_bytes!("../tests/fixtures/upsampler-panic.jpg"),
        )
        .unwrap();
        let corrupt = |e: DataError| {
            let e = e.to_string();
            assert!(
                e.contains("upsampler.jpg") && e.contains("corrupt image"),
                "{e}"
            );
        };
        corrupt(load_image(&bad, 8, 8, ColorMode::Rgb).unwrap_err());
        corrupt(load_image_unscaled(&bad, ColorMode::Grayscale).unwrap_err());
        corrupt(crate::load_digit(&bad).unwrap_err());
        let folder = ImageFolder::new(&dir, 8, 8, ColorMode::Rgb).unwrap();
        let mut out = vec![0.0; 3 * 64];
        corrupt(folder.read(0, &mut out).unwrap_err());
        corrupt(folder.load_all().unwrap_err());
    }
}
