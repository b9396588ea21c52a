//! Looking inside a network: every layer's output on one input (as printing
//! `output.size()` after each stage of a PyTorch model), and chosen layers' feature maps
//! beside the prediction (as a Keras `Model(inputs, [layer.output ...])`).
//!
//! `cargo run -p strata --example 07_activations`

use strata::data::{Dataset, Shapes};
use strata::layers::layer::{
    Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig,
};
use strata::layers::{ForwardContext, Sequential};
use strata::tensor::Tensor;

fn main() -> strata::Result<()> {
    let network = Sequential::<f32>::builder(&[3, 128, 128])
        .seed(1)
        .add(Conv2dConfig::new(8, 5).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(4))
        .add(Conv2dConfig::new(16, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(4))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3).activation(Activation::Softmax))
        .build()?;

    // One generated 128×128 image, as a batch of one.
    let shapes = Shapes::new(1, 9);
    let mut pixels = vec![0.0; 3 * 128 * 128];
    let label = shapes.read(0, &mut pixels)?;
    println!("a generated {}", shapes.class_names()[label]);
    let image = Tensor::from_vec(pixels, &[1, 3, 128, 128])?;

    for (name, output) in network.forward_stages(&image, &mut ForwardContext::eval())? {
        let values = output.to_vec();
        let active = values.iter().filter(|&&v| v > 0.0).count();
        println!(
            "{name:>16}: {:?}, {active} of {} values positive",
            output.shape(),
            values.len()
        );
    }

    let (probabilities, maps) =
        network.predict_with_activations(&image, &["conv2d", "conv2d_1"])?;
    println!("prediction {:?}", probabilities.to_vec());
    for (name, map) in ["conv2d", "conv2d_1"].iter().zip(&maps) {
        // The strongest response of each feature map.
        let per_map = map.max_axes(&[2, 3], false)?;
        println!("{name}: strongest response per map {:?}", per_map.to_vec());
    }
    Ok(())
}
