//! Tests of the training loop: one loop for every source, exact resume, determinism across
//! thread counts, and errors from a user's source.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::RngExt;
use strata_tensor::seed::seeded_rng;
use strata_tensor::Tensor;

use super::*;
use crate::layer::{Activation, DenseConfig, DropoutConfig};
use crate::loss::Loss;
use crate::optim::{Adam, AdamConfig};
use crate::train::{batches_from_fn, ModelCheckpoint};
use crate::Sequential;

const SAMPLES: usize = 14;
const BATCH: usize = 4;

fn data() -> (Tensor<f64>, Targets<f64>) {
    let mut rng = seeded_rng(5, &[]);
    let x: Vec<f64> = (0..SAMPLES * 5)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let labels = (0..SAMPLES).map(|i| i % 3).collect();
    (
        Tensor::from_vec(x, &[SAMPLES, 5]).unwrap(),
        Targets::Labels(labels),
    )
}

fn model() -> Model<f64> {
    let network = Sequential::builder(&[5])
        .seed(3)
        .add(DenseConfig::new(8).activation(Activation::Relu))
        .add(DropoutConfig::new(0.3))
        .add(DenseConfig::new(3))
        .build()
        .unwrap();
    let adam = Adam::new(AdamConfig {
        learning_rate: 0.05,
        ..AdamConfig::default()
    })
    .unwrap();
    Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        adam,
    )
}

fn config(epochs: usize) -> FitConfig<f64> {
    FitConfig {
        epochs,
        batch_size: BATCH,
        seed: 11,
        verbosity: Verbosity::Silent,
        ..FitConfig::default()
    }
}

/// What an augmenting loader does: the batches of (epoch, step) are the shuffled samples
/// plus noise drawn from the seed, the epoch and the sample, never from a running generator.
fn augmenting<'a>(x: &'a Tensor<f64>, y: &'a Targets<f64>) -> impl BatchSource<f64> + 'a {
    let base = TensorBatches::new(x, y, BATCH).unwrap().shuffle(2);
    let steps = base.steps_per_epoch();
    batches_from_fn(steps, move |epoch, first| {
        let batches: Vec<_> = base
            .epoch(epoch, first)
            .unwrap()
            .enumerate()
            .map(|(i, batch)| {
                let (x, y) = batch?;
                let mut rng = seeded_rng(9, &[epoch as u64, (first + i) as u64]);
                let values: Vec<f64> = x
                    .to_vec()
                    .iter()
                    .map(|v| v + rng.random_range(-0.1..0.1))
                    .collect();
                let noisy = Tensor::from_vec(values, x.shape()).map_err(LayersError::from)?;
                Ok::<_, BatchError>((noisy, y))
            })
            .collect();
        batches
    })
}

fn weights(model: &Model<f64>) -> Vec<(String, Vec<f64>)> {
    model
        .network()
        .state_dict()
        .into_iter()
        .map(|(name, t)| (name, t.to_vec()))
        .collect()
}

/// Stops training after a given step, as a killed run would stop.
struct StopAfter(StepPosition);

impl Callback<f64> for StopAfter {
    fn on_epoch_end(&mut self, _: &EpochStats, _: &Model<f64>) -> Result<Control> {
        Ok(Control::Continue)
    }

    fn on_step_end(&mut self, position: StepPosition, _: &Model<f64>) -> Result<Control> {
        Ok(if position == self.0 {
            Control::Stop
        } else {
            Control::Continue
        })
    }
}

#[test]
fn resuming_mid_epoch_gives_the_weights_of_an_uninterrupted_run() {
    let (x, y) = data();
    let source = augmenting(&x, &y);
    let mut whole = model();
    let whole_history = whole
        .fit_batches(&source, None, &config(3), &mut [])
        .unwrap();

    // Stopped inside an epoch, after an epoch's last step (before its end), and early.
    for stop_at in [(1, 1), (1, 3), (0, 0)] {
        let path = std::env::temp_dir().join(format!(
            "strata-resume-{}-{}-{}.safetensors",
            std::process::id(),
            stop_at.0,
            stop_at.1
        ));
        let mut first = model();
        let mut checkpoint = ModelCheckpoint::every_epoch(&path).every_steps(1);
        let mut stop = StopAfter(StepPosition {
            epoch: stop_at.0,
            step: stop_at.1,
        });
        first
            .fit_batches(&source, None, &config(3), &mut [&mut checkpoint, &mut stop])
            .unwrap();
        assert_eq!(
            (first.epochs_done(), first.steps_done()),
            (stop_at.0, stop_at.1 + 1)
        );

        let mut resumed = model();
        resumed.load_checkpoint(&path).unwrap();
        assert_eq!(
            (resumed.epochs_done(), resumed.steps_done()),
            (stop_at.0, stop_at.1 + 1)
        );
        let history = resumed
            .fit_batches(&source, None, &config(3).resume_from(&resumed), &mut [])
            .unwrap();
        assert_eq!(weights(&resumed), weights(&whole), "stopped at {stop_at:?}");
        assert_ne!(weights(&first), weights(&whole));
        // The resumed epoch reports the figures of the uninterrupted one.
        assert_eq!(history.epochs.len(), 3 - stop_at.0);
        let (resumed_epoch, whole_epoch) = (&history.epochs[0], &whole_history.epochs[stop_at.0]);
        assert_eq!(resumed_epoch.loss, whole_epoch.loss);
        assert_eq!(resumed_epoch.accuracy, whole_epoch.accuracy);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn fit_on_tensors_is_fit_on_their_batch_source() {
    let (x, y) = data();
    let mut in_memory = model();
    in_memory.fit(&x, &y, &config(2), &mut []).unwrap();
    let mut from_source = model();
    let source = TensorBatches::new(&x, &y, BATCH).unwrap().shuffle(11);
    from_source
        .fit_batches(&source, None, &config(2), &mut [])
        .unwrap();
    assert_eq!(weights(&in_memory), weights(&from_source));
    // Without prefetching, the same again.
    let mut inline = model();
    let config = FitConfig {
        prefetch: 0,
        ..config(2)
    };
    inline.fit(&x, &y, &config, &mut []).unwrap();
    assert_eq!(weights(&inline), weights(&in_memory));
}

#[test]
fn the_same_seed_gives_the_same_weights_with_one_or_two_threads() {
    let (x, y) = data();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut m = model();
            m.fit_batches(&augmenting(&x, &y), None, &config(2), &mut [])
                .unwrap();
            weights(&m)
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn an_error_from_a_user_source_stops_fit_with_that_error() {
    let (x, _) = data();
    let source = batches_from_fn(Some(4), |_, first| {
        (first..4).map(|step| {
            if step == 2 {
                Err(io::Error::other("the disk went away"))
            } else {
                Ok((x.narrow(0, 0, BATCH).unwrap(), vec![0usize, 1, 2, 0]))
            }
        })
    });
    let mut m = model();
    let err = m
        .fit_batches(&source, None, &config(2), &mut [])
        .unwrap_err();
    match &err {
        LayersError::BatchSource {
            epoch: 1,
            step: 3,
            source,
        } => {
            let io = source
                .downcast_ref::<io::Error>()
                .expect("the source's own error");
            assert_eq!(io.to_string(), "the disk went away");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!((m.epochs_done(), m.steps_done()), (0, 2));
}

#[test]
fn steps_per_epoch_limits_each_epoch_and_validation_comes_from_a_source() {
    let (x, y) = data();
    let pulled = AtomicUsize::new(0);
    let source = batches_from_fn(Some(4), |_, first| {
        let pulled = &pulled;
        let x = &x;
        (first..4).map(move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
            Ok::<_, io::Error>((x.narrow(0, 0, BATCH).unwrap(), vec![0usize, 1, 2, 0]))
        })
    });
    let validation = TensorBatches::new(&x, &y, 5).unwrap();
    let mut m = model();
    let config = FitConfig {
        steps_per_epoch: Some(2),
        ..config(2)
    };
    let history = m
        .fit_batches(&source, Some(&validation), &config, &mut [])
        .unwrap();
    assert_eq!(history.epochs.len(), 2);
    assert!(history.epochs.iter().all(|e| e.val_loss.is_some()));
    // Two batches per epoch were asked of the source, even with prefetching.
    assert_eq!(pulled.load(Ordering::SeqCst), 4);
    // The last validation is an evaluation of the final weights.
    let evaluation = m.evaluate(&x, &y, 5).unwrap();
    assert_eq!(history.epochs[1].val_loss, Some(evaluation.loss));
    let split = FitConfig {
        validation: Validation::Split(0.2),
        ..config.clone()
    };
    assert!(m.fit_batches(&source, None, &split, &mut []).is_err());
}

#[test]
fn a_non_finite_loss_names_the_epoch_and_step_and_changes_nothing() {
    let (x, y) = data();
    let mut values = x.to_vec();
    values[5 * 9] = f64::NAN; // sample 9, in the third batch of an unshuffled epoch
    let x = Tensor::from_vec(values, &[SAMPLES, 5]).unwrap();
    let mut m = model();
    let config = FitConfig {
        shuffle: false,
        ..config(2)
    };
    let err = m.fit(&x, &y, &config, &mut []).unwrap_err();
    assert!(
        matches!(
            err,
            LayersError::NonFiniteLoss {
                epoch: 1,
                step: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(m.steps_done(), 2);
}
