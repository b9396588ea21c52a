//! Side effects on rank 0 alone (checkpoints, charts, progress, logs), with one decision for
//! all: whether training stops is rank 0's answer, given to every rank.

use std::rc::Rc;

use strata_layers::train::{Callback, Control, EpochStats, Model, StepPosition};
use strata_layers::{LayersError, Result as LayersResult};
use strata_tensor::Element;

use crate::communicator::Communicator;

/// What rank 0 tells the others after a callback.
const CONTINUE: u64 = 0;
const STOP: u64 = 1;
const FAILED: u64 = 2;

/// Runs a callback on rank 0 only and gives its [`Control`] to every rank, so that the ranks
/// stop at the same step. If it fails on rank 0, the other ranks fail too (with an error
/// saying so) instead of waiting for a step that will not come.
pub struct RankZero<'c, T: Element> {
    comm: Rc<dyn Communicator>,
    inner: &'c mut dyn Callback<T>,
}

impl<'c, T: Element> RankZero<'c, T> {
    /// Wraps `inner` for the ranks of `comm`.
    pub fn new(comm: Rc<dyn Communicator>, inner: &'c mut dyn Callback<T>) -> Self {
        Self { comm, inner }
    }

    /// Runs `call` on rank 0 and shares its outcome.
    fn agree(
        &mut self,
        call: impl FnOnce(&mut dyn Callback<T>) -> LayersResult<Control>,
    ) -> LayersResult<Control> {
        let mut outcome = None;
        let word = if self.comm.rank() == 0 {
            let result = call(&mut *self.inner);
            let word = match &result {
                Ok(Control::Continue) => CONTINUE,
                Ok(Control::Stop) => STOP,
                Err(_) => FAILED,
            };
            outcome = Some(result);
            word
        } else {
            CONTINUE
        };
        let all = self
            .comm
            .all_gather_u64(word)
            .map_err(|e| LayersError::config("distributed callback", e.to_string()))?;
        match (outcome, all.first().copied()) {
            (Some(result), _) => result,
            (None, Some(STOP)) => Ok(Control::Stop),
            (None, Some(FAILED)) => Err(LayersError::config(
                "distributed callback",
                "a callback failed on rank 0 (its error is reported there)",
            )),
            (None, _) => Ok(Control::Continue),
        }
    }
}

impl<T: Element> Callback<T> for RankZero<'_, T> {
    fn on_step_end(&mut self, position: StepPosition, model: &Model<T>) -> LayersResult<Control> {
        self.agree(|c| c.on_step_end(position, model))
    }

    fn on_epoch_end(&mut self, stats: &EpochStats, model: &Model<T>) -> LayersResult<Control> {
        self.agree(|c| c.on_epoch_end(stats, model))
    }

    fn on_train_end(&mut self, model: &Model<T>) -> LayersResult<()> {
        self.agree(|c| c.on_train_end(model).map(|()| Control::Continue))
            .map(|_| ())
    }
}
