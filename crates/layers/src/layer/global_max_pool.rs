//! GlobalMaxPool2d: its configuration and module.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::Element;

use super::expect_rank;
use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module};

/// The maximum of each channel: `[N, C, H, W] → [N, C]`. PyTorch equivalent:
/// `nn.AdaptiveMaxPool2d(1)` then `flatten(1)`; Keras: `layers.GlobalMaxPooling2D()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GlobalMaxPool2dConfig {}

impl GlobalMaxPool2dConfig {
    /// A global max pooling layer.
    pub fn new() -> Self {
        Self {}
    }

    /// Builds the module.
    pub fn build(&self) -> GlobalMaxPool2d {
        GlobalMaxPool2d { config: *self }
    }
}

/// The global max pooling module built from a [`GlobalMaxPool2dConfig`]; see the
/// configuration for shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalMaxPool2d {
    config: GlobalMaxPool2dConfig,
}

impl GlobalMaxPool2d {
    /// The configuration this module was built from.
    pub fn config(&self) -> &GlobalMaxPool2dConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for GlobalMaxPool2d {
    fn kind(&self) -> &'static str {
        "GlobalMaxPooling2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        if input.rank() != 4 {
            return Err(LayersError::config(
                "GlobalMaxPooling2D",
                format!("expects a batch [N, C, H, W], found {:?}", input.shape()),
            ));
        }
        Ok(input.global_max_pool2d()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("GlobalMaxPooling2D", input, 3, "[C, H, W]")?;
        Ok(vec![input[0]])
    }
}
