//! The course model and how it is compiled (loss and optimiser).

use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, DropoutConfig, FlattenConfig, MaxPool2dConfig, Padding,
};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::Model;
use strata_layers::Sequential;
use strata_tensor::Element;

use crate::AppResult;

/// The shape of one input image: `[channels, height, width]`.
pub const INPUT_SHAPE: [usize; 3] = [3, 32, 32];

/// The model's loss. The network ends in softmax, so the loss takes probabilities; labels
/// are given as class indices (the same maths as categorical cross-entropy on one-hot
/// targets, Keras's `categorical_crossentropy`, probabilities clipped to `[1e-7, 1 − 1e-7]`).
pub const LOSS: Loss = Loss::SparseCategoricalCrossentropy { from_logits: false };

/// Whether the model's dropout layers drop (the course model) or pass everything through
/// (rates 0, for comparisons that need deterministic steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropout {
    /// Rates 0.25, 0.25 and 0.5, as the course model.
    On,
    /// Every rate 0.
    Off,
}

/// The course model (the Keras `cifar10_cnn` example): Conv2d 32 3×3 same relu, Conv2d 32
/// 3×3 relu, MaxPool 2, Dropout 0.25, Conv2d 64 3×3 same relu, Conv2d 64 3×3 relu,
/// MaxPool 2, Dropout 0.25, Flatten, Dense 512 relu, Dropout 0.5, Dense `classes` softmax,
/// on 32×32 RGB images: 1,250,858 parameters for 10 classes. (`T`: the app trains in
/// `f32`; `f64` serves comparisons.)
pub fn cifar_model<T: Element>(
    classes: usize,
    dropout: Dropout,
    seed: u64,
) -> AppResult<Sequential<T>> {
    let rate = |r: f64| if dropout == Dropout::On { r } else { 0.0 };
    let conv = |filters: usize| Conv2dConfig::new(filters, 3).activation(Activation::Relu);
    Ok(Sequential::builder(&INPUT_SHAPE)
        .seed(seed)
        .add(conv(32).padding(Padding::Same))
        .add(conv(32))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(rate(0.25)))
        .add(conv(64).padding(Padding::Same))
        .add(conv(64))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(rate(0.25)))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(512).activation(Activation::Relu))
        .add(DropoutConfig::new(rate(0.5)))
        .add(DenseConfig::new(classes).activation(Activation::Softmax))
        .build()?)
}

/// The network compiled with [`LOSS`] and Adam (Keras's defaults, ε 1e-7) at
/// `learning_rate`.
pub fn compile(network: Sequential<f32>, learning_rate: f64) -> AppResult<Model<f32>> {
    let adam = Adam::new(AdamConfig {
        learning_rate,
        ..AdamConfig::default()
    })?;
    Ok(Model::new(network, LOSS, adam))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_model_has_the_published_parameter_count_and_names() {
        let model = cifar_model::<f32>(10, Dropout::On, 0).unwrap();
        let count: usize = model
            .parameters()
            .iter()
            .map(|(_, v)| v.shape().iter().product::<usize>())
            .sum();
        assert_eq!(count, 1_250_858);
        let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "conv2d.weight");
        assert_eq!(names[8], "dense.weight");
        assert_eq!(names[11], "dense_1.bias");
        assert_eq!(model.output_shape(), [10]);
        assert_eq!(
            cifar_model::<f32>(100, Dropout::Off, 0)
                .unwrap()
                .output_shape(),
            [100]
        );
    }
}
