//! A layer of your own inside `Sequential`: a learnable Swish activation (`x · σ(β·x)`, one
//! β per channel), trained with `fit`, saved, and loaded again by its registered name.
//!
//! `cargo run -p strata --example 08_custom_layer`

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use strata::autograd::Var;
use strata::layers::init::Initializer;
use strata::layers::layer::{
    register_layer, BuildContext, Conv2dConfig, CustomLayer, CustomLayerConfig, DenseConfig,
    FlattenConfig, MaxPool2dConfig,
};
use strata::layers::loss::Loss;
use strata::layers::optim::{Adam, AdamConfig};
use strata::layers::train::{FitConfig, Model, Verbosity};
use strata::layers::{ForwardContext, LayersError, Module, NamedVar, Sequential, Targets};
use strata::tensor::{Element, Tensor};

/// The layer's configuration: what the model file stores (as JSON) for this layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SwishConfig {
    /// β of every channel before training (1 gives SiLU).
    initial_beta: f64,
}

/// The built layer: β of `[C]`, broadcast over each channel's pixels.
struct Swish<T: Element> {
    channels: usize,
    beta: Var<T>,
}

impl<T: Element> Module<T> for Swish<T> {
    fn kind(&self) -> &'static str {
        "Swish"
    }

    fn forward(&self, x: &Var<T>, _ctx: &mut ForwardContext) -> strata::layers::Result<Var<T>> {
        let beta = self
            .beta
            .reshape(&[self.channels, 1, 1])?
            .broadcast_to(x.shape())?;
        Ok(x.mul(&x.mul(&beta)?.sigmoid())?)
    }

    fn output_shape(&self, input: &[usize]) -> strata::layers::Result<Vec<usize>> {
        match input {
            [c, _, _] if *c == self.channels => Ok(input.to_vec()),
            _ => Err(LayersError::config(
                "Swish",
                format!("expects [{}, H, W], found {input:?}", self.channels),
            )),
        }
    }

    fn parameters(&self) -> Vec<NamedVar<'_, T>> {
        vec![("beta", &self.beta)]
    }
}

impl CustomLayer for SwishConfig {
    const KIND: &'static str = "examples.Swish";
    const BASE_NAME: &'static str = "swish";

    fn build<T: Element>(
        &self,
        ctx: &mut BuildContext<'_>,
    ) -> strata::layers::Result<Box<dyn Module<T>>> {
        let channels = ctx.input_shape.first().copied().unwrap_or(0);
        let beta = ctx.parameter(
            "beta",
            &[channels],
            Some(Initializer::Constant(self.initial_beta)),
        )?;
        Ok(Box::new(Swish { channels, beta }))
    }
}

/// 8×8 images of two classes: a bright top half (0) or a bright bottom half (1), with noise.
fn two_class_images(n: usize, seed: u64) -> strata::Result<(Tensor<f32>, Vec<usize>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Tensor::<f32>::rand_uniform(&[n, 1, 8, 8], 0.0, 0.3, &mut rng)?.to_vec();
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    for (i, &label) in labels.iter().enumerate() {
        for pixel in 0..64 {
            if (pixel < 32) == (label == 0) {
                values[i * 64 + pixel] += 0.7;
            }
        }
    }
    Ok((Tensor::from_vec(values, &[n, 1, 8, 8])?, labels))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let network = Sequential::<f32>::builder(&[1, 8, 8])
        .seed(3)
        .add(Conv2dConfig::new(4, 3))
        .add(CustomLayerConfig::new(&SwishConfig { initial_beta: 1.0 })?)
        .add(MaxPool2dConfig::new(2))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(2))
        .build()?;
    println!("{}", network.summary());

    let (x, y) = two_class_images(120, 1)?;
    let mut model = Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        Adam::new(AdamConfig {
            learning_rate: 0.02,
            ..AdamConfig::default()
        })?,
    );
    let config = FitConfig {
        epochs: 4,
        batch_size: 20,
        verbosity: Verbosity::Silent,
        ..FitConfig::default()
    };
    let history = model.fit(&x, &Targets::Labels(y.clone()), &config, &mut [])?;
    let last = history.epochs.last().ok_or("no epoch ran")?;
    println!(
        "after {} epochs: loss {:.4}, accuracy {:.1}%",
        history.epochs.len(),
        last.loss,
        100.0 * last.accuracy.unwrap_or(0.0)
    );
    println!(
        "learned β per channel: {:?}",
        model.network().state_dict()["swish.beta"].to_vec()
    );

    // The file names the layer type "examples.Swish"; a program that loads it registers the
    // type first (building with CustomLayerConfig::new above already did, here).
    register_layer::<SwishConfig>()?;
    let path = std::env::temp_dir().join(format!(
        "strata-example-08-{}.safetensors",
        std::process::id()
    ));
    model.network().save(&path)?;
    let loaded = Sequential::<f32>::load(&path)?;
    std::fs::remove_file(&path)?;
    let same = loaded.predict_batch(&x)?.to_vec() == model.network().predict_batch(&x)?.to_vec();
    println!(
        "loaded {:?}: identical predictions: {same}",
        loaded.layer_names()
    );
    if !same {
        return Err("the loaded model predicts differently".into());
    }
    Ok(())
}
