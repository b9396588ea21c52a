//! Data-parallel training on in-process ranks: the same weights on every rank after every
//! step, agreement with one process at the global batch size, resume across world sizes,
//! rank-0 side effects.

use std::path::PathBuf;

use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, DropoutConfig, FlattenConfig};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::{
    BatchSource, Callback, Control, EpochStats, FitConfig, Model, ModelCheckpoint, StepPosition,
    TensorBatches, Verbosity,
};
use strata_layers::{Result as LayersResult, Sequential, Targets};
use strata_tensor::seed::seeded_rng;
use strata_tensor::{Element, Tensor};

use super::*;

const SAMPLES: usize = 28;
/// Global batch: 28 samples give batches of 8, 8, 8 and 4 (shards of 1 to 4 rows).
const GLOBAL_BATCH: usize = 8;

fn data<T: Element>() -> (Tensor<T>, Targets<T>) {
    let x = Tensor::<f64>::rand_uniform(&[SAMPLES, 1, 4, 4], -1.0, 1.0, &mut seeded_rng(3, &[]))
        .unwrap();
    let x = Tensor::from_vec(
        x.to_vec()
            .iter()
            .map(|&v| T::from_f64(v).unwrap())
            .collect(),
        x.shape(),
    )
    .unwrap();
    (x, Targets::Labels((0..SAMPLES).map(|i| i % 3).collect()))
}

fn model<T: Element>(seed: u64, dropout: bool) -> Model<T> {
    let mut b = Sequential::builder(&[1, 4, 4])
        .seed(seed)
        .add(Conv2dConfig::new(3, 3).activation(Activation::Relu))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(6).activation(Activation::Tanh));
    if dropout {
        b = b.add(DropoutConfig::new(0.25));
    }
    let network = b.add(DenseConfig::new(3)).build().unwrap();
    let adam = Adam::new(AdamConfig {
        learning_rate: 0.02,
        ..AdamConfig::default()
    })
    .unwrap();
    Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        adam,
    )
}

fn config<T: Element>(epochs: usize) -> FitConfig<T> {
    FitConfig {
        epochs,
        seed: 9,
        verbosity: Verbosity::Silent,
        ..FitConfig::default()
    }
}

fn weights<T: Element>(model: &Model<T>) -> Vec<f64> {
    model
        .network()
        .state_dict()
        .values()
        .flat_map(|t| t.to_vec())
        .map(|v| v.to_f64().unwrap())
        .collect()
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Runs `body` on every rank of an in-process group of `n`, one thread each.
fn on_ranks<R: Send>(n: usize, body: impl Fn(DataParallel) -> R + Sync) -> Vec<R> {
    let comms = LocalGroup::ranks(n).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = comms
            .into_iter()
            .map(|c| {
                let body = &body;
                s.spawn(move || body(DataParallel::new(c)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Trains `epochs` epochs of the global batches on `n` ranks; every rank's fingerprints
/// (checked equal after every step) and weights.
fn train_on<T: Reducible>(n: usize, epochs: usize, dropout: bool) -> Vec<(Vec<u64>, Vec<f64>)> {
    on_ranks(n, |trainer| {
        let (x, y) = data::<T>();
        let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
        let mut m = model::<T>(1, dropout);
        let report = trainer
            .verify_every_step(true)
            .fit(&mut m, &global, None, &config(epochs), &mut [])
            .unwrap();
        (report.fingerprints, weights(&m))
    })
}

#[test]
fn every_rank_holds_the_same_weights_after_every_step_and_runs_repeat() {
    for n in [2, 3] {
        let first = train_on::<f32>(n, 2, true);
        assert_eq!(first[0].0.len(), 8, "4 steps in each of 2 epochs");
        for rank in &first {
            assert_eq!(rank, &first[0], "{n} ranks");
        }
        assert_eq!(train_on::<f32>(n, 2, true), first, "{n} ranks, run again");
    }
}

#[test]
fn one_rank_is_bit_for_bit_a_plain_fit() {
    let (x, y) = data::<f32>();
    let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
    let mut plain = model::<f32>(1, true);
    plain
        .fit_batches(&global, None, &config(2), &mut [])
        .unwrap();
    let ours = train_on::<f32>(1, 2, true);
    assert_eq!(ours[0].1, weights(&plain));
    let mut single = model::<f32>(1, true);
    DataParallel::new(SingleProcess)
        .fit(&mut single, &global, None, &config(2), &mut [])
        .unwrap();
    assert_eq!(weights(&single), weights(&plain));
}

/// Max |Δ| between `n` ranks × B and one process at the global batch, after 2 epochs.
fn difference_from_one_process<T: Reducible>(n: usize) -> f64 {
    let (x, y) = data::<T>();
    let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
    let mut plain = model::<T>(1, false);
    plain
        .fit_batches(&global, None, &config(2), &mut [])
        .unwrap();
    let ranks = train_on::<T>(n, 2, false);
    max_difference(&ranks[0].1, &weights(&plain))
}

#[test]
fn n_ranks_at_batch_b_match_one_process_at_batch_n_b() {
    // The shards' gradients are summed in another order than one process's backward pass
    // sums its batch, so the weights agree to rounding (weights are of order 1): f64 to
    // 1e-12, f32 to 1e-5 after 8 Adam steps (measured: f64 ~1e-15, f32 ~1e-7).
    for n in [2, 3, 4] {
        let d64 = difference_from_one_process::<f64>(n);
        assert!(d64 < 1e-12, "{n} ranks, f64: {d64:e}");
        let d32 = difference_from_one_process::<f32>(n);
        assert!(d32 < 1e-5, "{n} ranks, f32: {d32:e}");
        eprintln!("{n} ranks vs one process: max |dw| f64 {d64:e}, f32 {d32:e}");
    }
}

/// Weights after 2 epochs on `n` ranks summing with `algorithm`, checked equal on every rank.
fn weights_with(n: usize, algorithm: ReduceAlgorithm) -> Vec<f64> {
    let ranks = on_ranks(n, |trainer| {
        let (x, y) = data::<f32>();
        let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
        let mut m = model::<f32>(1, true);
        trainer
            .algorithm(algorithm)
            .verify_every_step(true)
            .fit(&mut m, &global, None, &config(2), &mut [])
            .unwrap();
        weights(&m)
    });
    assert!(
        ranks.iter().all(|w| w == &ranks[0]),
        "{n} ranks, {algorithm:?}"
    );
    ranks.into_iter().next().unwrap()
}

#[test]
fn the_ring_and_the_rank_order_gather_agree() {
    // On two ranks the ring's order is the rank order (addition commutes): the same bits.
    let ring = weights_with(2, ReduceAlgorithm::Ring);
    assert_eq!(ring, weights_with(2, ReduceAlgorithm::AllReduce));
    // On 3 and 4 the ring sums most chunks in another order: the same to rounding, and
    // repeatable bit for bit.
    for n in [3, 4] {
        let ring = weights_with(n, ReduceAlgorithm::Ring);
        let gather = weights_with(n, ReduceAlgorithm::AllReduce);
        let d = max_difference(&ring, &gather);
        assert!(d < 1e-5, "{n} ranks: {d:e}");
        eprintln!("{n} ranks: ring vs rank-order gather: max |dw| {d:e}");
        assert_eq!(
            ring,
            weights_with(n, ReduceAlgorithm::Ring),
            "{n} ranks, again"
        );
    }
}

/// Weights after 2 epochs on `n` ranks, overlapping the reduction or not, in buckets of
/// `bucket`, checked equal on every rank; and the reduction's figures.
fn weights_overlapped(n: usize, overlap: bool, bucket: usize) -> (Vec<f64>, ReduceStats) {
    let ranks = on_ranks(n, |trainer| {
        let (x, y) = data::<f32>();
        let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
        let mut m = model::<f32>(1, true);
        let report = trainer
            .overlap(overlap)
            .bucket_elements(bucket)
            .verify_every_step(true)
            .fit(&mut m, &global, None, &config(2), &mut [])
            .unwrap();
        (weights(&m), report.reduce)
    });
    assert!(
        ranks.iter().all(|w| w.0 == ranks[0].0),
        "{n} ranks, overlap {overlap}"
    );
    ranks.into_iter().next().unwrap()
}

#[test]
fn overlapping_the_backward_pass_gives_the_same_weights() {
    for bucket in [DEFAULT_BUCKET_ELEMENTS, 7] {
        // Two ranks: the same bits, however the buckets fall.
        let (plain, plain_stats) = weights_overlapped(2, false, bucket);
        let (overlapped, stats) = weights_overlapped(2, true, bucket);
        assert_eq!(plain, overlapped, "bucket {bucket}");
        assert_eq!(stats.steps, plain_stats.steps);
        assert_eq!(stats.bytes, plain_stats.bytes);
        // Three: the same to rounding, and repeatable.
        let (plain, _) = weights_overlapped(3, false, bucket);
        let (overlapped, _) = weights_overlapped(3, true, bucket);
        assert!(
            max_difference(&plain, &overlapped) < 1e-5,
            "bucket {bucket}"
        );
        assert_eq!(overlapped, weights_overlapped(3, true, bucket).0);
    }
}

#[test]
fn buckets_of_any_size_give_the_same_bits() {
    let run = |bucket: usize| {
        on_ranks(2, |trainer| {
            let (x, y) = data::<f32>();
            let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
            let mut m = model::<f32>(1, false);
            let report = trainer
                .bucket_elements(bucket)
                .fit(&mut m, &global, None, &config(1), &mut [])
                .unwrap();
            (weights(&m), report.reduce)
        })
    };
    let parameters: usize = model::<f32>(1, false)
        .network()
        .parameters()
        .iter()
        .map(|(_, v)| v.value().numel())
        .sum();
    let (whole, stats) = run(DEFAULT_BUCKET_ELEMENTS).remove(0);
    let (small, small_stats) = run(7).remove(0);
    assert_eq!(whole, small);
    assert_eq!(stats.steps, 4);
    assert_eq!(stats.operations, 4 * 2, "a header and one bucket per step");
    assert_eq!(small_stats.operations, 4 * (1 + parameters.div_ceil(7)));
    assert_eq!(stats.bytes, 4 * parameters * 4);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-distributed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Counts its calls; stops training after `stop_after` steps.
#[derive(Default)]
struct Counter {
    steps: usize,
    epochs: usize,
    stop_after: Option<usize>,
}

impl<T: Element> Callback<T> for Counter {
    fn on_step_end(&mut self, _: StepPosition, _: &Model<T>) -> LayersResult<Control> {
        self.steps += 1;
        Ok(match self.stop_after {
            Some(n) if self.steps >= n => Control::Stop,
            _ => Control::Continue,
        })
    }

    fn on_epoch_end(&mut self, _: &EpochStats, _: &Model<T>) -> LayersResult<Control> {
        self.epochs += 1;
        Ok(Control::Continue)
    }
}

#[test]
fn a_checkpoint_from_any_world_size_resumes_on_any_other() {
    let path = scratch("resume.safetensors");
    let (x, y) = data::<f64>();
    // Uninterrupted: 2 epochs on 2 ranks.
    let straight = train_on::<f64>(2, 2, false);
    // Epoch 1 on 2 ranks; rank 0 alone writes the checkpoint and runs the callbacks.
    let counts = on_ranks(2, |trainer| {
        let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
        let mut m = model::<f64>(1, false);
        let mut checkpoint = ModelCheckpoint::every_epoch(&path);
        let mut counter = Counter::default();
        trainer
            .fit(
                &mut m,
                &global,
                None,
                &config(1),
                &mut [&mut checkpoint, &mut counter],
            )
            .unwrap();
        (counter.steps, counter.epochs)
    });
    assert_eq!(counts, [(4, 1), (0, 0)]);
    // Epoch 2 on 1, 2 or 3 ranks from that file.
    for n in [1, 2, 3] {
        let resumed = on_ranks(n, |trainer| {
            let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
            let mut m = model::<f64>(2, false); // other initial weights: the file decides
            m.load_checkpoint(&path).unwrap();
            let config = config(2).resume_from(&m);
            trainer
                .fit(&mut m, &global, None, &config, &mut [])
                .unwrap();
            weights(&m)
        });
        assert!(resumed.iter().all(|w| w == &resumed[0]));
        if n == 2 {
            assert_eq!(resumed[0], straight[0].1, "same world size: the same bits");
        } else {
            let d = max_difference(&resumed[0], &straight[0].1);
            assert!(d < 1e-12, "resumed on {n} ranks: {d:e}");
        }
    }
}

#[test]
fn rank_zero_decides_when_every_rank_stops() {
    let positions = on_ranks(3, |trainer| {
        let (x, y) = data::<f32>();
        let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap().shuffle(5);
        let mut m = model::<f32>(1, false);
        let mut counter = Counter {
            stop_after: Some(3),
            ..Counter::default()
        };
        let report = trainer
            .fit(&mut m, &global, None, &config(5), &mut [&mut counter])
            .unwrap();
        (m.epochs_done(), m.steps_done(), report.history.epochs.len())
    });
    assert_eq!(positions, [(0, 3, 0); 3]);
}

#[test]
fn ranks_with_different_models_are_refused() {
    let errors = on_ranks(2, |trainer| {
        let (x, y) = data::<f32>();
        let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap();
        let mut m = model::<f32>(1 + trainer.rank() as u64, false);
        let err = trainer
            .fit(&mut m, &global, None, &config(1), &mut [])
            .unwrap_err();
        assert!(m.steps_done() == 0 && m.epochs_done() == 0);
        err.to_string()
    });
    for e in errors {
        assert!(e.contains("out of sync") && e.contains("rank 1"), "{e}");
    }
}

#[test]
fn a_model_with_a_hook_already_is_refused_and_keeps_it() {
    let (x, y) = data::<f32>();
    let global = TensorBatches::new(&x, &y, GLOBAL_BATCH).unwrap();
    let mut m = model::<f32>(1, false);
    m.set_gradient_hook(Some(Box::new(
        |_: strata_layers::train::StepGradients<'_, f32>| -> strata_layers::train::HookResult {
            Ok(())
        },
    )));
    let err = DataParallel::new(SingleProcess)
        .fit(&mut m, &global, None, &config(1), &mut [])
        .unwrap_err();
    assert!(
        err.to_string().contains("already has a gradient hook"),
        "{err}"
    );
    assert!(m.set_gradient_hook(None).is_some());
    assert_eq!(global.steps_per_epoch(), Some(4));
}
