//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

use strata_tensor::{Element, Tensor};

use super::{check_range, Optimizer, OptimizerState, ParamGrad};
use crate::error::Result;

/// Settings of [`Sgd`]; the defaults are Keras's `keras.optimizers.SGD()`: plain SGD with
/// learning rate 0.01. [`SgdConfig::pytorch`] is `torch.optim.SGD`'s (learning rate 0.001);
/// the other settings default to 0/false in both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Step size. Default 0.01.
    pub learning_rate: f64,
    /// Momentum factor in `[0, 1)`. Default 0 (no momentum).
    pub momentum: f64,
    /// Dampening of the gradient added to the momentum buffer. Default 0.
    pub dampening: f64,
    /// Nesterov momentum (needs momentum > 0 and no dampening). Default false.
    pub nesterov: bool,
    /// L2 penalty added to the gradient (`grad + weight_decay · param`). Default 0.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            learning_rate: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    /// PyTorch's `torch.optim.SGD` defaults (learning rate 0.001).
    pub fn pytorch() -> Self {
        Self {
            learning_rate: 1e-3,
            ..Self::default()
        }
    }

    /// Keras's `keras.optimizers.SGD` defaults (the [`Default`]).
    pub fn keras() -> Self {
        Self::default()
    }
}

/// SGD as PyTorch's `torch.optim.SGD`: with momentum `μ`, `b ← μ·b + (1 − dampening)·g`
/// (`b ← g` on the first step), then `p ← p − lr·b`, or `p ← p − lr·(g + μ·b)` with Nesterov.
/// With a constant learning rate this is the same trajectory as Keras's `SGD(momentum,
/// nesterov)`, which keeps `v = −lr·b` instead.
#[derive(Debug, Clone)]
pub struct Sgd<T: Element> {
    config: SgdConfig,
    state: OptimizerState<T>,
}

impl<T: Element> Sgd<T> {
    /// An SGD optimiser; an error names any setting out of range.
    pub fn new(config: SgdConfig) -> Result<Self> {
        check_range("SGD", "learning_rate", config.learning_rate, 0.0, f64::MAX)?;
        check_range("SGD", "momentum", config.momentum, 0.0, 1.0)?;
        check_range("SGD", "dampening", config.dampening, 0.0, 1.0)?;
        check_range("SGD", "weight_decay", config.weight_decay, 0.0, f64::MAX)?;
        if config.nesterov && (config.momentum == 0.0 || config.dampening != 0.0) {
            return Err(crate::LayersError::config(
                "SGD",
                "Nesterov momentum needs momentum > 0 and dampening 0",
            ));
        }
        Ok(Self {
            config,
            state: OptimizerState::new("sgd"),
        })
    }

    /// SGD with PyTorch's defaults ([`SgdConfig::pytorch`]).
    pub fn pytorch() -> Self {
        Self {
            config: SgdConfig::pytorch(),
            state: OptimizerState::new("sgd"),
        }
    }

    /// SGD with Keras's defaults ([`SgdConfig::keras`]).
    pub fn keras() -> Self {
        Self {
            config: SgdConfig::keras(),
            state: OptimizerState::new("sgd"),
        }
    }
}

impl<T: Element> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &[ParamGrad<'_, T>]) -> Result<Vec<Tensor<T>>> {
        let c = self.config;
        let lr = T::from_f64_lossy(c.learning_rate);
        let mu = T::from_f64_lossy(c.momentum);
        let keep = T::one() - T::from_f64_lossy(c.dampening);
        let wd = T::from_f64_lossy(c.weight_decay);
        let first = self.state.step == 0;
        let rule = |value: &mut [T], grad: &[T], buf: Option<&mut Vec<T>>| {
            let mut buf = buf;
            for (i, v) in value.iter_mut().enumerate() {
                let g = grad[i] + wd * *v;
                let direction = match buf.as_deref_mut() {
                    Some(b) => {
                        b[i] = if first { g } else { mu * b[i] + keep * g };
                        if c.nesterov {
                            g + mu * b[i]
                        } else {
                            b[i]
                        }
                    }
                    None => g,
                };
                *v = *v - lr * direction;
            }
        };
        if c.momentum > 0.0 {
            self.state
                .apply(params, ["momentum_buffer"], |v, g, [b]| rule(v, g, Some(b)))
        } else {
            self.state.apply(params, [], |v, g, []| rule(v, g, None))
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
        state.expect_kind("sgd")?;
        self.state = state;
        Ok(())
    }
}
