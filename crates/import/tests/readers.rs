//! The readers on files written by PyTorch (see `fixtures/make_fixtures.py`), hostile files,
//! and corrupted bytes.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use strata_import::{read_weights, ImportError, NamedTensors, WeightFormat};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check_against_expected(tensors: &NamedTensors) {
    let expected = expected();
    let expected = expected.as_object().unwrap();
    assert_eq!(tensors.len(), expected.len());
    for (key, want) in expected {
        let t = &tensors[key];
        let shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(t.shape(), shape.as_slice(), "{key}");
        let values: Vec<f32> = want["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(t.to_vec(), values, "{key}");
    }
}

#[test]
fn reads_torch_zip_with_views_and_dtypes() {
    let path = fixture("tensors.pth");
    assert_eq!(
        WeightFormat::of_file(&path).unwrap(),
        WeightFormat::TorchZip
    );
    check_against_expected(&read_weights(&path).unwrap());
}

#[test]
fn reads_torch_legacy() {
    let path = fixture("tensors_legacy.pth");
    assert_eq!(
        WeightFormat::of_file(&path).unwrap(),
        WeightFormat::TorchLegacy
    );
    check_against_expected(&read_weights(&path).unwrap());
}

#[test]
fn reads_safetensors_of_every_float_type() {
    let path = fixture("tensors.safetensors");
    assert_eq!(
        WeightFormat::of_file(&path).unwrap(),
        WeightFormat::Safetensors
    );
    check_against_expected(&read_weights(&path).unwrap());
}

#[test]
fn refuses_a_pickle_that_calls_os_system() {
    let e = read_weights(&fixture("evil_reduce.pth")).unwrap_err();
    let ImportError::Pickle {
        ref entry,
        offset,
        ref message,
        ..
    } = e
    else {
        panic!("{e}")
    };
    assert!(entry.ends_with("data.pkl"));
    assert!(offset > 0);
    // os.system pickles as posix.system on Unix.
    assert!(
        message.contains("posix.system") || message.contains("os.system"),
        "{message}"
    );
    assert!(e.to_string().contains("evil_reduce.pth"));
}

#[test]
fn refuses_sizes_the_file_cannot_hold() {
    let e = read_weights(&fixture("huge_shape.pth"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("huge_shape.pth") && e.contains("tensor w") && e.contains("1073741824"),
        "{e}"
    );
    let e = read_weights(&fixture("shape_mismatch.pth"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tensor w") && e.contains("[4]") && e.contains("3 elements"),
        "{e}"
    );
}

fn temp_file(tag: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-import-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "{:x}.bin",
        bytes.len() ^ bytes.iter().map(|&b| b as usize).sum::<usize>()
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn truncated_files_are_errors() {
    for name in ["tensors.pth", "tensors_legacy.pth", "tensors.safetensors"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 1, 20, 9] {
            let path = temp_file("cut", &bytes[..cut]);
            assert!(read_weights(&path).is_err(), "{name} cut at {cut}");
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Flips, overwrites and truncates `bytes`; the reader must return (an error or tensors),
/// never panic or allocate beyond what the file justifies.
fn corrupt(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    for &(i, b) in edits {
        let n = bytes.len();
        bytes[i % n] ^= b;
    }
    let n = bytes.len();
    bytes.truncate(n - cut % (n / 4));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn corrupted_torch_zip_never_panics(edits in proptest::collection::vec((any::<usize>(), 1u8..), 1..8), cut in any::<usize>()) {
        let bytes = corrupt(std::fs::read(fixture("tensors.pth")).unwrap(), &edits, cut);
        let path = temp_file("zip", &bytes);
        let _ = read_weights(&path);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn corrupted_torch_legacy_never_panics(edits in proptest::collection::vec((any::<usize>(), 1u8..), 1..8), cut in any::<usize>()) {
        let bytes = corrupt(std::fs::read(fixture("tensors_legacy.pth")).unwrap(), &edits, cut);
        let _ = strata_import::read_torch_legacy(&bytes, Path::new("x.pth"));
    }

    #[test]
    fn corrupted_safetensors_never_panics(edits in proptest::collection::vec((any::<usize>(), 1u8..), 1..8), cut in any::<usize>()) {
        let bytes = corrupt(std::fs::read(fixture("tensors.safetensors")).unwrap(), &edits, cut);
        let _ = strata_import::read_safetensors(&bytes, Path::new("x.safetensors"));
    }

    /// Corruption confined to the pickle record (the part an attacker writes).
    #[test]
    fn corrupted_pickle_in_a_valid_zip_never_panics(edits in proptest::collection::vec((any::<usize>(), 1u8..), 1..8)) {
        let bytes = std::fs::read(fixture("tensors.pth")).unwrap();
        // The pickle follows its local header, name `tensors/data.pkl`, in a stored record.
        let start = bytes.windows(8).position(|w| w == b"data.pkl").unwrap() + 8;
        let start = start + bytes[start..].iter().position(|&b| b == 0x80).unwrap();
        let mut bytes = bytes;
        for &(i, b) in &edits {
            bytes[start + i % 300] ^= b;
        }
        let path = temp_file("pkl", &bytes);
        let _ = read_weights(&path);
        let _ = std::fs::remove_file(path);
    }
}
