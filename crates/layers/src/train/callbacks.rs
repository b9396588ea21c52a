//! Callbacks: hooks run after every step and epoch (early stopping, checkpoints, your own).

use std::path::PathBuf;

use strata_tensor::Element;

use super::{EpochStats, Model, StepPosition};
use crate::error::{LayersError, Result};
use crate::io::NamedTensors;

/// Whether training goes on after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Something run at the end of every step, every epoch and of training.
pub trait Callback<T: Element> {
    /// Runs after each training step (`position` is the step just trained, 0-based); return
    /// [`Control::Stop`] to end training there, mid-epoch. Default: nothing.
    fn on_step_end(&mut self, _position: StepPosition, _model: &Model<T>) -> Result<Control> {
        Ok(Control::Continue)
    }

    /// Runs after an epoch; return [`Control::Stop`] to end training.
    fn on_epoch_end(&mut self, stats: &EpochStats, model: &Model<T>) -> Result<Control>;

    /// Runs once when training ends (after the last epoch or a stop).
    fn on_train_end(&mut self, _model: &Model<T>) -> Result<()> {
        Ok(())
    }
}

/// A figure of [`EpochStats`] that a callback watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    /// Training loss (lower is better).
    Loss,
    /// Training accuracy (higher is better).
    Accuracy,
    /// Validation loss (lower is better).
    ValLoss,
    /// Validation accuracy (higher is better).
    ValAccuracy,
}

impl Monitor {
    /// The watched figure, or an error naming it when the epoch has none (no validation).
    pub fn value(&self, stats: &EpochStats) -> Result<f64> {
        let value = match self {
            Self::Loss => Some(stats.loss),
            Self::Accuracy => stats.accuracy,
            Self::ValLoss => stats.val_loss,
            Self::ValAccuracy => stats.val_accuracy,
        };
        value.ok_or_else(|| {
            LayersError::config(
                "callback",
                format!("monitors {self:?}, which epoch {} did not report (no validation data or no classes?)", stats.epoch + 1),
            )
        })
    }

    /// Whether `candidate` beats `best` by more than `min_delta`.
    fn improves(&self, candidate: f64, best: Option<f64>, min_delta: f64) -> bool {
        match best {
            None => true,
            Some(best) => match self {
                Self::Loss | Self::ValLoss => candidate < best - min_delta,
                Self::Accuracy | Self::ValAccuracy => candidate > best + min_delta,
            },
        }
    }
}

/// Stops training when the monitored figure has not improved for `patience` epochs, as
/// Keras's `EarlyStopping`; optionally puts back the best epoch's weights at the end.
#[derive(Debug, Clone)]
pub struct EarlyStopping<T: Element> {
    /// The figure watched. Default validation loss.
    pub monitor: Monitor,
    /// Epochs without improvement before stopping. Default 0.
    pub patience: usize,
    /// The smallest change that counts as an improvement. Default 0.
    pub min_delta: f64,
    /// Restore the weights of the best epoch when training ends. Default false.
    pub restore_best_weights: bool,
    best: Option<f64>,
    wait: usize,
    best_weights: Option<NamedTensors<T>>,
    /// The epoch (0-based) at which training was stopped, if it was.
    pub stopped_epoch: Option<usize>,
}

impl<T: Element> EarlyStopping<T> {
    /// Watches `monitor` with the given patience.
    pub fn new(monitor: Monitor, patience: usize) -> Self {
        Self {
            monitor,
            patience,
            min_delta: 0.0,
            restore_best_weights: false,
            best: None,
            wait: 0,
            best_weights: None,
            stopped_epoch: None,
        }
    }

    /// Restores the best epoch's weights when training ends.
    pub fn restore_best_weights(mut self) -> Self {
        self.restore_best_weights = true;
        self
    }
}

impl<T: Element> Callback<T> for EarlyStopping<T> {
    fn on_epoch_end(&mut self, stats: &EpochStats, model: &Model<T>) -> Result<Control> {
        let value = self.monitor.value(stats)?;
        if self.monitor.improves(value, self.best, self.min_delta) {
            self.best = Some(value);
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights = Some(model.network().state_dict());
            }
            return Ok(Control::Continue);
        }
        self.wait += 1;
        if self.wait > self.patience {
            self.stopped_epoch = Some(stats.epoch);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, model: &Model<T>) -> Result<()> {
        if let Some(best) = self.best_weights.take() {
            model
                .network()
                .load_state_dict(best, "early stopping's best weights")?;
        }
        Ok(())
    }
}

/// Saves a checkpoint (weights, optimiser state, epoch and step) after each epoch, or only
/// when the monitored figure improves (Keras's `ModelCheckpoint(save_best_only=True)`), and
/// optionally every few steps within an epoch (Keras's `save_freq=N`).
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    /// Where to write (atomically).
    pub path: PathBuf,
    /// The figure that decides what is best. Default validation loss.
    pub monitor: Monitor,
    /// Save only improvements. Default true.
    pub save_best_only: bool,
    /// Also save after every this many steps of an epoch (the checkpoint records the step,
    /// so that training resumes mid-epoch). Default none.
    pub every_steps: Option<usize>,
    best: Option<f64>,
}

impl ModelCheckpoint {
    /// Keeps the best checkpoint by `monitor` at `path`.
    pub fn best(path: impl Into<PathBuf>, monitor: Monitor) -> Self {
        Self {
            path: path.into(),
            monitor,
            save_best_only: true,
            every_steps: None,
            best: None,
        }
    }

    /// Saves after every epoch.
    pub fn every_epoch(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            monitor: Monitor::Loss,
            save_best_only: false,
            every_steps: None,
            best: None,
        }
    }
}

impl ModelCheckpoint {
    /// Also saves after every `steps` steps within an epoch (0: never).
    pub fn every_steps(mut self, steps: usize) -> Self {
        self.every_steps = (steps > 0).then_some(steps);
        self
    }
}

impl<T: Element> Callback<T> for ModelCheckpoint {
    fn on_step_end(&mut self, position: StepPosition, model: &Model<T>) -> Result<Control> {
        if let Some(every) = self.every_steps {
            if (position.step + 1).is_multiple_of(every) {
                model.save_checkpoint(&self.path)?;
            }
        }
        Ok(Control::Continue)
    }

    fn on_epoch_end(&mut self, stats: &EpochStats, model: &Model<T>) -> Result<Control> {
        if self.save_best_only {
            let value = self.monitor.value(stats)?;
            if !self.monitor.improves(value, self.best, 0.0) {
                return Ok(Control::Continue);
            }
            self.best = Some(value);
        }
        model.save_checkpoint(&self.path)?;
        Ok(Control::Continue)
    }
}

/// A closure run after every epoch (Keras's `LambdaCallback(on_epoch_end=…)`).
pub struct EpochHook<F>(pub F);

impl<T: Element, F: FnMut(&EpochStats) -> Control> Callback<T> for EpochHook<F> {
    fn on_epoch_end(&mut self, stats: &EpochStats, _model: &Model<T>) -> Result<Control> {
        Ok((self.0)(stats))
    }
}
