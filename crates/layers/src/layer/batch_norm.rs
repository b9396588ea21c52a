//! BatchNorm2d and BatchNorm1d: their configurations and the module both build.

use serde::{Deserialize, Serialize};
use strata_autograd::{no_grad, BatchStats, Var};
use strata_tensor::{Element, Tensor};

use super::{expect_rank, BuildContext};
use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module, NamedVar};

/// Batch normalisation over the channels of `[N, C, H, W]` batches: each channel is
/// normalised with the batch's mean and (biased) variance while training, and with running
/// estimates in inference, then scaled by `gamma` (`weight`) and shifted by `beta` (`bias`).
///
/// `momentum` follows Keras: `running ← momentum · running + (1 − momentum) · batch`
/// (Keras `layers.BatchNormalization(momentum=0.99, epsilon=1e-3)`). PyTorch's
/// `nn.BatchNorm2d(C)` is [`BatchNorm2dConfig::torch`]: its `momentum = 0.1` is our 0.9, `eps =
/// 1e-5`, and its running variance uses the unbiased batch variance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm2dConfig {
    /// Weight of the old running value in each update. Default 0.99.
    pub momentum: f64,
    /// Added to the variance. Default 1e-3.
    pub epsilon: f64,
    /// Update the running variance with the unbiased batch variance (PyTorch). Default false.
    pub unbiased_running_var: bool,
}

impl Default for BatchNorm2dConfig {
    fn default() -> Self {
        Self {
            momentum: 0.99,
            epsilon: 1e-3,
            unbiased_running_var: false,
        }
    }
}

impl BatchNorm2dConfig {
    /// Keras's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keras's defaults (`momentum 0.99`, `epsilon 1e-3`, biased running variance).
    pub fn keras() -> Self {
        Self::default()
    }

    /// PyTorch's defaults (`momentum=0.1`, i.e. our 0.9; `eps=1e-5`; unbiased running
    /// variance).
    pub fn pytorch() -> Self {
        Self {
            momentum: 0.9,
            epsilon: 1e-5,
            unbiased_running_var: true,
        }
    }

    /// The same as [`BatchNorm2dConfig::pytorch`].
    pub fn torch() -> Self {
        Self::pytorch()
    }

    pub(super) fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> Result<BatchNorm2d<T>> {
        expect_rank("BatchNormalization", ctx.input_shape, 3, "[C, H, W]")?;
        self.build_for_rank(ctx, 3)
    }

    /// Checks the settings and builds the module for samples of rank `sample_rank` (the
    /// channel axis first).
    fn build_for_rank<T: Element>(
        &self,
        ctx: &mut BuildContext<'_>,
        sample_rank: usize,
    ) -> Result<BatchNorm<T>> {
        if !(0.0..=1.0).contains(&self.momentum)
            || self.epsilon.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        {
            return Err(LayersError::config(
                "BatchNormalization",
                format!(
                    "momentum {} must be in [0, 1] and epsilon {} positive",
                    self.momentum, self.epsilon
                ),
            ));
        }
        let c = ctx.input_shape[0];
        // The names of the state dict (PyTorch's): weight = gamma, bias = beta.
        for state in ["weight", "bias", "running_mean", "running_var"] {
            ctx.reserve(state, &[c])?;
        }
        Ok(BatchNorm {
            config: *self,
            sample_rank,
            gamma: Var::parameter(Tensor::ones(&[c])),
            beta: Var::parameter(Tensor::zeros(&[c])),
            running_mean: Var::constant(Tensor::zeros(&[c])),
            running_var: Var::constant(Tensor::ones(&[c])),
        })
    }
}

/// Batch normalisation of `[N, C]` or `[N, C, L]` batches over the channel axis 1: PyTorch
/// `nn.BatchNorm1d(C)` ([`BatchNorm1dConfig::pytorch`]); for `[N, features]`, Keras
/// `layers.BatchNormalization()` after a `Dense` (the default). The same rule, settings and
/// running statistics as [`BatchNorm2dConfig`], each channel's statistics taken over the
/// batch (and length).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm1dConfig {
    /// Weight of the old running value in each update. Default 0.99.
    pub momentum: f64,
    /// Added to the variance. Default 1e-3.
    pub epsilon: f64,
    /// Update the running variance with the unbiased batch variance (PyTorch). Default false.
    pub unbiased_running_var: bool,
}

impl Default for BatchNorm1dConfig {
    fn default() -> Self {
        Self::keras()
    }
}

impl BatchNorm1dConfig {
    /// Keras's defaults (`momentum 0.99`, `epsilon 1e-3`, biased running variance).
    pub fn keras() -> Self {
        Self::from_settings(BatchNorm2dConfig::keras())
    }

    /// PyTorch's `nn.BatchNorm1d` defaults (`momentum=0.1`, i.e. our 0.9; `eps=1e-5`;
    /// unbiased running variance).
    pub fn pytorch() -> Self {
        Self::from_settings(BatchNorm2dConfig::pytorch())
    }

    fn from_settings(c: BatchNorm2dConfig) -> Self {
        Self {
            momentum: c.momentum,
            epsilon: c.epsilon,
            unbiased_running_var: c.unbiased_running_var,
        }
    }

    pub(super) fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> Result<BatchNorm<T>> {
        let rank = ctx.input_shape.len();
        if !(1..=2).contains(&rank) {
            return Err(LayersError::config(
                "BatchNormalization",
                format!(
                    "BatchNorm1d expects samples of shape [C] or [C, L], found {:?}",
                    ctx.input_shape
                ),
            ));
        }
        let settings = BatchNorm2dConfig {
            momentum: self.momentum,
            epsilon: self.epsilon,
            unbiased_running_var: self.unbiased_running_var,
        };
        settings.build_for_rank(ctx, rank)
    }
}

/// The module of [`BatchNorm2dConfig`].
pub type BatchNorm2d<T> = BatchNorm<T>;

/// The module of [`BatchNorm1dConfig`].
pub type BatchNorm1d<T> = BatchNorm<T>;

/// The batch normalisation module built from a [`BatchNorm2dConfig`] or a
/// [`BatchNorm1dConfig`]: `gamma` and `beta` (`weight`, `bias`) and the running statistics,
/// one of each per channel.
pub struct BatchNorm<T: Element> {
    config: BatchNorm2dConfig,
    sample_rank: usize,
    gamma: Var<T>,
    beta: Var<T>,
    running_mean: Var<T>,
    running_var: Var<T>,
}

impl<T: Element> BatchNorm<T> {
    /// `running ← momentum · running + (1 − momentum) · batch` for the mean and the variance
    /// (the unbiased batch variance `var · M / (M − 1)` with `unbiased_running_var` and more
    /// than one value per channel); plain tensor arithmetic outside the graph.
    fn update_running(&self, stats: &BatchStats<T>) -> Result<()> {
        no_grad(|| -> Result<()> {
            let m = T::from_f64_lossy(self.config.momentum);
            let count = stats.count as f64;
            let correction = if self.config.unbiased_running_var && stats.count > 1 {
                count / (count - 1.0)
            } else {
                1.0
            };
            let batch_var = stats.var.mul_scalar(T::from_f64_lossy(correction));
            let blend = |old: &Tensor<T>, new: &Tensor<T>| -> Result<Tensor<T>> {
                Ok(old.mul_scalar(m).add(&new.mul_scalar(T::one() - m))?)
            };
            self.running_mean
                .set_value(blend(&self.running_mean.value(), &stats.mean)?)?;
            self.running_var
                .set_value(blend(&self.running_var.value(), &batch_var)?)?;
            Ok(())
        })
    }
}

impl<T: Element> Module<T> for BatchNorm<T> {
    fn kind(&self) -> &'static str {
        "BatchNormalization"
    }

    fn forward(&self, input: &Var<T>, ctx: &mut ForwardContext) -> Result<Var<T>> {
        let c = self.gamma.shape()[0];
        let channels = match input.shape() {
            &[_, channels, ..] if input.rank() == self.sample_rank + 1 => channels,
            shape => {
                return Err(LayersError::config(
                    "BatchNormalization",
                    format!(
                        "expects batches of rank {}, [N, C, …], found {shape:?}",
                        self.sample_rank + 1
                    ),
                ))
            }
        };
        if channels != c {
            return Err(LayersError::config(
                "BatchNormalization",
                format!("built for {c} channels, input {:?}", input.shape()),
            ));
        }
        let eps = self.config.epsilon;
        if !ctx.is_training() {
            return Ok(input.batch_norm_eval(
                &self.gamma,
                &self.beta,
                &self.running_mean.value(),
                &self.running_var.value(),
                eps,
            )?);
        }
        let (output, stats) = input.batch_norm_train(&self.gamma, &self.beta, eps)?;
        self.update_running(&stats)?;
        Ok(output)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("BatchNormalization", input, self.sample_rank, "[C, …]")?;
        Ok(input.to_vec())
    }

    fn parameters(&self) -> Vec<NamedVar<'_, T>> {
        vec![("weight", &self.gamma), ("bias", &self.beta)]
    }

    fn buffers(&self) -> Vec<NamedVar<'_, T>> {
        vec![
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
        ]
    }
}

#[cfg(test)]
#[path = "batch_norm_tests.rs"]
mod tests;
