//! What the backward pass of one training step reports to: the step's profiler, when the
//! step is profiled, and the gradient hook, when it wants each gradient as it becomes final.

use std::collections::HashMap;

use strata_autograd::{BackwardObserver, NodeTiming, Var, VarId};
use strata_tensor::{Element, Tensor};

use super::fit::StepPosition;
use super::gradient_hook::{GradientHook, ReadyGradient};
use super::profile::StepProfiler;

/// The observer of a training step's backward pass.
pub(crate) struct StepObserver<'a, T: Element> {
    /// Times each op, attributing it to its layer.
    pub(crate) profiler: Option<&'a mut StepProfiler>,
    /// Hands each parameter's final gradient to the hook.
    pub(crate) ready: Option<ReadyForwarder<'a, T>>,
}

/// Passes each parameter's gradient, as it becomes final, to a gradient hook.
pub(crate) struct ReadyForwarder<'a, T: Element> {
    pub(crate) hook: &'a mut dyn GradientHook<T>,
    /// Each parameter's index in the network's order and its name, by variable.
    pub(crate) parameters: HashMap<VarId, (usize, &'a str)>,
    pub(crate) position: StepPosition,
    pub(crate) samples: usize,
    pub(crate) loss: f64,
}

impl<T: Element> ReadyForwarder<'_, T> {
    /// The index and name of every parameter of `parameters` (in the network's order).
    pub(crate) fn index<'p>(
        parameters: Vec<(&'p str, &Var<T>)>,
    ) -> HashMap<VarId, (usize, &'p str)> {
        parameters
            .into_iter()
            .enumerate()
            .map(|(i, (name, var))| (var.id(), (i, name)))
            .collect()
    }
}

impl<T: Element> StepObserver<'_, T> {
    /// Whether anything listens (otherwise the plain backward pass runs).
    pub(crate) fn is_active(&self) -> bool {
        self.profiler.is_some() || self.ready.is_some()
    }
}

impl<T: Element> BackwardObserver<T> for StepObserver<'_, T> {
    fn times_ops(&self) -> bool {
        self.profiler.is_some()
    }

    fn op_done(&mut self, timing: NodeTiming) {
        if let Some(profiler) = self.profiler.as_deref_mut() {
            BackwardObserver::<T>::op_done(profiler, timing);
        }
    }

    fn gradient_ready(&mut self, leaf: &Var<T>, grad: &Tensor<T>) {
        let Some(ready) = self.ready.as_mut() else {
            return;
        };
        if let Some(&(parameter, name)) = ready.parameters.get(&leaf.id()) {
            ready.hook.on_gradient_ready(ReadyGradient {
                position: ready.position,
                samples: ready.samples,
                loss: ready.loss,
                parameter,
                name,
                gradient: grad,
            });
        }
    }
}
