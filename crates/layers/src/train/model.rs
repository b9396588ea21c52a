//! `Model`: a network with its loss and optimiser, and the training loop.

use std::time::Instant;

use strata_autograd::{GradStore, Var};
use strata_tensor::{Element, Tensor};

use super::fit::StepPosition;
use super::gradient_hook::{GradientHook, StepGradients};
use super::profile::StepProfiler;
use super::step_observer::{ReadyForwarder, StepObserver};
use crate::error::{LayersError, Result};
use crate::loss::Loss;
use crate::module::ForwardContext;
use crate::optim::{Optimizer, ParamGrad};
use crate::targets::Targets;
use crate::Sequential;

/// A network compiled with a loss and an optimiser (Keras's `model.compile(...)`).
pub struct Model<T: Element> {
    network: Sequential<T>,
    loss: Loss,
    optimizer: Box<dyn Optimizer<T>>,
    epochs_done: usize,
    steps_done: usize,
    tally: Tally,
    gradient_hook: Option<Box<dyn GradientHook<T>>>,
}

impl<T: Element> Model<T> {
    /// Compiles `network` with a loss and an optimiser.
    pub fn new(network: Sequential<T>, loss: Loss, optimizer: impl Optimizer<T> + 'static) -> Self {
        Self {
            network,
            loss,
            optimizer: Box::new(optimizer),
            epochs_done: 0,
            steps_done: 0,
            tally: Tally::default(),
            gradient_hook: None,
        }
    }

    /// Sets (or, with `None`, removes) the hook run on every training step (of
    /// [`Model::train_step`], `fit` and `fit_batches`) between the backward pass and the
    /// optimiser step, where it may change the step's loss and gradients; returns the hook
    /// set before, if any.
    pub fn set_gradient_hook(
        &mut self,
        hook: Option<Box<dyn GradientHook<T>>>,
    ) -> Option<Box<dyn GradientHook<T>>> {
        std::mem::replace(&mut self.gradient_hook, hook)
    }

    /// The network.
    pub fn network(&self) -> &Sequential<T> {
        &self.network
    }

    /// The loss.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The optimiser.
    pub fn optimizer(&self) -> &dyn Optimizer<T> {
        self.optimizer.as_ref()
    }

    /// The optimiser, mutably (to change its learning rate, or load its state).
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer<T> {
        self.optimizer.as_mut()
    }

    /// Epochs completed (by `fit`, or restored from a checkpoint).
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Batches trained of the epoch after [`Model::epochs_done`] (non-zero when training
    /// stopped, or a checkpoint was saved, mid-epoch).
    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// (epochs done, steps done).
    pub(crate) fn position(&self) -> (usize, usize) {
        (self.epochs_done, self.steps_done)
    }

    /// The running figures of the epoch in progress.
    pub(crate) fn tally(&self) -> Tally {
        self.tally
    }

    pub(crate) fn set_tally(&mut self, tally: Tally) {
        self.tally = tally;
    }

    /// Records where training is: `epochs` complete and `steps` batches into the next.
    pub(crate) fn set_position(&mut self, epochs: usize, steps: usize) {
        self.epochs_done = epochs;
        self.steps_done = steps;
    }

    /// Checks inputs `[N, …]` against the network and the targets' count.
    pub(crate) fn check_data(&self, what: &str, x: &Tensor<T>, y: &Targets<T>) -> Result<usize> {
        let n = x.shape().first().copied().unwrap_or(0);
        if x.shape().get(1..) != Some(self.network.input_shape()) {
            return Err(LayersError::ShapeMismatch {
                name: format!("{what} inputs (one sample)"),
                expected: self.network.input_shape().to_vec(),
                found: x.shape().get(1..).unwrap_or_default().to_vec(),
            });
        }
        if y.len() != n {
            return Err(LayersError::config(
                what,
                format!("{n} samples but {} targets", y.len()),
            ));
        }
        Ok(n)
    }

    /// One optimisation step on a batch; returns the batch's loss and the outputs. A
    /// non-finite loss or gradient is an error (reported at epoch 0, step 0: `fit` names
    /// its own position) and leaves the parameters unchanged.
    pub fn train_step(
        &mut self,
        x: &Tensor<T>,
        y: &Targets<T>,
        ctx: &mut ForwardContext,
    ) -> Result<(f64, Tensor<T>)> {
        self.step_at(x, y, ctx, StepPosition { epoch: 0, step: 0 })
    }

    /// [`Model::train_step`] at `position` (0-based), which errors name 1-based.
    pub(crate) fn step_at(
        &mut self,
        x: &Tensor<T>,
        y: &Targets<T>,
        ctx: &mut ForwardContext,
        position: StepPosition,
    ) -> Result<(f64, Tensor<T>)> {
        self.step_profiled(x, y, ctx, position, None)
    }

    /// The one training step behind [`Model::train_step`], `fit` and
    /// [`Model::profile_step`]: with a `profiler`, each layer's forward and backward, the
    /// loss and the optimiser are timed into it; without one, no clock is read.
    pub(crate) fn step_profiled(
        &mut self,
        x: &Tensor<T>,
        y: &Targets<T>,
        ctx: &mut ForwardContext,
        position: StepPosition,
        mut profiler: Option<&mut StepProfiler>,
    ) -> Result<(f64, Tensor<T>)> {
        let input = Var::constant(x.clone());
        let output = match profiler.as_deref_mut() {
            Some(p) => self.network.forward_observed(
                &input,
                ctx,
                Some(&mut |name, out, time| p.layer_done(name, out.id(), time)),
            )?,
            None => self.network.forward(&input, ctx)?,
        };
        let started = profiler.is_some().then(Instant::now);
        let loss = self.loss.compute(&output, y)?;
        if let (Some(p), Some(started)) = (profiler.as_deref_mut(), started) {
            p.loss_done(started.elapsed());
        }
        let mut loss_value = loss.value().item()?.to_f64().unwrap_or(f64::NAN);
        if !loss_value.is_finite() && self.gradient_hook.is_none() {
            return Err(non_finite_loss(position, loss_value));
        }
        let grads = {
            let ready = match self.gradient_hook.as_mut() {
                Some(hook) if hook.wants_ready_gradients() => Some(ReadyForwarder {
                    hook: hook.as_mut(),
                    parameters: ReadyForwarder::index(self.network.parameter_refs()),
                    position,
                    samples: y.len(),
                    loss: loss_value,
                }),
                _ => None,
            };
            let mut observer = StepObserver {
                profiler: profiler.as_deref_mut(),
                ready,
            };
            if observer.is_active() {
                let pass = loss.backward_observed(&Tensor::ones(loss.shape()), &mut observer);
                if pass.is_err() {
                    if let Some(ready) = observer.ready {
                        ready.hook.on_step_abandoned();
                    }
                }
                pass?
            } else {
                loss.backward()?
            }
        };
        let mut gradients = self.named_gradients(&grads);
        if let Some(hook) = self.gradient_hook.as_mut() {
            hook.on_gradients(StepGradients {
                position,
                samples: y.len(),
                loss: &mut loss_value,
                gradients: &mut gradients,
            })
            .map_err(|source| LayersError::GradientHook {
                epoch: position.epoch + 1,
                step: position.step + 1,
                source,
            })?;
            if !loss_value.is_finite() {
                return Err(non_finite_loss(position, loss_value));
            }
        }
        if let Some((parameter, _)) = gradients
            .iter()
            .find(|(_, g)| g.contiguous().storage().iter().any(|v| !v.is_finite()))
        {
            return Err(LayersError::NonFiniteGradient {
                epoch: position.epoch + 1,
                step: position.step + 1,
                parameter: parameter.clone(),
            });
        }
        let started = profiler.is_some().then(Instant::now);
        self.apply_named_gradients(&gradients)?;
        if let (Some(p), Some(started)) = (profiler, started) {
            p.optimizer_done(started.elapsed());
        }
        Ok((loss_value, output.value()))
    }

    /// (name, gradient) of every parameter that has a gradient in `grads`, in order.
    fn named_gradients(&self, grads: &GradStore<T>) -> Vec<(String, Tensor<T>)> {
        self.network
            .parameter_refs()
            .into_iter()
            .filter_map(|(name, var)| Some((name.to_string(), grads.get(var)?.clone())))
            .collect()
    }

    /// One optimiser step with the gradients of the parameters named in `gradients`: in
    /// the network's parameter order, as `named_gradients` gives them, they pair up in one
    /// pass; in any other order (a gradient hook may reorder them), by name.
    fn apply_named_gradients(&mut self, gradients: &[(String, Tensor<T>)]) -> Result<()> {
        let params = self.network.parameter_refs();
        let values: Vec<Tensor<T>> = params.iter().map(|(_, v)| v.value()).collect();
        let mut updates: Vec<(&Var<T>, ParamGrad<'_, T>)> = Vec::with_capacity(gradients.len());
        let mut pending = gradients.iter().peekable();
        for ((name, var), value) in params.iter().zip(&values) {
            if let Some((_, grad)) = pending.next_if(|(n, _)| n == name) {
                updates.push((*var, ParamGrad { name, value, grad }));
            }
        }
        if pending.peek().is_some() {
            let by_name: std::collections::HashMap<&str, &Tensor<T>> =
                gradients.iter().map(|(n, g)| (n.as_str(), g)).collect();
            if let Some((name, _)) = gradients
                .iter()
                .find(|(n, _)| !params.iter().any(|(p, _)| p == n))
            {
                return Err(LayersError::config(
                    "optimizer step",
                    format!("a gradient for {name}, which is not a parameter of the network"),
                ));
            }
            updates.clear();
            for ((name, var), value) in params.iter().zip(&values) {
                if let Some(grad) = by_name.get(name) {
                    updates.push((*var, ParamGrad { name, value, grad }));
                }
            }
        }
        let pairs: Vec<ParamGrad<'_, T>> = updates.iter().map(|(_, p)| *p).collect();
        let new_values = self.optimizer.step(&pairs)?;
        for ((var, _), value) in updates.iter().zip(new_values) {
            var.set_value(value)?;
        }
        Ok(())
    }

    /// The model's predictions for `x` in inference mode without a graph, as probabilities:
    /// outputs of a loss that works on logits pass through softmax (or sigmoid for binary
    /// cross-entropy); other outputs are returned as they are.
    pub fn predict(&self, x: &Tensor<T>, batch_size: usize) -> Result<Tensor<T>> {
        predict_probabilities(&self.network, self.loss, x, batch_size)
    }
}

/// The error of a step whose loss is not finite, at `position` (named 1-based).
fn non_finite_loss(position: StepPosition, value: f64) -> LayersError {
    LayersError::NonFiniteLoss {
        epoch: position.epoch + 1,
        step: position.step + 1,
        value,
    }
}

/// The predictions of `network` as probabilities for a model trained with `loss`.
pub(crate) fn predict_probabilities<T: Element>(
    network: &Sequential<T>,
    loss: Loss,
    x: &Tensor<T>,
    batch_size: usize,
) -> Result<Tensor<T>> {
    let n = x.shape().first().copied().unwrap_or(0);
    if batch_size == 0 {
        return Err(LayersError::config(
            "predict",
            "batch size must be at least 1",
        ));
    }
    let indices: Vec<usize> = (0..n).collect();
    let mut outputs = Vec::with_capacity(n.div_ceil(batch_size));
    for batch in indices.chunks(batch_size) {
        let out = network.predict_batch(&x.index_select(0, batch)?)?;
        let out = match loss {
            Loss::SparseCategoricalCrossentropy { from_logits: true }
            | Loss::CategoricalCrossentropy { from_logits: true } => out.softmax(1)?,
            Loss::BinaryCrossentropy { from_logits: true } => out.sigmoid(),
            _ => out,
        };
        outputs.push(out);
    }
    if outputs.is_empty() {
        let mut shape = vec![0];
        shape.extend_from_slice(network.output_shape());
        return Ok(Tensor::zeros(&shape));
    }
    Ok(Tensor::concat(&outputs, 0)?)
}

/// Running loss and accuracy over the batches of an epoch or an evaluation.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Tally {
    pub(crate) loss_sum: f64,
    pub(crate) correct: usize,
    pub(crate) counted: usize,
    pub(crate) no_accuracy: bool,
}

impl Tally {
    pub(crate) fn add<T: Element>(
        &mut self,
        loss: f64,
        output: &Tensor<T>,
        targets: &Targets<T>,
    ) -> Result<()> {
        let n = targets.len();
        self.loss_sum += loss * n as f64;
        self.counted += n;
        match targets.class_labels()? {
            Some(labels) if output.rank() == 2 => {
                self.correct += output
                    .argmax(1)?
                    .iter()
                    .zip(&labels)
                    .filter(|(p, l)| p == l)
                    .count();
            }
            _ => self.no_accuracy = true,
        }
        Ok(())
    }

    pub(crate) fn loss(&self) -> f64 {
        self.loss_sum / self.counted.max(1) as f64
    }

    pub(crate) fn accuracy(&self) -> Option<f64> {
        (!self.no_accuracy).then(|| self.correct as f64 / self.counted.max(1) as f64)
    }
}
