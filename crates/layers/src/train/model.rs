//! `Model`: a network with its loss and optimiser, and the training loop.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use strata_autograd::{no_grad, GradStore, Var};
use strata_tensor::{Element, Tensor};

use super::callbacks::{Callback, Control};
use super::derive_seed;
use super::history::{EpochStats, Evaluation, History};
use super::progress::{EpochProgress, Verbosity};
use crate::error::{LayersError, Result};
use crate::loss::Loss;
use crate::module::ForwardContext;
use crate::optim::{LearningRateSchedule, Optimizer, ParamGrad};
use crate::targets::Targets;
use crate::Sequential;

/// Seed purposes (see [`derive_seed`]).
const SHUFFLE: u64 = 1;
const DROPOUT: u64 = 2;

/// Where validation data comes from.
#[derive(Debug, Clone, Default)]
pub enum Validation<T: Element> {
    /// No validation.
    #[default]
    None,
    /// The last fraction of the samples, taken before any shuffling and never trained on
    /// (Keras's `validation_split` semantics).
    Split(f64),
    /// Separate inputs and targets.
    Data(Tensor<T>, Targets<T>),
}

/// A learning-rate schedule shared with `fit`.
#[derive(Clone)]
pub struct EpochSchedule(pub Arc<dyn LearningRateSchedule + Send + Sync>);

impl fmt::Debug for EpochSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EpochSchedule(rate at epoch 0: {})", self.0.rate(0))
    }
}

/// Settings of [`Model::fit`].
#[derive(Debug, Clone)]
pub struct FitConfig<T: Element> {
    /// The epoch to stop before (as Keras's `epochs`). Default 1.
    pub epochs: usize,
    /// Samples per step; the last batch of an epoch may be smaller. Default 32.
    pub batch_size: usize,
    /// Shuffle the training samples each epoch. Default true.
    pub shuffle: bool,
    /// Seed of the shuffles and of dropout. Default 0.
    pub seed: u64,
    /// Validation data. Default none.
    pub validation: Validation<T>,
    /// Output. Default a progress bar.
    pub verbosity: Verbosity,
    /// The epoch to start at (to resume from a checkpoint, as Keras's `initial_epoch`).
    /// Default 0.
    pub initial_epoch: usize,
    /// Sets the optimiser's learning rate at the start of each epoch to the schedule's rate
    /// for that epoch (0-based), as PyTorch's schedulers stepped once per epoch. Default
    /// none: the optimiser's own rate throughout.
    pub schedule: Option<EpochSchedule>,
}

impl<T: Element> Default for FitConfig<T> {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation: Validation::None,
            verbosity: Verbosity::default(),
            initial_epoch: 0,
            schedule: None,
        }
    }
}

/// A network compiled with a loss and an optimiser (Keras's `model.compile(...)`).
pub struct Model<T: Element> {
    network: Sequential<T>,
    loss: Loss,
    optimizer: Box<dyn Optimizer<T>>,
    epochs_done: usize,
}

impl<T: Element> Model<T> {
    /// Compiles `network` with a loss and an optimiser.
    pub fn new(network: Sequential<T>, loss: Loss, optimizer: impl Optimizer<T> + 'static) -> Self {
        Self {
            network,
            loss,
            optimizer: Box::new(optimizer),
            epochs_done: 0,
        }
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

    pub(crate) fn set_epochs_done(&mut self, epochs: usize) {
        self.epochs_done = epochs;
    }

    /// Checks inputs `[N, …]` against the network and the targets' count.
    fn check_data(&self, what: &str, x: &Tensor<T>, y: &Targets<T>) -> Result<usize> {
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

    /// One optimisation step on a batch; returns the batch's loss and the outputs.
    pub fn train_step(
        &mut self,
        x: &Tensor<T>,
        y: &Targets<T>,
        ctx: &mut ForwardContext,
    ) -> Result<(f64, Tensor<T>)> {
        let output = self.network.forward(&Var::constant(x.clone()), ctx)?;
        let loss = self.loss.compute(&output, y)?;
        let loss_value = loss.value().item()?.to_f64().unwrap_or(f64::NAN);
        if !loss_value.is_finite() {
            return Ok((loss_value, output.value()));
        }
        let grads = loss.backward()?;
        self.apply_gradients(&grads)?;
        Ok((loss_value, output.value()))
    }

    /// One optimiser step on the network's parameters with their gradients in `grads`.
    pub(crate) fn apply_gradients(&mut self, grads: &GradStore<T>) -> Result<()> {
        let params = self.network.parameters();
        let mut updates: Vec<(&Var<T>, ParamGrad<'_, T>)> = Vec::with_capacity(params.len());
        let values: Vec<Tensor<T>> = params.iter().map(|(_, v)| v.value()).collect();
        for ((name, var), value) in params.iter().zip(&values) {
            if let Some(grad) = grads.get(var) {
                updates.push((var, ParamGrad { name, value, grad }));
            }
        }
        let pairs: Vec<ParamGrad<'_, T>> = updates.iter().map(|(_, p)| *p).collect();
        let new_values = self.optimizer.step(&pairs)?;
        for ((var, _), value) in updates.iter().zip(new_values) {
            var.set_value(value)?;
        }
        Ok(())
    }

    /// Trains on `x` (`[N, …input shape]`) and `y`, as Keras's `model.fit`: returns the
    /// per-epoch history. A non-finite loss stops training with an error naming the epoch
    /// and step.
    pub fn fit(
        &mut self,
        x: &Tensor<T>,
        y: &Targets<T>,
        config: &FitConfig<T>,
        callbacks: &mut [&mut dyn Callback<T>],
    ) -> Result<History> {
        let n = self.check_data("fit", x, y)?;
        if config.batch_size == 0 {
            return Err(LayersError::config("fit", "batch size must be at least 1"));
        }
        let (train_x, train_y, validation) = split_validation(x, y, n, &config.validation)?;
        if let Some((vx, vy)) = &validation {
            self.check_data("validation", vx, vy)?;
        }
        let n_train = train_y.len();
        if n_train == 0 {
            return Err(LayersError::config(
                "fit",
                "no training samples left after the validation split",
            ));
        }
        let steps = n_train.div_ceil(config.batch_size);
        let mut history = History::default();
        for epoch in config.initial_epoch..config.epochs {
            let mut order: Vec<usize> = (0..n_train).collect();
            if config.shuffle {
                order.shuffle(&mut StdRng::seed_from_u64(derive_seed(
                    config.seed,
                    SHUFFLE,
                    epoch as u64,
                    0,
                )));
            }
            if let Some(schedule) = &config.schedule {
                self.optimizer
                    .set_learning_rate(schedule.0.rate(epoch as u64));
            }
            let progress = EpochProgress::start(config.verbosity, epoch, config.epochs, steps);
            let started = Instant::now();
            let (mut loss_sum, mut correct, mut counted) = (0.0, 0usize, 0usize);
            let mut has_accuracy = true;
            for (step, batch) in order.chunks(config.batch_size).enumerate() {
                let xb = train_x.index_select(0, batch)?;
                let yb = train_y.select(batch)?;
                let mut ctx = ForwardContext::train(derive_seed(
                    config.seed,
                    DROPOUT,
                    epoch as u64,
                    step as u64,
                ));
                let (loss, output) = self.train_step(&xb, &yb, &mut ctx)?;
                if !loss.is_finite() {
                    return Err(LayersError::NonFiniteLoss {
                        epoch: epoch + 1,
                        step: step + 1,
                        value: loss,
                    });
                }
                loss_sum += loss * batch.len() as f64;
                counted += batch.len();
                match yb.class_labels()? {
                    Some(labels) if output.rank() == 2 => {
                        correct += output
                            .argmax(1)?
                            .iter()
                            .zip(&labels)
                            .filter(|(p, l)| p == l)
                            .count();
                    }
                    _ => has_accuracy = false,
                }
                let accuracy = has_accuracy.then(|| correct as f64 / counted as f64);
                progress.step(step + 1, loss_sum / counted as f64, accuracy);
            }
            let train_seconds = started.elapsed().as_secs_f64();
            let evaluation = match &validation {
                Some((vx, vy)) => Some(self.evaluate(vx, vy, config.batch_size)?),
                None => None,
            };
            let stats = EpochStats {
                epoch,
                loss: loss_sum / counted as f64,
                accuracy: has_accuracy.then(|| correct as f64 / counted as f64),
                val_loss: evaluation.map(|e| e.loss),
                val_accuracy: evaluation.and_then(|e| e.accuracy),
                train_seconds,
                samples_per_second: counted as f64 / train_seconds.max(1e-9),
            };
            progress.finish(&stats);
            history.epochs.push(stats);
            self.epochs_done = epoch + 1;
            let mut stop = false;
            for callback in callbacks.iter_mut() {
                if callback.on_epoch_end(&stats, self)? == Control::Stop {
                    stop = true;
                }
            }
            if stop {
                break;
            }
        }
        for callback in callbacks.iter_mut() {
            callback.on_train_end(self)?;
        }
        Ok(history)
    }

    /// Mean loss and accuracy on a dataset, in inference mode without a graph.
    pub fn evaluate(&self, x: &Tensor<T>, y: &Targets<T>, batch_size: usize) -> Result<Evaluation> {
        let n = self.check_data("evaluate", x, y)?;
        if batch_size == 0 || n == 0 {
            return Err(LayersError::config(
                "evaluate",
                format!("needs samples ({n}) and a batch size ({batch_size}) of at least 1"),
            ));
        }
        let indices: Vec<usize> = (0..n).collect();
        let (mut loss_sum, mut correct, mut has_accuracy) = (0.0, 0usize, true);
        for batch in indices.chunks(batch_size) {
            let xb = x.index_select(0, batch)?;
            let yb = y.select(batch)?;
            let (loss, output) = no_grad(|| -> Result<(f64, Tensor<T>)> {
                let out = self
                    .network
                    .forward(&Var::constant(xb), &mut ForwardContext::eval())?;
                let loss = self.loss.compute(&out, &yb)?;
                Ok((
                    loss.value().item()?.to_f64().unwrap_or(f64::NAN),
                    out.value(),
                ))
            })?;
            loss_sum += loss * batch.len() as f64;
            match yb.class_labels()? {
                Some(labels) if output.rank() == 2 => {
                    correct += output
                        .argmax(1)?
                        .iter()
                        .zip(&labels)
                        .filter(|(p, l)| p == l)
                        .count();
                }
                _ => has_accuracy = false,
            }
        }
        Ok(Evaluation {
            loss: loss_sum / n as f64,
            accuracy: has_accuracy.then(|| correct as f64 / n as f64),
        })
    }

    /// The model's predictions for `x` in inference mode without a graph, as probabilities:
    /// outputs of a loss that works on logits pass through softmax (or sigmoid for binary
    /// cross-entropy); other outputs are returned as they are.
    pub fn predict(&self, x: &Tensor<T>, batch_size: usize) -> Result<Tensor<T>> {
        predict_probabilities(&self.network, self.loss, x, batch_size)
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

type Split<T> = (Tensor<T>, Targets<T>, Option<(Tensor<T>, Targets<T>)>);

/// Splits off validation data as configured.
fn split_validation<T: Element>(
    x: &Tensor<T>,
    y: &Targets<T>,
    n: usize,
    validation: &Validation<T>,
) -> Result<Split<T>> {
    match validation {
        Validation::None => Ok((x.clone(), y.clone(), None)),
        Validation::Data(vx, vy) => Ok((x.clone(), y.clone(), Some((vx.clone(), vy.clone())))),
        Validation::Split(fraction) => {
            if !(0.0..1.0).contains(fraction) {
                return Err(LayersError::config(
                    "fit",
                    format!("validation split must be in [0, 1), found {fraction}"),
                ));
            }
            // Keras: the first ⌊N·(1 − split)⌋ samples train, the rest validate.
            let split_at = (n as f64 * (1.0 - fraction)) as usize;
            let train: Vec<usize> = (0..split_at).collect();
            let val: Vec<usize> = (split_at..n).collect();
            let validation = (!val.is_empty())
                .then(|| -> Result<_> { Ok((x.index_select(0, &val)?, y.select(&val)?)) })
                .transpose()?;
            Ok((x.index_select(0, &train)?, y.select(&train)?, validation))
        }
    }
}
