//! The layers: a serialisable configuration for each (`Conv2dConfig`, what Keras calls a
//! layer's config) and the module it builds for a given input shape (`Conv2d`).
//!
//! A configuration is plain data (`Conv2dConfig::new(32, 3).activation(Activation::Relu)`); a
//! [`Sequential`](crate::Sequential) builds each configuration into a module once it knows
//! the shape of the layer's input, which is how it infers input channels and features.

mod activation;
mod batch_norm;
mod conv2d;
mod custom;
mod dense;
mod dropout;
mod flatten;
mod global_max_pool;
mod padding;
mod pooling;

pub use activation::{Activation, ActivationLayer};
pub use batch_norm::{BatchNorm, BatchNorm1d, BatchNorm1dConfig, BatchNorm2d, BatchNorm2dConfig};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use custom::{register_layer, CustomLayer, CustomLayerConfig};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, Dropout2d, Dropout2dConfig, DropoutConfig};
pub use flatten::{Flatten, FlattenConfig};
pub use global_max_pool::{GlobalMaxPool2d, GlobalMaxPool2dConfig};
pub use padding::{Padding, ZeroPadding2d, ZeroPadding2dConfig};
pub use pooling::{
    AvgPool2d, AvgPool2dConfig, GlobalAvgPool2d, GlobalAvgPool2dConfig, MaxPool2d, MaxPool2dConfig,
    PoolWindow,
};

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use strata_tensor::Element;

use crate::error::{LayersError, Result};
use crate::init::Initializer;
use crate::module::Module;

/// Which framework's default initialisers a model uses for layers that do not set their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitDefaults {
    /// Keras: `glorot_uniform` weights and zero biases.
    #[default]
    Keras,
    /// PyTorch: uniform on `±1/sqrt(fan_in)` for weights and biases.
    Torch,
}

impl InitDefaults {
    /// The weight initialiser of this scheme.
    pub fn weight(self) -> Initializer {
        match self {
            Self::Keras => Initializer::GlorotUniform,
            Self::Torch => Initializer::TorchDefault,
        }
    }

    /// The bias initialiser of this scheme.
    pub fn bias(self) -> Initializer {
        match self {
            Self::Keras => Initializer::Zeros,
            Self::Torch => Initializer::TorchDefault,
        }
    }
}

/// What a layer needs to build its module: the input sample's shape, the model's default
/// initialisers, the generator for initial weights, and how many more parameter and buffer
/// elements the model may allocate.
pub struct BuildContext<'a> {
    /// The input shape of one sample (no batch axis).
    pub input_shape: &'a [usize],
    /// The initialisers for layers that do not name their own.
    pub defaults: InitDefaults,
    /// Draws initial weights.
    pub rng: &'a mut StdRng,
    /// Parameter and buffer elements the remaining layers may still allocate; every layer
    /// calls [`BuildContext::reserve`] before allocating its state. Unbounded
    /// (`usize::MAX`) for models built from code; loading a file bounds it by the number of
    /// values the file holds, so that an edited architecture cannot allocate more than the
    /// file justifies.
    pub element_budget: usize,
    /// A check of the architecture only: layers reserve their state from the budget and
    /// give their output shapes, but [`BuildContext::parameter`] and its siblings draw no
    /// values (they return empty placeholders). A bounded build runs this pass over every layer first,
    /// so that no layer allocates before the whole architecture is known to fit.
    pub dry_run: bool,
    /// Every piece of state reserved so far, by the layer-local name it has in the state
    /// dict (`weight`, `running_mean`, …) and its shape, in order: what a dry run tells a
    /// loader to expect from a file before anything is built.
    pub reserved: Vec<(String, Vec<usize>)>,
}

impl BuildContext<'_> {
    /// Takes the elements of a tensor of `shape` (the state called `what`, its layer-local
    /// name in the state dict) from the budget and records it in
    /// [`reserved`](Self::reserved), or fails, naming the shape, before anything is allocated.
    pub fn reserve(&mut self, what: &str, shape: &[usize]) -> Result<()> {
        let elements = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= self.element_budget)
            .ok_or_else(|| {
                LayersError::config(
                    what,
                    format!(
                        "shape {shape:?} needs more values than the {} left to allocate",
                        self.element_budget
                    ),
                )
            })?;
        self.element_budget -= elements;
        self.reserved.push((what.to_string(), shape.to_vec()));
        Ok(())
    }

    /// A trainable parameter called `name` (its layer-local name in the state dict) of
    /// `shape`, drawn with `init` (`Some(Initializer::Constant(1.0))` for a fixed start) or
    /// the model's default weight initialiser, with the fans of a weight of that shape
    /// ([`fans`](crate::init::fans)); reserved from the budget first, and an empty
    /// placeholder on a [dry run](Self::dry_run).
    pub fn parameter<T: Element>(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Option<Initializer>,
    ) -> Result<strata_autograd::Var<T>> {
        let init = init.unwrap_or(self.defaults.weight());
        self.state(name, shape, init, true)
    }

    /// Non-trainable state called `name` (saved with the model, as batch norm's running
    /// statistics) of `shape` with every element `value`, reserved as
    /// [`BuildContext::parameter`] is. Return it from [`Module::buffers`].
    pub fn buffer<T: Element>(
        &mut self,
        name: &str,
        shape: &[usize],
        value: f64,
    ) -> Result<strata_autograd::Var<T>> {
        self.state(name, shape, Initializer::Constant(value), false)
    }

    /// Reserves, then draws (or on a dry run stands in for) one piece of state.
    fn state<T: Element>(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Initializer,
        trainable: bool,
    ) -> Result<strata_autograd::Var<T>> {
        self.reserve(name, shape)?;
        let value = if self.dry_run {
            strata_tensor::Tensor::zeros(&[0])
        } else {
            let (fan_in, fan_out) = crate::init::fans(shape);
            init.tensor(shape, fan_in, fan_out, self.rng)?
        };
        Ok(if trainable {
            strata_autograd::Var::parameter(value)
        } else {
            strata_autograd::Var::constant(value)
        })
    }

    /// A weight of `shape` (`[out, in, …]`) and, with `use_bias`, a bias of `[out]`, drawn
    /// with the given initialisers or the model's defaults, both with the weight's fans.
    pub(crate) fn weight_and_bias<T: Element>(
        &mut self,
        shape: &[usize],
        weight_init: Option<Initializer>,
        bias_init: Option<Initializer>,
        use_bias: bool,
    ) -> Result<(strata_autograd::Var<T>, Option<strata_autograd::Var<T>>)> {
        self.reserve("weight", shape)?;
        if use_bias {
            self.reserve("bias", &shape[..1])?;
        }
        if self.dry_run {
            let empty = || strata_autograd::Var::parameter(strata_tensor::Tensor::zeros(&[0]));
            return Ok((empty(), use_bias.then(empty)));
        }
        let (fan_in, fan_out) = crate::init::fans(shape);
        let weight = weight_init
            .unwrap_or(self.defaults.weight())
            .tensor(shape, fan_in, fan_out, self.rng)?;
        let bias = if use_bias {
            let init = bias_init.unwrap_or(self.defaults.bias());
            Some(strata_autograd::Var::parameter(init.tensor(
                &shape[..1],
                fan_in,
                fan_out,
                self.rng,
            )?))
        } else {
            None
        };
        Ok((strata_autograd::Var::parameter(weight), bias))
    }
}

/// Any layer's configuration: what a saved model's architecture lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerConfig {
    /// [`Conv2dConfig`].
    Conv2d(Conv2dConfig),
    /// [`MaxPool2dConfig`].
    MaxPool2d(MaxPool2dConfig),
    /// [`AvgPool2dConfig`].
    AvgPool2d(AvgPool2dConfig),
    /// [`GlobalAvgPool2dConfig`].
    GlobalAvgPool2d(GlobalAvgPool2dConfig),
    /// [`GlobalMaxPool2dConfig`].
    GlobalMaxPool2d(GlobalMaxPool2dConfig),
    /// [`ZeroPadding2dConfig`].
    ZeroPadding2d(ZeroPadding2dConfig),
    /// [`DropoutConfig`].
    Dropout(DropoutConfig),
    /// [`Dropout2dConfig`].
    Dropout2d(Dropout2dConfig),
    /// [`FlattenConfig`].
    Flatten(FlattenConfig),
    /// [`DenseConfig`].
    Dense(DenseConfig),
    /// An activation on its own ([`Activation`]).
    Activation(Activation),
    /// [`BatchNorm2dConfig`].
    BatchNorm2d(BatchNorm2dConfig),
    /// [`BatchNorm1dConfig`].
    BatchNorm1d(BatchNorm1dConfig),
    /// A layer type defined outside this crate ([`CustomLayer`]).
    Custom(CustomLayerConfig),
}

impl LayerConfig {
    /// The Keras-style base of automatic layer names (`conv2d`, `max_pooling2d`, …).
    pub fn base_name(&self) -> &'static str {
        match self {
            Self::Conv2d(_) => "conv2d",
            Self::MaxPool2d(_) => "max_pooling2d",
            Self::AvgPool2d(_) => "average_pooling2d",
            Self::GlobalAvgPool2d(_) => "global_average_pooling2d",
            Self::GlobalMaxPool2d(_) => "global_max_pooling2d",
            Self::ZeroPadding2d(_) => "zero_padding2d",
            Self::Dropout(_) => "dropout",
            Self::Dropout2d(_) => "spatial_dropout2d",
            Self::Flatten(_) => "flatten",
            Self::Dense(_) => "dense",
            Self::Activation(a) => a.base_name(),
            Self::BatchNorm2d(_) | Self::BatchNorm1d(_) => "batch_normalization",
            Self::Custom(c) => c.base_name(),
        }
    }

    /// Builds the layer's module for inputs of `ctx.input_shape`.
    pub fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>> {
        Ok(match self {
            Self::Conv2d(c) => Box::new(c.build(ctx)?),
            Self::MaxPool2d(c) => Box::new(c.build()?),
            Self::AvgPool2d(c) => Box::new(c.build()?),
            Self::GlobalAvgPool2d(c) => Box::new(c.build()),
            Self::GlobalMaxPool2d(c) => Box::new(c.build()),
            Self::ZeroPadding2d(c) => Box::new(c.build()),
            Self::Dropout(c) => Box::new(c.build()?),
            Self::Dropout2d(c) => Box::new(c.build()?),
            Self::Flatten(c) => Box::new(c.build()),
            Self::Dense(c) => Box::new(c.build(ctx)?),
            Self::Activation(a) => Box::new(ActivationLayer::new(*a)?),
            Self::BatchNorm2d(c) => Box::new(c.build(ctx)?),
            Self::BatchNorm1d(c) => Box::new(c.build(ctx)?),
            Self::Custom(c) => c.build(ctx)?,
        })
    }
}

/// Declares `From<Config> for LayerConfig` for each layer configuration.
macro_rules! into_layer_config {
    ($($variant:ident($config:ident)),*) => {
        $(impl From<$config> for LayerConfig {
            fn from(config: $config) -> Self {
                Self::$variant(config)
            }
        })*
    };
}

into_layer_config!(
    Conv2d(Conv2dConfig),
    MaxPool2d(MaxPool2dConfig),
    AvgPool2d(AvgPool2dConfig),
    GlobalAvgPool2d(GlobalAvgPool2dConfig),
    GlobalMaxPool2d(GlobalMaxPool2dConfig),
    ZeroPadding2d(ZeroPadding2dConfig),
    Dropout(DropoutConfig),
    Dropout2d(Dropout2dConfig),
    Flatten(FlattenConfig),
    Dense(DenseConfig),
    Activation(Activation),
    BatchNorm2d(BatchNorm2dConfig),
    BatchNorm1d(BatchNorm1dConfig),
    Custom(CustomLayerConfig)
);

/// Checks that a sample shape has the rank a layer needs, naming the layer and shape.
pub(crate) fn expect_rank(layer: &str, input: &[usize], rank: usize, layout: &str) -> Result<()> {
    if input.len() != rank {
        return Err(LayersError::config(
            layer,
            format!("expects samples of shape {layout}, found {input:?}"),
        ));
    }
    Ok(())
}

/// Checks that a rate is in `[0, 1)`.
pub(crate) fn check_rate(layer: &str, rate: f64) -> Result<()> {
    if !(0.0..1.0).contains(&rate) {
        return Err(LayersError::config(
            layer,
            format!("rate must be in [0, 1), found {rate}"),
        ));
    }
    Ok(())
}
