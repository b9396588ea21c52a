//! File helpers: whole-file reads that undo gzip, atomic writes, and the data folder.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{DataError, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Where [`data_dir`] looks when neither a flag nor `STRATA_DATA` names a folder:
/// `../shared/data`, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "../shared/data";

/// The folder holding datasets, resolved at run time: `flag` (an app's `--data`) when
/// given, else the environment variable `STRATA_DATA`, else [`DEFAULT_DATA_DIR`] relative
/// to the working directory.
///
/// ```
/// use std::path::Path;
/// assert_eq!(strata_data::data_dir(Some(Path::new("/datasets"))), Path::new("/datasets"));
/// ```
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    match (flag, std::env::var_os("STRATA_DATA")) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(dir)) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

/// Reads a whole file, decompressing it when it is gzip (recognised by its magic bytes, not
/// its name).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, "read", e))?;
    gunzip_if_needed(path, bytes)
}

/// Decompresses `bytes` when they are a gzip stream; `path` names them in errors.
pub(crate) fn gunzip_if_needed(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| DataError::format(path, format!("corrupt gzip stream: {e}")))?;
    Ok(out)
}

/// Finds `dir/name`, or `dir/name.gz` when only the compressed file is there.
pub(crate) fn raw_or_gz(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::folder(
        dir,
        format!("neither {name} nor {name}.gz is there"),
    ))
}

/// Writes `bytes` to `path` atomically (see [`strata_tensor::fsio::write_atomic`]), naming
/// the file in errors.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    strata_tensor::fsio::write_bytes_atomic(path, bytes)
        .map_err(|e| DataError::io(path, "write", e))
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| DataError::io(dir, "create folder", e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// A fresh empty folder under the target directory for one test.
    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-scratch/data")
            .join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch folder");
        dir
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).expect("gzip");
        enc.finish().expect("gzip")
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = scratch("atomic");
        let path = dir.join("f.bin");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn reads_raw_and_gzip_alike() {
        let dir = scratch("gz");
        write_atomic(&dir.join("a"), b"hello").unwrap();
        write_atomic(&dir.join("b.gz"), &gzip(b"hello")).unwrap();
        assert_eq!(read_maybe_gz(&dir.join("a")).unwrap(), b"hello");
        assert_eq!(read_maybe_gz(&dir.join("b.gz")).unwrap(), b"hello");
        assert_eq!(raw_or_gz(&dir, "b").unwrap(), dir.join("b.gz"));
        let err = raw_or_gz(&dir, "c").unwrap_err().to_string();
        assert!(err.contains("neither c nor c.gz"), "{err}");
        let mut bad = gzip(b"hello");
        bad.truncate(8);
        write_atomic(&dir.join("bad.gz"), &bad).unwrap();
        let err = read_maybe_gz(&dir.join("bad.gz")).unwrap_err().to_string();
        assert!(err.contains("bad.gz") && err.contains("gzip"), "{err}");
    }
}
