//! PyTorch `.pth` files: the zip format of `torch.save` (since 1.6) and the legacy format
//! before it. Both hold a pickle whose tensors refer to storages by key; the pickle runs on
//! the restricted unpickler of [`crate::pickle`].

mod legacy;
mod zipped;

pub use legacy::{read_torch_legacy, LEGACY_MAGIC};
pub use zipped::read_torch_zip;

use std::path::Path;

use strata_tensor::Tensor;

use crate::convert::decode_into;
use crate::error::{ImportError, Result};
use crate::pickle::{TensorRef, Value};
use crate::NamedTensors;

/// The tensors of an unpickled object with their dotted keys: a state dict's entries, or those
/// of dicts nested in it (`{"state_dict": {...}}` gives `state_dict.<key>`). Other values
/// (epoch counters, optimiser settings) are skipped.
pub(crate) fn collect_tensors(value: Value, path: &Path) -> Result<Vec<(String, TensorRef)>> {
    let mut out = Vec::new();
    collect(value, "", &mut out);
    if out.is_empty() {
        return Err(ImportError::Container {
            path: path.to_path_buf(),
            container: "torch pickle",
            message: "holds no tensors (expected a state dict)".into(),
        });
    }
    Ok(out)
}

fn collect(value: Value, prefix: &str, out: &mut Vec<(String, TensorRef)>) {
    match value {
        Value::Tensor(t) => out.push((prefix.trim_end_matches('.').to_string(), t)),
        Value::Dict(pairs) => {
            for (k, v) in pairs {
                let key = match k {
                    Value::Str(s) => s,
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                collect(v, &format!("{prefix}{key}."), out);
            }
        }
        _ => {}
    }
}

/// Checks a view against its storage and returns `(elements, contiguous)`; the view's largest
/// index must lie inside the storage, and it may not hold more elements than the storage
/// (which bounds every allocation by the file's size).
pub(crate) fn check_view(t: &TensorRef, key: &str, path: &Path) -> Result<(usize, bool)> {
    let bad = |message: String| ImportError::Tensor {
        path: path.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let numel = t
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {:?} overflows", t.shape)))?;
    if numel == 0 {
        return Ok((0, true));
    }
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |a, (&d, &s)| {
            (d - 1).checked_mul(s).and_then(|x| a.checked_add(x))
        });
    match last {
        Some(last) if last < t.storage.numel && numel <= t.storage.numel => {}
        _ => {
            return Err(bad(format!(
            "shape {:?} with stride {:?} and offset {} does not fit its storage {} of {} elements",
            t.shape, t.stride, t.offset, t.storage.key, t.storage.numel
        )))
        }
    }
    let mut expected = 1usize;
    let mut contiguous = true;
    for (&d, &s) in t.shape.iter().zip(&t.stride).rev() {
        if d != 1 && s != expected {
            contiguous = false;
        }
        expected = expected.saturating_mul(d);
    }
    Ok((numel, contiguous))
}

/// The tensor a view selects from a whole storage's bytes.
pub(crate) fn gather(
    t: &TensorRef,
    storage: &[u8],
    big_endian: bool,
    key: &str,
    path: &Path,
) -> Result<Tensor<f32>> {
    let (numel, contiguous) = check_view(t, key, path)?;
    let size = t.storage.dtype.size();
    let expected = t.storage.numel.saturating_mul(size);
    if storage.len() != expected {
        return Err(ImportError::Tensor {
            path: path.to_path_buf(),
            key: key.to_string(),
            message: format!(
                "storage {} should hold {} elements of {} bytes ({expected} bytes) but has {} bytes",
                t.storage.key,
                t.storage.numel,
                size,
                storage.len()
            ),
        });
    }
    let mut values = Vec::with_capacity(numel);
    if contiguous {
        let start = t.offset * size;
        decode_into(
            &storage[start..start + numel * size],
            t.storage.dtype,
            big_endian,
            &mut values,
        );
    } else {
        let mut index = vec![0usize; t.shape.len()];
        for _ in 0..numel {
            let at = t.offset
                + index
                    .iter()
                    .zip(&t.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            decode_into(
                &storage[at * size..(at + 1) * size],
                t.storage.dtype,
                big_endian,
                &mut values,
            );
            for axis in (0..index.len()).rev() {
                index[axis] += 1;
                if index[axis] < t.shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
    }
    to_tensor(values, &t.shape, key, path)
}

pub(crate) fn to_tensor(
    values: Vec<f32>,
    shape: &[usize],
    key: &str,
    path: &Path,
) -> Result<Tensor<f32>> {
    Tensor::from_vec(values, shape).map_err(|e| ImportError::Tensor {
        path: path.to_path_buf(),
        key: key.to_string(),
        message: e.to_string(),
    })
}

/// Inserts a tensor, refusing a key that appears twice.
pub(crate) fn insert(
    out: &mut NamedTensors,
    key: String,
    t: Tensor<f32>,
    path: &Path,
) -> Result<()> {
    if out.contains_key(&key) {
        return Err(ImportError::Tensor {
            path: path.to_path_buf(),
            key,
            message: "appears twice".into(),
        });
    }
    out.insert(key, t);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickle::{Dtype, StorageRef};

    fn view(numel: usize, offset: usize, shape: &[usize], stride: &[usize]) -> TensorRef {
        TensorRef {
            storage: StorageRef {
                dtype: Dtype::F32,
                key: "0".into(),
                numel,
            },
            offset,
            shape: shape.to_vec(),
            stride: stride.to_vec(),
        }
    }

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
    }

    #[test]
    fn gathers_strided_views() {
        let p = Path::new("x.pth");
        // The transpose of a 3×4 matrix, rows 1.. (as `t()[1:]`).
        let t = gather(&view(12, 1, &[3, 3], &[1, 4]), &bytes(12), false, "b", p).unwrap();
        assert_eq!(t.to_vec(), vec![1., 5., 9., 2., 6., 10., 3., 7., 11.]);
        let t = gather(&view(12, 2, &[2, 5], &[5, 1]), &bytes(12), false, "c", p).unwrap();
        assert_eq!(t.to_vec(), (2..12).map(|i| i as f32).collect::<Vec<_>>());
    }

    #[test]
    fn refuses_views_outside_their_storage() {
        let p = Path::new("x.pth");
        let e = gather(&view(6, 0, &[2, 4], &[4, 1]), &bytes(6), false, "w", p).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("x.pth") && m.contains("tensor w") && m.contains("[2, 4]"),
            "{m}"
        );
        // A huge declared shape fails before any allocation.
        let e = check_view(&view(6, 0, &[1 << 20, 1 << 20], &[0, 0]), "w", p).unwrap_err();
        assert!(e.to_string().contains("does not fit"));
        assert!(check_view(&view(6, 0, &[usize::MAX, 4], &[1, 1]), "w", p).is_err());
        // Storage bytes that disagree with the declared size.
        let e = gather(&view(6, 0, &[6], &[1]), &bytes(5), false, "w", p).unwrap_err();
        assert!(e.to_string().contains("24 bytes"), "{e}");
    }
}
