//! Adam and AdamW.

use strata_tensor::{Element, Tensor};

use super::{check_range, Optimizer, OptimizerState, ParamGrad};
use crate::error::Result;

/// Where Adam adds epsilon, which differs between the two frameworks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsilonMode {
    /// PyTorch: `p ← p − lr · m̂ / (sqrt(v̂) + ε)` with bias-corrected `m̂ = m / (1 − β₁ᵗ)`
    /// and `v̂ = v / (1 − β₂ᵗ)`. PyTorch's default ε is 1e-8.
    Torch,
    /// Keras (and the Adam paper's "ε-hat" form): `p ← p − lr · sqrt(1 − β₂ᵗ) / (1 − β₁ᵗ) ·
    /// m / (sqrt(v) + ε)`, so ε is added before bias correction. Keras's default ε is 1e-7.
    Keras,
}

/// Settings of [`Adam`]. The defaults are Keras's, `keras.optimizers.Adam()`: learning rate
/// 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7 added Keras's way, no AMSGrad;
/// [`AdamConfig::pytorch`] gives `torch.optim.Adam`'s (the same but ε 1e-8 added after bias
/// correction), [`AdamConfig::pytorch_adamw`] and [`AdamConfig::keras_adamw`] the two
/// frameworks' AdamW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Step size. Default 0.001.
    pub learning_rate: f64,
    /// Decay of the first-moment estimate. Default 0.9.
    pub beta1: f64,
    /// Decay of the second-moment estimate. Default 0.999.
    pub beta2: f64,
    /// Added to the denominator for stability. Default 1e-7.
    pub epsilon: f64,
    /// Where epsilon is added. Default [`EpsilonMode::Keras`].
    pub epsilon_mode: EpsilonMode,
    /// Weight decay: added to the gradient as an L2 penalty for Adam, applied to the weights
    /// directly (`p ← p − lr·λ·p`) for AdamW. Default 0.
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW, `torch.optim.AdamW`, `keras.optimizers.AdamW`).
    /// Default false.
    pub decoupled_weight_decay: bool,
    /// AMSGrad (Reddi et al.; `amsgrad=True` in both frameworks): divide by the running
    /// maximum of the second-moment estimate instead of the estimate itself. Default false.
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            epsilon_mode: EpsilonMode::Keras,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            amsgrad: false,
        }
    }
}

impl AdamConfig {
    /// PyTorch's `torch.optim.Adam` defaults: ε 1e-8 added after bias correction.
    pub fn pytorch() -> Self {
        Self {
            epsilon: 1e-8,
            epsilon_mode: EpsilonMode::Torch,
            ..Self::default()
        }
    }

    /// The same as [`AdamConfig::pytorch`].
    pub fn torch() -> Self {
        Self::pytorch()
    }

    /// Keras's `keras.optimizers.Adam` defaults (the [`Default`]).
    pub fn keras() -> Self {
        Self::default()
    }

    /// PyTorch's `torch.optim.AdamW` defaults: as [`AdamConfig::pytorch`] with decoupled
    /// weight decay 0.01.
    pub fn pytorch_adamw() -> Self {
        Self {
            weight_decay: 0.01,
            decoupled_weight_decay: true,
            ..Self::pytorch()
        }
    }

    /// The same as [`AdamConfig::pytorch_adamw`].
    pub fn torch_adamw() -> Self {
        Self::pytorch_adamw()
    }

    /// Keras's `keras.optimizers.AdamW` defaults: as [`AdamConfig::keras`] with decoupled
    /// weight decay 0.004.
    pub fn keras_adamw() -> Self {
        Self {
            weight_decay: 0.004,
            decoupled_weight_decay: true,
            ..Self::keras()
        }
    }
}

/// The Adam optimiser (Kingma & Ba), and AdamW with decoupled weight decay.
#[derive(Debug, Clone)]
pub struct Adam<T: Element> {
    config: AdamConfig,
    state: OptimizerState<T>,
}

impl<T: Element> Adam<T> {
    /// An Adam optimiser; an error names any setting out of range.
    pub fn new(config: AdamConfig) -> Result<Self> {
        check_range("Adam", "learning_rate", config.learning_rate, 0.0, f64::MAX)?;
        check_range("Adam", "beta1", config.beta1, 0.0, 1.0 - f64::EPSILON)?;
        check_range("Adam", "beta2", config.beta2, 0.0, 1.0 - f64::EPSILON)?;
        check_range("Adam", "epsilon", config.epsilon, 0.0, f64::MAX)?;
        check_range("Adam", "weight_decay", config.weight_decay, 0.0, f64::MAX)?;
        Ok(Self {
            config,
            state: OptimizerState::new("adam"),
        })
    }

    /// Adam with PyTorch's defaults ([`AdamConfig::pytorch`]).
    pub fn pytorch() -> Self {
        Self::with_defaults(AdamConfig::pytorch())
    }

    /// Adam with Keras's defaults ([`AdamConfig::keras`]).
    pub fn keras() -> Self {
        Self::with_defaults(AdamConfig::keras())
    }

    /// AdamW with PyTorch's defaults ([`AdamConfig::pytorch_adamw`]).
    pub fn pytorch_adamw() -> Self {
        Self::with_defaults(AdamConfig::pytorch_adamw())
    }

    /// AdamW with Keras's defaults ([`AdamConfig::keras_adamw`]).
    pub fn keras_adamw() -> Self {
        Self::with_defaults(AdamConfig::keras_adamw())
    }

    /// A framework's defaults, which are in range.
    fn with_defaults(config: AdamConfig) -> Self {
        Self {
            config,
            state: OptimizerState::new("adam"),
        }
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &[ParamGrad<'_, T>]) -> Result<Vec<Tensor<T>>> {
        let c = self.config;
        let t = (self.state.step + 1) as i32;
        let correction1 = 1.0 - c.beta1.powi(t);
        let correction2 = 1.0 - c.beta2.powi(t);
        let (b1, b2) = (T::from_f64_lossy(c.beta1), T::from_f64_lossy(c.beta2));
        let eps = T::from_f64_lossy(c.epsilon);
        let wd = T::from_f64_lossy(c.weight_decay);
        let lr = T::from_f64_lossy(c.learning_rate);
        // Both conventions as `p ← p − step_size · m / (sqrt(v) / denom_scale + ε)`.
        let (step_size, denom_scale) = match c.epsilon_mode {
            EpsilonMode::Torch => (c.learning_rate / correction1, correction2.sqrt()),
            EpsilonMode::Keras => (c.learning_rate * correction2.sqrt() / correction1, 1.0),
        };
        let (step_size, denom_scale) =
            (T::from_f64_lossy(step_size), T::from_f64_lossy(denom_scale));
        // One element: `max_v` is AMSGrad's running maximum, when configured.
        let update = |x: &mut T, grad: T, m: &mut T, v: &mut T, max_v: Option<&mut T>| {
            let mut g = grad;
            if c.decoupled_weight_decay {
                *x = *x - lr * wd * *x;
            } else {
                g = g + wd * *x;
            }
            *m = b1 * *m + (T::one() - b1) * g;
            *v = b2 * *v + (T::one() - b2) * g * g;
            let second = match max_v {
                Some(max_v) => {
                    *max_v = max_v.max(*v);
                    *max_v
                }
                None => *v,
            };
            *x = *x - step_size * *m / (second.sqrt() / denom_scale + eps);
        };
        if c.amsgrad {
            self.state.apply(
                params,
                ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
                |value, grad, [m, v, max_v]| {
                    for (i, x) in value.iter_mut().enumerate() {
                        update(x, grad[i], &mut m[i], &mut v[i], Some(&mut max_v[i]));
                    }
                },
            )
        } else {
            self.state
                .apply(params, ["exp_avg", "exp_avg_sq"], |value, grad, [m, v]| {
                    for (i, x) in value.iter_mut().enumerate() {
                        update(x, grad[i], &mut m[i], &mut v[i], None);
                    }
                })
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
        state.expect_kind("adam")?;
        self.state = state;
        Ok(())
    }
}
