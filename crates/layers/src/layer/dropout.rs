//! Dropout and Dropout2d: their configurations and modules.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::{Element, Tensor};

use super::check_rate;
use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module};

/// Zeroes each element with probability `rate` while training and scales the rest by
/// `1 / (1 − rate)`; the identity in inference. PyTorch `nn.Dropout(p)`, Keras
/// `layers.Dropout(rate)`. Any input shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    /// The probability of dropping an element, in `[0, 1)`.
    pub rate: f64,
}

impl DropoutConfig {
    /// Dropout with the given rate.
    pub fn new(rate: f64) -> Self {
        Self { rate }
    }

    /// Checks the configuration and builds the module.
    pub fn build(&self) -> Result<Dropout> {
        check_rate("Dropout", self.rate)?;
        Ok(Dropout { config: *self })
    }
}

/// The dropout module built from a [`DropoutConfig`] (validated); see the configuration for
/// shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    config: DropoutConfig,
}

impl Dropout {
    /// The configuration this module was built from.
    pub fn config(&self) -> &DropoutConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for Dropout {
    fn kind(&self) -> &'static str {
        "Dropout"
    }

    fn forward(&self, input: &Var<T>, ctx: &mut ForwardContext) -> Result<Var<T>> {
        if !ctx.is_training() || self.config.rate == 0.0 {
            return Ok(input.clone());
        }
        Ok(input.dropout(self.config.rate, ctx.rng())?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}

/// Drops whole channels: each `(sample, channel)` plane of an `[N, C, H, W]` batch is zeroed
/// with probability `rate` while training, the rest scaled by `1 / (1 − rate)`. PyTorch
/// `nn.Dropout2d(p)`, Keras `layers.SpatialDropout2D(rate)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dropout2dConfig {
    /// The probability of dropping a channel, in `[0, 1)`.
    pub rate: f64,
}

impl Dropout2dConfig {
    /// Channel dropout with the given rate.
    pub fn new(rate: f64) -> Self {
        Self { rate }
    }

    /// Checks the configuration and builds the module.
    pub fn build(&self) -> Result<Dropout2d> {
        check_rate("SpatialDropout2D", self.rate)?;
        Ok(Dropout2d { config: *self })
    }
}

/// The channel dropout module built from a [`Dropout2dConfig`] (validated); see the configuration for
/// shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout2d {
    config: Dropout2dConfig,
}

impl Dropout2d {
    /// The configuration this module was built from.
    pub fn config(&self) -> &Dropout2dConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for Dropout2d {
    fn kind(&self) -> &'static str {
        "SpatialDropout2D"
    }

    fn forward(&self, input: &Var<T>, ctx: &mut ForwardContext) -> Result<Var<T>> {
        if !ctx.is_training() || self.config.rate == 0.0 {
            return Ok(input.clone());
        }
        let &[n, c, _, _] = input.shape() else {
            return Err(LayersError::config(
                "SpatialDropout2D",
                format!("expects a batch [N, C, H, W], found {:?}", input.shape()),
            ));
        };
        // The mask is a constant of the op: the gradient is the same mask times the
        // output gradient, which `mul` provides.
        let keep = Tensor::<T>::rand_uniform(&[n, c, 1, 1], 0.0, 1.0, ctx.rng())?;
        let scale = T::from_f64_lossy(1.0 / (1.0 - self.config.rate));
        let threshold = T::from_f64_lossy(self.config.rate);
        let mask = keep.map(|u| if u >= threshold { scale } else { T::zero() });
        Ok(input.mul(&Var::constant(mask))?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}
