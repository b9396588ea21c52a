use super::*;
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> Value {
    let text =
        std::fs::read_to_string(fixture("expected.json")).expect("expected.json is committed");
    serde_json::from_str(&text).expect("expected.json parses")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// Compares a weight with its summary in expected.json.
fn check(w: &Weight, e: &Value) {
    let shape: Vec<usize> = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(w.shape, shape, "{}", w.path);
    assert_eq!(
        w.values.len(),
        shape.iter().product::<usize>(),
        "{}",
        w.path
    );
    let sum: f64 = w.values.iter().map(|&v| f64::from(v)).sum();
    let sum_abs: f64 = w.values.iter().map(|&v| f64::from(v).abs()).sum();
    assert!(
        (sum - e["sum"].as_f64().unwrap()).abs() < 1e-4,
        "{} sum {sum}",
        w.path
    );
    assert!(
        (sum_abs - e["sum_abs"].as_f64().unwrap()).abs() < 1e-4,
        "{} sum_abs {sum_abs}",
        w.path
    );
    let n = w.values.len();
    let first = floats(&e["first"]);
    let last = floats(&e["last"]);
    for (i, &x) in first.iter().enumerate() {
        assert_eq!(w.values[i], x as f32, "{} first[{i}]", w.path);
    }
    for (i, &x) in last.iter().enumerate() {
        assert_eq!(
            w.values[n - last.len() + i],
            x as f32,
            "{} last[{i}]",
            w.path
        );
    }
}

fn check_vgg(weights: &Weights, legacy_names: bool) {
    let e = expected();
    let layers = e["vgg_tiny"]["layers"].as_array().unwrap();
    let got: Vec<&Layer> = weights.with_weights().collect();
    let names: Vec<&str> = got.iter().map(|l| l.name.as_str()).collect();
    let want: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, want);
    for (layer, el) in got.iter().zip(layers) {
        let ew = el["weights"].as_array().unwrap();
        assert_eq!(layer.weights.len(), ew.len(), "{}", layer.name);
        for (i, (w, e)) in layer.weights.iter().zip(ew).enumerate() {
            if legacy_names {
                assert_eq!(w.name, e["name"].as_str().unwrap());
            } else {
                assert_eq!(w.name, i.to_string());
            }
            assert_eq!(
                w.datatype,
                Datatype::Float {
                    size: 4,
                    big_endian: false
                }
            );
            check(w, e);
        }
    }
}

#[test]
fn legacy_save_weights_reads_every_layer_in_order() {
    let w = read(fixture("vgg_tiny_legacy.h5")).unwrap();
    assert_eq!(w.format, Format::Legacy);
    check_vgg(&w, true);
    // Weightless layers are listed too, in layer_names order.
    let all: Vec<&str> = w.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        &all[..4],
        ["input_1", "block1_conv1", "block1_conv2", "block1_pool"]
    );
    assert_eq!(w.layer("block1_conv1").unwrap().path, "/block1_conv1");
    assert_eq!(
        w.layer("block1_conv1").unwrap().weights[0].path,
        "/block1_conv1/block1_conv1/kernel:0"
    );
}

#[test]
fn legacy_full_model_reads_model_weights() {
    let w = read(fixture("vgg_tiny_full_legacy.h5")).unwrap();
    assert_eq!(w.format, Format::Legacy);
    check_vgg(&w, true);
    assert_eq!(w.layer("fc1").unwrap().path, "/model_weights/fc1");
}

#[test]
fn keras3_weights_read_in_model_order_with_layer_names() {
    let w = read(fixture("vgg_tiny.weights.h5")).unwrap();
    assert_eq!(w.format, Format::Keras3);
    check_vgg(&w, false);
    assert_eq!(w.layer("block1_conv2").unwrap().path, "/layers/conv2d_1");
    let all: Vec<&str> = w.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        &all[..4],
        ["input_1", "block1_conv1", "block1_conv2", "block1_pool"]
    );
}

#[test]
fn keras3_nested_layers_follow_their_parent() {
    let w = read(fixture("nested.weights.h5")).unwrap();
    let e = expected();
    let want = e["nested"]["layers"].as_array().unwrap();
    let names: Vec<&str> = w.with_weights().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["inner_dense", "inner_bn", "head"]);
    for (layer, el) in w.with_weights().zip(want) {
        let ew = el["weights"].as_array().unwrap();
        assert_eq!(layer.weights.len(), ew.len());
        for (wt, e) in layer.weights.iter().zip(ew) {
            check(wt, e);
            let want: Vec<f32> = floats(&e["values"]).into_iter().map(|x| x as f32).collect();
            assert_eq!(wt.values, want);
        }
    }
    assert_eq!(
        w.layer("inner_bn").unwrap().path,
        "/layers/sequential/layers/batch_normalization"
    );
}

#[test]
fn split_layer_names_are_joined() {
    let w = read(fixture("split_names_legacy.h5")).unwrap();
    let names: Vec<&str> = w.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "layer_000",
            "layer_001",
            "layer_002",
            "layer_003",
            "layer_004",
            "layer_005"
        ]
    );
    for (i, l) in w.layers.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(l.weights.len(), 1);
            assert_eq!(l.weights[0].shape, [2, 3]);
            assert!(l.weights[0].values.iter().all(|&v| v == i as f32));
        } else {
            assert!(l.weights.is_empty());
        }
    }
}

#[test]
fn a_file_of_neither_layout_is_named_in_the_error() {
    let f = File::open(fixture("edge.h5")).unwrap();
    let err = read_file(&f).unwrap_err().to_string();
    assert!(
        err.contains("edge.h5") && err.contains("layer_names") && err.contains("data"),
        "{err}"
    );
}

#[test]
fn a_missing_weight_dataset_names_its_path() {
    // Rewrite one weight name in the file's bytes so it points nowhere.
    let mut bytes = std::fs::read(fixture("split_names_legacy.h5")).unwrap();
    let needle = b"layer_002/kernel:0";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + 10..at + 16].copy_from_slice(b"kernex");
    let f = File::from_bytes("patched.h5", bytes).unwrap();
    let err = read_file(&f).unwrap_err().to_string();
    assert!(
        err.contains("patched.h5") && err.contains("kernex"),
        "{err}"
    );
}
