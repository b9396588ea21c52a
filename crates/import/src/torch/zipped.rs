//! The zip format of `torch.save`: `<name>/data.pkl`, the storages `<name>/data/<key>` and
//! the `<name>/byteorder` record.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::{check_view, collect_tensors, gather, insert, to_tensor};
use crate::convert::decode_into;
use crate::error::{ImportError, Result};
use crate::pickle::{unpickle, TensorRef};
use crate::NamedTensors;

/// Deflate expands at most about 1032 times; a declared size beyond that is a lie.
const MAX_DEFLATE_RATIO: u64 = 1032;
/// Bytes decoded at a time when streaming a storage.
const CHUNK: usize = 1 << 20;

fn container(path: &Path, message: impl Into<String>) -> ImportError {
    ImportError::Container {
        path: path.to_path_buf(),
        container: "zip archive",
        message: message.into(),
    }
}

fn zip_error(path: &Path, what: &str, e: ZipError) -> ImportError {
    container(path, format!("{what}: {e}"))
}

struct Archive<'p> {
    zip: ZipArchive<File>,
    path: &'p Path,
    file_len: u64,
}

impl Archive<'_> {
    /// Opens an entry, checking that its declared size is possible for the file's size.
    fn open(&mut self, name: &str) -> Result<zip::read::ZipFile<'_, File>> {
        let (path, file_len) = (self.path, self.file_len);
        let entry = self
            .zip
            .by_name(name)
            .map_err(|e| zip_error(path, &format!("record {name}"), e))?;
        let bound = match entry.compression() {
            CompressionMethod::Stored => file_len,
            _ => file_len.saturating_mul(MAX_DEFLATE_RATIO),
        };
        if entry.size() > bound {
            return Err(container(
                path,
                format!(
                    "record {name} declares {} bytes, impossible in a file of {file_len} bytes",
                    entry.size()
                ),
            ));
        }
        Ok(entry)
    }

    fn read_all(&mut self, name: &str) -> Result<Vec<u8>> {
        let path = self.path;
        let mut entry = self.open(name)?;
        let size = entry.size();
        let mut buf = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(size)
            .read_to_end(&mut buf)
            .map_err(|e| container(path, format!("record {name}: {e}")))?;
        if buf.len() as u64 != size {
            return Err(container(
                path,
                format!("record {name} is truncated: {} of {size} bytes", buf.len()),
            ));
        }
        Ok(buf)
    }
}

/// Reads a state dict saved by `torch.save` (zip format) as `f32` tensors by key.
///
/// Storages of float32, float16, bfloat16 and float64 are converted to `f32`; views
/// (offsets, strides) are copied out element by element. The pickle runs on the restricted
/// unpickler, so a file that tries to call anything is refused with the global's name.
pub fn read_torch_zip(path: &Path) -> Result<NamedTensors> {
    let io_err = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let zip = ZipArchive::new(file).map_err(|e| zip_error(path, "central directory", e))?;
    let mut archive = Archive {
        zip,
        path,
        file_len,
    };
    let pickles: Vec<String> = archive
        .zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
        .collect();
    let [pickle_name] = pickles.as_slice() else {
        return Err(container(
            path,
            format!("expected one data.pkl record, found {}", pickles.len()),
        ));
    };
    let prefix = &pickle_name[..pickle_name.len() - "data.pkl".len()];
    let big_endian = if archive
        .zip
        .index_for_name(&format!("{prefix}byteorder"))
        .is_some()
    {
        let order = archive.read_all(&format!("{prefix}byteorder"))?;
        match order.as_slice() {
            b"little" => false,
            b"big" => true,
            other => {
                return Err(container(
                    path,
                    format!(
                        "byteorder record is {:?}, not little or big",
                        String::from_utf8_lossy(other)
                    ),
                ))
            }
        }
    } else {
        false
    };
    let pickle = archive.read_all(pickle_name)?;
    let (value, _) = unpickle(&pickle).map_err(|e| ImportError::Pickle {
        path: path.to_path_buf(),
        entry: pickle_name.clone(),
        offset: e.offset,
        message: e.message,
    })?;
    let mut out = NamedTensors::new();
    for (key, t) in collect_tensors(value, path)? {
        let name = format!("{prefix}data/{}", t.storage.key);
        let tensor = read_tensor(&mut archive, &name, &t, big_endian, &key)?;
        insert(&mut out, key, tensor, path)?;
    }
    Ok(out)
}

/// One tensor: a contiguous view is streamed out of its record; any other view reads the
/// whole storage and gathers.
fn read_tensor(
    archive: &mut Archive<'_>,
    name: &str,
    t: &TensorRef,
    big_endian: bool,
    key: &str,
) -> Result<strata_tensor::Tensor<f32>> {
    let path = archive.path;
    let (numel, contiguous) = check_view(t, key, path)?;
    let size = t.storage.dtype.size();
    let mut entry = archive.open(name)?;
    let declared = t.storage.numel as u64 * size as u64;
    if entry.size() != declared {
        return Err(ImportError::Tensor {
            path: path.to_path_buf(),
            key: key.to_string(),
            message: format!(
                "record {name} has {} bytes but the pickle declares {} elements of {size} bytes ({declared} bytes) for shape {:?}",
                entry.size(),
                t.storage.numel,
                t.shape
            ),
        });
    }
    let truncated = |e: io::Error| ImportError::Tensor {
        path: path.to_path_buf(),
        key: key.to_string(),
        message: format!("record {name} is truncated or corrupt: {e}"),
    };
    if !contiguous {
        let mut bytes = Vec::with_capacity(declared as usize);
        (&mut entry)
            .take(declared)
            .read_to_end(&mut bytes)
            .map_err(truncated)?;
        return gather(t, &bytes, big_endian, key, path);
    }
    io::copy(
        &mut (&mut entry).take((t.offset * size) as u64),
        &mut io::sink(),
    )
    .map_err(truncated)?;
    let mut values = Vec::with_capacity(numel);
    let mut chunk = vec![0u8; CHUNK.min(numel * size)];
    let mut left = numel * size;
    while left > 0 {
        let n = left.min(chunk.len());
        entry.read_exact(&mut chunk[..n]).map_err(truncated)?;
        decode_into(&chunk[..n], t.storage.dtype, big_endian, &mut values);
        left -= n;
    }
    to_tensor(values, &t.shape, key, path)
}
