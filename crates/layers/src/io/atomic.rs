//! Atomic file writes: a crash mid-write never leaves a half-written file.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, LayersError, Result};

/// Writes a file by calling `write` on a temporary file in the same folder, flushing it to
/// disk, and renaming it over `path`. If `write` fails, the temporary file is removed and
/// `path` is untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let temporary = temporary_path(path)?;
    let result = (|| {
        let file = File::create(&temporary).at(&temporary)?;
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .at(&temporary)?;
        file.sync_all().at(&temporary)?;
        fs::rename(&temporary, path).at(path)
    })();
    if result.is_err() {
        // Best effort: the write already failed; a leftover temporary file is harmless.
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// A fresh name beside `path`: `.<name>.<pid>.<counter>.tmp`.
fn temporary_path(path: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| LayersError::Format {
        path: path.to_path_buf(),
        message: "not a file path".into(),
    })?;
    let unique = format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    Ok(path.with_file_name(unique))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("strata-atomic-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = scratch("fail");
        let path = dir.join("model.safetensors");
        fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half").at(Path::new("x"))?;
            Err(LayersError::config("test", "interrupted"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_successful_write_replaces_the_file() {
        let dir = scratch("ok");
        let path = dir.join("a.json");
        write_atomic(&path, |w| w.write_all(b"new").at(Path::new("x"))).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        fs::remove_dir_all(dir).unwrap();
    }
}
