//! VGG-16 (configuration "D" of Simonyan & Zisserman): 13 convolutions 3×3 "same" with
//! ReLU in five blocks, each block ending in a 2×2 max-pool, then `Flatten` and three dense
//! layers (ReLU, ReLU, linear logits). With 224×224 RGB inputs, 4096 hidden units and 1000
//! classes it has 138,357,544 parameters.
//!
//! Layer names follow Keras (`block1_conv1` … `block5_pool`, `flatten`, `fc1`, `fc2`,
//! `predictions`). PyTorch's dropout layers are left out: they are the identity at inference,
//! and this model is only used for inference.

use std::path::Path;

use strata_import::{read_weights, vgg16_to_strata, NamedTensors, VGG16_CONV_LAYERS};
use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig, Padding,
};
use strata_layers::Sequential;

use crate::{AppError, AppResult};

/// Convolutions per block.
const BLOCKS: [usize; 5] = [2, 2, 3, 3, 3];

/// The sizes of a VGG-16-shaped network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VggConfig {
    /// Side of the square RGB input (a multiple of 32).
    pub input_size: usize,
    /// Filters of the 13 convolutions.
    pub channels: [usize; 13],
    /// Units of `fc1` and `fc2`.
    pub hidden: usize,
    /// Classes (units of `predictions`).
    pub classes: usize,
}

impl VggConfig {
    /// The original VGG-16 for ImageNet.
    pub fn vgg16() -> Self {
        Self {
            input_size: 224,
            channels: [
                64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512,
            ],
            hidden: 4096,
            classes: 1000,
        }
    }

    /// The sizes a set of Strata-named weights implies (the input side from `fc1`'s inputs).
    pub fn from_weights(tensors: &NamedTensors, source: &str) -> AppResult<Self> {
        let dim = |key: &str, axis: usize| -> AppResult<usize> {
            tensors
                .get(key)
                .and_then(|t| t.shape().get(axis).copied())
                .ok_or_else(|| {
                    AppError::Message(format!(
                        "{source}: missing key {key} (or it has no axis {axis})"
                    ))
                })
        };
        let mut channels = [0; 13];
        for (c, layer) in channels.iter_mut().zip(VGG16_CONV_LAYERS) {
            *c = dim(&format!("{layer}.weight"), 0)?;
        }
        let per_channel = dim("fc1.weight", 1)? / channels[12].max(1);
        let side = (per_channel as f64).sqrt().round() as usize;
        if side == 0 || side * side * channels[12] != dim("fc1.weight", 1)? {
            return Err(AppError::Message(format!(
                "{source}: fc1.weight takes {} inputs, not a square map of {} channels",
                dim("fc1.weight", 1)?,
                channels[12]
            )));
        }
        Ok(Self {
            input_size: side * 32,
            channels,
            hidden: dim("fc1.weight", 0)?,
            classes: dim("predictions.weight", 0)?,
        })
    }

    /// The model, with freshly initialised weights.
    pub fn build(&self) -> AppResult<Sequential<f32>> {
        let mut builder =
            Sequential::<f32>::builder(&[3, self.input_size, self.input_size]).name("vgg16");
        let mut conv = 0;
        for (b, &n) in BLOCKS.iter().enumerate() {
            for i in 0..n {
                builder = builder.add_named(
                    &format!("block{}_conv{}", b + 1, i + 1),
                    Conv2dConfig::new(self.channels[conv], 3)
                        .padding(Padding::Same)
                        .activation(Activation::Relu),
                );
                conv += 1;
            }
            builder = builder.add_named(&format!("block{}_pool", b + 1), MaxPool2dConfig::new(2));
        }
        Ok(builder
            .add_named("flatten", FlattenConfig::new())
            .add_named(
                "fc1",
                DenseConfig::new(self.hidden).activation(Activation::Relu),
            )
            .add_named(
                "fc2",
                DenseConfig::new(self.hidden).activation(Activation::Relu),
            )
            .add_named("predictions", DenseConfig::new(self.classes))
            .build()?)
    }
}

/// A VGG-16 with the weights of a `.pth`, safetensors or Keras HDF5 file (torchvision, timm, Keras or Strata
/// names; the format is detected from the content). The network's sizes come from the
/// weights, so smaller VGG-16-shaped networks load too.
pub fn load_vgg16(path: &Path) -> AppResult<Sequential<f32>> {
    let source = path.display().to_string();
    let tensors = vgg16_to_strata(read_weights(path)?, &source)?;
    let config = VggConfig::from_weights(&tensors, &source)?;
    let model = config.build()?;
    model.load_state_dict(tensors, &source)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg16_has_the_published_parameter_count() {
        let model = VggConfig::vgg16().build().unwrap();
        assert_eq!(model.summary().total_params(), 138_357_544);
        assert_eq!(model.output_shape(), &[1000]);
        assert_eq!(model.layer_names().len(), 13 + 5 + 1 + 3);
    }
}
