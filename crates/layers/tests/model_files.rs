//! Model files are checked before they are trusted: an architecture edited to need more
//! weights than the file holds fails with a clear error before anything large is allocated.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig};
use strata_layers::Sequential;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-model-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn saved_model(path: &Path) {
    let model = Sequential::<f32>::builder(&[1, 12, 12])
        .add(Conv2dConfig::new(4, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3))
        .build()
        .unwrap();
    model.save(path).unwrap();
}

/// Rewrites the architecture JSON inside a saved file's header, keeping the tensors.
fn edit_architecture(from: &Path, to: &Path, edit: impl Fn(&mut Value)) {
    let bytes = std::fs::read(from).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let text = header["__metadata__"]["architecture"].as_str().unwrap();
    let mut architecture: Value = serde_json::from_str(text).unwrap();
    edit(&mut architecture);
    header["__metadata__"]["architecture"] = Value::String(architecture.to_string());
    let mut json = serde_json::to_vec(&header).unwrap();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    std::fs::write(to, out).unwrap();
}

fn load_error(path: &Path) -> String {
    let started = Instant::now();
    let err = Sequential::<f32>::load(path).expect_err("an edited architecture must not load");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "rejecting {} took {:?}",
        path.display(),
        started.elapsed()
    );
    err.to_string()
}

#[test]
fn an_edited_kernel_size_fails_before_allocating() {
    let good = scratch("good.safetensors");
    saved_model(&good);
    let bad = scratch("kernel.safetensors");
    // 2^31 × 3 kernel: 4 filters of it would be 96 GB of f32.
    edit_architecture(&good, &bad, |a| {
        a["layers"][0]["config"]["kernel_size"] = serde_json::json!([2_147_483_648u64, 3]);
    });
    let err = load_error(&bad);
    assert!(
        err.contains("kernel.safetensors") && err.contains("conv2d") && err.contains("weight"),
        "{err}"
    );
}

#[test]
fn edits_that_grow_any_layer_fail_with_the_layer_named() {
    let good = scratch("good2.safetensors");
    saved_model(&good);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "filters",
            Box::new(|a: &mut Value| a["layers"][0]["config"]["filters"] = 1_000_000_000.into()),
        ),
        (
            "units",
            Box::new(|a: &mut Value| a["layers"][3]["config"]["units"] = 4_000_000_000u64.into()),
        ),
        (
            "input",
            Box::new(|a: &mut Value| {
                a["input_shape"] = serde_json::json!([1, 4_000_000_000u64, 4_000_000_000u64])
            }),
        ),
        (
            "overflow",
            Box::new(|a: &mut Value| {
                a["input_shape"] = serde_json::json!([u64::MAX, u64::MAX, u64::MAX])
            }),
        ),
    ];
    for (name, edit) in cases {
        let bad = scratch(&format!("{name}.safetensors"));
        edit_architecture(&good, &bad, edit);
        let err = load_error(&bad);
        assert!(
            err.contains(&format!("{name}.safetensors")),
            "{name}: {err}"
        );
    }
    // The untouched file still loads.
    Sequential::<f32>::load(&good).unwrap();
}

#[test]
fn saving_a_model_twice_gives_identical_bytes() {
    let (a, b) = (
        scratch("twice_a.safetensors"),
        scratch("twice_b.safetensors"),
    );
    for _ in 0..3 {
        // Two builds of the same architecture and seed, each saved: the same bytes, and a
        // model loaded and saved again does not change them either.
        saved_model(&a);
        saved_model(&b);
        let first = std::fs::read(&a).unwrap();
        assert_eq!(first, std::fs::read(&b).unwrap());
        let mut named = Sequential::<f32>::load(&a).unwrap();
        named.save(&b).unwrap();
        assert_eq!(first, std::fs::read(&b).unwrap());
        named
            .set_class_names(vec!["x".into(), "y".into(), "z".into()])
            .unwrap();
        named.save(&a).unwrap();
        named.save(&b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }
}

#[test]
fn an_edit_that_keeps_the_total_but_changes_a_shape_names_the_key_and_both_shapes() {
    let good = scratch("good3.safetensors");
    saved_model(&good);
    let bad = scratch("reshaped.safetensors");
    // A 1×9 kernel holds as many weights as the 3×3 one, so the file's total still fits;
    // the stored [4, 1, 3, 3] tensor must be caught before the model is built.
    edit_architecture(&good, &bad, |a| {
        a["layers"][0]["config"]["kernel_size"] = serde_json::json!([1, 9]);
    });
    let err = load_error(&bad);
    assert!(
        err.contains("reshaped.safetensors")
            && err.contains("conv2d.weight")
            && err.contains("[4, 1, 1, 9]")
            && err.contains("[4, 1, 3, 3]"),
        "{err}"
    );
}

#[test]
fn the_expected_state_of_an_architecture_lists_every_stored_tensor() {
    let path = scratch("good4.safetensors");
    saved_model(&path);
    let model = Sequential::<f32>::load(&path).unwrap();
    let expected = Sequential::<f32>::expected_state(model.architecture(), usize::MAX).unwrap();
    let stored: Vec<(String, Vec<usize>)> = model
        .state_dict()
        .into_iter()
        .map(|(name, t)| (name, t.shape().to_vec()))
        .collect();
    let mut sorted = expected.clone();
    sorted.sort();
    let mut stored_sorted = stored;
    stored_sorted.sort();
    assert_eq!(sorted, stored_sorted);
}
