//! Throughput of the course model on random data, measured as the reference PyTorch and
//! TensorFlow scripts measure it (`shared/bench`'s W3 workload): train steps (forward,
//! softmax cross-entropy, backward, Adam at learning rate 1e-3) at batch 64 and 1,000, and
//! inference at batch 1,000; plus a per-layer profile of the train step.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use strata_bench::{time_calls, SampleStats, TimingConfig};
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::{Model, StepProfile};
use strata_layers::Targets;
use strata_layers::{ForwardContext, LayersError};
use strata_tensor::Tensor;

use crate::{mnist_model, AppResult, LOSS};

/// What a benchmark measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchMode {
    /// Train steps.
    Train,
    /// Inference (no graph recorded).
    Infer,
}

impl BenchMode {
    fn name(self) -> &'static str {
        match self {
            BenchMode::Train => "train",
            BenchMode::Infer => "infer",
        }
    }
}

/// One measured throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Train or inference.
    pub mode: BenchMode,
    /// Images per call.
    pub batch: usize,
    /// Images per second over the samples.
    pub images_per_second: SampleStats,
    /// Samples × calls per sample.
    pub samples: (usize, usize),
}

impl BenchResult {
    /// The result as the reference scripts print theirs (`RESULT key=value …`).
    pub fn result_line(&self) -> String {
        format!(
            "RESULT peer=strata wl=W3 mode={} setting=strata,NCHW,threads={} batch={} \
             unit=img/s {} n={}x{}",
            self.mode.name(),
            rayon::current_num_threads(),
            self.batch,
            self.images_per_second,
            self.samples.0,
            self.samples.1
        )
    }
}

/// A batch of standard-normal images `[batch, 1, 28, 28]` and uniform random labels.
fn random_batch(batch: usize, rng: &mut StdRng) -> AppResult<(Tensor<f32>, Targets<f32>)> {
    let x = Tensor::rand_normal(&[batch, 1, 28, 28], 0.0, 1.0, rng)?;
    let labels = (0..batch).map(|_| rng.random_range(0..10)).collect();
    Ok((x, Targets::Labels(labels)))
}

/// The course model compiled with the app's loss and Adam at learning rate 1e-3.
fn bench_model(seed: u64) -> AppResult<Model<f32>> {
    let adam = Adam::new(AdamConfig {
        learning_rate: 1e-3,
        ..AdamConfig::default()
    })?;
    Ok(Model::new(mnist_model(seed)?, LOSS, adam))
}

/// Measures train-step or inference throughput at one batch size.
pub fn measure(mode: BenchMode, batch: usize, timing: &TimingConfig) -> AppResult<BenchResult> {
    let mut rng = StdRng::seed_from_u64(0);
    let (x, y) = random_batch(batch, &mut rng)?;
    let mut model = bench_model(0)?;
    let result = match mode {
        BenchMode::Train => {
            let mut step = 0u64;
            time_calls(timing, || -> Result<(), LayersError> {
                step += 1;
                model.train_step(&x, &y, &mut ForwardContext::train(step))?;
                Ok(())
            })?
        }
        BenchMode::Infer => time_calls(timing, || -> Result<(), LayersError> {
            model.network().predict_batch(&x)?;
            Ok(())
        })?,
    };
    Ok(BenchResult {
        mode,
        batch,
        images_per_second: result.throughput(batch),
        samples: (result.seconds_per_call.len(), result.calls_per_sample),
    })
}

/// A per-layer profile of `steps` train steps at one batch size (after `warmup` steps).
pub fn profile(batch: usize, warmup: usize, steps: usize) -> AppResult<StepProfile> {
    let mut rng = StdRng::seed_from_u64(0);
    let (x, y) = random_batch(batch, &mut rng)?;
    let mut model = bench_model(0)?;
    for step in 0..warmup {
        model.train_step(&x, &y, &mut ForwardContext::train(step as u64))?;
    }
    let mut total: Option<StepProfile> = None;
    for step in 0..steps {
        let profile = model.profile_step(&x, &y, &mut ForwardContext::train(step as u64))?;
        match &mut total {
            Some(total) => total.accumulate(&profile)?,
            None => total = Some(profile),
        }
    }
    total.ok_or_else(|| "profile: at least one step is needed".into())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_short_measurement_reports_positive_throughput() {
        let timing = TimingConfig {
            samples: 2,
            min_sample: Duration::from_millis(1),
            warmup: Duration::from_millis(1),
            max_warmup_calls: 2,
        };
        for mode in [BenchMode::Train, BenchMode::Infer] {
            let result = measure(mode, 8, &timing).unwrap();
            assert!(result.images_per_second.min > 0.0, "{result:?}");
            let line = result.result_line();
            assert!(line.starts_with("RESULT peer=strata wl=W3 mode="), "{line}");
            assert!(line.contains("batch=8 unit=img/s median="), "{line}");
        }
    }

    #[test]
    fn the_profile_has_a_row_per_layer_and_the_loss() {
        let profile = profile(4, 1, 2).unwrap();
        assert_eq!(profile.steps, 2);
        assert_eq!(profile.layers.len(), 9);
        assert!(profile.to_string().contains("conv2d_2"));
        assert!(super::profile(4, 0, 0).is_err());
    }
}
