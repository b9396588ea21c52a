//! Per-layer profile of a training step: where forward, backward and the optimiser spend
//! their time.

use std::fmt;
use std::time::Duration;

use strata_autograd::{BackwardObserver, NodeTiming, VarId};
use strata_tensor::{Element, Tensor};

use super::fit::StepPosition;
use super::model::Model;
use crate::error::{LayersError, Result};
use crate::module::ForwardContext;
use crate::targets::Targets;

/// The time one layer (or the loss) took in a step, forward and backward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerTime {
    /// The layer's name (`conv2d_1`, …), or `loss`.
    pub name: String,
    /// Wall time of its forward computation.
    pub forward: Duration,
    /// Wall time of the backward rules of the ops it recorded.
    pub backward: Duration,
}

/// Where the time of one or more training steps went (see [`Model::profile_step`]). Times
/// are sums over [`steps`](StepProfile::steps); the [`Display`](fmt::Display) table shows
/// them per step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepProfile {
    /// One row per layer in order, then one for the loss.
    pub layers: Vec<LayerTime>,
    /// The optimiser's update of every parameter.
    pub optimizer: Duration,
    /// How many steps the times add up.
    pub steps: u32,
}

impl StepProfile {
    /// Adds another profile of the same model to this one.
    ///
    /// # Errors
    /// If the two profiles have different layers.
    pub fn accumulate(&mut self, other: &StepProfile) -> Result<()> {
        let same_layers = self.layers.len() == other.layers.len()
            && self
                .layers
                .iter()
                .zip(&other.layers)
                .all(|(a, b)| a.name == b.name);
        if !same_layers {
            return Err(LayersError::config(
                "StepProfile::accumulate",
                "the profiles are of different models",
            ));
        }
        for (mine, theirs) in self.layers.iter_mut().zip(&other.layers) {
            mine.forward += theirs.forward;
            mine.backward += theirs.backward;
        }
        self.optimizer += other.optimizer;
        self.steps += other.steps;
        Ok(())
    }

    /// Total time of forward, backward and optimiser over all steps.
    pub fn total(&self) -> Duration {
        self.layers
            .iter()
            .map(|l| l.forward + l.backward)
            .sum::<Duration>()
            + self.optimizer
    }
}

impl fmt::Display for StepProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps = f64::from(self.steps.max(1));
        let ms = |d: Duration| d.as_secs_f64() * 1e3 / steps;
        let total = ms(self.total()).max(f64::MIN_POSITIVE);
        let width = self
            .layers
            .iter()
            .map(|l| l.name.len())
            .max()
            .unwrap_or(0)
            .max("optimizer".len());
        writeln!(
            f,
            "{:<width$}  {:>10}  {:>11}  {:>8}  {:>6}",
            "layer", "forward ms", "backward ms", "total ms", "share"
        )?;
        for layer in &self.layers {
            let sum = ms(layer.forward) + ms(layer.backward);
            writeln!(
                f,
                "{:<width$}  {:>10.3}  {:>11.3}  {:>8.3}  {:>5.1}%",
                layer.name,
                ms(layer.forward),
                ms(layer.backward),
                sum,
                100.0 * sum / total
            )?;
        }
        let optimizer = ms(self.optimizer);
        writeln!(
            f,
            "{:<width$}  {:>10}  {:>11}  {:>8.3}  {:>5.1}%",
            "optimizer",
            "",
            "",
            optimizer,
            100.0 * optimizer / total
        )?;
        let forward: Duration = self.layers.iter().map(|l| l.forward).sum();
        let backward: Duration = self.layers.iter().map(|l| l.backward).sum();
        write!(
            f,
            "{:<width$}  {:>10.3}  {:>11.3}  {:>8.3}  {:>5.1}%  (mean of {} steps)",
            "total",
            ms(forward),
            ms(backward),
            total,
            100.0,
            self.steps
        )
    }
}

impl<T: Element> Model<T> {
    /// One training step exactly as [`train_step`](Model::train_step) (the parameters are
    /// updated, the gradient hook runs), timing each layer's forward and backward, the loss
    /// and the optimiser.
    ///
    /// A layer's backward time is that of the backward rules of the ops recorded during its
    /// forward (told apart by their variables' ids, which grow in creation order).
    pub fn profile_step(
        &mut self,
        x: &Tensor<T>,
        y: &Targets<T>,
        ctx: &mut ForwardContext,
    ) -> Result<StepProfile> {
        let mut profiler = StepProfiler::default();
        self.step_profiled(
            x,
            y,
            ctx,
            StepPosition { epoch: 0, step: 0 },
            Some(&mut profiler),
        )?;
        Ok(profiler.profile)
    }
}

/// Collects a [`StepProfile`] as a step runs: layer rows from the forward pass, then the
/// backward pass's op times attributed to the layer that recorded each op.
#[derive(Debug, Default)]
pub(crate) struct StepProfiler {
    profile: StepProfile,
    /// The id of each layer's output, in layer order.
    last_ids: Vec<VarId>,
}

impl StepProfiler {
    /// A layer's forward finished with output `id` in `time`.
    pub(crate) fn layer_done(&mut self, name: &str, id: VarId, time: Duration) {
        self.profile.layers.push(LayerTime {
            name: name.to_string(),
            forward: time,
            backward: Duration::ZERO,
        });
        self.last_ids.push(id);
    }

    /// The loss was computed in `time` (its row comes after the layers').
    pub(crate) fn loss_done(&mut self, time: Duration) {
        self.profile.layers.push(LayerTime {
            name: "loss".to_string(),
            forward: time,
            backward: Duration::ZERO,
        });
    }

    /// The optimiser updated every parameter in `time`.
    pub(crate) fn optimizer_done(&mut self, time: Duration) {
        self.profile.optimizer = time;
        self.profile.steps = 1;
    }
}

impl<T: Element> BackwardObserver<T> for StepProfiler {
    fn times_ops(&self) -> bool {
        true
    }

    fn op_done(&mut self, timing: NodeTiming) {
        // Ops after the last layer's output belong to the loss (the last row).
        let owner = self.last_ids.partition_point(|&id| id < timing.id);
        if let Some(row) = self.profile.layers.get_mut(owner) {
            row.backward += timing.time;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig};
    use crate::loss::Loss;
    use crate::optim::{Sgd, SgdConfig};
    use crate::Sequential;

    fn model() -> Model<f32> {
        let network = Sequential::<f32>::builder(&[1, 8, 8])
            .add(Conv2dConfig::new(4, 3).activation(Activation::Relu))
            .add(MaxPool2dConfig::new(2))
            .add(FlattenConfig::new())
            .add(DenseConfig::new(3))
            .build()
            .unwrap();
        Model::new(
            network,
            Loss::SparseCategoricalCrossentropy { from_logits: true },
            Sgd::new(SgdConfig {
                learning_rate: 0.1,
                ..SgdConfig::default()
            })
            .unwrap(),
        )
    }

    #[test]
    fn a_profiled_step_trains_like_a_plain_step_and_times_every_layer() {
        let x = Tensor::<f32>::from_vec(
            (0..128).map(|i| (i % 7) as f32 / 7.0).collect(),
            &[2, 1, 8, 8],
        )
        .unwrap();
        let y = Targets::Labels(vec![0, 2]);
        let mut plain = model();
        let mut profiled = model();
        plain
            .train_step(&x, &y, &mut ForwardContext::train(0))
            .unwrap();
        let mut profile = profiled
            .profile_step(&x, &y, &mut ForwardContext::train(0))
            .unwrap();
        let weights = |m: &Model<f32>| -> Vec<Vec<f32>> {
            m.network()
                .state_dict()
                .values()
                .map(Tensor::to_vec)
                .collect()
        };
        assert_eq!(weights(&plain), weights(&profiled));

        let names: Vec<&str> = profile.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["conv2d", "max_pooling2d", "flatten", "dense", "loss"]
        );
        // Every layer but the loss recorded ops with a backward rule, and so did the loss.
        for layer in &profile.layers {
            assert!(layer.backward > Duration::ZERO, "{layer:?}");
        }
        let one = profile.clone();
        profile.accumulate(&one).unwrap();
        assert_eq!(profile.steps, 2);
        assert_eq!(profile.total(), 2 * one.total());
        let table = profile.to_string();
        assert!(
            table.contains("conv2d") && table.contains("(mean of 2 steps)"),
            "{table}"
        );
    }
}
