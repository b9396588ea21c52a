//! Raw values of a result: NumPy `.npy` (float32, C order) or CSV.

use std::path::Path;

use strata_tensor::Tensor;

use crate::error::{FilterError, Result};

/// The bytes of a version-1.0 `.npy` file of little-endian `float32` values.
///
/// ```
/// use strata_tensor::Tensor;
/// let bytes = filters::npy_bytes(&Tensor::<f32>::zeros(&[2, 3]));
/// assert_eq!(&bytes[..6], b"\x93NUMPY");
/// assert_eq!(bytes.len() % 16, (2 * 3 * 4) % 16);
/// ```
pub fn npy_bytes(values: &Tensor<f32>) -> Vec<u8> {
    let dims: Vec<String> = values.shape().iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * values.numel());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values.to_vec() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// CSV text of a `[C, H, W]` result: one line per row, values separated by commas, a blank
/// line between channels (the text filter format, so a result can be read back as a filter).
pub fn csv_text(values: &Tensor<f32>) -> String {
    let shape = values.shape();
    let w = shape.last().copied().unwrap_or(1).max(1);
    let h = if shape.len() >= 2 {
        shape[shape.len() - 2].max(1)
    } else {
        1
    };
    let data = values.to_vec();
    let mut out = String::new();
    for (i, row) in data.chunks(w).enumerate() {
        if i > 0 && i % h == 0 {
            out.push('\n');
        }
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Writes the values as `.npy` or `.csv`, chosen by the extension of `path`, atomically.
///
/// # Errors
/// Another extension, or a file that cannot be written.
pub fn write_raw(path: &Path, values: &Tensor<f32>) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let bytes = match ext.as_deref() {
        Some("npy") => npy_bytes(values),
        Some("csv") => csv_text(values).into_bytes(),
        _ => {
            return Err(FilterError::invalid(
                path.display().to_string(),
                "with --raw the output must end in .npy or .csv",
            ))
        }
    };
    strata_tensor::fsio::write_bytes_atomic(path, &bytes).map_err(|source| FilterError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_csv_separates_channels() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 2, 2]).unwrap();
        let bytes = npy_bytes(&t);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2, 2, 2)"), "{header}");
        assert_eq!(&bytes[10 + header_len..][..4], &1.0f32.to_le_bytes());
        assert_eq!(csv_text(&t), "1,2\n3,4\n\n5,6\n7,8\n");
        let err = write_raw(Path::new("out.png"), &t).unwrap_err().to_string();
        assert!(err.contains(".npy or .csv"), "{err}");
    }
}
