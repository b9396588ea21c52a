//! The models of the course material build, and their summaries show Keras's parameter
//! counts.

use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, DropoutConfig, FlattenConfig, MaxPool2dConfig, Padding,
};
use strata_layers::Sequential;

fn relu_conv(filters: usize, kernel: usize) -> Conv2dConfig {
    Conv2dConfig::new(filters, kernel).activation(Activation::Relu)
}

#[test]
fn mnist_model_has_93_322_parameters() {
    let model = Sequential::<f32>::builder(&[1, 28, 28])
        .add(relu_conv(32, 3))
        .add(MaxPool2dConfig::new(2))
        .add(relu_conv(64, 3))
        .add(MaxPool2dConfig::new(2))
        .add(relu_conv(64, 3))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(64).activation(Activation::Relu))
        .add(DenseConfig::new(10))
        .build()
        .unwrap();
    let summary = model.summary();
    assert_eq!(summary.total_params(), 93_322);
    assert_eq!(summary.trainable_params(), 93_322);
    let text = summary.to_string();
    assert!(text.contains("Total params: 93,322"), "{text}");
    assert!(text.contains(" conv2d (Conv2D)"), "{text}");
    assert!(text.contains(" conv2d_1 (Conv2D)"), "{text}");
    assert!(text.contains(" max_pooling2d_1 (MaxPooling2D)"), "{text}");
    assert!(text.contains("(None, 64, 3, 3)"), "{text}");
    assert!(text.contains(" dense_1 (Dense)"), "{text}");
    let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "conv2d.weight");
    assert_eq!(names.last().map(String::as_str), Some("dense_1.bias"));
}

#[test]
fn cifar10_model_has_1_250_858_parameters() {
    let model = Sequential::<f32>::builder(&[3, 32, 32])
        .add(relu_conv(32, 3).padding(Padding::Same))
        .add(relu_conv(32, 3))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.25))
        .add(relu_conv(64, 3).padding(Padding::Same))
        .add(relu_conv(64, 3))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.25))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(512).activation(Activation::Relu))
        .add(DropoutConfig::new(0.5))
        .add(DenseConfig::new(10).activation(Activation::Softmax))
        .build()
        .unwrap();
    assert_eq!(model.summary().total_params(), 1_250_858);
    assert_eq!(model.output_shape(), &[10]);
}

#[test]
fn shapes_model_has_115_651_parameters() {
    let model = Sequential::<f32>::builder(&[3, 128, 128])
        .add(relu_conv(32, 6))
        .add(MaxPool2dConfig::new(2))
        .add(relu_conv(32, 6))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.2))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3).activation(Activation::Softmax))
        .build()
        .unwrap();
    assert_eq!(model.summary().total_params(), 115_651);
}

#[test]
fn vgg16_has_138_357_544_parameters() {
    let mut builder = Sequential::<f32>::builder(&[3, 224, 224]).name("vgg16");
    for block in [
        &[64, 64][..],
        &[128, 128],
        &[256, 256, 256],
        &[512, 512, 512],
        &[512, 512, 512],
    ] {
        for &filters in block {
            builder = builder.add(relu_conv(filters, 3).padding(Padding::Same));
        }
        builder = builder.add(MaxPool2dConfig::new(2));
    }
    let model = builder
        .add(FlattenConfig::new())
        .add(DenseConfig::new(4096).activation(Activation::Relu))
        .add(DropoutConfig::new(0.5))
        .add(DenseConfig::new(4096).activation(Activation::Relu))
        .add(DropoutConfig::new(0.5))
        .add(DenseConfig::new(1000).activation(Activation::Softmax))
        .build()
        .unwrap();
    let summary = model.summary();
    assert_eq!(summary.total_params(), 138_357_544);
    assert!(summary.to_string().contains("Total params: 138,357,544"));
    assert_eq!(model.layer_names()[0], "conv2d");
    assert_eq!(model.layer_names()[12], "conv2d_9");
}

#[test]
fn shape_errors_name_the_layer() {
    let err = Sequential::<f32>::builder(&[1, 4, 4])
        .add(Conv2dConfig::new(8, 5))
        .build()
        .expect_err("a 5×5 kernel does not fit a 4×4 image");
    let text = err.to_string();
    assert!(text.contains("layer conv2d"), "{text}");
    let err = Sequential::<f32>::builder(&[8])
        .add(Conv2dConfig::new(8, 3))
        .build()
        .expect_err("Conv2d needs images");
    assert!(err.to_string().contains("[C, H, W]"), "{err}");
    let duplicate = Sequential::<f32>::builder(&[8])
        .add_named("head", DenseConfig::new(2))
        .add_named("head", DenseConfig::new(2))
        .build();
    assert!(duplicate.is_err());
}
