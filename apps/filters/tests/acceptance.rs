//! `apply` on the shared portrait equals a naive convolution written here, for every named
//! filter and border mode; bad filter files give errors with line and column.

use std::path::PathBuf;

use filters::{apply_filter, named_filter, read_filter_file, Border, Filter, FILTER_NAMES};
use strata_data::{load_image_unscaled, ColorMode};
use strata_tensor::Tensor;

fn portrait() -> Option<PathBuf> {
    let data = std::env::var_os("STRATA_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let path = data.join("images/grace_hopper.jpg");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {} is absent (set STRATA_DATA)", path.display());
        None
    }
}

/// Plain loops: zero padding of `pad` on each side (before, after), stride `s`.
fn naive(
    image: &[f32],
    [c, h, w]: [usize; 3],
    f: &Filter,
    pad: [usize; 4],
    s: usize,
) -> (Vec<f32>, [usize; 3]) {
    let [kh, kw] = f.size();
    let (ph, pw) = (h + pad[0] + pad[1], w + pad[2] + pad[3]);
    let (oh, ow) = ((ph - kh) / s + 1, (pw - kw) / s + 1);
    let at = |ch: usize, y: isize, x: isize| {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            image[(ch * h + y as usize) * w + x as usize] as f64
        }
    };
    let outs = if f.channels().is_some() { 1 } else { c };
    let mut out = vec![0.0; outs * oh * ow];
    for o in 0..outs {
        for y in 0..oh {
            for x in 0..ow {
                let mut sum = 0.0f64;
                let chans: Vec<usize> = if f.channels().is_some() {
                    (0..c).collect()
                } else {
                    vec![o]
                };
                for (fc, &ch) in chans.iter().enumerate() {
                    for i in 0..kh {
                        for j in 0..kw {
                            let k = f.values[(fc * kh + i) * kw + j] as f64;
                            sum += k * at(
                                ch,
                                (y * s + i) as isize - pad[0] as isize,
                                (x * s + j) as isize - pad[2] as isize,
                            );
                        }
                    }
                }
                out[(o * oh + y) * ow + x] = sum as f32;
            }
        }
    }
    (out, [outs, oh, ow])
}

fn padding(border: Border, n: usize, k: usize, s: usize) -> (usize, usize) {
    match border {
        Border::Valid => (0, 0),
        Border::Full => (k - 1, k - 1),
        Border::Same => {
            let total = ((n.div_ceil(s) - 1) * s + k).saturating_sub(n);
            (total / 2, total - total / 2)
        }
    }
}

fn check(image: &Tensor<f32>, f: &Filter, border: Border, s: usize, what: &str) {
    let &[c, h, w] = image.shape() else { panic!() };
    let [kh, kw] = f.size();
    let (t, b) = padding(border, h, kh, s);
    let (l, r) = padding(border, w, kw, s);
    let (expected, shape) = naive(&image.to_vec(), [c, h, w], f, [t, b, l, r], s);
    let got = apply_filter(image, f, border, s).unwrap();
    assert_eq!(got.shape(), &shape, "{what}");
    for (i, (a, e)) in got.to_vec().iter().zip(&expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
            "{what}: value {i}: {a} vs {e}"
        );
    }
}

#[test]
fn apply_equals_a_naive_convolution_for_every_filter_and_border() {
    let Some(path) = portrait() else { return };
    let grey = load_image_unscaled(&path, ColorMode::Grayscale).unwrap();
    let rgb = load_image_unscaled(&path, ColorMode::Rgb).unwrap();
    for name in FILTER_NAMES {
        let f = named_filter(name).unwrap();
        for border in [Border::Valid, Border::Same, Border::Full] {
            let image = if f.channels() == Some(3) { &rgb } else { &grey };
            check(image, &f, border, 1, &format!("{name} {border:?}"));
        }
    }
    // Colour plane filters act per channel; stride on both kinds.
    let small = rgb.narrow(1, 0, 97).unwrap().narrow(2, 0, 83).unwrap();
    let small = Tensor::from_vec(small.to_vec(), &[3, 97, 83]).unwrap();
    check(
        &small,
        &named_filter("gaussian").unwrap(),
        Border::Same,
        2,
        "gaussian rgb stride 2",
    );
    check(
        &small,
        &named_filter("brown").unwrap(),
        Border::Full,
        3,
        "brown stride 3",
    );
}

#[test]
fn bad_filter_files_name_line_and_column() {
    let dir = std::env::temp_dir().join(format!("filters-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let err = read_filter_file(&write("ragged.txt", "1 2 3\n4 5\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("ragged.txt:2:1: this row has 2 values, the first row has 3 (ragged rows)"),
        "{err}"
    );
    let err = read_filter_file(&write("word.json", "[[1, 2],\n [3, x]]"))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("word.json:2:6: \"x\" is not a number"),
        "{err}"
    );
    let two = read_filter_file(&write("two.txt", "1\n\n2\n")).unwrap();
    let err = two.check_channels(3).unwrap_err().to_string();
    assert!(
        err.contains("two.txt:3:1: the filter has 2 channels but the image has 3"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
