//! File helpers: whole-file reads that undo gzip, atomic writes, and the data folder.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

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
    read_maybe_gz_within(path, MAX_INFLATED_BYTES)
}

/// The most bytes [`read_maybe_gz`] returns (1 GiB); [`read_maybe_gz_within`] sets another
/// bound.
pub const MAX_INFLATED_BYTES: usize = 1 << 30;

/// Reads a whole file as [`read_maybe_gz`] does, refusing one (raw, or once decompressed)
/// longer than `max_bytes`: a small `.gz` cannot make the reader allocate more than the
/// caller expects.
pub fn read_maybe_gz_within(path: &Path, max_bytes: usize) -> Result<Vec<u8>> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, "read", e))?;
    gunzip_if_needed(path, bytes, max_bytes)
}

/// Decompresses `bytes` when they are a gzip stream; `path` names them in errors.
///
/// The stream must be one gzip member and nothing after it. Decompression stops as soon as
/// the output passes the size the trailer declares (ISIZE, the length modulo 2³²) or
/// `max_bytes`, whichever is smaller, so a stream that inflates further than it says (or
/// than the caller allows) fails after that many bytes, not after all of them. Raw bytes
/// longer than `max_bytes` are refused too.
pub(crate) fn gunzip_if_needed(path: &Path, bytes: Vec<u8>, max_bytes: usize) -> Result<Vec<u8>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        if bytes.len() > max_bytes {
            return Err(DataError::format(
                path,
                format!("{} bytes, more than the {max_bytes} allowed", bytes.len()),
            ));
        }
        return Ok(bytes);
    }
    let corrupt = |message: String| DataError::format(path, message);
    // Header (10) + empty deflate block (2) + trailer (8): a shorter stream is truncated.
    let Some(trailer) = bytes.len().checked_sub(4).filter(|_| bytes.len() >= 20) else {
        return Err(corrupt(format!(
            "corrupt gzip stream: truncated ({} bytes; a gzip stream has at least 20)",
            bytes.len()
        )));
    };
    let declared = u32::from_le_bytes([
        bytes[trailer],
        bytes[trailer + 1],
        bytes[trailer + 2],
        bytes[trailer + 3],
    ]) as usize;
    // ISIZE is the length modulo 2^32 (and, with data after the stream, not the trailer at
    // all): whatever it says, the output stops at the smaller of it and `max_bytes`.
    let limit = declared.min(max_bytes);
    let past = |what: String| {
        corrupt(format!(
            "corrupt gzip stream: it inflates past {what} (trailing data, a lying trailer, or a decompression bomb)"
        ))
    };
    let too_long = || {
        if declared <= max_bytes {
            past(format!("the {declared} bytes its trailer declares"))
        } else {
            past(format!(
                "the {max_bytes} bytes allowed (its trailer declares {declared})"
            ))
        }
    };
    let mut decoder = flate2::bufread::GzDecoder::new(bytes.as_slice());
    let mut out = Vec::with_capacity(limit);
    (&mut decoder)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(format!("corrupt gzip stream: {e}")))?;
    if out.len() > limit {
        return Err(too_long());
    }
    // Reading on checks the trailer's CRC and length once the stream's end is reached.
    let mut probe = [0u8; 1];
    let more = decoder
        .read(&mut probe)
        .map_err(|e| corrupt(format!("corrupt gzip stream: {e}")))?;
    if more != 0 {
        return Err(too_long());
    }
    let rest = decoder.into_inner().len();
    if rest != 0 {
        return Err(corrupt(format!(
            "{rest} bytes after the end of the gzip stream (a second member or trailing data)"
        )));
    }
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

    fn gunzip_error(bytes: Vec<u8>, max: usize) -> String {
        gunzip_if_needed(Path::new("x.gz"), bytes, max)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn decompression_stops_at_the_declared_size() {
        // 8 MiB of zeros whose trailer says 1000 bytes: the reader stops after 1001.
        let mut lying = gzip(&vec![0u8; 8 << 20]);
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
        let err = gunzip_error(lying, MAX_INFLATED_BYTES);
        assert!(
            err.contains("x.gz") && err.contains("past the 1000 bytes its trailer declares"),
            "{err}"
        );
        // Past the caller's bound, it stops there.
        let err = gunzip_error(gzip(&vec![0u8; 1 << 20]), 4096);
        assert!(
            err.contains("past the 4096 bytes allowed (its trailer declares 1048576)"),
            "{err}"
        );
        // Exactly at the bound is fine.
        let ok = gunzip_if_needed(Path::new("x.gz"), gzip(&[7u8; 4096]), 4096).unwrap();
        assert_eq!(ok, vec![7u8; 4096]);
        // Raw bytes are bounded too.
        let err = gunzip_error(vec![1u8; 10], 9);
        assert!(err.contains("10 bytes, more than the 9 allowed"), "{err}");
    }

    #[test]
    fn bytes_after_the_gzip_stream_are_refused() {
        let mut trailing = gzip(b"hello");
        trailing.extend_from_slice(b"junk");
        let err = gunzip_error(trailing, MAX_INFLATED_BYTES);
        assert!(err.contains("gzip stream"), "{err}");
        // Trailing bytes that leave the last four bytes a plausible length are caught after
        // the stream.
        let mut padded = gzip(b"hello");
        padded.extend_from_slice(&[0, 0, 0, 0, 5, 0, 0, 0]);
        let err = gunzip_error(padded, MAX_INFLATED_BYTES);
        assert!(
            err.contains("8 bytes after the end of the gzip stream"),
            "{err}"
        );
        let mut two = gzip(b"hello");
        two.extend_from_slice(&gzip(b"world"));
        let err = gunzip_error(two, MAX_INFLATED_BYTES);
        assert!(err.contains("after the end of the gzip stream"), "{err}");
        // A trailer whose length is short of the data (or whose CRC is wrong) is corrupt.
        let mut short = gzip(b"hello");
        let n = short.len();
        short[n - 4..].copy_from_slice(&9u32.to_le_bytes());
        assert!(gunzip_error(short, 100).contains("corrupt gzip stream"));
        let mut crc = gzip(b"hello");
        crc[n - 8] ^= 1;
        assert!(gunzip_error(crc, 100).contains("corrupt gzip stream"));
    }
}
