//! VGG-16 parameter names: torchvision's and timm's state-dict keys mapped to the names of
//! Strata's VGG-16 (Keras's layer names: `block1_conv1` … `block5_conv3`, `fc1`, `fc2`,
//! `predictions`, each with `.weight` and `.bias`).
//!
//! - torchvision (`torchvision.models.vgg16`): `features.N` for the 13 convolutions
//!   (N = 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) and `classifier.0`, `.3`, `.6`
//!   for the dense layers, weights `[out, in]` as Strata's.
//! - timm (`timm.models.vgg16`): the same `features.N`, then `pre_logits.fc1` and
//!   `pre_logits.fc2`, which are *convolutions* (`[4096, 512, 7, 7]` and
//!   `[4096, 4096, 1, 1]`, timm's `ConvMlp`), and `head.fc`. A 7×7 convolution over the
//!   7×7 feature map is the dense layer on its `C, H, W` flattening, so the kernels are
//!   reshaped to `[out, C·H·W]` with no reordering.

use strata_tensor::Tensor;

use crate::error::{ImportError, Result};
use crate::keras::{conv_kernel_from_hwio, dense_kernel_from_keras};
use crate::keras_h5::variable_role;
use crate::NamedTensors;

/// The 13 convolution layers of VGG-16, in order.
pub const VGG16_CONV_LAYERS: [&str; 13] = [
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
];

/// The 3 dense layers of VGG-16, in order.
pub const VGG16_DENSE_LAYERS: [&str; 3] = ["fc1", "fc2", "predictions"];

/// The index of each convolution in torchvision's and timm's `features` sequence.
const FEATURE_INDEX: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

/// Prefixes that wrappers add to keys (`nn.DataParallel`, checkpoints holding a state dict).
const WRAPPER_PREFIXES: [&str; 3] = ["module.", "state_dict.", "model."];

/// Which library's names a VGG-16 state dict uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameScheme {
    /// torchvision's `features.N` / `classifier.N`.
    Torchvision,
    /// timm's `features.N` / `pre_logits.fc1`, `pre_logits.fc2` / `head.fc`.
    Timm,
    /// Strata's own names (`block1_conv1.weight`, …).
    Strata,
    /// Keras's `VGG16` layer names with `layer/variable` keys as [`crate::read_keras_h5`]
    /// gives them (`block1_conv1/kernel`, HWIO kernels, `[in, out]` dense kernels).
    Keras,
}

fn strip(key: &str) -> &str {
    let mut k = key;
    while let Some(rest) = WRAPPER_PREFIXES.iter().find_map(|p| k.strip_prefix(p)) {
        k = rest;
    }
    k
}

/// The scheme of a state dict's keys, if it is one of [`NameScheme`] (Keras's `layer/` keys
/// are told by their slash; timm's `pre_logits` or
/// `head.fc` decide over torchvision's `features`, which both use).
pub fn detect_scheme(tensors: &NamedTensors) -> Option<NameScheme> {
    let has = |p: &str| tensors.keys().any(|key| strip(key).starts_with(p));
    let keras = tensors.keys().any(|key| {
        key.split_once('/').is_some_and(|(layer, _)| {
            VGG16_CONV_LAYERS.contains(&layer) || VGG16_DENSE_LAYERS.contains(&layer)
        })
    });
    if keras {
        Some(NameScheme::Keras)
    } else if has("block1_conv1.") || has("predictions.") {
        Some(NameScheme::Strata)
    } else if has("pre_logits.") || has("head.fc.") {
        Some(NameScheme::Timm)
    } else if has("classifier.") || has("features.") {
        Some(NameScheme::Torchvision)
    } else {
        None
    }
}

/// The Strata layer of a source key's module path (`features.5` → `block2_conv1`).
fn strata_layer(scheme: NameScheme, module: &str) -> Option<&'static str> {
    if let Some(i) = module.strip_prefix("features.") {
        let i: usize = i.parse().ok()?;
        return FEATURE_INDEX
            .iter()
            .position(|&f| f == i)
            .map(|p| VGG16_CONV_LAYERS[p]);
    }
    let dense = match (scheme, module) {
        (NameScheme::Torchvision, "classifier.0") | (NameScheme::Timm, "pre_logits.fc1") => 0,
        (NameScheme::Torchvision, "classifier.3") | (NameScheme::Timm, "pre_logits.fc2") => 1,
        (NameScheme::Torchvision, "classifier.6") | (NameScheme::Timm, "head.fc") => 2,
        _ => return None,
    };
    Some(VGG16_DENSE_LAYERS[dense])
}

/// Renames a torchvision, timm, Keras or Strata VGG-16 state dict to Strata's names (the
/// scheme is detected), reshaping timm's convolutional `pre_logits` kernels to dense weights
/// and converting Keras's layouts (HWIO kernels to OIHW, dense kernels transposed, `fc1`'s
/// inputs moved from channels-last to channels-first flatten order). A key that belongs to
/// no VGG-16 parameter is an error naming it and `source`.
///
/// ```
/// use strata_import::{vgg16_to_strata, NamedTensors};
/// use strata_tensor::Tensor;
///
/// let mut sd = NamedTensors::new();
/// sd.insert("features.0.weight".into(), Tensor::zeros(&[64, 3, 3, 3]));
/// sd.insert("classifier.0.bias".into(), Tensor::zeros(&[4096]));
/// let renamed = vgg16_to_strata(sd, "vgg16.pth")?;
/// assert!(renamed.contains_key("block1_conv1.weight") && renamed.contains_key("fc1.bias"));
/// # Ok::<(), strata_import::ImportError>(())
/// ```
pub fn vgg16_to_strata(tensors: NamedTensors, source: &str) -> Result<NamedTensors> {
    let scheme = detect_scheme(&tensors).ok_or_else(|| ImportError::Mapping {
        source_name: source.to_string(),
        message: format!(
            "not a VGG-16 state dict of torchvision, timm, Keras or Strata (no features., classifier., pre_logits., head.fc., block1_conv1/ or block1_conv1. key among {} keys)",
            tensors.len()
        ),
    })?;
    if scheme == NameScheme::Keras {
        return keras_vgg16_to_strata(tensors, source);
    }
    let mut out = NamedTensors::new();
    for (key, tensor) in tensors {
        let stripped = strip(&key);
        let (module, param) = stripped.rsplit_once('.').unwrap_or((stripped, ""));
        let layer = if scheme == NameScheme::Strata {
            VGG16_CONV_LAYERS
                .iter()
                .chain(&VGG16_DENSE_LAYERS)
                .find(|&&l| l == module)
                .copied()
        } else {
            strata_layer(scheme, module)
        };
        let (Some(layer), "weight" | "bias") = (layer, param) else {
            return Err(ImportError::Mapping {
                source_name: source.to_string(),
                message: format!(
                    "key {key} (shape {:?}) is no VGG-16 parameter in {scheme:?} names",
                    tensor.shape()
                ),
            });
        };
        let tensor =
            if scheme == NameScheme::Timm && param == "weight" && module.starts_with("pre_logits.")
            {
                flatten_conv_kernel(tensor, &key, source)?
            } else {
                tensor
            };
        let name = format!("{layer}.{param}");
        if out.insert(name.clone(), tensor).is_some() {
            return Err(ImportError::Mapping {
                source_name: source.to_string(),
                message: format!("two keys map to {name} (the second is {key})"),
            });
        }
    }
    Ok(out)
}

/// Keras's VGG-16 (`layer/variable` keys) in Strata's names and layouts.
fn keras_vgg16_to_strata(tensors: NamedTensors, source: &str) -> Result<NamedTensors> {
    let mapping = |message: String| ImportError::Mapping {
        source_name: source.to_string(),
        message,
    };
    // fc1 follows the flatten of block5's [C, s, s] map; C is block5_conv3's filters.
    let last_conv = tensors
        .iter()
        .find(|(k, _)| {
            k.split_once('/')
                .is_some_and(|(l, v)| l == "block5_conv3" && variable_role(v) == Some("weight"))
        })
        .map(|(_, t)| t.shape().to_vec());
    let mut out = NamedTensors::new();
    for (key, tensor) in tensors {
        let known = key.split_once('/').and_then(|(layer, variable)| {
            let layer = VGG16_CONV_LAYERS
                .iter()
                .chain(&VGG16_DENSE_LAYERS)
                .find(|&&l| l == layer)?;
            Some((*layer, variable_role(variable)?))
        });
        let Some((layer, param)) = known else {
            return Err(mapping(format!(
                "key {key} (shape {:?}) is no VGG-16 parameter in Keras names",
                tensor.shape()
            )));
        };
        let tensor = match (param, tensor.shape().len()) {
            ("bias", _) => tensor,
            (_, 4) => conv_kernel_from_hwio(&tensor, &key)?,
            _ if layer == "fc1" => {
                let flattened = match (last_conv.as_deref(), tensor.shape()) {
                    (Some(&[_, _, _, c]), &[inputs, _]) if c > 0 => {
                        let side = ((inputs / c) as f64).sqrt().round() as usize;
                        Some([c, side, side])
                    }
                    _ => {
                        return Err(mapping(format!(
                            "key {key} (shape {:?}): fc1 needs block5_conv3's kernel [3, 3, in, C] to know the flattened map, found {last_conv:?}",
                            tensor.shape()
                        )))
                    }
                };
                dense_kernel_from_keras(&tensor, flattened, &key)?
            }
            _ => dense_kernel_from_keras(&tensor, None, &key)?,
        };
        let name = format!("{layer}.{param}");
        if out.insert(name.clone(), tensor).is_some() {
            return Err(mapping(format!(
                "two keys map to {name} (the second is {key})"
            )));
        }
    }
    Ok(out)
}

/// `[out, C, H, W]` → `[out, C·H·W]`.
fn flatten_conv_kernel(t: Tensor<f32>, key: &str, source: &str) -> Result<Tensor<f32>> {
    let &[out, ref rest @ ..] = t.shape() else {
        return Err(ImportError::Mapping {
            source_name: source.to_string(),
            message: format!(
                "key {key}: expected a convolution kernel [out, C, H, W], found shape {:?}",
                t.shape()
            ),
        });
    };
    let inner = rest.iter().product::<usize>();
    let shape = t.shape().to_vec();
    Tensor::from_vec(t.into_vec(), &[out, inner]).map_err(|e| ImportError::Mapping {
        source_name: source.to_string(),
        message: format!("key {key}: cannot reshape {shape:?}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(keys: &[(&str, &[usize])]) -> NamedTensors {
        keys.iter()
            .map(|(k, s)| (k.to_string(), Tensor::zeros(s)))
            .collect()
    }

    fn torchvision_keys() -> Vec<String> {
        FEATURE_INDEX
            .iter()
            .map(|i| format!("features.{i}"))
            .chain(["classifier.0", "classifier.3", "classifier.6"].map(String::from))
            .flat_map(|m| [format!("{m}.weight"), format!("{m}.bias")])
            .collect()
    }

    #[test]
    fn maps_every_torchvision_key() {
        let tensors: NamedTensors = torchvision_keys()
            .into_iter()
            .map(|k| (format!("module.{k}"), Tensor::zeros(&[1])))
            .collect();
        let out = vgg16_to_strata(tensors, "tv.pth").unwrap();
        let expected: Vec<String> = VGG16_CONV_LAYERS
            .iter()
            .chain(&VGG16_DENSE_LAYERS)
            .flat_map(|l| [format!("{l}.weight"), format!("{l}.bias")])
            .collect();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(out.keys().cloned().collect::<Vec<_>>(), expected_sorted);
    }

    #[test]
    fn maps_timm_and_reshapes_its_conv_head() {
        let out = vgg16_to_strata(
            sd(&[
                ("features.28.weight", &[512, 512, 3, 3]),
                ("pre_logits.fc1.weight", &[4096, 512, 7, 7]),
                ("pre_logits.fc2.weight", &[4096, 4096, 1, 1]),
                ("pre_logits.fc2.bias", &[4096]),
                ("head.fc.weight", &[1000, 4096]),
            ]),
            "timm.pth",
        )
        .unwrap();
        assert_eq!(out["block5_conv3.weight"].shape(), &[512, 512, 3, 3]);
        assert_eq!(out["fc1.weight"].shape(), &[4096, 25088]);
        assert_eq!(out["fc2.weight"].shape(), &[4096, 4096]);
        assert_eq!(out["predictions.weight"].shape(), &[1000, 4096]);
        assert_eq!(
            detect_scheme(&sd(&[("pre_logits.fc1.weight", &[1])])),
            Some(NameScheme::Timm)
        );
    }

    #[test]
    fn maps_keras_names_and_layouts() {
        let out = vgg16_to_strata(
            sd(&[
                ("block1_conv1/kernel", &[3, 3, 3, 64]),
                ("block1_conv1/bias", &[64]),
                ("block5_conv3/0", &[3, 3, 512, 512]),
                ("fc1/kernel", &[25088, 4096]),
                ("predictions/1", &[1000]),
            ]),
            "vgg16.h5",
        )
        .unwrap();
        assert_eq!(out["block1_conv1.weight"].shape(), &[64, 3, 3, 3]);
        assert_eq!(out["block5_conv3.weight"].shape(), &[512, 512, 3, 3]);
        assert_eq!(out["fc1.weight"].shape(), &[4096, 25088]);
        assert_eq!(out["predictions.bias"].shape(), &[1000]);
        let e = vgg16_to_strata(sd(&[("fc1/kernel", &[8, 2])]), "x.h5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("block5_conv3") && e.contains("[8, 2]"), "{e}");
        let e = vgg16_to_strata(sd(&[("block1_conv1/gamma", &[2])]), "x.h5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("block1_conv1/gamma"), "{e}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = vgg16_to_strata(
            sd(&[
                ("classifier.0.weight", &[2, 2]),
                ("features.1.weight", &[3]),
            ]),
            "x.pth",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("x.pth") && e.contains("features.1.weight") && e.contains("[3]"),
            "{e}"
        );
        let e = vgg16_to_strata(sd(&[("fc.weight", &[2])]), "y.pth")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a VGG-16"), "{e}");
    }
}
