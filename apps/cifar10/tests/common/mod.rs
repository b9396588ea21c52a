//! Small CIFAR archives in the official binary format, written by the tests (no CIFAR copy
//! is needed), and a one-file HTTP server on 127.0.0.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use strata_data::cifar::{encode_cifar, CIFAR_IMAGE_BYTES};

/// CIFAR-10's class names as `batches.meta.txt` lists them.
pub const CIFAR10_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cifar10-app-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` images whose pixels depend on their index `first + i`, and labels cycling over
/// `classes`.
pub fn images(first: usize, n: usize, classes: usize) -> (Vec<u8>, Vec<usize>) {
    let mut pixels = Vec::with_capacity(n * CIFAR_IMAGE_BYTES);
    for i in first..first + n {
        pixels.extend(
            (0..CIFAR_IMAGE_BYTES).map(|j| ((i * 37 + j * 11 + (j / 1024) * 50) % 256) as u8),
        );
    }
    (pixels, (first..first + n).map(|i| i % classes).collect())
}

/// The files of a CIFAR-10 dataset: five training batches of `per_batch` images and a test
/// batch of `test` images.
pub fn cifar10_files(per_batch: usize, test: usize) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for b in 0..5 {
        let (pixels, labels) = images(b * per_batch, per_batch, 10);
        files.push((
            format!("data_batch_{}.bin", b + 1),
            encode_cifar(&pixels, &[&labels]).unwrap(),
        ));
    }
    let (pixels, labels) = images(1000, test, 10);
    files.push((
        "test_batch.bin".into(),
        encode_cifar(&pixels, &[&labels]).unwrap(),
    ));
    files.push((
        "batches.meta.txt".into(),
        format!("{}\n\n", CIFAR10_NAMES.join("\n")).into_bytes(),
    ));
    files
}

/// The files of a CIFAR-100 dataset with `train` and `test` images (coarse label = fine
/// label mod 20).
pub fn cifar100_files(train: usize, test: usize) -> Vec<(String, Vec<u8>)> {
    let record = |first: usize, n: usize| {
        let (pixels, fine) = images(first, n, 100);
        let coarse: Vec<usize> = fine.iter().map(|l| l % 20).collect();
        encode_cifar(&pixels, &[&coarse, &fine]).unwrap()
    };
    let names = |prefix: &str, n: usize| {
        (0..n)
            .map(|i| format!("{prefix}_{i}"))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    };
    vec![
        ("train.bin".into(), record(0, train)),
        ("test.bin".into(), record(5000, test)),
        ("fine_label_names.txt".into(), names("fine", 100)),
        ("coarse_label_names.txt".into(), names("coarse", 20)),
    ]
}

/// Writes `files` under `folder/` into the `.tar.gz` at `path`.
pub fn write_archive(path: &Path, folder: &str, files: &[(String, Vec<u8>)]) {
    let gz = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{folder}/{name}"), bytes.as_slice())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// Writes `files` into the folder `dir` (as the archive extracts).
pub fn write_folder(dir: &Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Serves `body` for every GET on a port of 127.0.0.1 (from a background thread); returns
/// the base URL, ending with '/'.
pub fn serve(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}
