//! The chunk filters this reader undoes: deflate, shuffle and fletcher32.

use std::io::Read;

use crate::error::Result;
use crate::layout::{self, Filter};
use crate::source::Source;

/// Undoes the filters of one stored chunk, whose decoded size must be `want`
/// bytes of elements of `elem` bytes. Filter `i` is skipped when bit `i` of
/// `mask` is set.
pub(crate) fn decode(
    src: &Source,
    stored: &[u8],
    filters: &[Filter],
    mask: u32,
    want: u64,
    elem: u64,
    at: u64,
) -> Result<Vec<u8>> {
    let mut data = stored.to_vec();
    for (i, f) in filters.iter().enumerate().rev() {
        if i < 32 && mask & (1 << i) != 0 {
            continue;
        }
        data = match f.id {
            layout::DEFLATE => {
                let mut out = Vec::with_capacity(want.min(1 << 26) as usize);
                let mut dec = flate2::read::ZlibDecoder::new(&data[..]).take(want + 1);
                dec.read_to_end(&mut out).map_err(|e| {
                    src.malformed(
                        "deflate stream of chunk",
                        at,
                        "valid zlib data",
                        e.to_string(),
                    )
                })?;
                out
            }
            layout::SHUFFLE => {
                let size = f.params.first().copied().map_or(elem, u64::from);
                unshuffle(&data, size as usize)
            }
            layout::FLETCHER32 => {
                if data.len() < 4 {
                    return Err(src.malformed(
                        "fletcher32 chunk",
                        at,
                        "at least 4 bytes",
                        data.len().to_string(),
                    ));
                }
                data.truncate(data.len() - 4);
                data
            }
            id => {
                return Err(src.unsupported(format!("filter {id}"), at));
            }
        };
    }
    if data.len() as u64 != want {
        return Err(src.malformed(
            "decoded chunk size",
            at,
            format!("{want} bytes"),
            format!("{} bytes", data.len()),
        ));
    }
    Ok(data)
}

/// Inverse of the HDF5 shuffle filter: bytes were grouped by position in the element.
fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 || data.len() < size {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = data.to_vec();
    for (b, plane) in data[..n * size].chunks_exact(n).enumerate() {
        for (i, &x) in plane.iter().enumerate() {
            out[i * size + b] = x;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_restores_element_bytes() {
        // Two 4-byte elements [1 2 3 4] [5 6 7 8] shuffled: 1 5 2 6 3 7 4 8.
        assert_eq!(
            unshuffle(&[1, 5, 2, 6, 3, 7, 4, 8], 4),
            vec![1, 2, 3, 4, 5, 6, 7, 8]
        );
        // A trailing partial element is left as it is.
        assert_eq!(unshuffle(&[1, 2, 3], 2), vec![1, 2, 3]);
    }
}
