//! Keras HDF5 weight files (the legacy Keras 2 `.h5` and the Keras 3 `.weights.h5`) as named
//! tensors, through the pure-Rust reader of `strata-hdf5`.
//!
//! Keys are `layer/variable`: the layer's Keras name, then the variable's name as the file
//! gives it — `kernel` and `bias` for `block1_conv1/kernel:0` (the `:0` suffix is dropped),
//! the stored name for older files (`block1_conv1_W_1`), or the index (`0`, `1`) in the
//! Keras 3 layout, which stores no names. Tensors keep Keras's shapes and layouts (HWIO
//! convolution kernels, `[in, out]` dense kernels): [`crate::keras`] converts them, and
//! [`crate::vgg16_to_strata`] does so for VGG-16.

use std::path::Path;

use strata_hdf5::keras;
use strata_tensor::Tensor;

use crate::error::{ImportError, Result};
use crate::NamedTensors;

/// Reads every weight of a Keras HDF5 file (either layout, detected) as `f32`, keyed
/// `layer/variable` in Keras's shapes.
///
/// ```no_run
/// use std::path::Path;
/// let tensors = strata_import::read_keras_h5(Path::new("vgg16_weights_tf_dim_ordering_tf_kernels.h5"))?;
/// println!("{:?}", tensors["block1_conv1/kernel"].shape()); // [3, 3, 3, 64]
/// # Ok::<(), strata_import::ImportError>(())
/// ```
pub fn read_keras_h5(path: &Path) -> Result<NamedTensors> {
    let weights = keras::read(path).map_err(|source| ImportError::Hdf5 {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    let mut out = NamedTensors::new();
    for layer in weights.with_weights() {
        for weight in &layer.weights {
            let key = format!("{}/{}", layer.name, variable_name(&weight.name));
            let tensor_error = |message: String| ImportError::Tensor {
                path: path.to_path_buf(),
                key: key.clone(),
                message,
            };
            let tensor = Tensor::from_vec(weight.values.clone(), &weight.shape)
                .map_err(|e| tensor_error(format!("dataset {}: {e}", weight.path)))?;
            if out.insert(key.clone(), tensor).is_some() {
                return Err(tensor_error(format!(
                    "two weights of layer {} are named {}",
                    layer.name, weight.name
                )));
            }
        }
    }
    Ok(out)
}

/// The variable part of a Keras weight name: `block1_conv1/kernel:0` → `kernel`, `0` → `0`.
fn variable_name(weight: &str) -> &str {
    let base = weight.rsplit('/').next().unwrap_or(weight);
    let base = match base.rsplit_once(':') {
        Some((name, index)) if index.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => base,
    };
    base
}

/// The role of a Keras variable in a convolution or dense layer, from its name as
/// [`read_keras_h5`] keys it: `kernel`, the Keras 3 index `0` or the old `…_W`/`…_W_1`
/// are the kernel; `bias`, `1`, `…_b`/`…_b_1` the bias.
pub(crate) fn variable_role(variable: &str) -> Option<&'static str> {
    let trimmed = match variable.rsplit_once('_') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => variable,
    };
    match (variable, trimmed) {
        ("kernel" | "0", _) => Some("weight"),
        ("bias" | "1", _) => Some("bias"),
        (_, t) if t.ends_with("_W") => Some("weight"),
        (_, t) if t.ends_with("_b") => Some("bias"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_and_roles() {
        assert_eq!(variable_name("block1_conv1/kernel:0"), "kernel");
        assert_eq!(variable_name("0"), "0");
        assert_eq!(variable_name("block1_conv1_W_1:0"), "block1_conv1_W_1");
        for (v, role) in [
            ("kernel", Some("weight")),
            ("0", Some("weight")),
            ("block1_conv1_W_1", Some("weight")),
            ("fc1_W", Some("weight")),
            ("bias", Some("bias")),
            ("1", Some("bias")),
            ("block1_conv1_b_1", Some("bias")),
            ("gamma", None),
            ("2", None),
        ] {
            assert_eq!(variable_role(v), role, "{v}");
        }
    }

    #[test]
    fn a_damaged_file_names_itself() {
        let dir = std::env::temp_dir().join(format!("strata-import-h5-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("weights.bin");
        std::fs::write(&path, [&b"\x89HDF\r\n\x1a\n"[..], &[0u8; 32]].concat()).unwrap();
        let e = read_keras_h5(&path).unwrap_err().to_string();
        assert!(e.contains("weights.bin"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
