//! Training end to end: learning a separable task, determinism across thread counts, save
//! and load, resuming from a checkpoint, and the errors training reports.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, DropoutConfig, FlattenConfig, MaxPool2dConfig,
};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::{
    Control, EarlyStopping, EpochHook, FitConfig, Model, Monitor, Validation, Verbosity,
};
use strata_layers::Targets;
use strata_layers::{LayersError, Sequential};
use strata_tensor::Tensor;

/// Images 1×8×8 of a vertical (class 0) or horizontal (class 1) bar at a random place, on
/// noise.
fn bars(n: usize, seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 2;
        let at = rng.random_range(1..7usize);
        for y in 0..8 {
            for x in 0..8 {
                let on = if class == 0 { x == at } else { y == at };
                let noise: f32 = rng.random_range(0.0..0.3);
                data.push(if on { 1.0 } else { noise });
            }
        }
        labels.push(class);
    }
    (Tensor::from_vec(data, &[n, 1, 8, 8]).unwrap(), labels)
}

fn network(seed: u64) -> Sequential<f32> {
    Sequential::builder(&[1, 8, 8])
        .seed(seed)
        .add(Conv2dConfig::new(4, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.1))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(2))
        .build()
        .unwrap()
}

fn model(seed: u64) -> Model<f32> {
    Model::new(
        network(seed),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        Adam::new(AdamConfig {
            learning_rate: 0.01,
            ..AdamConfig::default()
        })
        .unwrap(),
    )
}

fn quiet(epochs: usize) -> FitConfig<f32> {
    FitConfig {
        epochs,
        batch_size: 8,
        seed: 3,
        verbosity: Verbosity::Silent,
        ..FitConfig::default()
    }
}

fn bits(model: &Model<f32>) -> Vec<(String, Vec<u32>)> {
    model
        .network()
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.to_vec().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn a_small_convnet_learns_a_separable_task_perfectly() {
    let (x, y) = bars(96, 1);
    let mut m = model(7);
    let config = FitConfig {
        validation: Validation::Split(0.25),
        ..quiet(25)
    };
    let history = m.fit(&x, &Targets::Labels(y), &config, &mut []).unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.accuracy, Some(1.0), "{history:?}");
    assert_eq!(last.val_accuracy, Some(1.0), "{history:?}");
    assert!(history.loss()[0] > last.loss);
    let (test_x, test_y) = bars(40, 99);
    let eval = m.evaluate(&test_x, &Targets::Labels(test_y), 16).unwrap();
    assert_eq!(eval.accuracy, Some(1.0));
    let probs = m.predict(&test_x, 16).unwrap();
    assert_eq!(probs.shape(), &[40, 2]);
    for s in probs.sum_axes(&[1], false).unwrap().to_vec() {
        assert!((s - 1.0).abs() < 1e-5);
    }
}

#[test]
fn same_seed_gives_bitwise_the_same_weights_with_one_or_two_threads() {
    let (x, y) = bars(48, 2);
    let y = Targets::Labels(y);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut m = model(11);
            m.fit(&x, &y, &quiet(3), &mut []).unwrap();
            bits(&m)
        })
    };
    assert_eq!(run(1), run(2));
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-training-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn save_then_load_gives_identical_predictions() {
    let (x, y) = bars(32, 3);
    let mut m = model(5);
    m.fit(&x, &Targets::Labels(y), &quiet(2), &mut []).unwrap();
    let path = scratch("save").join("model.safetensors");
    m.network().save(&path).unwrap();
    let loaded = Sequential::<f32>::load(&path).unwrap();
    assert!(Sequential::<f32>::load_for(&path, &[1, 8, 8], &[2]).is_ok());
    let err = Sequential::<f32>::load_for(&path, &[3, 8, 8], &[2]).unwrap_err();
    assert!(
        err.to_string().contains("found one from [1, 8, 8] to [2]"),
        "{err}"
    );
    assert_eq!(loaded.architecture(), m.network().architecture());
    let a = m.network().predict_batch(&x).unwrap();
    let b = loaded.predict_batch(&x).unwrap();
    assert_eq!(a, b);
    // Loading into a model of another shape names the key and both shapes.
    let other = Sequential::<f32>::builder(&[1, 8, 8])
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3))
        .build()
        .unwrap();
    let err = other
        .load_state_dict(m.network().state_dict(), "model.safetensors")
        .unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn resuming_from_a_checkpoint_repeats_an_uninterrupted_run() {
    let (x, y) = bars(40, 4);
    let y = Targets::Labels(y);
    let mut straight = model(9);
    straight.fit(&x, &y, &quiet(4), &mut []).unwrap();

    let path = scratch("resume").join("checkpoint.safetensors");
    let mut first = model(9);
    first.fit(&x, &y, &quiet(2), &mut []).unwrap();
    first.save_checkpoint(&path).unwrap();
    // A fresh process would build the model from code (or load it) and restore the rest.
    let mut resumed = model(123);
    resumed.load_checkpoint(&path).unwrap();
    assert_eq!(resumed.epochs_done(), 2);
    let config = FitConfig {
        initial_epoch: resumed.epochs_done(),
        ..quiet(4)
    };
    resumed.fit(&x, &y, &config, &mut []).unwrap();
    assert_eq!(bits(&resumed), bits(&straight));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_non_finite_loss_stops_training_naming_epoch_and_step() {
    let (x, y) = bars(16, 5);
    let mut values = x.to_vec();
    values[8 * 64 + 3] = f32::NAN; // the ninth sample: second batch without shuffling
    let x = Tensor::from_vec(values, x.shape()).unwrap();
    let mut m = model(1);
    let config = FitConfig {
        shuffle: false,
        ..quiet(2)
    };
    let err = m
        .fit(&x, &Targets::Labels(y), &config, &mut [])
        .unwrap_err();
    assert!(
        matches!(
            err,
            LayersError::NonFiniteLoss {
                epoch: 1,
                step: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("epoch 1, step 2"), "{err}");
}

#[test]
fn early_stopping_and_hooks_end_training() {
    let (x, y) = bars(32, 6);
    let y = Targets::Labels(y);
    let mut m = model(2);
    let mut seen = Vec::new();
    let mut hook = EpochHook(|stats: &strata_layers::train::EpochStats| {
        seen.push(stats.epoch);
        if stats.epoch == 2 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    let history = m.fit(&x, &y, &quiet(10), &mut [&mut hook]).unwrap();
    assert_eq!(history.epochs.len(), 3);
    assert_eq!(seen, vec![0, 1, 2]);

    // Patience 0 on a loss that cannot improve (learning rate 0) stops after one epoch more.
    let mut frozen = Model::new(
        network(2),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        Adam::new(AdamConfig {
            learning_rate: 0.0,
            ..AdamConfig::default()
        })
        .unwrap(),
    );
    let mut stop = EarlyStopping::new(Monitor::Loss, 0);
    let config = FitConfig {
        shuffle: false,
        ..quiet(10)
    };
    let history = frozen.fit(&x, &y, &config, &mut [&mut stop]).unwrap();
    assert!(history.epochs.len() <= 3, "{}", history.epochs.len());
    assert!(stop.stopped_epoch.is_some());
    // Monitoring validation loss without validation data is an error, not a silent no-op.
    let mut needs_validation = EarlyStopping::new(Monitor::ValLoss, 1);
    assert!(frozen
        .fit(&x, &y, &quiet(1), &mut [&mut needs_validation])
        .is_err());
}

#[test]
fn inputs_of_the_wrong_shape_are_named() {
    let mut m = model(0);
    let x = Tensor::<f32>::zeros(&[4, 1, 9, 8]);
    let err = m
        .fit(&x, &Targets::Labels(vec![0; 4]), &quiet(1), &mut [])
        .unwrap_err();
    assert!(
        err.to_string().contains("[1, 8, 8]") && err.to_string().contains("[1, 9, 8]"),
        "{err}"
    );
    let x = Tensor::<f32>::zeros(&[4, 1, 8, 8]);
    let err = m
        .fit(&x, &Targets::Labels(vec![0; 3]), &quiet(1), &mut [])
        .unwrap_err();
    assert!(err.to_string().contains("4 samples but 3 targets"), "{err}");
}

#[test]
fn a_schedule_sets_the_learning_rate_each_epoch() {
    use std::sync::Arc;
    use strata_layers::optim::StepDecay;
    use strata_layers::train::EpochSchedule;
    let (x, y) = bars(16, 7);
    let mut m = model(3);
    let schedule = EpochSchedule(Arc::new(StepDecay {
        initial: 0.01,
        step_size: 2,
        gamma: 0.1,
    }));
    let config = FitConfig {
        schedule: Some(schedule),
        ..quiet(3)
    };
    m.fit(&x, &Targets::Labels(y), &config, &mut []).unwrap();
    // Epoch 2 (the third) runs at 0.01 · 0.1.
    assert!((m.optimizer().learning_rate() - 0.001).abs() < 1e-15);
}
