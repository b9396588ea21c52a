//! Training on the shared MNIST: a quick subset run for CI, and the full run (ignored;
//! `cargo test --release -p mnist -- --ignored`) that must reach 99% test accuracy.
//!
//! Both read `$STRATA_DATA/mnist` (default `../shared/data/mnist`) and skip with a message
//! when it is absent.

use mnist::{evaluate, load_model, load_split, train, TrainOptions};
use strata_data::{data_dir, IdxDataset, Split};

fn mnist_dir() -> Option<std::path::PathBuf> {
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

fn options(data: std::path::PathBuf, name: &str) -> TrainOptions {
    let out = std::env::temp_dir().join(format!("mnist-app-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    TrainOptions {
        data,
        fashion: None,
        limit: None,
        test_limit: None,
        epochs: 10,
        batch_size: 64,
        learning_rate: 0.001,
        seed: 1,
        model_path: out.join("mnist.safetensors"),
        plot_stem: out.join("mnist"),
        quiet: true,
    }
}

#[test]
fn a_short_run_on_a_subset_learns_far_above_chance() {
    let Some(data) = mnist_dir() else { return };
    let options = TrainOptions {
        limit: Some(2000),
        test_limit: Some(1000),
        epochs: 3,
        ..options(data.clone(), "quick")
    };
    let report = train(&options).unwrap();
    let accuracy = report.history.last().unwrap().val_accuracy.unwrap();
    assert!(accuracy > 0.8, "test accuracy {accuracy} after a short run");
    // The saved model evaluates the same way from disk.
    let model = load_model(&options.model_path).unwrap();
    let names: Vec<&str> = model
        .class_names()
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(names, strata_data::MNIST_CLASSES);
    let (x, y) = load_split(&data, IdxDataset::Mnist, Split::Test, Some(1000)).unwrap();
    let evaluation = evaluate(&model, &x, &y).unwrap();
    assert!((evaluation.confusion.accuracy() - accuracy).abs() < 1e-9);
    assert!(options.model_path.with_file_name("mnist-loss.png").exists());
    std::fs::remove_dir_all(options.model_path.parent().unwrap()).unwrap();
}

#[test]
#[ignore = "the full training run takes minutes: cargo test --release -p mnist -- --ignored"]
fn the_full_run_reaches_99_percent_test_accuracy() {
    let Some(data) = mnist_dir() else { return };
    let options = options(data.clone(), "full");
    let report = train(&options).unwrap();
    let model = load_model(&options.model_path).unwrap();
    let (x, y) = load_split(&data, IdxDataset::Mnist, Split::Test, None).unwrap();
    let accuracy = evaluate(&model, &x, &y).unwrap().confusion.accuracy();
    println!(
        "{:?}",
        report
            .history
            .epochs
            .iter()
            .map(|e| (e.val_accuracy, e.samples_per_second))
            .collect::<Vec<_>>()
    );
    assert!(accuracy >= 0.99, "test accuracy {accuracy}");
}
