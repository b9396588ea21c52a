//! Each subcommand run as a program, writing into a temporary folder.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_filters"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A small test picture, written by the test (no shared data needed).
fn picture(dir: &Path) -> PathBuf {
    let mut values = Vec::new();
    for c in 0..3 {
        for y in 0..12 {
            for x in 0..10 {
                values.push(((x * 7 + y * 3 + c * 5) % 11) as f32 / 10.0);
            }
        }
    }
    let t = strata_tensor::Tensor::from_vec(values, &[3, 12, 10]).unwrap();
    let path = dir.join("in.png");
    strata_plot::save_image_png(&path, &t).unwrap();
    path
}

#[test]
fn every_subcommand_writes_its_outputs() {
    let dir = std::env::temp_dir().join(format!("filters-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image = picture(&dir);
    let img = image.to_str().unwrap();
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();

    let (ok, out, err) = run(&[
        "apply",
        img,
        "--filter",
        "sobel-x",
        "--border",
        "full",
        "--out",
        &p("s.png"),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("[1, 14, 12]"), "{out}");
    assert_eq!(&std::fs::read(p("s.png")).unwrap()[1..4], b"PNG");

    let (ok, _, err) = run(&[
        "apply",
        img,
        "--filter",
        "box",
        "--stride",
        "2",
        "--raw",
        "--out",
        &p("b.csv"),
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(p("b.csv")).unwrap().lines().count(),
        5
    );
    let (ok, _, err) = run(&[
        "apply",
        img,
        "--filter",
        "brown",
        "--raw",
        "--out",
        &p("b.npy"),
    ]);
    assert!(ok, "{err}");
    assert_eq!(&std::fs::read(p("b.npy")).unwrap()[..6], b"\x93NUMPY");

    std::fs::write(p("bad.txt"), "1 2\n3 4\n\n5 6\n7 8\n").unwrap();
    let (ok, _, err) = run(&[
        "apply",
        img,
        "--filter",
        &p("bad.txt"),
        "--color",
        "--out",
        &p("x.png"),
    ]);
    assert!(!ok);
    assert!(
        err.contains("bad.txt:4:1: the filter has 2 channels but the image has 3"),
        "{err}"
    );
    assert!(!dir.join("x.png").exists());
    let (ok, _, err) = run(&["apply", img, "--filter", "nothing", "--out", &p("x.png")]);
    assert!(!ok && err.contains("named filters"), "{err}");

    let (ok, out, err) = run(&["layers", img, "--kernels", "3", "--out", &p("l.png")]);
    assert!(ok, "{err}");
    for line in [
        "input: [1, 3, 12, 10]",
        "conv2d: [1, 3, 10, 8]",
        "max_pooling2d: [1, 3, 5, 4]",
        "flatten: [1, 60]",
        "softmax: [1, 10]",
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
    assert!(dir.join("l.png").exists());

    let (ok, out, err) = run(&[
        "show",
        img,
        "--rows",
        "2:4",
        "--cols",
        "0:3",
        "--out",
        &p("r.png"),
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(dir.join("r.png").exists());
    let (ok, _, err) = run(&["show", img, "--rows", "2:40", "--cols", "0:3"]);
    assert!(!ok && err.contains("--rows"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
