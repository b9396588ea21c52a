//! Parity with Keras: logits of the small VGG-16-shaped network of `parity.rs` built with Keras
//! (channels last, seeded random weights) and saved in both HDF5 layouts (fixtures from
//! `fixtures/make_keras_fixtures.py`). The final feature map is 2×2, so this also checks that
//! `fc1`'s rows are moved from Keras's channels-last flatten order to Strata's.
//!
//! Tolerance: `|ours − keras| ≤ 1e-4 · max|keras|` for every logit, and the top-5 identical.

use std::path::{Path, PathBuf};

use strata_import::{read_weights, WeightFormat};
use vgg16::model::load_vgg16;
use vgg16::predict::{top_k, Preprocess};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn keras_logits(key: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(fixture("vgg_small_keras_logits.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn top5(logits: &[f32]) -> Vec<usize> {
    top_k(logits, 5, &[]).iter().map(|c| c.index).collect()
}

fn check(file: &str, key: &str) {
    let path = fixture(file);
    assert_eq!(WeightFormat::of_file(&path).unwrap(), WeightFormat::KerasH5);
    assert_eq!(
        Preprocess::for_format(WeightFormat::KerasH5),
        Preprocess::Caffe
    );
    let model = load_vgg16(&path).unwrap();
    let input = read_weights(&fixture("vgg_small_input.safetensors"))
        .unwrap()
        .remove("input")
        .unwrap();
    let ours = model.predict_batch(&input).unwrap().to_vec();
    assert_matches_keras(&ours, &keras_logits(key), file);
}

/// `|ours − keras| ≤ 1e-4 · max|keras|` for every logit and the same top-5; returns the
/// largest difference and the scale.
fn assert_matches_keras(ours: &[f32], keras: &[f32], what: &str) -> (f32, f32) {
    assert_eq!(ours.len(), keras.len(), "{what}");
    let scale = keras.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(keras)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{what}: max |ours - keras| = {worst} > 1e-4 × {scale}"
    );
    assert_eq!(top5(ours), top5(keras), "{what}: top-5 differ");
    (worst, scale)
}

#[test]
fn legacy_keras_h5_matches_keras() {
    check("vgg_small_keras_legacy.h5", "legacy");
}

#[test]
fn keras3_weights_h5_matches_keras() {
    check("vgg_small_keras.weights.h5", "keras3");
}

/// The full-size Keras VGG16 (`weights=None`, seeded random weights) in both layouts, on the
/// shared photos, written by `make_keras_fixtures.py --full DIR`;
/// `KERAS_VGG16_FULL_DIR=DIR cargo test -p vgg16 --release -- --ignored`.
#[test]
#[ignore = "needs the full-size files: run make_keras_fixtures.py --full and set KERAS_VGG16_FULL_DIR"]
fn full_keras_vgg16_matches_keras_on_the_shared_photos() {
    let Some(dir) = std::env::var_os("KERAS_VGG16_FULL_DIR").map(PathBuf::from) else {
        panic!("set KERAS_VGG16_FULL_DIR to the folder make_keras_fixtures.py --full wrote");
    };
    let text = std::fs::read_to_string(dir.join("logits.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let inputs = read_weights(&dir.join("inputs.safetensors")).unwrap();
    assert!(!inputs.is_empty());
    for file in ["vgg16_legacy.h5", "vgg16.weights.h5"] {
        let model = load_vgg16(&dir.join(file)).unwrap();
        assert_eq!(model.summary().total_params(), 138_357_544);
        for (name, x) in &inputs {
            let ours = model.predict_batch(x).unwrap().to_vec();
            let keras: Vec<f32> = reference[name]["logits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let (worst, scale) = assert_matches_keras(&ours, &keras, &format!("{file} on {name}"));
            eprintln!(
                "{file} {name}: top-5 {:?} as Keras, max diff {worst:.2e} of {scale:.2e}",
                top5(&ours)
            );
        }
    }
}
