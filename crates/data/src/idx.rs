//! The IDX format of MNIST and Fashion-MNIST: a reader that validates everything and a writer.
//!
//! An IDX file is a 4-byte magic number (`0x00 0x00`, an element-type code, the number of
//! dimensions), one big-endian `u32` per dimension, then the elements in row-major order.
//! Only unsigned bytes (type `0x08`) are used by these datasets and supported here.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::fsio::{read_maybe_gz_within, write_atomic};

/// The IDX element-type code of unsigned bytes.
pub const IDX_UBYTE: u8 = 0x08;

/// An n-dimensional array of bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header, outermost first.
    pub dims: Vec<usize>,
    /// The elements in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// The largest IDX file [`read_idx`] reads, once decompressed: 768 MiB, above the largest
/// file of MNIST, Fashion-MNIST, QMNIST and EMNIST (EMNIST ByClass training images,
/// 547 MB), so that a small `.gz` cannot make it allocate gigabytes.
pub const MAX_IDX_BYTES: usize = 768 << 20;

/// Reads an IDX file of unsigned bytes, raw or gzip-compressed, of at most
/// [`MAX_IDX_BYTES`].
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    parse_idx(path, &read_maybe_gz_within(path, MAX_IDX_BYTES)?)
}

/// Parses the bytes of an IDX file; `path` names them in errors.
///
/// Checks the magic number, the element type, the header length, and that the data are
/// exactly as long as the dimensions say (neither truncated nor followed by extra bytes).
pub fn parse_idx(path: &Path, bytes: &[u8]) -> Result<IdxArray> {
    let fail = |message: String| DataError::format(path, message);
    if bytes.len() < 4 {
        return Err(fail(format!(
            "truncated: an IDX header needs at least 4 bytes, found {}",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(fail(format!(
            "wrong magic number {:02x} {:02x} {:02x} {:02x}: an IDX file starts with 00 00",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if bytes[2] != IDX_UBYTE {
        return Err(fail(format!(
            "unsupported element type 0x{:02x}: expected unsigned bytes (0x08)",
            bytes[2]
        )));
    }
    let ndims = usize::from(bytes[3]);
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(fail(format!(
            "truncated: a header with {ndims} dimensions needs {header} bytes, found {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| fail(format!("dimensions {dims:?} overflow the address space")))?;
    let found = bytes.len() - header;
    if found != count {
        let what = if found < count {
            "truncated"
        } else {
            "extra bytes"
        };
        return Err(fail(format!(
            "{what}: header dimensions {dims:?} promise {count} data bytes, found {found}"
        )));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Encodes an array of bytes as an IDX file.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    let op = "encode_idx";
    if dims.len() > 255 {
        return Err(DataError::invalid(
            op,
            format!("at most 255 dimensions, found {}", dims.len()),
        ));
    }
    let count: usize = dims.iter().product();
    if count != data.len() {
        return Err(DataError::invalid(
            op,
            format!(
                "dimensions {dims:?} need {count} bytes, found {}",
                data.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, IDX_UBYTE, dims.len() as u8]);
    for &d in dims {
        let d = u32::try_from(d)
            .map_err(|_| DataError::invalid(op, format!("dimension {d} exceeds u32")))?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

/// Writes an IDX file atomically (uncompressed).
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    write_atomic(path, &encode_idx(dims, data)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("t.idx")
    }

    #[test]
    fn rejects_wrong_magic_type_and_counts() {
        let good = encode_idx(&[2, 3], &[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(parse_idx(p(), &good).unwrap().dims, vec![2, 3]);

        let mut bad = good.clone();
        bad[0] = 1;
        let e = parse_idx(p(), &bad).unwrap_err().to_string();
        assert!(e.contains("t.idx") && e.contains("magic"), "{e}");

        let mut bad = good.clone();
        bad[2] = 0x0d;
        assert!(parse_idx(p(), &bad)
            .unwrap_err()
            .to_string()
            .contains("0x0d"));

        let e = parse_idx(p(), &good[..good.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("truncated") && e.contains("promise 6") && e.contains("found 5"),
            "{e}"
        );

        let mut long = good.clone();
        long.push(0);
        assert!(parse_idx(p(), &long)
            .unwrap_err()
            .to_string()
            .contains("extra bytes"));

        let e = parse_idx(p(), &good[..6]).unwrap_err().to_string();
        assert!(e.contains("needs 12 bytes"), "{e}");
    }

    #[test]
    fn huge_dimensions_do_not_allocate_or_overflow() {
        let mut b = vec![0, 0, 8, 4];
        for _ in 0..4 {
            b.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        assert!(parse_idx(p(), &b).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_idx(p(), &bytes);
        }

        #[test]
        fn round_trip(dims in proptest::collection::vec(0usize..5, 0..4), seed in any::<u8>()) {
            let n: usize = dims.iter().product();
            let data: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let bytes = encode_idx(&dims, &data).unwrap();
            let back = parse_idx(p(), &bytes).unwrap();
            prop_assert_eq!(back, IdxArray { dims, data });
        }

        #[test]
        fn corrupted_header_or_truncation_is_an_error(
            dims in proptest::collection::vec(1usize..5, 1..4),
            cut in 1usize..8,
            header_byte in 0usize..4,
            flip in 1u8..=255,
        ) {
            let n: usize = dims.iter().product();
            let bytes = encode_idx(&dims, &vec![7; n]).unwrap();
            let cut = cut.min(bytes.len());
            prop_assert!(parse_idx(p(), &bytes[..bytes.len() - cut]).is_err());
            let mut bad = bytes.clone();
            bad[header_byte] ^= flip;
            prop_assert!(parse_idx(p(), &bad).is_err());
        }
    }
}
