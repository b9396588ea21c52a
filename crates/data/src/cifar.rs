//! CIFAR-10 and CIFAR-100, binary version, from the extracted folder or the `.tar.gz`.
//!
//! A CIFAR-10 record is 1 label byte then 3072 pixel bytes (1024 red, 1024 green, 1024 blue,
//! each 32×32 row-major); a CIFAR-100 record has 2 label bytes (coarse, then fine). Files:
//!
//! | dataset | folder in the archive | train | test | class names |
//! |---|---|---|---|---|
//! | CIFAR-10 | `cifar-10-batches-bin/` | `data_batch_1.bin` .. `data_batch_5.bin` (10,000 each) | `test_batch.bin` | `batches.meta.txt` |
//! | CIFAR-100 | `cifar-100-binary/` | `train.bin` (50,000) | `test.bin` (10,000) | `fine_label_names.txt`, `coarse_label_names.txt` |

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use crate::mnist::Split;

/// Pixel bytes of one 32×32 RGB image.
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;
const CIFAR10_FOLDER: &str = "cifar-10-batches-bin";
const CIFAR100_FOLDER: &str = "cifar-100-binary";
/// The most records a file may hold under [`CifarReader::any_count`]: the whole of a
/// CIFAR training set, so that no file is read past what any CIFAR file could need.
const MAX_RECORDS: usize = 60_000;
/// The longest class-name file read (CIFAR-100's 100 names take under 1 KiB).
const MAX_NAMES_BYTES: usize = 64 << 10;

/// Reads CIFAR-10 and CIFAR-100.
///
/// By default every file must hold the standard number of records (10,000 per CIFAR-10
/// batch, 50,000/10,000 for CIFAR-100's train/test), so a truncated download cannot pass as a
/// short dataset; [`CifarReader::any_count`] accepts any non-zero whole number of records
/// (for subsets and test fixtures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CifarReader {
    standard_counts: bool,
}

impl Default for CifarReader {
    fn default() -> Self {
        Self::new()
    }
}

/// CIFAR-100 with both label sets; the two datasets share their pixels.
#[derive(Debug, Clone)]
pub struct Cifar100 {
    /// The images with the 100 fine labels.
    pub fine: InMemoryDataset,
    /// The same images with the 20 coarse (superclass) labels.
    pub coarse: InMemoryDataset,
}

impl CifarReader {
    /// A reader that insists on the standard record counts.
    pub fn new() -> Self {
        Self {
            standard_counts: true,
        }
    }

    /// A reader that accepts any non-zero whole number of records per file.
    pub fn any_count(self) -> Self {
        Self {
            standard_counts: false,
        }
    }

    /// Reads CIFAR-10's `split` from `source`: the extracted `cifar-10-batches-bin` folder,
    /// its parent, or `cifar-10-binary.tar.gz`. Samples are `[3, 32, 32]`.
    pub fn cifar10(&self, source: &Path, split: Split) -> Result<InMemoryDataset> {
        let batches: Vec<String> = match split {
            Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
            Split::Test => vec!["test_batch.bin".to_string()],
        };
        let batch_bytes = self.max_bytes(10_000, 1);
        let mut wanted: Vec<(&str, usize)> =
            batches.iter().map(|b| (b.as_str(), batch_bytes)).collect();
        wanted.push(("batches.meta.txt", MAX_NAMES_BYTES));
        let mut files = read_files(source, CIFAR10_FOLDER, &wanted)?;
        let (meta_path, meta) = files
            .remove("batches.meta.txt")
            .ok_or_else(|| missing(source))?;
        let names = parse_names(&meta_path, &meta, 10)?;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for name in &batches {
            let (path, bytes) = files.remove(name.as_str()).ok_or_else(|| missing(source))?;
            let expected = self.standard_counts.then_some(10_000);
            let (p, l) = parse_records(&path, &bytes, &[10], expected)?;
            pixels.extend_from_slice(&p);
            labels.extend(l.into_iter().next().unwrap_or_default());
        }
        InMemoryDataset::new(pixels, [3, 32, 32], labels, names)
    }

    /// Reads CIFAR-100's `split` from `source`: the extracted `cifar-100-binary` folder, its
    /// parent, or `cifar-100-binary.tar.gz`.
    pub fn cifar100(&self, source: &Path, split: Split) -> Result<Cifar100> {
        let (file, count) = match split {
            Split::Train => ("train.bin", 50_000),
            Split::Test => ("test.bin", 10_000),
        };
        let wanted = [
            (file, self.max_bytes(count, 2)),
            ("fine_label_names.txt", MAX_NAMES_BYTES),
            ("coarse_label_names.txt", MAX_NAMES_BYTES),
        ];
        let mut files = read_files(source, CIFAR100_FOLDER, &wanted)?;
        let mut take = |name: &str| files.remove(name).ok_or_else(|| missing(source));
        let (fine_path, fine_names) = take("fine_label_names.txt")?;
        let (coarse_path, coarse_names) = take("coarse_label_names.txt")?;
        let (path, bytes) = take(file)?;
        let fine_names = parse_names(&fine_path, &fine_names, 100)?;
        let coarse_names = parse_names(&coarse_path, &coarse_names, 20)?;
        let expected = self.standard_counts.then_some(count);
        let (pixels, mut labels) = parse_records(&path, &bytes, &[20, 100], expected)?;
        let fine_labels = labels.pop().unwrap_or_default();
        let coarse_labels = labels.pop().unwrap_or_default();
        let fine = InMemoryDataset::new(pixels, [3, 32, 32], fine_labels, fine_names)?;
        let coarse = fine.with_labels(coarse_labels, coarse_names)?;
        Ok(Cifar100 { fine, coarse })
    }
}

impl CifarReader {
    /// The longest a records file may be: exactly `standard` records by default, at most
    /// [`MAX_RECORDS`] under [`CifarReader::any_count`].
    fn max_bytes(&self, standard: usize, label_bytes: usize) -> usize {
        let records = if self.standard_counts {
            standard
        } else {
            MAX_RECORDS
        };
        records * (label_bytes + CIFAR_IMAGE_BYTES)
    }
}

fn missing(source: &Path) -> DataError {
    DataError::folder(source, "a CIFAR file vanished while reading")
}

/// The error for a file longer than the `max` bytes it may have.
fn too_long(path: &Path, size: u64, max: usize) -> DataError {
    DataError::format(
        path,
        format!("{size} bytes, more than the {max} a file of this dataset can have"),
    )
}

/// Reads the files `names` (each with the most bytes it may have) of a CIFAR dataset from a
/// folder, its `folder` subfolder, or a `.tar.gz` holding them (under any folder). A file
/// longer than its bound is an error, found from its size before it is read (and, in an
/// archive, checked again while reading, since a tar header's size is untrusted). Returns
/// name -> (path for messages, bytes).
fn read_files(
    source: &Path,
    folder: &str,
    names: &[(&str, usize)],
) -> Result<HashMap<String, (PathBuf, Vec<u8>)>> {
    let mut found = HashMap::new();
    let bound = |name: &str| names.iter().find(|(n, _)| *n == name).map(|&(_, max)| max);
    if source.is_dir() {
        let dir = if source.join(names[0].0).is_file() {
            source.to_path_buf()
        } else {
            source.join(folder)
        };
        for &(name, max) in names {
            let path = dir.join(name);
            let size = std::fs::metadata(&path)
                .map_err(|e| DataError::io(&path, "read", e))?
                .len();
            if size > max as u64 {
                return Err(too_long(&path, size, max));
            }
            let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, "read", e))?;
            if bytes.len() > max {
                return Err(too_long(&path, bytes.len() as u64, max));
            }
            found.insert(name.to_string(), (path, bytes));
        }
        return Ok(found);
    }
    let file = std::fs::File::open(source).map_err(|e| DataError::io(source, "open", e))?;
    let corrupt =
        |e: std::io::Error| DataError::format(source, format!("corrupt tar.gz archive: {e}"));
    let mut archive = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(file)));
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let entry_path = entry.path().map_err(corrupt)?.into_owned();
        let Some(name) = entry_path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let Some(max) = bound(&name) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = found.entry(name) {
            let path = source.join(&entry_path);
            if entry.size() > max as u64 {
                return Err(too_long(&path, entry.size(), max));
            }
            // The header's size is untrusted: read at most one byte past the bound.
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            (&mut entry)
                .take(max as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(corrupt)?;
            if bytes.len() > max {
                return Err(too_long(&path, bytes.len() as u64, max));
            }
            slot.insert((path, bytes));
        }
    }
    if let Some((absent, _)) = names.iter().find(|(n, _)| !found.contains_key(*n)) {
        return Err(DataError::format(
            source,
            format!("the archive has no {absent} (expected under {folder}/)"),
        ));
    }
    Ok(found)
}

/// Class names, one per non-empty line; exactly `expected` of them.
fn parse_names(path: &Path, bytes: &[u8], expected: usize) -> Result<Vec<String>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| DataError::format(path, format!("class names are not UTF-8: {e}")))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != expected {
        return Err(DataError::format(
            path,
            format!("expected {expected} class names, found {}", names.len()),
        ));
    }
    Ok(names)
}

/// Splits CIFAR records: `classes[i]` is the class count of the i-th label byte. Returns the
/// pixels and one label column per label byte.
fn parse_records(
    path: &Path,
    bytes: &[u8],
    classes: &[usize],
    expected: Option<usize>,
) -> Result<(Vec<u8>, Vec<Vec<usize>>)> {
    let record = classes.len() + CIFAR_IMAGE_BYTES;
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(DataError::format(
            path,
            format!(
                "truncated or padded: {} bytes is not a non-zero whole number of {record}-byte records",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / record;
    if let Some(expected) = expected {
        if n != expected {
            return Err(DataError::format(
                path,
                format!("expected {expected} records, found {n}"),
            ));
        }
    }
    let mut pixels = Vec::with_capacity(n * CIFAR_IMAGE_BYTES);
    let mut labels = vec![Vec::with_capacity(n); classes.len()];
    for (index, rec) in bytes.chunks_exact(record).enumerate() {
        for (column, (&byte, &count)) in rec.iter().zip(classes).enumerate() {
            let label = usize::from(byte);
            if label >= count {
                return Err(DataError::LabelOutOfRange {
                    path: path.to_path_buf(),
                    index,
                    label,
                    classes: count,
                });
            }
            labels[column].push(label);
        }
        pixels.extend_from_slice(&rec[classes.len()..]);
    }
    Ok((pixels, labels))
}

/// Encodes images `[N, 3, 32, 32]` as CIFAR records with the given label columns (one for
/// CIFAR-10; coarse then fine for CIFAR-100).
pub fn encode_cifar(pixels: &[u8], label_columns: &[&[usize]]) -> Result<Vec<u8>> {
    let op = "encode_cifar";
    if !pixels.len().is_multiple_of(CIFAR_IMAGE_BYTES) {
        return Err(DataError::invalid(
            op,
            format!(
                "{} pixel bytes is not a whole number of 3072-byte images",
                pixels.len()
            ),
        ));
    }
    let n = pixels.len() / CIFAR_IMAGE_BYTES;
    for col in label_columns {
        if col.len() != n {
            return Err(DataError::invalid(
                op,
                format!("{} labels for {n} images", col.len()),
            ));
        }
        if let Some(&l) = col.iter().find(|&&l| l > 255) {
            return Err(DataError::invalid(
                op,
                format!("label {l} does not fit in a byte"),
            ));
        }
    }
    let mut out = Vec::with_capacity(n * (label_columns.len() + CIFAR_IMAGE_BYTES));
    for (i, image) in pixels.chunks_exact(CIFAR_IMAGE_BYTES).enumerate() {
        out.extend(label_columns.iter().map(|col| col[i] as u8));
        out.extend_from_slice(image);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;
    use crate::fsio::tests::{gzip, scratch};
    use crate::fsio::write_atomic;
    use proptest::prelude::*;

    fn image(seed: usize) -> Vec<u8> {
        (0..CIFAR_IMAGE_BYTES)
            .map(|i| (i * 7 + seed * 13) as u8)
            .collect()
    }

    fn names(n: usize) -> String {
        (0..n).map(|i| format!("class{i}\n")).collect()
    }

    /// Writes a CIFAR-10 folder with `per` records per batch; returns the folder.
    fn write_cifar10(root: &Path, per: usize) -> PathBuf {
        let dir = root.join(CIFAR10_FOLDER);
        std::fs::create_dir_all(&dir).unwrap();
        let files: Vec<String> = (1..=5)
            .map(|i| format!("data_batch_{i}.bin"))
            .chain(["test_batch.bin".into()])
            .collect();
        for (f, name) in files.iter().enumerate() {
            let pixels: Vec<u8> = (0..per).flat_map(|i| image(f * per + i)).collect();
            let labels: Vec<usize> = (0..per).map(|i| (f * per + i) % 10).collect();
            write_atomic(&dir.join(name), &encode_cifar(&pixels, &[&labels]).unwrap()).unwrap();
        }
        write_atomic(
            &dir.join("batches.meta.txt"),
            format!("{}\n\n", names(10)).as_bytes(),
        )
        .unwrap();
        dir
    }

    fn tar_gz(dir: &Path, folder: &str, out: &Path) {
        let mut builder = tar::Builder::new(Vec::new());
        builder.append_dir_all(folder, dir).unwrap();
        let bytes = builder.into_inner().unwrap();
        write_atomic(out, &gzip(&bytes)).unwrap();
    }

    #[test]
    fn cifar10_from_folder_parent_and_archive() {
        let root = scratch("cifar10");
        let dir = write_cifar10(&root, 3);
        let archive = root.join("cifar-10-binary.tar.gz");
        tar_gz(&dir, CIFAR10_FOLDER, &archive);
        let reader = CifarReader::new().any_count();
        for source in [&dir, &root, &archive] {
            let train = reader.cifar10(source, Split::Train).unwrap();
            assert_eq!(train.len(), 15);
            assert_eq!(train.labels()[..12], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
            assert_eq!(train.image(4).unwrap(), image(4).as_slice());
            assert_eq!(train.class_names()[9], "class9");
            let test = reader.cifar10(source, Split::Test).unwrap();
            assert_eq!(test.len(), 3);
            assert_eq!(test.image(0).unwrap(), image(15).as_slice());
        }
        let e = CifarReader::new()
            .cifar10(&dir, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("expected 10000 records, found 3"),
            "{e}"
        );
    }

    #[test]
    fn cifar10_bad_files() {
        let root = scratch("cifar10-bad");
        let dir = write_cifar10(&root, 2);
        let reader = CifarReader::new().any_count();
        let batch = dir.join("test_batch.bin");
        let mut bytes = std::fs::read(&batch).unwrap();
        bytes[3073] = 10;
        write_atomic(&batch, &bytes).unwrap();
        let e = reader.cifar10(&dir, Split::Test).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("label 10 of sample 1"),
            "{e}"
        );
        write_atomic(&batch, &bytes[..3073 + 100]).unwrap();
        let e = reader.cifar10(&dir, Split::Test).unwrap_err().to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("3173 bytes"),
            "{e}"
        );
        write_atomic(&dir.join("batches.meta.txt"), names(9).as_bytes()).unwrap();
        let e = reader.cifar10(&dir, Split::Train).unwrap_err().to_string();
        assert!(
            e.contains("batches.meta.txt") && e.contains("expected 10 class names, found 9"),
            "{e}"
        );
        std::fs::remove_file(dir.join("data_batch_3.bin")).unwrap();
        let e = reader.cifar10(&dir, Split::Train).unwrap_err().to_string();
        assert!(e.contains("data_batch_3.bin"), "{e}");
        let archive = root.join("broken.tar.gz");
        write_atomic(&archive, &gzip(b"not a tar archive at all")).unwrap();
        let e = reader
            .cifar10(&archive, Split::Train)
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken.tar.gz"), "{e}");
    }

    /// A `.tar.gz` whose one entry `name` claims `size` bytes and holds `data`.
    fn archive_with_entry(out: &Path, name: &str, size: u64, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_path(format!("{CIFAR10_FOLDER}/{name}")).unwrap();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend_from_slice(data);
        bytes.resize(bytes.len().next_multiple_of(512) + 1024, 0);
        write_atomic(out, &gzip(&bytes)).unwrap();
    }

    #[test]
    fn archive_entries_are_bounded_by_the_records_expected() {
        let root = scratch("cifar10-huge-entry");
        let archive = root.join("cifar-10-binary.tar.gz");
        // A header claiming 1 TiB fails from the header, before any reservation or read.
        archive_with_entry(&archive, "test_batch.bin", 1 << 40, &[0; 100]);
        for reader in [CifarReader::new(), CifarReader::new().any_count()] {
            let e = reader
                .cifar10(&archive, Split::Test)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("test_batch.bin") && e.contains("1099511627776 bytes, more than the"),
                "{e}"
            );
        }
        // The standard reader takes no byte more than 10,000 records.
        let e = CifarReader::new()
            .cifar10(&archive, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the 30730000"), "{e}");
        // A class-name file is small.
        archive_with_entry(&archive, "batches.meta.txt", 100_000, &vec![b'a'; 100_000]);
        let e = CifarReader::new()
            .any_count()
            .cifar10(&archive, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("batches.meta.txt") && e.contains("100000 bytes, more than the 65536"),
            "{e}"
        );
        // The same bound holds for an extracted folder.
        let dir = write_cifar10(&root, 1);
        write_atomic(&dir.join("batches.meta.txt"), &vec![b'a'; 70_000]).unwrap();
        let e = CifarReader::new()
            .any_count()
            .cifar10(&dir, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(e.contains("70000 bytes, more than the 65536"), "{e}");
    }

    #[test]
    fn cifar100_fine_and_coarse() {
        let root = scratch("cifar100");
        let dir = root.join(CIFAR100_FOLDER);
        std::fs::create_dir_all(&dir).unwrap();
        let pixels: Vec<u8> = (0..4).flat_map(image).collect();
        let bytes = encode_cifar(&pixels, &[&[19, 0, 5, 7], &[99, 1, 50, 3]]).unwrap();
        write_atomic(&dir.join("test.bin"), &bytes).unwrap();
        write_atomic(&dir.join("fine_label_names.txt"), names(100).as_bytes()).unwrap();
        write_atomic(&dir.join("coarse_label_names.txt"), names(20).as_bytes()).unwrap();
        let archive = root.join("cifar-100-binary.tar.gz");
        tar_gz(&dir, CIFAR100_FOLDER, &archive);
        for source in [&root, &archive] {
            let d = CifarReader::new()
                .any_count()
                .cifar100(source, Split::Test)
                .unwrap();
            assert_eq!(d.fine.labels(), &[99, 1, 50, 3]);
            assert_eq!(d.coarse.labels(), &[19, 0, 5, 7]);
            assert_eq!(d.coarse.class_names().len(), 20);
            assert_eq!(d.fine.pixels(), pixels.as_slice());
            assert_eq!(d.coarse.image(3).unwrap(), image(3).as_slice());
        }
        let e = CifarReader::new()
            .cifar100(&root, Split::Train)
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.bin"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..8000), two in any::<bool>()) {
            let classes: &[usize] = if two { &[20, 100] } else { &[10] };
            let _ = parse_records(Path::new("x.bin"), &bytes, classes, None);
            let _ = parse_names(Path::new("x.txt"), &bytes, 10);
        }

        #[test]
        // `cut` stays below one 3073-byte record: cutting exactly one record off a file of
        // two or more leaves a valid file.
        fn round_trip_and_corruption(n in 1usize..4, seed in 0usize..1000, cut in 1usize..3073, bad in 10usize..256) {
            let pixels: Vec<u8> = (0..n).flat_map(|i| image(seed + i)).collect();
            let labels: Vec<usize> = (0..n).map(|i| (seed + i) % 10).collect();
            let bytes = encode_cifar(&pixels, &[&labels]).unwrap();
            let (p, l) = parse_records(Path::new("x.bin"), &bytes, &[10], Some(n)).unwrap();
            prop_assert_eq!(&p, &pixels);
            prop_assert_eq!(&l[0], &labels);
            prop_assert!(parse_records(Path::new("x.bin"), &bytes[..bytes.len() - cut], &[10], None).is_err());
            let mut corrupt = bytes.clone();
            corrupt[(n - 1) * 3073] = bad as u8;
            prop_assert!(parse_records(Path::new("x.bin"), &corrupt, &[10], None).is_err());
        }
    }
}
