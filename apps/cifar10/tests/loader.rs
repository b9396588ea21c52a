//! The loader on archives and folders in the official binary format, written by the test.

mod common;

use cifar10::{open_split, resolve_source, DatasetKind};
use common::{cifar100_files, cifar10_files, scratch, write_archive, write_folder};
use strata_data::{CifarReader, Dataset, Split};

#[test]
fn the_archive_its_folder_and_the_folder_holding_it_read_alike() {
    let dir = scratch("loader");
    let files = cifar10_files(4, 6);
    let archive = dir.join("cifar-10-binary.tar.gz");
    write_archive(&archive, "cifar-10-batches-bin", &files);
    let extracted = dir.join("extracted");
    write_folder(&extracted.join("cifar-10-batches-bin"), &files);
    assert_eq!(resolve_source(&dir, DatasetKind::Cifar10), archive);
    assert_eq!(resolve_source(&extracted, DatasetKind::Cifar10), extracted);

    let reader = CifarReader::new().any_count();
    let kind = DatasetKind::Cifar10;
    let from_archive = open_split(&reader, &archive, kind, Split::Train).unwrap();
    for source in [
        dir.clone(),
        extracted.clone(),
        extracted.join("cifar-10-batches-bin"),
    ] {
        let other = open_split(&reader, &source, kind, Split::Train).unwrap();
        assert_eq!(
            other.pixels(),
            from_archive.pixels(),
            "{}",
            source.display()
        );
        assert_eq!(other.labels(), from_archive.labels());
    }
    assert_eq!(from_archive.len(), 20);
    assert_eq!(from_archive.sample_shape(), [3, 32, 32]);
    assert_eq!(from_archive.class_names()[9], "truck");
    // Batches in order: batch 2's first image is image 4.
    let (pixels, labels) = common::images(0, 20, 10);
    assert_eq!(from_archive.pixels(), pixels.as_slice());
    assert_eq!(from_archive.labels(), labels.as_slice());
    let test = open_split(&reader, &archive, kind, Split::Test).unwrap();
    assert_eq!(test.len(), 6);

    // The official counts are insisted on by default; the message says where to look.
    let e = open_split(&CifarReader::new(), &archive, kind, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected 10000 records, found 4"), "{e}");
    assert!(e.contains("--data"), "{e}");
    let e = open_split(&reader, &dir.join("absent"), kind, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cifar-10-binary.tar.gz"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cifar100_gives_fine_or_coarse_labels() {
    let dir = scratch("loader100");
    let archive = dir.join("cifar-100-binary.tar.gz");
    write_archive(&archive, "cifar-100-binary", &cifar100_files(30, 10));
    let reader = CifarReader::new().any_count();
    let fine = open_split(&reader, &dir, DatasetKind::Cifar100Fine, Split::Train).unwrap();
    let coarse = open_split(&reader, &dir, DatasetKind::Cifar100Coarse, Split::Train).unwrap();
    assert_eq!(fine.pixels(), coarse.pixels());
    assert_eq!(fine.labels()[25], 25);
    assert_eq!(coarse.labels()[25], 5);
    assert_eq!(fine.class_names().len(), 100);
    assert_eq!(coarse.class_names()[3], "coarse_3");
    std::fs::remove_dir_all(&dir).unwrap();
}
