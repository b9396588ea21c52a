//! # strata-bench
//!
//! Timing of repeated calls for benchmark output, with the same method as the reference
//! PyTorch and TensorFlow scripts (so that figures compare side by side): one untimed first
//! call, a warm-up of about a second, then samples of back-to-back calls lasting at least a
//! minimum time each; median, minimum and maximum over the samples.
//!
//! The `model_bench` example runs the reference workloads' models (W4–W6) with it; the
//! `mnist` and `cifar10` apps' `bench` commands use it for W3 and W4.

#![warn(missing_docs)]

use std::fmt;
use std::time::{Duration, Instant};

/// How [`time_calls`] samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimingConfig {
    /// Number of samples. Default 7.
    pub samples: usize,
    /// The shortest time one sample lasts (calls are repeated to reach it). Default 0.25 s.
    pub min_sample: Duration,
    /// Warm-up time after the first call. Default 1 s.
    pub warmup: Duration,
    /// The most calls in the warm-up (at least 2 are always made). Default 20.
    pub max_warmup_calls: usize,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            samples: 7,
            min_sample: Duration::from_millis(250),
            warmup: Duration::from_secs(1),
            max_warmup_calls: 20,
        }
    }
}

/// Seconds per call of each sample (see [`time_calls`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Seconds per call, one entry per sample.
    pub seconds_per_call: Vec<f64>,
    /// Calls per sample.
    pub calls_per_sample: usize,
    /// The untimed first call's duration in seconds (allocation, caches).
    pub first_call: f64,
}

impl Timing {
    /// Throughput in items per second (`batch` items per call): median, minimum, maximum.
    pub fn throughput(&self, batch: usize) -> SampleStats {
        SampleStats::of(
            self.seconds_per_call
                .iter()
                .map(|s| batch as f64 / s)
                .collect(),
        )
    }
}

/// Median, minimum and maximum of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleStats {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl SampleStats {
    /// Summarises `values` (NaN for an empty set).
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Self {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Self {
            median,
            min: values[0],
            max: values[n - 1],
        }
    }
}

impl fmt::Display for SampleStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median={:.4} min={:.4} max={:.4}",
            Significant(self.median),
            Significant(self.min),
            Significant(self.max)
        )
    }
}

/// A number shown with four significant digits, as Python's `{:.4g}`.
struct Significant(f64);

impl fmt::Display for Significant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = if self.0 == 0.0 || !self.0.is_finite() {
            0
        } else {
            (3 - self.0.abs().log10().floor() as i32).max(0) as usize
        };
        write!(f, "{:.*}", digits, self.0)
    }
}

/// Times `call` as described in the [module docs](self); stops at the first error.
///
/// ```
/// use std::time::Duration;
/// use strata_bench::{time_calls, TimingConfig};
/// let config = TimingConfig {
///     samples: 3,
///     min_sample: Duration::from_millis(1),
///     warmup: Duration::from_millis(1),
///     max_warmup_calls: 2,
/// };
/// let timing = time_calls(&config, || -> Result<(), ()> {
///     std::thread::sleep(Duration::from_micros(200));
///     Ok(())
/// })?;
/// assert_eq!(timing.seconds_per_call.len(), 3);
/// assert!(timing.seconds_per_call.iter().all(|&s| s >= 200e-6));
/// # Ok::<(), ()>(())
/// ```
pub fn time_calls<E>(
    config: &TimingConfig,
    mut call: impl FnMut() -> Result<(), E>,
) -> Result<Timing, E> {
    let started = Instant::now();
    call()?;
    let first_call = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut warmup_calls = 0usize;
    while warmup_calls < config.max_warmup_calls.max(2)
        && (warmup_calls < 2 || started.elapsed() < config.warmup)
    {
        call()?;
        warmup_calls += 1;
    }
    let per_call = started.elapsed().as_secs_f64() / warmup_calls as f64;
    let calls_per_sample =
        ((config.min_sample.as_secs_f64() / per_call.max(1e-9)).round() as usize).max(1);
    let mut seconds_per_call = Vec::with_capacity(config.samples);
    for _ in 0..config.samples {
        let started = Instant::now();
        for _ in 0..calls_per_sample {
            call()?;
        }
        seconds_per_call.push(started.elapsed().as_secs_f64() / calls_per_sample as f64);
    }
    Ok(Timing {
        seconds_per_call,
        calls_per_sample,
        first_call,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_the_middle_value() {
        let s = SampleStats::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(SampleStats::of(vec![4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert!(SampleStats::of(vec![]).median.is_nan());
    }

    #[test]
    fn summary_prints_four_significant_digits() {
        let s = SampleStats {
            median: 2378.4,
            min: 18.5678,
            max: 0.123456,
        };
        assert_eq!(s.to_string(), "median=2378 min=18.57 max=0.1235");
    }

    #[test]
    fn an_error_stops_the_timing() {
        let mut calls = 0;
        let result = time_calls(&TimingConfig::default(), || {
            calls += 1;
            if calls == 3 {
                Err("third call failed")
            } else {
                Ok(())
            }
        });
        assert_eq!(result.unwrap_err(), "third call failed");
        assert_eq!(calls, 3);
    }
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
