//! Dense (fully connected): its configuration and module.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::Element;

use super::{Activation, BuildContext};
use crate::error::{LayersError, Result};
use crate::init::Initializer;
use crate::module::{ForwardContext, Module, NamedVar};

/// A fully connected layer on the last axis: `y = x · Wᵀ + b`, then the activation, with
/// the weight stored `[units, inputs]` as PyTorch's `nn.Linear(inputs, units)` (so PyTorch
/// weights load unchanged; Keras's `layers.Dense(units, activation)` stores the transpose).
/// Input `[N, …, inputs]`, output `[N, …, units]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Output features.
    pub units: usize,
    /// Whether to add a bias. Default true.
    pub use_bias: bool,
    /// Fused activation. Default linear.
    pub activation: Activation,
    /// Weight initialiser; the model's default (Keras: glorot uniform) when `None`.
    pub kernel_initializer: Option<Initializer>,
    /// Bias initialiser; the model's default (Keras: zeros) when `None`.
    pub bias_initializer: Option<Initializer>,
}

impl DenseConfig {
    /// A dense layer of `units` outputs with a bias and no activation.
    pub fn new(units: usize) -> Self {
        Self {
            units,
            use_bias: true,
            activation: Activation::Linear,
            kernel_initializer: None,
            bias_initializer: None,
        }
    }

    /// With a fused activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// With or without a bias.
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// With a weight initialiser.
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = Some(init);
        self
    }

    pub(super) fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> Result<Dense<T>> {
        let Some(&inputs) = ctx.input_shape.last() else {
            return Err(LayersError::config(
                "Dense",
                "expects samples with at least one axis, found a scalar",
            ));
        };
        if self.units == 0 || inputs == 0 {
            return Err(LayersError::config(
                "Dense",
                format!(
                    "units ({}) and input features ({inputs}) must be positive",
                    self.units
                ),
            ));
        }
        let shape = [self.units, inputs];
        let (weight, bias) = ctx.weight_and_bias(
            &shape,
            self.kernel_initializer,
            self.bias_initializer,
            self.use_bias,
        )?;
        Ok(Dense {
            config: self.clone(),
            inputs,
            weight,
            bias,
        })
    }
}

/// The fully connected module built from a [`DenseConfig`].
pub struct Dense<T: Element> {
    config: DenseConfig,
    inputs: usize,
    weight: Var<T>,
    bias: Option<Var<T>>,
}

impl<T: Element> Module<T> for Dense<T> {
    fn kind(&self) -> &'static str {
        "Dense"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        if input.shape().last() != Some(&self.inputs) {
            return Err(LayersError::config(
                "Dense",
                format!("expects [N, …, {}], found {:?}", self.inputs, input.shape()),
            ));
        }
        // The transpose is a view: the matrix multiply reads W with swapped strides.
        let mut out = input.matmul(&self.weight.transpose(0, 1)?)?;
        if let Some(bias) = &self.bias {
            out = out.add(bias)?;
        }
        self.config.activation.apply(&out)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input.split_last() {
            Some((&last, rest)) if last == self.inputs => {
                let mut out = rest.to_vec();
                out.push(self.config.units);
                Ok(out)
            }
            _ => Err(LayersError::config(
                "Dense",
                format!("expects samples [… , {}], found {input:?}", self.inputs),
            )),
        }
    }

    fn parameters(&self) -> Vec<NamedVar<'_, T>> {
        let mut params = vec![("weight", &self.weight)];
        if let Some(bias) = &self.bias {
            params.push(("bias", bias));
        }
        params
    }
}
