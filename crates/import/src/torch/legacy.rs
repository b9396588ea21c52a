//! The legacy (before PyTorch 1.6) `torch.save` format: a magic-number pickle, the protocol
//! version, the system info, the object (storages as persistent ids), the list of storage
//! keys, then each storage as an 8-byte little-endian element count and its raw elements.

use std::collections::HashMap;
use std::path::Path;

use super::{collect_tensors, gather, insert};
use crate::error::{ImportError, Result};
use crate::pickle::{unpickle, Value};
use crate::NamedTensors;

/// The first bytes of a legacy file: protocol 2, `LONG1` of the magic number
/// `0x1950a86a20f9469cfc6c`, `STOP`.
pub const LEGACY_MAGIC: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
];

/// The protocol version legacy files declare.
const PROTOCOL_VERSION: i64 = 1001;

/// Reads a state dict from the bytes of a legacy `.pth` file.
pub fn read_torch_legacy(bytes: &[u8], path: &Path) -> Result<NamedTensors> {
    let bad = |message: String| ImportError::Container {
        path: path.to_path_buf(),
        container: "legacy torch file",
        message,
    };
    if !bytes.starts_with(&LEGACY_MAGIC) {
        return Err(bad("missing the magic number".into()));
    }
    let mut pos = LEGACY_MAGIC.len();
    let mut next = |what: &str| -> Result<Value> {
        let (v, n) = unpickle(&bytes[pos..]).map_err(|e| ImportError::Pickle {
            path: path.to_path_buf(),
            entry: what.to_string(),
            offset: pos + e.offset,
            message: e.message,
        })?;
        pos += n;
        Ok(v)
    };
    if next("protocol version")? != Value::Int(PROTOCOL_VERSION) {
        return Err(bad(format!("protocol version is not {PROTOCOL_VERSION}")));
    }
    let info = next("system info")?;
    let little = match &info {
        Value::Dict(pairs) => pairs
            .iter()
            .find(|(k, _)| *k == Value::Str("little_endian".into()))
            .map(|(_, v)| *v != Value::Bool(false))
            .unwrap_or(true),
        _ => true,
    };
    let tensors = collect_tensors(next("object")?, path)?;
    let keys = match next("storage keys")? {
        Value::List(keys) => keys,
        other => {
            return Err(bad(format!(
                "storage keys must be a list, found {}",
                other.kind()
            )))
        }
    };
    // Each storage's element size comes from the tensors that use it.
    let sizes: HashMap<&str, (usize, usize)> = tensors
        .iter()
        .map(|(_, t)| {
            (
                t.storage.key.as_str(),
                (t.storage.dtype.size(), t.storage.numel),
            )
        })
        .collect();
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(bad("a storage key is not a string".into()));
        };
        let Some(&(size, declared)) = sizes.get(key.as_str()) else {
            return Err(bad(format!(
                "storage {key} is used by no tensor; its element size is unknown"
            )));
        };
        let header = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| bad(format!("truncated before storage {key}")))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(header);
        let numel = if little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        };
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(size))
            .filter(|&len| len <= bytes.len() - pos - 8)
            .ok_or_else(|| {
                bad(format!(
                    "storage {key} declares {numel} elements, more than the file holds"
                ))
            })?;
        if numel != declared as u64 {
            return Err(bad(format!(
                "storage {key} holds {numel} elements but the pickle declares {declared}"
            )));
        }
        storages.insert(key, &bytes[pos + 8..pos + 8 + len]);
        pos += 8 + len;
    }
    let mut out = NamedTensors::new();
    for (key, t) in tensors {
        let data = storages.get(&t.storage.key).ok_or_else(|| {
            bad(format!(
                "tensor {key} uses storage {} which is not in the file",
                t.storage.key
            ))
        })?;
        let tensor = gather(&t, data, !little, &key, path)?;
        insert(&mut out, key, tensor, path)?;
    }
    Ok(out)
}
