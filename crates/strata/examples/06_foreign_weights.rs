//! Loading weights written by another framework: a safetensors file with PyTorch's names
//! for an `nn.Sequential(Conv2d, ReLU, Flatten, Linear)` (here written by this program, as
//! `safetensors.torch.save_file(model.state_dict(), path)` would), read by content with
//! `strata::import::read_weights` (`.pth`, safetensors in f32/f16/bf16, Keras HDF5), renamed
//! to the Strata model's keys and loaded — every shape checked, errors naming the key.
//!
//! `cargo run -p strata --example 06_foreign_weights`

use std::collections::BTreeMap;

use strata::layers::io::save_tensors;
use strata::layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig};
use strata::layers::Sequential;
use strata::tensor::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The file another framework would have written: PyTorch's `index.parameter` keys.
    let path = std::env::temp_dir().join(format!(
        "strata-example-06-{}.safetensors",
        std::process::id()
    ));
    let ramp = |n: usize, shape: &[usize]| {
        Tensor::<f32>::from_vec((0..n).map(|i| i as f32 / n as f32 - 0.5).collect(), shape)
    };
    let torch_state = BTreeMap::from([
        ("0.weight".to_string(), ramp(2 * 3 * 3, &[2, 1, 3, 3])?),
        ("0.bias".to_string(), ramp(2, &[2])?),
        ("3.weight".to_string(), ramp(3 * 8, &[3, 8])?),
        ("3.bias".to_string(), ramp(3, &[3])?),
    ]);
    save_tensors(&path, &torch_state, None)?;

    // The same architecture in Strata: the ReLU is the convolution's activation, and a
    // Linear's weight is [out, in] in both.
    let network = Sequential::<f32>::builder(&[1, 4, 4])
        .add(Conv2dConfig::new(2, 3).activation(Activation::Relu))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3))
        .build()?;
    println!(
        "Strata keys: {:?}",
        network.state_dict().keys().collect::<Vec<_>>()
    );

    let foreign = strata::import::read_weights(&path)?;
    std::fs::remove_file(&path)?;
    let rename = |key: &str| -> Option<String> {
        let (index, what) = key.split_once('.')?;
        let layer = match index {
            "0" => "conv2d",
            "3" => "dense",
            _ => return None,
        };
        Some(format!("{layer}.{what}"))
    };
    let mut renamed = BTreeMap::new();
    for (key, tensor) in foreign {
        let name = rename(&key).ok_or_else(|| format!("no Strata layer for the key {key}"))?;
        renamed.insert(name, tensor);
    }
    network.load_state_dict(renamed.clone(), &path.display().to_string())?;
    let y = network.predict_batch(&Tensor::ones(&[1, 1, 4, 4]))?;
    println!("output with the imported weights: {:?}", y.to_vec());

    // A tensor of the wrong shape is refused, naming the key and both shapes.
    renamed.insert("dense.weight".into(), Tensor::zeros(&[8, 3]));
    let err = network
        .load_state_dict(renamed, "edited weights")
        .expect_err("a transposed weight must not load");
    println!("as expected: {err}");
    Ok(())
}
