//! The training loop: one loop for every source of batches (in-memory tensors, a loader, a
//! user's iterator), with batches prepared on a second thread while the current step trains.

use std::fmt;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::time::Instant;

use strata_autograd::no_grad;
use strata_tensor::seed::derive_seed;
use strata_tensor::split::{split_indices, SplitMethod};
use strata_tensor::{Element, Tensor};

use super::callbacks::{Callback, Control};
use super::history::{EpochStats, Evaluation, History};
use super::model::Tally;
use super::progress::{EpochProgress, Verbosity};
use super::source::{BatchError, BatchSource, EpochBatches, TensorBatches, TrainingBatch};
use super::{Model, DROPOUT};
use crate::error::{LayersError, Result};
use crate::module::ForwardContext;
use crate::optim::LearningRateSchedule;
use crate::targets::Targets;

/// Where validation data comes from.
#[derive(Debug, Clone, Default)]
pub enum Validation<T: Element> {
    /// No validation (or, with [`Model::fit_batches`], a validation source passed beside).
    #[default]
    None,
    /// The last fraction of the samples, taken before any shuffling and never trained on
    /// (Keras's `validation_split`); in-memory data only.
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

/// Settings of [`Model::fit`] and [`Model::fit_batches`].
#[derive(Debug, Clone)]
pub struct FitConfig<T: Element> {
    /// The epoch to stop before (as Keras's `epochs`). Default 1.
    pub epochs: usize,
    /// Samples per step for in-memory data; the last batch of an epoch may be smaller.
    /// Default 32. (A [`BatchSource`] makes its own batches.)
    pub batch_size: usize,
    /// Shuffle in-memory samples each epoch. Default true.
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
    /// Batches of `initial_epoch` already trained (a checkpoint saved mid-epoch): training
    /// resumes with the next one. Default 0.
    pub initial_step: usize,
    /// At most this many batches per epoch (Keras's `steps_per_epoch`). Default: all the
    /// source gives.
    pub steps_per_epoch: Option<usize>,
    /// Batches prepared ahead on a second thread while the current step trains (each one
    /// batch of memory); 0 prepares each batch on the training thread. Default 2.
    pub prefetch: usize,
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
            initial_step: 0,
            steps_per_epoch: None,
            prefetch: 2,
            schedule: None,
        }
    }
}

impl<T: Element> FitConfig<T> {
    /// Continues where `model` stopped: the epoch and step its last checkpoint recorded.
    pub fn resume_from(mut self, model: &Model<T>) -> Self {
        self.initial_epoch = model.epochs_done();
        self.initial_step = model.steps_done();
        self
    }
}

/// Where training is: epoch and step, both 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepPosition {
    /// The epoch.
    pub epoch: usize,
    /// The step within the epoch.
    pub step: usize,
}

/// A batch source's error as the error of `fit`: our own errors pass through whole, others
/// are kept as the source of [`LayersError::BatchSource`].
fn source_error(error: BatchError, position: StepPosition) -> LayersError {
    match error.downcast::<LayersError>() {
        Ok(ours) => *ours,
        Err(theirs) => LayersError::BatchSource {
            epoch: position.epoch + 1,
            step: position.step + 1,
            source: theirs,
        },
    }
}

/// Runs `body` over `batches`, with up to `prefetch` of them prepared ahead on a scoped
/// thread (bounded: the thread waits while that many are ready).
fn for_each_batch<T: Element>(
    batches: EpochBatches<'_, T>,
    prefetch: usize,
    mut body: impl FnMut(std::result::Result<TrainingBatch<T>, BatchError>) -> Result<Control>,
) -> Result<()> {
    if prefetch == 0 {
        for batch in batches {
            if body(batch)? == Control::Stop {
                break;
            }
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel(prefetch - 1);
        scope.spawn(move || {
            for batch in batches {
                // The trainer hung up (it stopped or failed): stop preparing.
                if sender.send(batch).is_err() {
                    break;
                }
            }
        });
        let receiver: Receiver<_> = receiver;
        for batch in receiver.iter() {
            if body(batch)? == Control::Stop {
                break;
            }
        }
        // Dropping the receiver ends the producer at its next send.
        Ok(())
    })
}

impl<T: Element> Model<T> {
    /// Trains on `x` (`[N, …input shape]`) and `y`, as Keras's `model.fit(x, y)`: batches of
    /// `config.batch_size`, shuffled each epoch from `config.seed`. Returns the per-epoch
    /// history. A non-finite loss or gradient stops training with an error naming the epoch,
    /// the step and the first parameter affected.
    pub fn fit(
        &mut self,
        x: &Tensor<T>,
        y: &Targets<T>,
        config: &FitConfig<T>,
        callbacks: &mut [&mut dyn Callback<T>],
    ) -> Result<History> {
        let n = self.check_data("fit", x, y)?;
        let (train, validation) = match &config.validation {
            Validation::Split(fraction) => {
                if !(0.0..1.0).contains(fraction) {
                    return Err(LayersError::config(
                        "fit",
                        format!("validation split must be in [0, 1), found {fraction}"),
                    ));
                }
                let (train, val) = split_indices(n, *fraction, SplitMethod::Tail)?;
                let val = (!val.is_empty())
                    .then(|| -> Result<_> { Ok((x.index_select(0, &val)?, y.select(&val)?)) })
                    .transpose()?;
                ((x.index_select(0, &train)?, y.select(&train)?), val)
            }
            Validation::Data(vx, vy) => ((x.clone(), y.clone()), Some((vx.clone(), vy.clone()))),
            Validation::None => ((x.clone(), y.clone()), None),
        };
        if train.1.is_empty() {
            return Err(LayersError::config(
                "fit",
                "no training samples left after the validation split",
            ));
        }
        let mut source = TensorBatches::new(&train.0, &train.1, config.batch_size)?;
        if config.shuffle {
            source = source.shuffle(config.seed);
        }
        let validation = match &validation {
            Some((vx, vy)) => {
                self.check_data("validation", vx, vy)?;
                Some(TensorBatches::new(vx, vy, config.batch_size)?)
            }
            None => None,
        };
        let config = FitConfig {
            validation: Validation::None,
            ..config.clone()
        };
        self.fit_batches(
            &source,
            validation.as_ref().map(|v| v as &dyn BatchSource<T>),
            &config,
            callbacks,
        )
    }

    /// Trains from a source of batches — the data crate's loader, or any iterator of
    /// batches (see [`batches_from_fn`](super::batches_from_fn)) — as Keras's
    /// `model.fit(generator)` or a PyTorch loop over a `DataLoader`; validates on
    /// `validation` (or `config.validation`'s tensors) after each epoch. The same loop as
    /// [`Model::fit`]: progress, history, callbacks, checkpoints and exact resume (with
    /// `config.initial_epoch` and `config.initial_step`). An error the source yields stops
    /// training and is returned, kept whole as the source of [`LayersError::BatchSource`].
    pub fn fit_batches(
        &mut self,
        train: &dyn BatchSource<T>,
        validation: Option<&dyn BatchSource<T>>,
        config: &FitConfig<T>,
        callbacks: &mut [&mut dyn Callback<T>],
    ) -> Result<History> {
        let in_memory = match (&config.validation, validation) {
            (Validation::Split(_), _) => {
                return Err(LayersError::config(
                    "fit_batches",
                    "a validation split needs in-memory data: split the dataset and pass a validation source",
                ))
            }
            (Validation::Data(_, _), Some(_)) => {
                return Err(LayersError::config(
                    "fit_batches",
                    "validation data given twice (in the config and as a source)",
                ))
            }
            (Validation::Data(vx, vy), None) => {
                self.check_data("validation", vx, vy)?;
                Some(TensorBatches::new(vx, vy, config.batch_size)?)
            }
            (Validation::None, _) => None,
        };
        let validation = validation.or(in_memory.as_ref().map(|v| v as &dyn BatchSource<T>));
        let steps = match (config.steps_per_epoch, train.steps_per_epoch()) {
            (Some(limit), Some(all)) => limit.min(all),
            (limit, all) => limit.or(all).unwrap_or(0),
        };
        if config.steps_per_epoch == Some(0) {
            return Err(LayersError::config(
                "fit",
                "steps_per_epoch must be at least 1",
            ));
        }
        let mut history = History::default();
        for epoch in config.initial_epoch..config.epochs {
            let first_step = if epoch == config.initial_epoch {
                config.initial_step
            } else {
                0
            };
            if let Some(schedule) = &config.schedule {
                self.optimizer_mut()
                    .set_learning_rate(schedule.0.rate(epoch as u64));
            }
            let progress = EpochProgress::start(config.verbosity, epoch, config.epochs, steps);
            let started = Instant::now();
            // Resumed mid-epoch: the running figures go on from the checkpoint's.
            let mut tally = match first_step > 0 && self.position() == (epoch, first_step) {
                true => self.tally(),
                false => Tally::default(),
            };
            let mut step = first_step;
            let mut stop = false;
            let batches = train.epoch(epoch, first_step)?;
            let batches: EpochBatches<'_, T> = match config.steps_per_epoch {
                Some(limit) => Box::new(batches.take(limit.saturating_sub(first_step))),
                None => batches,
            };
            for_each_batch(batches, config.prefetch, |batch| {
                let position = StepPosition { epoch, step };
                let (x, y) = batch.map_err(|e| source_error(e, position))?;
                let mut ctx = ForwardContext::train(derive_seed(
                    config.seed,
                    &[DROPOUT, epoch as u64, step as u64],
                ));
                let (loss, output) = self.step_at(&x, &y, &mut ctx, position)?;
                tally.add(loss, &output, &y)?;
                step += 1;
                self.set_position(epoch, step);
                self.set_tally(tally);
                progress.step(step - first_step, tally.loss(), tally.accuracy());
                for callback in callbacks.iter_mut() {
                    if callback.on_step_end(position, self)? == Control::Stop {
                        stop = true;
                    }
                }
                Ok(if stop {
                    Control::Stop
                } else {
                    Control::Continue
                })
            })?;
            if tally.counted == 0 && !stop {
                return Err(LayersError::config(
                    "fit",
                    format!("epoch {} had no batches to train on", epoch + 1),
                ));
            }
            let train_seconds = started.elapsed().as_secs_f64();
            let evaluation = match validation {
                Some(v) if !stop => Some(self.evaluate_batches(v)?),
                _ => None,
            };
            let stats = EpochStats {
                epoch,
                loss: tally.loss(),
                accuracy: tally.accuracy(),
                val_loss: evaluation.map(|e| e.loss),
                val_accuracy: evaluation.and_then(|e| e.accuracy),
                train_seconds,
                samples_per_second: tally.counted as f64 / train_seconds.max(1e-9),
            };
            if stop {
                // A callback stopped mid-epoch: the epoch is not complete.
                break;
            }
            progress.finish(&stats);
            history.epochs.push(stats);
            self.set_position(epoch + 1, 0);
            self.set_tally(Tally::default());
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
        self.evaluate_batches(&TensorBatches::new(x, y, batch_size)?)
    }

    /// Mean loss and accuracy over epoch 0 of a source of batches, in inference mode
    /// without a graph.
    pub fn evaluate_batches(&self, source: &dyn BatchSource<T>) -> Result<Evaluation> {
        let mut tally = Tally::default();
        for (step, batch) in source.epoch(0, 0)?.enumerate() {
            let (x, y) = batch.map_err(|e| source_error(e, StepPosition { epoch: 0, step }))?;
            let (loss, output) = no_grad(|| -> Result<(f64, Tensor<T>)> {
                let out = self.network().forward(
                    &strata_autograd::Var::constant(x),
                    &mut ForwardContext::eval(),
                )?;
                let loss = self.loss().compute(&out, &y)?;
                Ok((
                    loss.value().item()?.to_f64().unwrap_or(f64::NAN),
                    out.value(),
                ))
            })?;
            tally.add(loss, &output, &y)?;
        }
        if tally.counted == 0 {
            return Err(LayersError::config(
                "evaluate",
                "the source gave no samples",
            ));
        }
        Ok(Evaluation {
            loss: tally.loss(),
            accuracy: tally.accuracy(),
        })
    }
}

#[cfg(test)]
#[path = "fit_tests.rs"]
mod tests;
