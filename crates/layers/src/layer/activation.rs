//! Activations, on their own or fused into Conv2d and Dense as in Keras.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::Element;

use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module};

/// An element-wise (or, for softmax, per-sample) activation.
///
/// As layers: `ReLU` (PyTorch `nn.ReLU`, Keras `layers.ReLU`), `LeakyReLU`
/// (`nn.LeakyReLU(slope)`, `layers.LeakyReLU(negative_slope)`), `Sigmoid`, `Tanh`, `Softmax`
/// (over the channel/class axis 1: Keras's last axis in its channels-last layout).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "activation", rename_all = "snake_case")]
pub enum Activation {
    /// The identity (Keras `activation=None` / `"linear"`).
    #[default]
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x > 0`, `slope · x` otherwise.
    LeakyRelu {
        /// The slope for negative inputs (Keras's default 0.3, PyTorch's 0.01).
        slope: f64,
    },
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `exp(x) / Σ exp(x)` over axis 1.
    Softmax,
}

impl Activation {
    /// Applies the activation to a batch.
    pub fn apply<T: Element>(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(match *self {
            Self::Linear => x.clone(),
            Self::Relu => x.relu(),
            Self::LeakyRelu { slope } => x.leaky_relu(T::from_f64_lossy(slope)),
            Self::Sigmoid => x.sigmoid(),
            Self::Tanh => x.tanh(),
            Self::Softmax => {
                if x.rank() < 2 {
                    return Err(LayersError::config(
                        "softmax",
                        format!(
                            "needs a batch of at least one axis, found shape {:?}",
                            x.shape()
                        ),
                    ));
                }
                x.softmax(1)?
            }
        })
    }

    /// The Keras layer type shown in summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Linear => "Activation",
            Self::Relu => "ReLU",
            Self::LeakyRelu { .. } => "LeakyReLU",
            Self::Sigmoid | Self::Tanh | Self::Softmax => "Activation",
        }
    }

    /// The base of automatic layer names.
    pub fn base_name(&self) -> &'static str {
        match self {
            Self::Relu => "re_lu",
            Self::LeakyRelu { .. } => "leaky_re_lu",
            Self::Softmax => "softmax",
            _ => "activation",
        }
    }
}

/// The module of a stand-alone activation.
#[derive(Debug, Clone, Copy)]
pub struct ActivationLayer(Activation);

impl ActivationLayer {
    /// Checks the activation's settings.
    pub fn new(activation: Activation) -> Result<Self> {
        if let Activation::LeakyRelu { slope } = activation {
            if !slope.is_finite() {
                return Err(LayersError::config(
                    "LeakyReLU",
                    format!("slope must be finite, found {slope}"),
                ));
            }
        }
        Ok(Self(activation))
    }
}

impl<T: Element> Module<T> for ActivationLayer {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        self.0.apply(input)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}
