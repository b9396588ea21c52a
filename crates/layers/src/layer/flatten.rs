//! Flatten: its configuration and module.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::Element;

use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module};

/// Flattens each sample to one axis: `[N, C, H, W] → [N, C·H·W]` (row-major over C, H, W as
/// PyTorch's `nn.Flatten`; Keras's `layers.Flatten` flattens its channels-last H, W, C order,
/// so weights of a following Dense differ in row order between the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FlattenConfig {}

impl FlattenConfig {
    /// A flatten layer.
    pub fn new() -> Self {
        Self {}
    }

    /// Builds the module.
    pub fn build(&self) -> Flatten {
        Flatten { config: *self }
    }
}

/// The flatten module built from a [`FlattenConfig`] (validated); see the configuration for
/// shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flatten {
    config: FlattenConfig,
}

impl Flatten {
    /// The configuration this module was built from.
    pub fn config(&self) -> &FlattenConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for Flatten {
    fn kind(&self) -> &'static str {
        "Flatten"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        if input.rank() < 2 {
            return Err(LayersError::config(
                "Flatten",
                format!("expects a batch [N, …], found shape {:?}", input.shape()),
            ));
        }
        Ok(input.flatten(1, input.rank() - 1)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let features = input
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| {
                LayersError::config("Flatten", format!("input {input:?} has too many values"))
            })?;
        Ok(vec![features])
    }
}
