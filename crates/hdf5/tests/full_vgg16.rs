//! The full-size check: Keras' `VGG16(weights=None)` saved in both layouts.
//!
//! Make the files (about 530 MiB each, not committed) and run:
//!
//! ```text
//! ~/venv-tf/bin/python -c "import keras, tf_keras; \
//!   keras.applications.VGG16(weights=None).save_weights('/tmp/vgg16_full.weights.h5'); \
//!   tf_keras.applications.VGG16(weights=None).save_weights('/tmp/vgg16_full_legacy.h5')"
//! STRATA_VGG16_WEIGHTS_H5=/tmp/vgg16_full.weights.h5 \
//! STRATA_VGG16_LEGACY_H5=/tmp/vgg16_full_legacy.h5 \
//!   cargo test -p strata-hdf5 --release --test full_vgg16 -- --ignored --nocapture
//! ```

use strata_hdf5::keras::{self, Format};

/// VGG16's weighted layers and kernel shapes (Keras order, HWIO / in-out).
const LAYERS: [(&str, &[usize]); 16] = [
    ("block1_conv1", &[3, 3, 3, 64]),
    ("block1_conv2", &[3, 3, 64, 64]),
    ("block2_conv1", &[3, 3, 64, 128]),
    ("block2_conv2", &[3, 3, 128, 128]),
    ("block3_conv1", &[3, 3, 128, 256]),
    ("block3_conv2", &[3, 3, 256, 256]),
    ("block3_conv3", &[3, 3, 256, 256]),
    ("block4_conv1", &[3, 3, 256, 512]),
    ("block4_conv2", &[3, 3, 512, 512]),
    ("block4_conv3", &[3, 3, 512, 512]),
    ("block5_conv1", &[3, 3, 512, 512]),
    ("block5_conv2", &[3, 3, 512, 512]),
    ("block5_conv3", &[3, 3, 512, 512]),
    ("fc1", &[25088, 4096]),
    ("fc2", &[4096, 4096]),
    ("predictions", &[4096, 1000]),
];

fn check(var: &str, format: Format) {
    let Ok(path) = std::env::var(var) else {
        eprintln!("skipped: set {var} to a VGG16 weight file (see this file's header)");
        return;
    };
    let start = std::time::Instant::now();
    let w = keras::read(&path).unwrap();
    eprintln!("{path}: read in {:?}", start.elapsed());
    assert_eq!(w.format, format);
    let got: Vec<_> = w.with_weights().collect();
    assert_eq!(got.len(), LAYERS.len());
    let mut params = 0;
    for (layer, (name, kernel)) in got.iter().zip(LAYERS) {
        assert_eq!(layer.name, name);
        assert_eq!(layer.weights.len(), 2, "{name}");
        assert_eq!(layer.weights[0].shape, kernel, "{name}");
        assert_eq!(layer.weights[1].shape, [kernel[kernel.len() - 1]], "{name}");
        // Glorot-uniform kernels are not all zero; biases start at zero.
        assert!(layer.weights[0].values.iter().any(|&v| v != 0.0), "{name}");
        assert!(layer.weights[1].values.iter().all(|&v| v == 0.0), "{name}");
        params += layer.weights.iter().map(|w| w.values.len()).sum::<usize>();
    }
    assert_eq!(params, 138_357_544);
}

#[test]
#[ignore = "needs a full-size VGG16 file; see the header"]
fn full_vgg16_keras3() {
    check("STRATA_VGG16_WEIGHTS_H5", Format::Keras3);
}

#[test]
#[ignore = "needs a full-size VGG16 file; see the header"]
fn full_vgg16_legacy() {
    check("STRATA_VGG16_LEGACY_H5", Format::Legacy);
}
