//! safetensors files (float32, float16, bfloat16, float64), converted to `f32`.

use std::path::Path;

use safetensors::{Dtype as StDtype, SafeTensors};

use crate::convert::decode_into;
use crate::error::{ImportError, Result};
use crate::pickle::Dtype;
use crate::torch::{insert, to_tensor};
use crate::NamedTensors;

/// Reads every tensor of a safetensors file's bytes as `f32`. The header's offsets and
/// shapes are validated against the bytes before anything is allocated; an integer or bool
/// tensor is an error naming its key and dtype.
pub fn read_safetensors(bytes: &[u8], path: &Path) -> Result<NamedTensors> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| ImportError::Container {
        path: path.to_path_buf(),
        container: "safetensors",
        message: e.to_string(),
    })?;
    let mut out = NamedTensors::new();
    for (key, view) in file.tensors() {
        let dtype = match view.dtype() {
            StDtype::F32 => Dtype::F32,
            StDtype::F16 => Dtype::F16,
            StDtype::BF16 => Dtype::BF16,
            StDtype::F64 => Dtype::F64,
            other => {
                return Err(ImportError::Tensor {
                    path: path.to_path_buf(),
                    key,
                    message: format!("dtype {other:?} is not a float type (F32, F16, BF16, F64)"),
                })
            }
        };
        let data = view.data();
        let numel = view.shape().iter().product::<usize>();
        if data.len() != numel.saturating_mul(dtype.size()) {
            return Err(ImportError::Tensor {
                path: path.to_path_buf(),
                key,
                message: format!(
                    "shape {:?} of {dtype:?} needs {} bytes, found {}",
                    view.shape(),
                    numel.saturating_mul(dtype.size()),
                    data.len()
                ),
            });
        }
        let mut values = Vec::with_capacity(numel);
        decode_into(data, dtype, false, &mut values);
        let tensor = to_tensor(values, view.shape(), &key, path)?;
        insert(&mut out, key, tensor, path)?;
    }
    Ok(out)
}
