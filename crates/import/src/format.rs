//! Detecting a weight file's format from its first bytes, and reading it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{ImportError, Result};
use crate::torch::{read_torch_legacy, read_torch_zip, LEGACY_MAGIC};
use crate::NamedTensors;

/// The weight formats this crate recognises, by content (the file's extension is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// `torch.save`'s zip format (PyTorch 1.6 and later): starts with `PK\x03\x04`.
    TorchZip,
    /// `torch.save`'s legacy format: a pickle of the magic number `0x1950a86a20f9469cfc6c`.
    TorchLegacy,
    /// safetensors: an 8-byte little-endian header length, then a JSON header.
    Safetensors,
    /// A Keras HDF5 file (`vgg16_weights_tf_dim_ordering_tf_kernels.h5`): the HDF5
    /// signature `\x89HDF\r\n\x1a\n`; the legacy Keras 2 layout or Keras 3's `.weights.h5`.
    KerasH5,
}

/// The HDF5 signature.
const HDF5_SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

impl WeightFormat {
    /// The format of a file that starts with `head` (its first 16 bytes or fewer).
    pub fn detect(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"PK\x03\x04") {
            Some(Self::TorchZip)
        } else if head.starts_with(&LEGACY_MAGIC) {
            Some(Self::TorchLegacy)
        } else if head.starts_with(&HDF5_SIGNATURE) {
            Some(Self::KerasH5)
        } else if head.len() >= 9 && head[8] == b'{' && head[..8] != [0; 8] {
            Some(Self::Safetensors)
        } else {
            None
        }
    }

    /// The format of the file at `path`, from its first bytes.
    pub fn of_file(path: &Path) -> Result<Self> {
        let io_err = |source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut head = Vec::with_capacity(16);
        File::open(path)
            .map_err(io_err)?
            .take(16)
            .read_to_end(&mut head)
            .map_err(io_err)?;
        Self::detect(&head).ok_or_else(|| ImportError::UnknownFormat {
            path: path.to_path_buf(),
            head: head[..head.len().min(8)].to_vec(),
        })
    }
}

/// Reads every tensor of a weight file as `f32`, whatever its format (detected from its
/// content): PyTorch `.pth` (zip or legacy), safetensors, or Keras HDF5 (keyed
/// `layer/variable` in Keras's layouts, see [`crate::read_keras_h5`]).
///
/// ```no_run
/// let tensors = strata_import::read_weights(std::path::Path::new("vgg16-397923af.pth"))?;
/// println!("{:?}", tensors["features.0.weight"].shape()); // [64, 3, 3, 3]
/// # Ok::<(), strata_import::ImportError>(())
/// ```
pub fn read_weights(path: &Path) -> Result<NamedTensors> {
    let read_all = || {
        std::fs::read(path).map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    match WeightFormat::of_file(path)? {
        WeightFormat::TorchZip => read_torch_zip(path),
        WeightFormat::TorchLegacy => read_torch_legacy(&read_all()?, path),
        WeightFormat::Safetensors => crate::safetensors::read_safetensors(&read_all()?, path),
        WeightFormat::KerasH5 => crate::keras_h5::read_keras_h5(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(
            WeightFormat::detect(b"PK\x03\x04rest"),
            Some(WeightFormat::TorchZip)
        );
        assert_eq!(
            WeightFormat::detect(&LEGACY_MAGIC),
            Some(WeightFormat::TorchLegacy)
        );
        assert_eq!(
            WeightFormat::detect(&HDF5_SIGNATURE),
            Some(WeightFormat::KerasH5)
        );
        assert_eq!(
            WeightFormat::detect(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":"),
            Some(WeightFormat::Safetensors)
        );
        assert_eq!(WeightFormat::detect(b"GIF89a"), None);
        assert_eq!(WeightFormat::detect(b""), None);
        assert_eq!(WeightFormat::detect(b"\x80\x02\x8a"), None);
    }

    #[test]
    fn keras_files_go_to_the_hdf5_reader() {
        let dir = std::env::temp_dir().join(format!("strata-import-h5-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("weights.bin");
        std::fs::write(&path, [&HDF5_SIGNATURE[..], &[0u8; 32]].concat()).unwrap();
        let e = read_weights(&path).unwrap_err().to_string();
        assert!(
            e.contains("weights.bin") && !e.contains("unrecognised"),
            "{e}"
        );
        std::fs::write(&path, b"hello world, not weights").unwrap();
        let e = read_weights(&path).unwrap_err().to_string();
        assert!(e.contains("unrecognised"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
