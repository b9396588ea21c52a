//! A saved image classifier with its class names and the preparation its inputs need.

use std::path::Path;

use image::imageops::FilterType;
use image::DynamicImage;
use serde::Serialize;
use strata_layers::layer::{Activation, LayerConfig};
use strata_layers::Sequential;
use strata_tensor::Tensor;

use crate::decode::decode_image;
use crate::error::{InputError, ServeError};

/// How a decoded image becomes the model's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocess {
    /// As MNIST prepared its digits ([`strata_data::prepare_digit`]): greyscale, inverted
    /// when the background is light, the ink's bounding box fitted into 20×20 and centred
    /// by its centre of mass in 28×28. The model must take `[1, 28, 28]`.
    Digit,
    /// Resized (bilinear) to the model's height and width, greyscale or RGB as its channel
    /// count says, scaled to `[0, 1]`.
    Resize,
}

/// A prediction: the most probable class and every class's probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Index of the most probable class.
    pub class: usize,
    /// Its name.
    pub label: String,
    /// The probability of each class, in the order of the class names (they sum to 1).
    pub probabilities: Vec<f32>,
}

/// A model loaded for serving: `[C, H, W]` images (C = 1 or 3) to `K` class scores.
pub struct Classifier {
    model: Sequential<f32>,
    class_names: Vec<String>,
    preprocess: Preprocess,
    outputs_probabilities: bool,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("model", &self.model)
            .field("class_names", &self.class_names)
            .field("preprocess", &self.preprocess)
            .finish()
    }
}

impl Classifier {
    /// Loads a model saved by [`Sequential::save`] and checks that it can be served with
    /// `preprocess`. Its class names come from the file; a model saved without them has
    /// classes named by their index.
    ///
    /// # Errors
    /// A file that does not load, or a model whose shapes do not suit an image classifier.
    pub fn load(path: &Path, preprocess: Preprocess) -> Result<Self, ServeError> {
        let model = Sequential::<f32>::load(path)?;
        Self::new(model, preprocess).map_err(|message| ServeError::Unsuitable {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Wraps a model; the error says why it cannot be served.
    pub fn new(model: Sequential<f32>, preprocess: Preprocess) -> Result<Self, String> {
        let input = model.input_shape();
        if input.len() != 3 || !(input[0] == 1 || input[0] == 3) || input[1] == 0 || input[2] == 0 {
            return Err(format!(
                "expected a model of [1 or 3, H, W] images, found input shape {input:?}"
            ));
        }
        if preprocess == Preprocess::Digit && input != [1, 28, 28] {
            return Err(format!(
                "digit preparation needs a model of [1, 28, 28] images, found {input:?}"
            ));
        }
        let classes = match model.output_shape() {
            [k] if *k > 0 => *k,
            other => {
                return Err(format!(
                    "expected a vector of class scores, found output shape {other:?}"
                ))
            }
        };
        let class_names = model
            .class_names()
            .map(<[String]>::to_vec)
            .unwrap_or_else(|| (0..classes).map(|c| c.to_string()).collect());
        let outputs_probabilities = matches!(
            model.layer_configs().last(),
            Some(LayerConfig::Activation(Activation::Softmax))
        ) || matches!(
            model.layer_configs().last(),
            Some(LayerConfig::Dense(d)) if d.activation == Activation::Softmax
        );
        Ok(Self {
            model,
            class_names,
            preprocess,
            outputs_probabilities,
        })
    }

    /// The class names, one per output.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The shape of one input sample, `[C, H, W]`.
    pub fn input_shape(&self) -> &[usize] {
        self.model.input_shape()
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        self.model.name()
    }

    /// How images are prepared.
    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// Classifies an encoded image (PNG, JPEG, BMP or GIF; any size up to the decoder's
    /// limits), prepared as [`Classifier::preprocess`] says.
    ///
    /// # Errors
    /// Bytes that are not an image, an image too large, or one that cannot be prepared.
    pub fn classify_image(&self, bytes: &[u8]) -> Result<Prediction, InputError> {
        if bytes.is_empty() {
            return Err(InputError::Empty);
        }
        let image = decode_image(bytes)?;
        let input = self.prepare(&image)?;
        self.classify(input)
    }

    /// Classifies raw pixels already prepared for the model: `C·H·W` values in `[0, 1]`,
    /// channel-major then row-major (a 28×28 MNIST digit: 784 values, white ink on black).
    ///
    /// # Errors
    /// A wrong number of values, or one outside `[0, 1]`.
    pub fn classify_pixels(&self, pixels: &[f32]) -> Result<Prediction, InputError> {
        let shape = self.input_shape().to_vec();
        let expected: usize = shape.iter().product();
        if pixels.len() != expected {
            return Err(InputError::WrongSize {
                shape,
                expected,
                found: pixels.len(),
            });
        }
        if let Some((index, &value)) = pixels
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            return Err(InputError::PixelOutOfRange { index, value });
        }
        let input = Tensor::from_vec(pixels.to_vec(), &shape)
            .map_err(|e| InputError::Inference(e.to_string()))?;
        self.classify(input)
    }

    fn prepare(&self, image: &DynamicImage) -> Result<Tensor<f32>, InputError> {
        let unprepared = |e: &dyn std::fmt::Display| InputError::Unprepared(e.to_string());
        match self.preprocess {
            Preprocess::Digit => {
                strata_data::prepare_digit(&image.to_luma8()).map_err(|e| unprepared(&e))
            }
            Preprocess::Resize => {
                let shape = self.input_shape();
                let (c, h, w) = (shape[0], shape[1] as u32, shape[2] as u32);
                let resized = image.resize_exact(w, h, FilterType::Triangle);
                let interleaved = if c == 1 {
                    resized.to_luma8().into_raw()
                } else {
                    resized.to_rgb8().into_raw()
                };
                let plane = (h * w) as usize;
                let mut planar = vec![0f32; c * plane];
                for (i, &v) in interleaved.iter().enumerate() {
                    planar[(i % c) * plane + i / c] = f32::from(v) / 255.0;
                }
                Tensor::from_vec(planar, shape).map_err(|e| unprepared(&e))
            }
        }
    }

    fn classify(&self, input: Tensor<f32>) -> Result<Prediction, InputError> {
        let failed = |e: &dyn std::fmt::Display| InputError::Inference(e.to_string());
        let batch = input.unsqueeze(0).map_err(|e| failed(&e))?;
        let mut scores = self.model.predict_batch(&batch).map_err(|e| failed(&e))?;
        if !self.outputs_probabilities {
            scores = scores.softmax(1).map_err(|e| failed(&e))?;
        }
        let probabilities = scores.to_vec();
        if probabilities.iter().any(|p| !p.is_finite()) {
            return Err(InputError::Inference(
                "the model gave a non-finite score".into(),
            ));
        }
        let class = probabilities.iter().enumerate().fold(0, |best, (i, &p)| {
            if p > probabilities[best] {
                i
            } else {
                best
            }
        });
        Ok(Prediction {
            class,
            label: self.class_names[class].clone(),
            probabilities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_layers::layer::{DenseConfig, FlattenConfig};

    fn model(activation: Activation) -> Sequential<f32> {
        let mut model = Sequential::builder(&[1, 28, 28])
            .seed(3)
            .add(FlattenConfig::new())
            .add(DenseConfig::new(3).activation(activation))
            .build()
            .unwrap();
        model
            .set_class_names(["zero", "one", "two"].map(String::from).to_vec())
            .unwrap();
        model
    }

    fn stroke_png(light_background: bool) -> Vec<u8> {
        let (paper, ink) = if light_background { (255, 0) } else { (0, 255) };
        let mut image = image::GrayImage::from_pixel(100, 120, image::Luma([paper]));
        for y in 20..100 {
            for x in 45..55 {
                image.put_pixel(x, y, image::Luma([ink]));
            }
        }
        let mut bytes = Vec::new();
        image
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    }

    #[test]
    fn an_image_is_prepared_as_a_digit_and_scored() {
        let classifier = Classifier::new(model(Activation::Linear), Preprocess::Digit).unwrap();
        let p = classifier.classify_image(&stroke_png(true)).unwrap();
        assert_eq!(p.probabilities.len(), 3);
        assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(p.label, ["zero", "one", "two"][p.class]);
        let best = p.probabilities.iter().cloned().fold(f32::MIN, f32::max);
        assert_eq!(p.probabilities[p.class], best);
        // Ink on black gives the same prepared digit, hence the same scores.
        assert_eq!(classifier.classify_image(&stroke_png(false)).unwrap(), p);
        // The same scores as the model on the digit prepared by the data crate.
        let image = image::load_from_memory(&stroke_png(true)).unwrap();
        let digit = strata_data::prepare_digit(&image.to_luma8()).unwrap();
        assert_eq!(classifier.classify_pixels(&digit.to_vec()).unwrap(), p);
    }

    #[test]
    fn softmax_outputs_are_not_normalised_twice() {
        let network = model(Activation::Softmax);
        let pixels = vec![0.5f32; 784];
        let direct = network
            .predict_batch(&Tensor::from_vec(pixels.clone(), &[1, 1, 28, 28]).unwrap())
            .unwrap()
            .to_vec();
        let classifier = Classifier::new(network, Preprocess::Digit).unwrap();
        assert_eq!(
            classifier.classify_pixels(&pixels).unwrap().probabilities,
            direct
        );
    }

    #[test]
    fn bad_pixels_and_blank_images_are_named() {
        let classifier = Classifier::new(model(Activation::Linear), Preprocess::Digit).unwrap();
        let err = classifier.classify_pixels(&[0.0; 783]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected 784 pixels ([1, 28, 28]), found 783"
        );
        let mut pixels = vec![0.0; 784];
        pixels[5] = f32::NAN;
        assert!(matches!(
            classifier.classify_pixels(&pixels),
            Err(InputError::PixelOutOfRange { index: 5, .. })
        ));
        pixels[5] = 2.0;
        assert_eq!(
            classifier.classify_pixels(&pixels).unwrap_err().status(),
            422
        );
        let mut blank = Vec::new();
        image::GrayImage::from_pixel(50, 50, image::Luma([255]))
            .write_to(
                &mut std::io::Cursor::new(&mut blank),
                image::ImageFormat::Png,
            )
            .unwrap();
        let err = classifier.classify_image(&blank).unwrap_err();
        assert!(err.to_string().contains("no ink"), "{err}");
        assert_eq!(
            classifier.classify_image(&[]).unwrap_err(),
            InputError::Empty
        );
    }

    #[test]
    fn resizing_serves_colour_models_of_any_size() {
        let mut network = Sequential::builder(&[3, 8, 6])
            .add(FlattenConfig::new())
            .add(DenseConfig::new(2))
            .build()
            .unwrap();
        network
            .set_class_names(vec!["a".into(), "b".into()])
            .unwrap();
        let same = Sequential::<f32>::from_architecture(network.architecture()).unwrap();
        let err = Classifier::new(same, Preprocess::Digit).unwrap_err();
        assert!(err.contains("[1, 28, 28]"), "{err}");
        let classifier = Classifier::new(network, Preprocess::Resize).unwrap();
        let p = classifier.classify_image(&stroke_png(true)).unwrap();
        assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn models_that_are_not_image_classifiers_are_refused() {
        let vector = Sequential::builder(&[4])
            .add(DenseConfig::new(2))
            .build()
            .unwrap();
        let err = Classifier::new(vector, Preprocess::Resize).unwrap_err();
        assert!(err.contains("[1 or 3, H, W]"), "{err}");
        let unnamed = Sequential::builder(&[1, 28, 28])
            .add(FlattenConfig::new())
            .add(DenseConfig::new(4))
            .build()
            .unwrap();
        let classifier = Classifier::new(unnamed, Preprocess::Digit).unwrap();
        assert_eq!(classifier.class_names(), ["0", "1", "2", "3"]);
    }
}
