//! File helpers: whole-file reads that undo gzip, atomic writes, and the shared data folder.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{DataError, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The folder holding shared datasets: `$STRATA_DATA` if set, otherwise `../shared/data`
/// beside the workspace this crate was built from.
///
/// Tests and benchmarks use it to find MNIST without copying it into the project.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("STRATA_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
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

/// The temporary path used while writing `path`: same folder, hidden, suffixed with the
/// process id so that concurrent writers do not collide.
fn temp_path(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}{suffix}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same folder, flushed to
/// disk, then renamed over `path`. A crash never leaves a half-written `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path, ".tmp");
    let result = (|| {
        let mut file = fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, "create", e))?;
        file.write_all(bytes)
            .map_err(|e| DataError::io(&tmp, "write", e))?;
        file.sync_all()
            .map_err(|e| DataError::io(&tmp, "sync", e))?;
        fs::rename(&tmp, path).map_err(|e| DataError::io(path, "rename into place", e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| DataError::io(dir, "create folder", e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::write::GzEncoder;

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
