//! RMSprop.

use strata_tensor::{Element, Tensor};

use super::{check_range, EpsilonMode, Optimizer, OptimizerState, ParamGrad};
use crate::error::Result;

/// Settings of [`RmsProp`]. The defaults are Keras's, `keras.optimizers.RMSprop()`
/// (learning rate 0.001, ρ 0.9, ε 1e-7 inside the square root, no momentum, not centred);
/// [`RmsPropConfig::pytorch`] gives `torch.optim.RMSprop`'s (learning rate 0.01, α 0.99, ε
/// 1e-8 outside it). Momentum, centring and weight decay mean the same in both frameworks
/// (Keras has no coupled weight decay: its `weight_decay` is decoupled; here it is
/// PyTorch's L2 penalty added to the gradient).
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
    /// Momentum factor `μ` in `[0, 1]`: `b ← μ·b + g / denominator`, `p ← p − lr·b`.
    /// Default 0 (none).
    pub momentum: f64,
    /// Centred RMSprop: also keep the mean gradient `ḡ ← ρ·ḡ + (1 − ρ)·g` and divide by
    /// the estimated standard deviation, `v − ḡ²` in place of `v`. Default false.
    pub centered: bool,
    /// L2 penalty added to the gradient (`g + weight_decay · p`, PyTorch's
    /// `weight_decay`). Default 0.
    pub weight_decay: f64,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            rho: 0.9,
            epsilon: 1e-7,
            epsilon_mode: EpsilonMode::Keras,
            momentum: 0.0,
            centered: false,
            weight_decay: 0.0,
        }
    }
}

impl RmsPropConfig {
    /// PyTorch's `torch.optim.RMSprop` defaults.
    pub fn pytorch() -> Self {
        Self {
            learning_rate: 1e-2,
            rho: 0.99,
            epsilon: 1e-8,
            epsilon_mode: EpsilonMode::Torch,
            ..Self::default()
        }
    }

    /// The same as [`RmsPropConfig::pytorch`].
    pub fn torch() -> Self {
        Self::pytorch()
    }

    /// Keras's `keras.optimizers.RMSprop` defaults (the [`Default`]).
    pub fn keras() -> Self {
        Self::default()
    }
}

/// RMSprop: `v ← ρ·v + (1 − ρ)·g²`, `p ← p − lr · g / sqrt(v)` (with ε as configured),
/// optionally centred, with momentum and with an L2 penalty, as `torch.optim.RMSprop` and
/// `keras.optimizers.RMSprop`.
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
        check_range("RMSprop", "momentum", config.momentum, 0.0, 1.0)?;
        check_range(
            "RMSprop",
            "weight_decay",
            config.weight_decay,
            0.0,
            f64::MAX,
        )?;
        Ok(Self {
            config,
            state: OptimizerState::new("rmsprop"),
        })
    }

    /// RMSprop with PyTorch's defaults ([`RmsPropConfig::pytorch`]).
    pub fn pytorch() -> Self {
        Self {
            config: RmsPropConfig::pytorch(),
            state: OptimizerState::new("rmsprop"),
        }
    }

    /// RMSprop with Keras's defaults ([`RmsPropConfig::keras`]).
    pub fn keras() -> Self {
        Self {
            config: RmsPropConfig::keras(),
            state: OptimizerState::new("rmsprop"),
        }
    }
}

/// One element's update. `grad_avg` is the centred mean gradient, `buffer` the momentum
/// buffer, each present when configured.
fn update<T: Element>(
    c: &RmsPropConfig,
    x: &mut T,
    grad: T,
    v: &mut T,
    grad_avg: Option<&mut T>,
    buffer: Option<&mut T>,
) {
    let (lr, rho, eps) = (
        T::from_f64_lossy(c.learning_rate),
        T::from_f64_lossy(c.rho),
        T::from_f64_lossy(c.epsilon),
    );
    let g = grad + T::from_f64_lossy(c.weight_decay) * *x;
    *v = rho * *v + (T::one() - rho) * g * g;
    let mut square = *v;
    if let Some(avg) = grad_avg {
        *avg = rho * *avg + (T::one() - rho) * g;
        square = square - *avg * *avg;
    }
    let denom = match c.epsilon_mode {
        EpsilonMode::Keras => (square + eps).sqrt(),
        EpsilonMode::Torch => square.sqrt() + eps,
    };
    match buffer {
        Some(b) => {
            *b = T::from_f64_lossy(c.momentum) * *b + g / denom;
            *x = *x - lr * *b;
        }
        None => *x = *x - lr * g / denom,
    }
}

impl<T: Element> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &[ParamGrad<'_, T>]) -> Result<Vec<Tensor<T>>> {
        let c = self.config;
        // Only the buffers the configuration uses are kept (and saved).
        match (c.centered, c.momentum > 0.0) {
            (false, false) => self
                .state
                .apply(params, ["square_avg"], |value, grad, [v]| {
                    for (i, x) in value.iter_mut().enumerate() {
                        update(&c, x, grad[i], &mut v[i], None, None);
                    }
                }),
            (true, false) => {
                self.state
                    .apply(params, ["square_avg", "grad_avg"], |value, grad, [v, a]| {
                        for (i, x) in value.iter_mut().enumerate() {
                            update(&c, x, grad[i], &mut v[i], Some(&mut a[i]), None);
                        }
                    })
            }
            (false, true) => self.state.apply(
                params,
                ["square_avg", "momentum_buffer"],
                |value, grad, [v, b]| {
                    for (i, x) in value.iter_mut().enumerate() {
                        update(&c, x, grad[i], &mut v[i], None, Some(&mut b[i]));
                    }
                },
            ),
            (true, true) => self.state.apply(
                params,
                ["square_avg", "grad_avg", "momentum_buffer"],
                |value, grad, [v, a, b]| {
                    for (i, x) in value.iter_mut().enumerate() {
                        update(&c, x, grad[i], &mut v[i], Some(&mut a[i]), Some(&mut b[i]));
                    }
                },
            ),
        }
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
