//! End to end: the tiny VGG's weights as read from each layout, run through a
//! plain-loop forward pass (NHWC, HWIO kernels as Keras stores them), give the
//! logits Keras computed (stored in expected.json).

use strata_hdf5::keras::{self, Weights};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// 3x3 "same" convolution + bias + ReLU on one HWC image; kernel is HWIO.
fn conv_relu(
    x: &[f64],
    h: usize,
    w: usize,
    cin: usize,
    k: &[f32],
    b: &[f32],
    cout: usize,
) -> Vec<f64> {
    let mut y = vec![0.0; h * w * cout];
    for i in 0..h {
        for j in 0..w {
            for o in 0..cout {
                let mut acc = f64::from(b[o]);
                for di in 0..3 {
                    for dj in 0..3 {
                        let (ii, jj) = (i as isize + di as isize - 1, j as isize + dj as isize - 1);
                        if ii < 0 || jj < 0 || ii >= h as isize || jj >= w as isize {
                            continue;
                        }
                        for c in 0..cin {
                            let xv = x[(ii as usize * w + jj as usize) * cin + c];
                            acc += xv * f64::from(k[((di * 3 + dj) * cin + c) * cout + o]);
                        }
                    }
                }
                y[(i * w + j) * cout + o] = acc.max(0.0);
            }
        }
    }
    y
}

fn max_pool(x: &[f64], h: usize, w: usize, c: usize) -> Vec<f64> {
    let (oh, ow) = (h / 2, w / 2);
    let mut y = vec![f64::NEG_INFINITY; oh * ow * c];
    for i in 0..oh {
        for j in 0..ow {
            for ch in 0..c {
                for (di, dj) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let v = x[((2 * i + di) * w + 2 * j + dj) * c + ch];
                    let t = &mut y[(i * ow + j) * c + ch];
                    *t = t.max(v);
                }
            }
        }
    }
    y
}

fn dense(x: &[f64], k: &[f32], b: &[f32], out: usize, relu: bool) -> Vec<f64> {
    (0..out)
        .map(|o| {
            let v = f64::from(b[o])
                + x.iter()
                    .enumerate()
                    .map(|(i, &xv)| xv * f64::from(k[i * out + o]))
                    .sum::<f64>();
            if relu {
                v.max(0.0)
            } else {
                v
            }
        })
        .collect()
}

fn logits(w: &Weights, n: usize) -> Vec<f64> {
    let size = 32;
    let mut x: Vec<f64> = (0..size * size * 3)
        .map(|i| {
            let (h, rest) = (i / (size * 3), i % (size * 3));
            let (wc, c) = (rest / 3, rest % 3);
            // As the script: in f64, then rounded to f32.
            let v = 0.1 * h as f64 + 0.2 * wc as f64 + 0.7 * c as f64 + 1.3 * n as f64;
            f64::from(v.sin() as f32)
        })
        .collect();
    let (mut h, mut cin) = (size, 3);
    for (block, convs) in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)] {
        for i in 1..=convs {
            let l = w
                .layer(&format!("block{block}_conv{i}"))
                .expect("conv layer");
            let cout = l.weights[0].shape[3];
            x = conv_relu(
                &x,
                h,
                h,
                cin,
                &l.weights[0].values,
                &l.weights[1].values,
                cout,
            );
            cin = cout;
        }
        x = max_pool(&x, h, h, cin);
        h /= 2;
    }
    for (name, relu) in [("fc1", true), ("fc2", true), ("predictions", false)] {
        let l = w.layer(name).expect("dense layer");
        x = dense(
            &x,
            &l.weights[0].values,
            &l.weights[1].values,
            l.weights[0].shape[1],
            relu,
        );
    }
    x
}

#[test]
fn both_layouts_reproduce_the_keras_logits() {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    let e: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want = e["vgg_tiny"]["logits"].as_array().unwrap();
    for file in [
        "vgg_tiny_legacy.h5",
        "vgg_tiny_full_legacy.h5",
        "vgg_tiny.weights.h5",
    ] {
        let w = keras::read(fixture(file)).unwrap();
        for (n, row) in want.iter().enumerate() {
            let got = logits(&w, n);
            let row: Vec<f64> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(got.len(), row.len());
            for (g, r) in got.iter().zip(&row) {
                assert!(
                    (g - r).abs() < 1e-4 * r.abs().max(1.0),
                    "{file} image {n}: {got:?} vs {row:?}"
                );
            }
        }
    }
}
