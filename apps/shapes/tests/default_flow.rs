//! The default workflow, scaled down: few images, one epoch.

use shapes::{load_model, predict, read_images, run_default, TrainOptions};
use strata_data::Shapes;

#[test]
fn the_default_flow_runs_end_to_end_scaled_down() {
    let dir = std::env::temp_dir().join(format!("shapes-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let options = TrainOptions {
        images: 30,
        data: None,
        epochs: 1,
        batch_size: 10,
        learning_rate: 0.001,
        seed: 7,
        validation_split: 0.3,
        augment: false,
        in_memory: false,
        checkpoint: None,
        checkpoint_every_steps: 0,
        resume: false,
        model_path: dir.join("shapes.safetensors"),
        plot_path: dir.join("loss.png"),
        quiet: true,
    };
    let (report, prediction, label) = run_default(&options).unwrap();
    assert_eq!(report.history.epochs.len(), 1);
    assert!(report.history.epochs[0].val_loss.is_some());
    assert!(label < 3 && prediction.class < 3);
    let total: f32 = prediction.probabilities.iter().sum();
    assert!((total - 1.0).abs() < 1e-4);
    let png = std::fs::read(&options.plot_path).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // Predicting from image files of another size goes through resizing.
    let images = dir.join("images");
    Shapes::new(3, 1).write_folder(&images).unwrap();
    let model = load_model(&options.model_path).unwrap();
    let batch = read_images(&[images.join("circle/circle_000000.png")]).unwrap();
    assert_eq!(predict(&model, &batch).unwrap().len(), 1);

    // Clear errors for a missing model and an unreadable image.
    let err = load_model(&dir.join("absent.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.safetensors"), "{err}");
    std::fs::write(dir.join("bad.png"), b"nope").unwrap();
    let err = read_images(&[dir.join("bad.png")]).unwrap_err().to_string();
    assert!(err.contains("bad.png"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_generated_folder_trains_with_augmentation_and_validates_on_every_class() {
    let dir = std::env::temp_dir().join(format!("shapes-folder-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Shapes::new(30, 3).write_folder(&dir.join("data")).unwrap();
    let folder = strata_data::ImageFolder::new(
        &dir.join("data"),
        strata_data::SHAPES_SIZE,
        strata_data::SHAPES_SIZE,
        strata_data::ColorMode::Rgb,
    )
    .unwrap();
    // The folder lists circles, then squares, then triangles; the app's split still holds
    // out a share of each class (round(10 · 0.3) = 3).
    let (_, validation) = strata_data::train_validation_split(&folder, 0.3, Some(7)).unwrap();
    let mut counts = [0usize; 3];
    for &i in validation.indices() {
        counts[strata_data::Dataset::label(&folder, i).unwrap()] += 1;
    }
    assert_eq!(counts, [3, 3, 3]);
    let options = TrainOptions {
        images: 0,
        data: Some(dir.join("data")),
        epochs: 1,
        batch_size: 7,
        learning_rate: 0.001,
        seed: 7,
        validation_split: 0.3,
        augment: true,
        in_memory: false,
        checkpoint: None,
        checkpoint_every_steps: 0,
        resume: false,
        model_path: dir.join("shapes.safetensors"),
        plot_path: dir.join("loss.png"),
        quiet: true,
    };
    let report = shapes::train(&options).unwrap();
    let epoch = &report.history.epochs[0];
    assert!(epoch.loss.is_finite() && epoch.val_accuracy.is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}
