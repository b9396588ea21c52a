//! Atomic file writes, shared by every crate that saves something: a crash or a kill
//! mid-write never leaves a half-written file, and the temporary file a killed writer left
//! behind is removed by the next write of the same file.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What temporary names end with: `.<file name>.<pid>.<counter>.strata-tmp`.
const TEMPORARY_SUFFIX: &str = ".strata-tmp";

/// Writes `path` by calling `write` on a buffered temporary file in the same folder,
/// flushing it to disk and renaming it over `path`: readers see the old file or the new
/// one, never a part. When `write` or the file system fails, the temporary file is removed
/// and `path` is untouched. Temporary files of the same target left by processes that no
/// longer run (a killed save) are removed first.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("strata-fsio-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// use std::io::Write;
/// let path = dir.join("notes.txt");
/// strata_tensor::fsio::write_atomic(&path, |w| w.write_all(b"hello"))?;
/// assert_eq!(std::fs::read(&path)?, b"hello");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let temporary = temporary_path(path)?;
    remove_stale_temporaries(path);
    let result = (|| {
        let file = File::create(&temporary)?;
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        Ok(())
    })();
    if result.is_err() {
        // Best effort: the write already failed and that error is the one to report.
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Writes `bytes` to `path` atomically (see [`write_atomic`]).
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// The prefix of every temporary name of `path`: `.<file name>.`.
fn temporary_prefix(path: &Path) -> io::Result<String> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    Ok(format!(".{}.", name.to_string_lossy()))
}

/// A fresh name beside `path`: `.<name>.<pid>.<counter>.strata-tmp`.
fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique = format!(
        "{}{}.{}{TEMPORARY_SUFFIX}",
        temporary_prefix(path)?,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    Ok(path.with_file_name(unique))
}

/// Removes the temporary files of `path` whose writing process is gone. Best effort: a
/// folder that cannot be listed, or a file another process removes first, is left alone.
fn remove_stale_temporaries(path: &Path) {
    let Ok(prefix) = temporary_prefix(path) else {
        return;
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(TEMPORARY_SUFFIX))
        else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !process_is_running(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` still runs (Linux: `/proc/<pid>` exists; elsewhere every other
/// process is taken as gone, so a concurrent writer's file may be removed and its rename
/// then fails with an error rather than a corrupt file).
fn process_is_running(pid: u32) -> bool {
    cfg!(target_os = "linux") && Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("strata-fsio-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = scratch("fail");
        let path = dir.join("model.safetensors");
        fs::write(&path, b"old").unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(&dir), ["model.safetensors"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_write_replaces_the_file_and_removes_stale_temporaries() {
        let dir = scratch("stale");
        let path = dir.join("a.json");
        // What a killed writer leaves: a temporary of a process that no longer runs (pid
        // 4294967295 never exists), and one of another target, which stays.
        fs::write(dir.join(".a.json.4294967295.0.strata-tmp"), b"partial").unwrap();
        fs::write(dir.join(".b.json.4294967295.0.strata-tmp"), b"other").unwrap();
        write_bytes_atomic(&path, b"one").unwrap();
        write_bytes_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(entries(&dir), [".b.json.4294967295.0.strata-tmp", "a.json"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        assert!(write_bytes_atomic(Path::new("/"), b"x").is_err());
    }
}
