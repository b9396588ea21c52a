//! Train-step throughput of the course model on random data, measured as the reference
//! PyTorch and TensorFlow scripts measure it (`shared/bench`'s W4 workload): forward with
//! dropout, cross-entropy, backward and Adam at learning rate 1e-3, at batch 32 and 128.
//!
//! The reference models end in logits and use softmax cross-entropy; this one ends in
//! softmax and takes the cross-entropy of the probabilities, as the app trains it (the
//! same maths, one softmax and one clip more per sample).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use strata_bench::{time_calls, SampleStats, TimingConfig};
use strata_layers::{ForwardContext, LayersError, Targets};
use strata_tensor::Tensor;

use crate::model::{cifar_model, compile, Dropout, INPUT_SHAPE};
use crate::AppResult;

/// One measured train-step throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Images per step.
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
            "RESULT peer=strata wl=W4 mode=train setting=strata,NCHW,threads={} batch={} \
             unit=img/s {} n={}x{}",
            rayon::current_num_threads(),
            self.batch,
            self.images_per_second,
            self.samples.0,
            self.samples.1
        )
    }
}

/// Measures train-step throughput at one batch size on standard-normal images and uniform
/// random labels.
pub fn measure(batch: usize, timing: &TimingConfig) -> AppResult<BenchResult> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut shape = vec![batch];
    shape.extend(INPUT_SHAPE);
    let x = Tensor::rand_normal(&shape, 0.0, 1.0, &mut rng)?;
    let y = Targets::Labels((0..batch).map(|_| rng.random_range(0..10)).collect());
    let mut model = compile(cifar_model(10, Dropout::On, 0)?, 1e-3)?;
    let mut step = 0u64;
    let result = time_calls(timing, || -> Result<(), LayersError> {
        step += 1;
        model.train_step(&x, &y, &mut ForwardContext::train(step))?;
        Ok(())
    })?;
    Ok(BenchResult {
        batch,
        images_per_second: result.throughput(batch),
        samples: (result.seconds_per_call.len(), result.calls_per_sample),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_short_measurement_reports_a_w4_result_line() {
        let timing = TimingConfig {
            samples: 2,
            min_sample: Duration::from_millis(1),
            warmup: Duration::from_millis(1),
            max_warmup_calls: 1,
        };
        let result = measure(4, &timing).unwrap();
        assert!(result.images_per_second.min > 0.0, "{result:?}");
        assert_eq!(result.samples.0, 2);
        let line = result.result_line();
        assert!(
            line.starts_with("RESULT peer=strata wl=W4 mode=train setting=strata,NCHW,threads="),
            "{line}"
        );
        assert!(line.contains(" batch=4 unit=img/s median="), "{line}");
    }
}
