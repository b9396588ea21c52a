//! Learning-rate schedules: the rate as a function of a step counter.
//!
//! The counter's unit is the caller's: the training loop passes the epoch for schedules it
//! applies per epoch (as PyTorch's `StepLR`), or the optimiser step (as Keras's
//! `LearningRateSchedule`).

/// A learning rate for each step.
pub trait LearningRateSchedule {
    /// The rate at `step` (0 for the first).
    fn rate(&self, step: u64) -> f64;
}

/// The same rate at every step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstantRate(pub f64);

impl LearningRateSchedule for ConstantRate {
    fn rate(&self, _step: u64) -> f64 {
        self.0
    }
}

/// `initial · gamma^⌊step / step_size⌋`, as PyTorch's `StepLR`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    /// The rate at step 0.
    pub initial: f64,
    /// Steps between decays (at least 1).
    pub step_size: u64,
    /// Factor applied at each decay.
    pub gamma: f64,
}

impl LearningRateSchedule for StepDecay {
    fn rate(&self, step: u64) -> f64 {
        let decays = step / self.step_size.max(1);
        self.initial * self.gamma.powf(decays as f64)
    }
}

/// `initial · decay_rate^(step / decay_steps)` (the exponent floored with `staircase`), as
/// Keras's `ExponentialDecay`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialDecay {
    /// The rate at step 0.
    pub initial: f64,
    /// Steps over which the rate is multiplied by `decay_rate` (at least 1).
    pub decay_steps: u64,
    /// Factor per `decay_steps`.
    pub decay_rate: f64,
    /// Decay in whole intervals rather than continuously.
    pub staircase: bool,
}

impl LearningRateSchedule for ExponentialDecay {
    fn rate(&self, step: u64) -> f64 {
        let mut exponent = step as f64 / self.decay_steps.max(1) as f64;
        if self.staircase {
            exponent = exponent.floor();
        }
        self.initial * self.decay_rate.powf(exponent)
    }
}

/// Cosine decay from `initial` to `initial · alpha` over `decay_steps`, then constant, as
/// Keras's `CosineDecay` (and PyTorch's `CosineAnnealingLR` with `eta_min = initial · alpha`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineDecay {
    /// The rate at step 0.
    pub initial: f64,
    /// Steps to reach the final rate (at least 1).
    pub decay_steps: u64,
    /// Final rate as a fraction of the initial one.
    pub alpha: f64,
}

impl LearningRateSchedule for CosineDecay {
    fn rate(&self, step: u64) -> f64 {
        let progress = (step.min(self.decay_steps) as f64) / self.decay_steps.max(1) as f64;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.initial * ((1.0 - self.alpha) * cosine + self.alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_hit_their_documented_points() {
        let step = StepDecay {
            initial: 0.1,
            step_size: 3,
            gamma: 0.5,
        };
        assert_eq!([0, 2, 3, 6].map(|s| step.rate(s)), [0.1, 0.1, 0.05, 0.025]);
        let exp = ExponentialDecay {
            initial: 1.0,
            decay_steps: 10,
            decay_rate: 0.5,
            staircase: false,
        };
        assert!((exp.rate(5) - 0.5f64.sqrt()).abs() < 1e-12);
        let stair = ExponentialDecay {
            staircase: true,
            ..exp
        };
        assert_eq!(stair.rate(5), 1.0);
        let cos = CosineDecay {
            initial: 1.0,
            decay_steps: 100,
            alpha: 0.1,
        };
        assert_eq!(cos.rate(0), 1.0);
        assert!((cos.rate(50) - 0.55).abs() < 1e-12);
        assert!((cos.rate(100) - 0.1).abs() < 1e-12);
        assert!((cos.rate(1000) - 0.1).abs() < 1e-12);
        assert_eq!(ConstantRate(0.3).rate(7), 0.3);
    }
}
