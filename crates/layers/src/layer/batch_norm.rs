//! BatchNorm2d: its configuration and module.

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

    /// PyTorch's defaults.
    pub fn torch() -> Self {
        Self {
            momentum: 0.9,
            epsilon: 1e-5,
            unbiased_running_var: true,
        }
    }

    pub(super) fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> Result<BatchNorm2d<T>> {
        expect_rank("BatchNormalization", ctx.input_shape, 3, "[C, H, W]")?;
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
        for state in ["gamma", "beta", "running_mean", "running_var"] {
            ctx.reserve(state, &[c])?;
        }
        Ok(BatchNorm2d {
            config: *self,
            gamma: Var::parameter(Tensor::ones(&[c])),
            beta: Var::parameter(Tensor::zeros(&[c])),
            running_mean: Var::constant(Tensor::zeros(&[c])),
            running_var: Var::constant(Tensor::ones(&[c])),
        })
    }
}

/// The batch normalisation module built from a [`BatchNorm2dConfig`].
pub struct BatchNorm2d<T: Element> {
    config: BatchNorm2dConfig,
    gamma: Var<T>,
    beta: Var<T>,
    running_mean: Var<T>,
    running_var: Var<T>,
}

impl<T: Element> BatchNorm2d<T> {
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

impl<T: Element> Module<T> for BatchNorm2d<T> {
    fn kind(&self) -> &'static str {
        "BatchNormalization"
    }

    fn forward(&self, input: &Var<T>, ctx: &mut ForwardContext) -> Result<Var<T>> {
        let c = self.gamma.shape()[0];
        let &[_, channels, _, _] = input.shape() else {
            return Err(LayersError::config(
                "BatchNormalization",
                format!("expects [N, C, H, W], found {:?}", input.shape()),
            ));
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
        expect_rank("BatchNormalization", input, 3, "[C, H, W]")?;
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
