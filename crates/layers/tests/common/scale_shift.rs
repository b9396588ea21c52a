//! A user-defined layer for the tests, written only against the public API: a per-channel
//! affine map `y = scale · x + shift` (learned `scale` and `shift` of `[C]`), with a
//! non-trainable `calls` buffer, the shape of state a real user layer has.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_layers::init::Initializer;
use strata_layers::layer::{BuildContext, CustomLayer};
use strata_layers::{ForwardContext, LayersError, Module, NamedVar};
use strata_tensor::Element;

/// The layer's configuration, saved in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleShiftConfig {
    /// The initial scale of every channel.
    pub initial_scale: f64,
}

/// The built layer.
pub struct ScaleShift<T: Element> {
    /// Kept apart from the state, whose shapes a dry run leaves empty.
    channels: usize,
    scale: Var<T>,
    shift: Var<T>,
    calls: Var<T>,
}

impl<T: Element> Module<T> for ScaleShift<T> {
    fn kind(&self) -> &'static str {
        "ScaleShift"
    }

    fn forward(&self, x: &Var<T>, _ctx: &mut ForwardContext) -> strata_layers::Result<Var<T>> {
        // [C] → [C, 1, …] so that it broadcasts over the sample's other axes.
        let mut shape = vec![self.channels];
        shape.extend(std::iter::repeat_n(1, x.shape().len() - 2));
        let scale = self.scale.reshape(&shape)?.broadcast_to(x.shape())?;
        let shift = self.shift.reshape(&shape)?.broadcast_to(x.shape())?;
        Ok(x.mul(&scale)?.add(&shift)?)
    }

    fn output_shape(&self, input: &[usize]) -> strata_layers::Result<Vec<usize>> {
        if input.first() != Some(&self.channels) {
            return Err(LayersError::config(
                "ScaleShift",
                format!(
                    "built for {} channels, found input {input:?}",
                    self.channels
                ),
            ));
        }
        Ok(input.to_vec())
    }

    fn parameters(&self) -> Vec<NamedVar<'_, T>> {
        vec![("scale", &self.scale), ("shift", &self.shift)]
    }

    fn buffers(&self) -> Vec<NamedVar<'_, T>> {
        vec![("calls", &self.calls)]
    }
}

impl CustomLayer for ScaleShiftConfig {
    const KIND: &'static str = "tests.ScaleShift";
    const BASE_NAME: &'static str = "scale_shift";

    fn build<T: Element>(
        &self,
        ctx: &mut BuildContext<'_>,
    ) -> strata_layers::Result<Box<dyn Module<T>>> {
        let channels = *ctx
            .input_shape
            .first()
            .ok_or_else(|| LayersError::config("ScaleShift", "expects samples of rank ≥ 1"))?;
        Ok(Box::new(ScaleShift {
            channels,
            scale: ctx.parameter(
                "scale",
                &[channels],
                Some(Initializer::Constant(self.initial_scale)),
            )?,
            shift: ctx.parameter("shift", &[channels], None)?,
            calls: ctx.buffer("calls", &[1], 0.0)?,
        }))
    }
}
