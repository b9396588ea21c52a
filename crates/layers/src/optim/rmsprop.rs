//! RMSprop.

use strata_tensor::{Element, Tensor};

use super::{check_range, EpsilonMode, Optimizer, OptimizerState, ParamGrad};
use crate::error::Result;

/// Settings of [`RmsProp`]. The defaults are Keras's (learning rate 0.001, ρ 0.9, ε 1e-7
/// inside the square root); [`RmsPropConfig::torch`] gives PyTorch's (learning rate 0.01,
/// α 0.99, ε 1e-8 outside it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Step size. Default 0.001.
    pub learning_rate: f64,
    /// Decay of the mean square (`rho` in Keras, `alpha` in PyTorch). Default 0.9.
    pub rho: f64,
    /// Added for stability. Default 1e-7.
    pub epsilon: f64,
    /// Keras: `g / sqrt(v + ε)`; Torch: `g / (sqrt(v) + ε)`. Default Keras.
    pub epsilon_mode: EpsilonMode,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            rho: 0.9,
            epsilon: 1e-7,
            epsilon_mode: EpsilonMode::Keras,
        }
    }
}

impl RmsPropConfig {
    /// PyTorch's `torch.optim.RMSprop` defaults.
    pub fn torch() -> Self {
        Self {
            learning_rate: 1e-2,
            rho: 0.99,
            epsilon: 1e-8,
            epsilon_mode: EpsilonMode::Torch,
        }
    }
}

/// RMSprop: `v ← ρ·v + (1 − ρ)·g²`, `p ← p − lr · g / sqrt(v)` (with ε as configured).
#[derive(Debug, Clone)]
pub struct RmsProp<T: Element> {
    config: RmsPropConfig,
    state: OptimizerState<T>,
}

impl<T: Element> RmsProp<T> {
    /// An RMSprop optimiser; an error names any setting out of range.
    pub fn new(config: RmsPropConfig) -> Result<Self> {
        check_range(
            "RMSprop",
            "learning_rate",
            config.learning_rate,
            0.0,
            f64::MAX,
        )?;
        check_range("RMSprop", "rho", config.rho, 0.0, 1.0)?;
        check_range("RMSprop", "epsilon", config.epsilon, 0.0, f64::MAX)?;
        Ok(Self {
            config,
            state: OptimizerState::new("rmsprop"),
        })
    }
}

impl<T: Element> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &[ParamGrad<'_, T>]) -> Result<Vec<Tensor<T>>> {
        let c = self.config;
        let (lr, rho, eps) = (
            T::from_f64_lossy(c.learning_rate),
            T::from_f64_lossy(c.rho),
            T::from_f64_lossy(c.epsilon),
        );
        self.state
            .apply(params, ["square_avg"], |value, grad, [v]| {
                for (i, x) in value.iter_mut().enumerate() {
                    let g = grad[i];
                    v[i] = rho * v[i] + (T::one() - rho) * g * g;
                    let denom = match c.epsilon_mode {
                        EpsilonMode::Keras => (v[i] + eps).sqrt(),
                        EpsilonMode::Torch => v[i].sqrt() + eps,
                    };
                    *x = *x - lr * g / denom;
                }
            })
    }

    fn learning_rate(&self) -> f64 {
        self.config.learning_rate
    }

    fn set_learning_rate(&mut self, rate: f64) {
        self.config.learning_rate = rate;
    }

    fn state(&self) -> OptimizerState<T> {
        self.state.clone()
    }

    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()> {
        state.expect_kind("rmsprop")?;
        self.state = state;
        Ok(())
    }
}
