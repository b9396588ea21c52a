//! Every subcommand through the binary, on archives in the official format written by the
//! test, and the download from a server on 127.0.0.1.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{cifar100_files, cifar10_files, scratch, serve, write_archive};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cifar10"))
        .args(args)
        .env_remove("STRATA_DATA")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{args:?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn train_resume_eval_and_predict_on_a_small_archive() {
    let dir = scratch("cli");
    let archive = dir.join("cifar-10-binary.tar.gz");
    write_archive(&archive, "cifar-10-batches-bin", &cifar10_files(8, 20));
    let model = dir.join("out/cifar10.safetensors");
    let common = [
        "--data",
        s(&archive),
        "--any-count",
        "--batch-size",
        "8",
        "--model",
        s(&model),
    ];
    let train = |extra: &[&str]| ok(&[&["train"], &common[..], extra].concat());

    let out = train(&["--epochs", "1", "--limit", "24"]);
    assert!(out.contains("24 training images, 20 test images"), "{out}");
    assert!(out.contains("Total params: 1,250,858"), "{out}");
    assert!(out.contains("test accuracy after 1 epochs"), "{out}");
    for file in [
        "cifar10.safetensors",
        "cifar10.standardization.json",
        "cifar10.checkpoint.safetensors",
        "cifar10-loss.png",
        "cifar10-accuracy.png",
    ] {
        assert!(dir.join("out").join(file).is_file(), "{file}");
    }
    let json = std::fs::read_to_string(dir.join("out/cifar10.standardization.json")).unwrap();
    assert!(
        json.contains("\"mean\"") && json.contains("\"std\""),
        "{json}"
    );

    let out = train(&["--epochs", "2", "--limit", "24", "--resume"]);
    assert!(out.contains("after 1 epochs and 0 steps"), "{out}");
    assert!(out.contains("test accuracy after 2 epochs"), "{out}");

    let errors = dir.join("mistakes.png");
    let out = ok(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&archive),
        "--any-count",
        "--errors",
        s(&errors),
    ]);
    assert!(
        out.contains("test accuracy: ") && out.contains("(20 images)"),
        "{out}"
    );
    assert!(out.contains("airplane:") && out.contains("truck:"), "{out}");
    assert!(out.contains("confusion matrix"), "{out}");
    assert!(errors.is_file() || out.contains("no mistakes"), "{out}");

    // Any photo, any size: written here as a PNG and a JPEG.
    let png = dir.join("photo.png");
    let jpg = dir.join("photo.jpg");
    image::RgbImage::from_fn(50, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, 90])
    })
    .save(&png)
    .unwrap();
    image::RgbImage::from_fn(17, 23, |x, _| image::Rgb([200, (x * 9) as u8, 10]))
        .save(&jpg)
        .unwrap();
    let out = ok(&["predict", "--model", s(&model), s(&png), s(&jpg)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(s(&png)) && lines[0].contains("(p = "),
        "{out}"
    );
    assert!(
        common::CIFAR10_NAMES
            .iter()
            .any(|n| lines[1].contains(&format!(": {n} (p = "))),
        "{out}"
    );

    // A missing model and a missing standardisation say what to do.
    let out = run(&[
        "predict",
        "--model",
        s(&dir.join("none.safetensors")),
        s(&png),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("train one first"));
    std::fs::remove_file(dir.join("out/cifar10.standardization.json")).unwrap();
    let out = run(&["predict", "--model", s(&model), s(&png)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("standardization"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cifar100_trains_and_evaluates_with_fine_or_coarse_labels() {
    let dir = scratch("cli100");
    write_archive(
        &dir.join("cifar-100-binary.tar.gz"),
        "cifar-100-binary",
        &cifar100_files(16, 8),
    );
    let model = dir.join("coarse.safetensors");
    let out = ok(&[
        "train",
        "--data",
        s(&dir),
        "--coarse",
        "--any-count",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--model",
        s(&model),
    ]);
    assert!(
        out.contains("16 training images, 8 test images (Cifar100Coarse)"),
        "{out}"
    );
    let out = ok(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&dir),
        "--coarse",
        "--any-count",
    ]);
    assert!(out.contains("coarse_19:"), "{out}");
    // A 20-class model cannot be scored on the fine labels.
    let out = run(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&dir),
        "--fine",
        "--any-count",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("20 classes") && stderr.contains("100"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn download_checks_the_official_md5() {
    let dir = scratch("download");
    let body = b"not the CIFAR-10 archive".to_vec();
    let base = serve(body.clone());
    let out = run(&["download", "--dest", s(&dir), "--base-url", &base]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("c32a1d4ab5d03f1284b67883e8d87530"),
        "{stderr}"
    );
    assert!(!dir.join("cifar-10-binary.tar.gz").exists());

    // With the checksum of what is served, the file arrives whole (and is kept).
    let served = dir.join("served");
    std::fs::write(&served, &body).unwrap();
    let md5 = strata_data::download::Checksum::Md5(String::new())
        .digest_file(&served)
        .unwrap();
    let mut files = strata_data::download::RemoteFiles::cifar10();
    files.base_url = base;
    files.files[0].1 = strata_data::download::Checksum::Md5(md5);
    let path = cifar10::download_files(&files, &dir.join("data")).unwrap();
    assert_eq!(path, dir.join("data/cifar-10-binary.tar.gz"));
    assert_eq!(std::fs::read(&path).unwrap(), body);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_bench_prints_w4_result_lines() {
    let out = ok(&[
        "bench",
        "--batches",
        "2,3",
        "--samples",
        "1",
        "--min-sample-ms",
        "1",
        "--warmup-ms",
        "1",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("RESULT peer=strata wl=W4 mode=train"),
        "{out}"
    );
    assert!(lines[1].contains(" batch=3 unit=img/s median="), "{out}");
}

#[test]
fn values_that_cannot_work_are_refused_with_the_flag_named() {
    let cases: &[&[&str]] = &[
        &["--threads", "0", "summary"],
        &["train", "--epochs", "0"],
        &["train", "--limit", "0"],
        &["train", "--batch-size", "0"],
        &["bench", "--batches", "0"],
    ];
    for args in cases {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("must be at least 1"), "{args:?}: {stderr}");
    }
    let out = run(&["train", "--fine", "--coarse"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
