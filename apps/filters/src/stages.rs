//! The PyTorch notebook's walk-through: a seeded random Conv2d, ReLU, MaxPool 2,
//! Dropout2d(0.25), Flatten, Linear, Softmax on a photo, every stage as a captioned grid.

use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, Dropout2dConfig, FlattenConfig, InitDefaults,
    MaxPool2dConfig,
};
use strata_layers::{ForwardContext, Sequential};
use strata_plot::{display_image, vector_image, ImageGrid, Sheet, Tile};
use strata_tensor::Tensor;

use crate::error::Result;

/// The settings of the walk-through.
#[derive(Debug, Clone, Copy)]
pub struct StagesOptions {
    /// Kernels of the convolution.
    pub kernels: usize,
    /// Their size.
    pub kernel_size: usize,
    /// Outputs of the linear layer.
    pub classes: usize,
    /// Seed of the weights and of dropout.
    pub seed: u64,
}

/// Runs the walk-through on an image `[C, H, W]`; returns each stage's name and output
/// (the input first), batch axis included, as PyTorch prints `output.size()`.
///
/// # Errors
/// An image too small for the kernel, or zero kernels or classes.
pub fn run_stages(image: &Tensor<f32>, o: &StagesOptions) -> Result<Vec<(String, Tensor<f32>)>> {
    let model = Sequential::<f32>::builder(image.shape())
        .seed(o.seed)
        .init_defaults(InitDefaults::Torch)
        .add(Conv2dConfig::new(o.kernels, o.kernel_size))
        .add(Activation::Relu)
        .add(MaxPool2dConfig::new(2))
        .add(Dropout2dConfig::new(0.25))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(o.classes))
        .add(Activation::Softmax)
        .build()?;
    let batch = image.reshape(&[&[1][..], image.shape()].concat())?;
    let mut stages = vec![("input".to_string(), batch.clone())];
    stages.extend(model.forward_stages(&batch, &mut ForwardContext::train(o.seed))?);
    Ok(stages)
}

/// The sheet of a walk-through: one titled grid per stage, the input beside the stage's
/// maps (at most `max_maps` of them) or its vector.
///
/// # Errors
/// A stage that cannot be drawn.
pub fn stages_sheet(stages: &[(String, Tensor<f32>)], max_maps: usize) -> Result<Sheet> {
    let input = stages[0].1.select(0, 0)?;
    let mut sections = Vec::new();
    for (name, out) in &stages[1..] {
        let mut tiles = vec![Tile {
            image: input.clone(),
            caption: "input".into(),
        }];
        let sample = out.select(0, 0)?;
        if sample.rank() == 3 {
            for k in 0..sample.shape()[0].min(max_maps) {
                let (image, _) = display_image(&sample.narrow(0, k, 1)?)?;
                tiles.push(Tile {
                    image,
                    caption: format!("map {k}"),
                });
            }
        } else {
            let values = sample.to_vec();
            let (image, scale) = vector_image(&values, 12)?;
            tiles.push(Tile {
                image,
                caption: format!("{} values, {scale}", values.len()),
            });
        }
        let columns = tiles.len();
        sections.push((
            format!("{name}: output size {:?}", out.shape()),
            ImageGrid {
                tiles,
                columns,
                scale: 1,
            },
        ));
    }
    Ok(Sheet { sections })
}
