//! The drawing page end to end: a small model trained on MNIST here, served by
//! `strata-serve`, and a headless Chromium drawing digits on the page stroke by stroke with
//! pointer events, checking the prediction and the bars, and saving a screenshot.
//!
//! Needs `$STRATA_DATA/mnist` (default `../shared/data/mnist`) and Debian's `chromium` and
//! `chromium-driver` (`.ci/install-browser`); skips with a message when either is absent.
//! `STRATA_UPDATE_SCREENSHOT=1` also writes the screenshot to `apps/mnist/docs/serve.png`,
//! the one the README shows.

mod browser;

use std::path::PathBuf;

use browser::{find_browser, Browser, TempDir};
use mnist::{train, TrainOptions};
use serde_json::{json, Value};
use strata_data::data_dir;
use strata_serve::{Classifier, Preprocess, Server, ServerConfig};

fn mnist_dir() -> Option<PathBuf> {
    let dir = data_dir(None).join("mnist");
    if dir.join("train-labels-idx1-ubyte.gz").exists()
        || dir.join("train-labels-idx1-ubyte").exists()
    {
        Some(dir)
    } else {
        eprintln!("SKIPPED: no MNIST at {} (set STRATA_DATA)", dir.display());
        None
    }
}

/// Points every few pixels along straight segments through `corners`, in canvas pixels
/// (the canvas is 280×280), as offsets from its centre.
fn polyline(corners: &[(f64, f64)]) -> Vec<(i64, i64)> {
    let mut points = vec![corners[0]];
    for pair in corners.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        let steps = ((x1 - x0).hypot(y1 - y0) / 8.0).ceil().max(1.0) as usize;
        for i in 1..=steps {
            let t = i as f64 / steps as f64;
            points.push((x0 + t * (x1 - x0), y0 + t * (y1 - y0)));
        }
    }
    points
        .into_iter()
        .map(|(x, y)| ((x - 140.0).round() as i64, (y - 140.0).round() as i64))
        .collect()
}

/// An ellipse as one closed stroke.
fn ellipse(cx: f64, cy: f64, rx: f64, ry: f64) -> Vec<(i64, i64)> {
    let corners: Vec<(f64, f64)> = (0..=36)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / 36.0 - std::f64::consts::FRAC_PI_2;
            (cx + rx * a.cos(), cy + ry * a.sin())
        })
        .collect();
    polyline(&corners)
}

/// What the page shows once it has the prediction of the current drawing.
fn shown(browser: &Browser) -> Value {
    browser.wait_for(
        "the prediction of the current drawing",
        "const p = document.getElementById('prediction'); \
         return p.dataset.drawn !== '0' && p.dataset.shown === p.dataset.drawn;",
    );
    browser.script(
        "const bars = [...document.querySelectorAll('#bars .bar')]; \
         return { label: document.getElementById('prediction').textContent, \
           probabilities: bars.map(b => Number(b.dataset.probability)), \
           widths: bars.map(b => parseFloat(b.querySelector('.fill').style.width)), \
           percents: bars.map(b => parseFloat(b.querySelector('.value').textContent)), \
           names: bars.map(b => b.querySelector('.name').textContent) };",
        json!([]),
    )
}

fn check_digit(browser: &Browser, expected: &str) {
    let page = shown(browser);
    let numbers = |key: &str| -> Vec<f64> {
        page[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (p, widths, percents) = (
        numbers("probabilities"),
        numbers("widths"),
        numbers("percents"),
    );
    assert_eq!(p.len(), 10, "{page}");
    assert_eq!(page["names"], json!(strata_data::MNIST_CLASSES), "{page}");
    assert_eq!(
        page["label"],
        json!(expected),
        "drew {expected}, the page shows {page}"
    );
    let sum: f64 = p.iter().sum();
    assert!(
        (sum - 1.0).abs() < 1e-4,
        "probabilities sum to {sum}: {page}"
    );
    let width: f64 = widths.iter().sum();
    assert!(
        (width - 100.0).abs() < 0.1,
        "bars are {width}% wide in all: {page}"
    );
    let percent: f64 = percents.iter().sum();
    assert!(
        (percent - 100.0).abs() <= 0.5,
        "bar labels sum to {percent}%: {page}"
    );
    let best = p.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(p[expected.parse::<usize>().unwrap()], best, "{page}");
}

#[test]
fn a_digit_drawn_in_chromium_is_recognised_live() {
    let Some(data) = mnist_dir() else { return };
    let Some((chromium, driver)) = find_browser() else {
        return;
    };
    let out = TempDir(std::env::temp_dir().join(format!("mnist-serve-{}", std::process::id())));
    std::fs::create_dir_all(&out.0).unwrap();
    let model = out.0.join("mnist.safetensors");
    let report = train(&TrainOptions {
        data,
        fashion: None,
        limit: Some(12_000),
        test_limit: Some(1000),
        epochs: 2,
        batch_size: 64,
        learning_rate: 0.002,
        seed: 1,
        model_path: model.clone(),
        plot_stem: out.0.join("mnist"),
        quiet: true,
    })
    .unwrap();
    let accuracy = report.history.last().unwrap().val_accuracy.unwrap();
    assert!(accuracy > 0.9, "the quick model reached only {accuracy}");

    let classifier = Classifier::load(&model, Preprocess::Digit).unwrap();
    let server = Server::bind("127.0.0.1:0", classifier, ServerConfig::default())
        .unwrap()
        .spawn()
        .unwrap();
    let browser = Browser::start(&chromium, &driver);
    browser.open(&format!("http://{}/", server.local_addr()));
    browser.wait_for(
        "the page to load the class names",
        "return document.body.dataset.ready === 'true';",
    );
    let pad = browser.centre("#pad");

    // A one: a single stroke, drawn with a pen.
    browser.stroke(pad, "pen", &polyline(&[(150.0, 50.0), (135.0, 235.0)]));
    check_digit(&browser, "1");

    // A zero, with the mouse, after clearing.
    browser.click("#clear");
    browser.stroke(pad, "mouse", &ellipse(140.0, 140.0, 60.0, 90.0));
    check_digit(&browser, "0");

    // A seven in two strokes with touch, plus a stray stroke that Undo takes back.
    browser.click("#clear");
    let seven = [
        polyline(&[(70.0, 60.0), (210.0, 60.0)]),
        polyline(&[(210.0, 60.0), (180.0, 120.0), (125.0, 235.0)]),
    ];
    for stroke in &seven {
        browser.stroke(pad, "touch", stroke);
    }
    check_digit(&browser, "7");
    browser.stroke(pad, "mouse", &polyline(&[(60.0, 230.0), (230.0, 150.0)]));
    shown(&browser);
    browser.click("#undo");
    check_digit(&browser, "7");

    let png = browser.screenshot();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve.png");
    std::fs::write(&target, &png).unwrap();
    eprintln!("screenshot: {}", target.display());
    if std::env::var_os("STRATA_UPDATE_SCREENSHOT").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/serve.png");
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::write(&docs, &png).unwrap();
        eprintln!("screenshot also written to {}", docs.display());
    }

    // Clearing empties the prediction and the bars.
    browser.click("#clear");
    browser.wait_for(
        "the cleared page",
        "return document.getElementById('prediction').textContent === '–' && \
         [...document.querySelectorAll('#bars .bar')].every(b => b.dataset.probability === '0');",
    );
    drop(browser);
    server.shutdown().unwrap();
}
