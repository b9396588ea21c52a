//! ImageNet preprocessing, both conventions:
//!
//! - torchvision: resize the shorter side to 256 (bilinear, keeping the aspect ratio), crop
//!   the central 224×224, scale to `[0, 1]`, normalise with mean `[0.485, 0.456, 0.406]` and
//!   std `[0.229, 0.224, 0.225]` ([`torchvision_preprocess`], [`TorchvisionImagenet`]);
//! - Keras "caffe" (VGG16, ResNet50): pixels in `[0, 255]`, RGB reordered to BGR, and the
//!   means 103.939, 116.779, 123.68 (B, G, R) subtracted, no scaling
//!   ([`caffe_preprocess`], [`CaffeImagenet`]). Keras resizes with `load_img(target_size)`
//!   beforehand (nearest-neighbour, aspect ratio ignored), as [`caffe_preprocess`] does.

use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, Rgb, RgbImage};
use rand::rngs::StdRng;
use strata_tensor::Tensor;

use crate::augment::{Normalize, Sample, Transform};
use crate::error::{DataError, Result};
use crate::image_folder::{interleaved_to_planar, to_planar, ColorMode};

/// The per-channel means subtracted by Keras' "caffe" preprocessing, in B, G, R order.
pub const CAFFE_BGR_MEAN: [f32; 3] = [103.939, 116.779, 123.68];

/// Sizes of torchvision's ImageNet evaluation preprocessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TorchvisionImagenet {
    /// Length of the shorter side after resizing (256).
    pub resize: usize,
    /// Side of the central crop (224).
    pub crop: usize,
}

impl Default for TorchvisionImagenet {
    fn default() -> Self {
        Self {
            resize: 256,
            crop: 224,
        }
    }
}

impl TorchvisionImagenet {
    /// Size after resizing the shorter side to `self.resize`, as torchvision computes it
    /// (`long = int(resize * long / short)`); `(height, width)`.
    fn resized(&self, height: usize, width: usize) -> (usize, usize) {
        let r = self.resize;
        if height <= width {
            (r, r * width / height.max(1))
        } else {
            (r * height / width.max(1), r)
        }
    }

    fn check(&self, shape: [usize; 3]) -> Result<()> {
        let [c, h, w] = shape;
        if c != 3 || h == 0 || w == 0 || self.crop == 0 || self.crop > self.resize {
            return Err(DataError::invalid(
                "TorchvisionImagenet",
                format!(
                    "needs a non-empty RGB input and 0 < crop {} <= resize {}, found input {shape:?}",
                    self.crop, self.resize
                ),
            ));
        }
        Ok(())
    }
}

/// Python's `int(round(x / 2))` (half to even) for the crop offset, as torchvision.
fn centre_offset(extra: usize) -> usize {
    let half = extra / 2;
    if extra % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// Crops the central `crop × crop` window of planar `[3, h, w]` values.
fn centre_crop(data: &[f32], h: usize, w: usize, crop: usize) -> Vec<f32> {
    let (top, left) = (centre_offset(h - crop), centre_offset(w - crop));
    let mut out = Vec::with_capacity(3 * crop * crop);
    for ch in 0..3 {
        for y in top..top + crop {
            let row = (ch * h + y) * w;
            out.extend_from_slice(&data[row + left..row + left + crop]);
        }
    }
    out
}

impl Transform for TorchvisionImagenet {
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        self.check(input)?;
        Ok([3, self.crop, self.crop])
    }

    fn apply(&self, sample: &mut Sample, rng: &mut StdRng) {
        if !sample.is_consistent() || self.check(sample.shape).is_err() {
            return;
        }
        let [_, h, w] = sample.shape;
        let plane = h * w;
        let interleaved: Vec<f32> = (0..plane)
            .flat_map(|i| {
                [
                    sample.data[i],
                    sample.data[plane + i],
                    sample.data[2 * plane + i],
                ]
            })
            .collect();
        let (nh, nw) = self.resized(h, w);
        let resized = ImageBuffer::<Rgb<f32>, Vec<f32>>::from_raw(w as u32, h as u32, interleaved)
            .map(|img| image::imageops::resize(&img, nw as u32, nh as u32, FilterType::Triangle));
        let Some(resized) = resized else { return };
        let mut planar = vec![0.0; 3 * nh * nw];
        interleaved_to_planar(resized.as_raw(), &mut planar);
        sample.data = centre_crop(&planar, nh, nw, self.crop);
        sample.shape = [3, self.crop, self.crop];
        Normalize::imagenet().apply(sample, rng);
    }
}

/// torchvision's ImageNet evaluation preprocessing of a decoded image: `[1, 3, 224, 224]`.
///
/// The resize runs on 8-bit pixels with a triangle (bilinear, antialiased) filter, as PIL
/// does for torchvision.
pub fn torchvision_preprocess(image: &DynamicImage) -> Result<Tensor<f32>> {
    let p = TorchvisionImagenet::default();
    let rgb: RgbImage = image.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    p.check([3, h, w])?;
    let (nh, nw) = p.resized(h, w);
    let resized = image::imageops::resize(&rgb, nw as u32, nh as u32, FilterType::Triangle);
    let planar = to_planar(
        &DynamicImage::ImageRgb8(resized),
        nh,
        nw,
        ColorMode::Rgb,
        FilterType::Nearest,
    );
    let planar: Vec<f32> = planar.iter().map(|&b| f32::from(b) / 255.0).collect();
    let mut sample = Sample {
        data: centre_crop(&planar, nh, nw, p.crop),
        shape: [3, p.crop, p.crop],
    };
    let mut rng = rand::SeedableRng::seed_from_u64(0);
    Normalize::imagenet().apply(&mut sample, &mut rng);
    Ok(Tensor::from_vec(sample.data, &[1, 3, p.crop, p.crop])?)
}

/// Keras' "caffe" preprocessing of a sample in `[0, 1]` RGB: scales to `[0, 255]`, reorders
/// to BGR and subtracts [`CAFFE_BGR_MEAN`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaffeImagenet;

impl Transform for CaffeImagenet {
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        if input[0] != 3 {
            return Err(DataError::invalid(
                "CaffeImagenet",
                format!("needs an RGB input of 3 channels, found shape {input:?}"),
            ));
        }
        Ok(input)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut StdRng) {
        if !sample.is_consistent() || self.output_shape(sample.shape).is_err() {
            return;
        }
        let plane = sample.shape[1] * sample.shape[2];
        let (r, rest) = sample.data.split_at_mut(plane);
        let (_g, b) = rest.split_at_mut(plane);
        r.swap_with_slice(b);
        for (ch, values) in sample.data.chunks_exact_mut(plane.max(1)).enumerate() {
            let mean = CAFFE_BGR_MEAN[ch];
            values.iter_mut().for_each(|v| *v = *v * 255.0 - mean);
        }
    }
}

/// Keras' `load_img(target_size=(size, size))` (nearest-neighbour) followed by
/// `preprocess_input` in "caffe" mode: `[1, 3, size, size]`, channels B, G, R.
pub fn caffe_preprocess(image: &DynamicImage, size: usize) -> Result<Tensor<f32>> {
    if size == 0 || size > u32::MAX as usize || image.width() == 0 || image.height() == 0 {
        return Err(DataError::invalid(
            "caffe_preprocess",
            format!(
                "target size must be positive and fit in u32 and the image non-empty, found size {size} and a {}×{} image",
                image.width(),
                image.height()
            ),
        ));
    }
    let planar = to_planar(image, size, size, ColorMode::Rgb, FilterType::Nearest);
    let mut sample = Sample {
        data: planar.iter().map(|&b| f32::from(b) / 255.0).collect(),
        shape: [3, size, size],
    };
    let mut rng = rand::SeedableRng::seed_from_u64(0);
    CaffeImagenet.apply(&mut sample, &mut rng);
    Ok(Tensor::from_vec(sample.data, &[1, 3, size, size])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsio::data_dir;
    use rand::SeedableRng;

    #[test]
    fn caffe_reorders_and_subtracts() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(3, 2, Rgb([10, 20, 30])));
        let t = caffe_preprocess(&img, 2).unwrap();
        assert_eq!(t.shape(), &[1, 3, 2, 2]);
        let v = t.to_vec();
        assert!((v[0] - (30.0 - 103.939)).abs() < 1e-4);
        assert!((v[4] - (20.0 - 116.779)).abs() < 1e-4);
        assert!((v[8] - (10.0 - 123.68)).abs() < 1e-4);
    }

    #[test]
    fn torchvision_sizes_offsets_and_values() {
        let p = TorchvisionImagenet::default();
        assert_eq!(p.resized(300, 451), (256, 384));
        assert_eq!(p.resized(600, 512), (300, 256));
        assert_eq!(centre_offset(33), 16); // round(16.5) = 16 in Python
        assert_eq!(centre_offset(35), 18); // round(17.5) = 18
        let grey = DynamicImage::ImageRgb8(RgbImage::from_pixel(400, 300, Rgb([255, 128, 0])));
        let t = torchvision_preprocess(&grey).unwrap();
        assert_eq!(t.shape(), &[1, 3, 224, 224]);
        let v = t.to_vec();
        let expect = [
            (1.0 - 0.485) / 0.229,
            (128.0 / 255.0 - 0.456) / 0.224,
            (0.0 - 0.406) / 0.225,
        ];
        for ch in 0..3 {
            assert!((v[ch * 224 * 224 + 1000] - expect[ch]).abs() < 1e-5, "{ch}");
        }
        // The transform on [0, 1] floats agrees on a constant image.
        let mut s = Sample {
            data: vec![0.5; 3 * 30 * 40],
            shape: [3, 30, 40],
        };
        p.apply(&mut s, &mut StdRng::seed_from_u64(0));
        assert_eq!(p.output_shape([3, 30, 40]).unwrap(), s.shape);
        assert!((s.data[0] - (0.5 - 0.485) / 0.229).abs() < 1e-5);
        assert!(p.output_shape([1, 30, 40]).is_err());
    }

    #[test]
    fn preprocesses_a_shared_photo() {
        let path = data_dir(None).join("images/chelsea.png");
        if !path.is_file() {
            eprintln!("SKIPPED: {} not found (set STRATA_DATA)", path.display());
            return;
        }
        let img = image::open(&path).unwrap();
        let t = torchvision_preprocess(&img).unwrap();
        assert_eq!(t.shape(), &[1, 3, 224, 224]);
        assert!(t
            .to_vec()
            .iter()
            .all(|v| v.is_finite() && (-2.2..=2.7).contains(v)));
        let c = caffe_preprocess(&img, 224).unwrap();
        assert!(c.to_vec().iter().all(|v| (-124.0..=152.1).contains(v)));
    }
}
