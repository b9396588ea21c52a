//! Named tensors in the safetensors format (the format of Hugging Face and of
//! `safetensors.torch.save_file`), so that weights move between Strata and PyTorch.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};
use strata_tensor::{Element, Tensor};

use strata_tensor::fsio::write_bytes_atomic;

use crate::error::{IoContext, LayersError, Result};

/// Tensors by name, in name order.
pub type NamedTensors<T> = BTreeMap<String, Tensor<T>>;

/// A tensor's little-endian bytes, as safetensors stores them.
struct Bytes {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn to_bytes<T: Element>(tensor: &Tensor<T>) -> Bytes {
    let values = tensor.to_vec();
    let (dtype, data) = match T::NAME {
        "f64" => (
            Dtype::F64,
            values
                .iter()
                .flat_map(|v| v.to_f64().unwrap_or(f64::NAN).to_le_bytes())
                .collect(),
        ),
        _ => (
            Dtype::F32,
            values
                .iter()
                .flat_map(|v| v.to_f32().unwrap_or(f32::NAN).to_le_bytes())
                .collect(),
        ),
    };
    Bytes {
        dtype,
        shape: tensor.shape().to_vec(),
        data,
    }
}

/// Saves tensors (and optional string metadata) to a safetensors file, atomically. The
/// bytes depend only on the tensors and metadata: tensors are laid out in name order and
/// the header's keys are sorted, so saving the same model twice gives the same file.
pub fn save_tensors<T: Element>(
    path: &Path,
    tensors: &NamedTensors<T>,
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let buffer = serialize(tensors, metadata).map_err(|e| LayersError::Format {
        path: path.to_path_buf(),
        message: format!("cannot serialise tensors: {e}"),
    })?;
    write_bytes_atomic(path, &buffer).at(path)
}

/// The safetensors bytes of `tensors`: an 8-byte little-endian header length, the JSON
/// header (sorted keys, padded with spaces to a multiple of 8 bytes), then each tensor's
/// little-endian values in name order.
fn serialize<T: Element>(
    tensors: &NamedTensors<T>,
    metadata: Option<HashMap<String, String>>,
) -> serde_json::Result<Vec<u8>> {
    let bytes: Vec<(&String, Bytes)> = tensors.iter().map(|(n, t)| (n, to_bytes(t))).collect();
    let mut header: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    if let Some(metadata) = metadata {
        let sorted: BTreeMap<String, String> = metadata.into_iter().collect();
        header.insert("__metadata__".into(), serde_json::to_value(sorted)?);
    }
    let mut offset = 0usize;
    for (name, b) in &bytes {
        let end = offset + b.data.len();
        header.insert(
            (*name).clone(),
            serde_json::json!({
                "dtype": format!("{:?}", b.dtype),
                "shape": b.shape,
                "data_offsets": [offset, end],
            }),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&header)?;
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut buffer = Vec::with_capacity(8 + json.len() + offset);
    buffer.extend_from_slice(&(json.len() as u64).to_le_bytes());
    buffer.extend_from_slice(&json);
    for (_, b) in &bytes {
        buffer.extend_from_slice(&b.data);
    }
    Ok(buffer)
}

/// Loads every tensor of a safetensors file as `T` (f32 and f64 files are accepted; other
/// dtypes are an error naming the tensor), with the file's metadata.
pub fn load_tensors<T: Element>(path: &Path) -> Result<(NamedTensors<T>, HashMap<String, String>)> {
    let buffer = std::fs::read(path).at(path)?;
    let format_error = |message: String| LayersError::Format {
        path: path.to_path_buf(),
        message,
    };
    let (_, metadata) = SafeTensors::read_metadata(&buffer)
        .map_err(|e| format_error(format!("not a safetensors file: {e}")))?;
    let file = SafeTensors::deserialize(&buffer)
        .map_err(|e| format_error(format!("not a safetensors file: {e}")))?;
    let mut tensors = NamedTensors::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let values: Vec<T> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| T::from_f64_lossy(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    T::from_f64_lossy(f64::from_le_bytes(b))
                })
                .collect(),
            other => {
                return Err(format_error(format!(
                    "tensor {name} has dtype {other:?}; only F32 and F64 are supported"
                )))
            }
        };
        let tensor = Tensor::from_vec(values, view.shape())
            .map_err(|e| format_error(format!("tensor {name}: {e}")))?;
        tensors.insert(name, tensor);
    }
    Ok((tensors, metadata.metadata().clone().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("strata-st-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("weights.safetensors")
    }

    fn sample() -> NamedTensors<f32> {
        let mut t = NamedTensors::new();
        t.insert(
            "conv2d.weight".into(),
            Tensor::from_vec((0..24).map(|i| i as f32 * 0.5).collect(), &[2, 3, 2, 2]).unwrap(),
        );
        t.insert(
            "dense.bias".into(),
            Tensor::from_vec(vec![1.5, -2.0], &[2]).unwrap(),
        );
        t
    }

    #[test]
    fn round_trip_keeps_names_shapes_values_and_metadata() {
        let path = scratch("round");
        let meta = HashMap::from([("epoch".to_string(), "3".to_string())]);
        save_tensors(&path, &sample(), Some(meta.clone())).unwrap();
        let (loaded, loaded_meta) = load_tensors::<f32>(&path).unwrap();
        assert_eq!(loaded, sample());
        assert_eq!(loaded_meta, meta);
        // An f32 file loads into f64 exactly.
        let (wide, _) = load_tensors::<f64>(&path).unwrap();
        assert_eq!(wide["dense.bias"].to_vec(), vec![1.5, -2.0]);
    }

    #[test]
    fn saving_twice_gives_the_same_bytes() {
        let path = scratch("repro");
        let meta = HashMap::from([
            ("format".to_string(), "x".to_string()),
            ("architecture".to_string(), "{}".to_string()),
            ("epochs_done".to_string(), "2".to_string()),
            ("optimizer_kind".to_string(), "adam".to_string()),
        ]);
        save_tensors(&path, &sample(), Some(meta.clone())).unwrap();
        let first = std::fs::read(&path).unwrap();
        for _ in 0..4 {
            // Each HashMap iterates in its own order; the bytes must not follow it.
            let shuffled: HashMap<String, String> = meta.clone().into_iter().collect();
            save_tensors(&path, &sample(), Some(shuffled)).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), first);
        }
        // Any safetensors reader takes the file.
        let file = SafeTensors::deserialize(&first).unwrap();
        assert_eq!(file.len(), 2);
    }

    #[test]
    fn bad_files_are_named() {
        let path = scratch("errors");
        std::fs::write(&path, b"garbage").unwrap();
        let err = load_tensors::<f32>(&path).unwrap_err().to_string();
        assert!(
            err.contains("weights.safetensors") && err.contains("not a safetensors file"),
            "{err}"
        );
        let missing = path.with_file_name("absent.safetensors");
        assert!(load_tensors::<f32>(&missing)
            .unwrap_err()
            .to_string()
            .contains("absent.safetensors"));
    }
}
