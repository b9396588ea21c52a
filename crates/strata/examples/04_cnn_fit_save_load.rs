//! A small CNN end to end: build it with a Keras-style summary, train it with `fit` on
//! tensors held in memory, evaluate, save to one safetensors file and load it back without
//! any code describing the model.
//!
//! `cargo run -p strata --release --example 04_cnn_fit_save_load`

use rand::rngs::StdRng;
use rand::SeedableRng;
use strata::layers::layer::{
    Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig,
};
use strata::layers::loss::Loss;
use strata::layers::optim::{Adam, AdamConfig};
use strata::layers::train::{FitConfig, Model, Validation, Verbosity};
use strata::layers::{Sequential, Targets};
use strata::tensor::Tensor;

/// 8×8 greyscale images of two classes: a bright left half (0) or a bright right half (1),
/// with noise.
fn two_class_images(n: usize, seed: u64) -> strata::Result<(Tensor<f32>, Vec<usize>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = Tensor::<f32>::rand_uniform(&[n, 1, 8, 8], 0.0, 0.3, &mut rng)?;
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let mut values = noise.to_vec();
    for (i, &label) in labels.iter().enumerate() {
        for y in 0..8 {
            for x in 0..8 {
                if (x < 4) == (label == 0) {
                    values[i * 64 + y * 8 + x] += 0.7;
                }
            }
        }
    }
    Ok((Tensor::from_vec(values, &[n, 1, 8, 8])?, labels))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let network = Sequential::<f32>::builder(&[1, 8, 8])
        .seed(7)
        .add(Conv2dConfig::new(4, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(2))
        .build()?;
    println!("{}", network.summary());

    let (x, y) = two_class_images(200, 1)?;
    let (x_test, y_test) = two_class_images(50, 2)?;
    let adam = Adam::new(AdamConfig {
        learning_rate: 0.01,
        ..AdamConfig::default()
    })?;
    let mut model = Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        adam,
    );
    let config = FitConfig {
        epochs: 5,
        batch_size: 20,
        validation: Validation::Split(0.2),
        verbosity: Verbosity::Silent,
        ..FitConfig::default()
    };
    let history = model.fit(&x, &Targets::Labels(y), &config, &mut [])?;
    for (epoch, stats) in history.epochs.iter().enumerate() {
        println!("epoch {}: loss {:.4}", epoch + 1, stats.loss);
    }
    let test = model.evaluate(&x_test, &Targets::Labels(y_test.clone()), 50)?;
    println!(
        "test loss {:.4}, accuracy {:.1}%",
        test.loss,
        100.0 * test.accuracy.unwrap_or(0.0)
    );

    // One file holds the architecture and the weights; loading needs no model code.
    let path = std::env::temp_dir().join(format!(
        "strata-example-04-{}.safetensors",
        std::process::id()
    ));
    model.network().save(&path)?;
    let loaded = Sequential::<f32>::load(&path)?;
    std::fs::remove_file(&path)?;
    let before = model.network().predict_batch(&x_test)?;
    let after = loaded.predict_batch(&x_test)?;
    assert_eq!(
        before.to_vec(),
        after.to_vec(),
        "a loaded model predicts bitwise as the saved one"
    );
    println!("saved, loaded, and the loaded model predicts identically");
    Ok(())
}
