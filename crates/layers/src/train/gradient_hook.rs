//! A hook between the backward pass and the optimiser step: whatever needs to see or change a
//! step's gradients before they are applied (averaging them across processes in data-parallel
//! training, clipping them, logging their norms).

use strata_tensor::{Element, Tensor};

use super::StepPosition;

/// What a [`GradientHook`] returns: its own error type, kept whole as the source of
/// [`LayersError::GradientHook`](crate::LayersError::GradientHook).
pub type HookResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// One training step's gradients as a [`GradientHook`] sees them.
#[derive(Debug)]
pub struct StepGradients<'a, T: Element> {
    /// Where training is (0-based): `fit` passes the epoch and step; a bare
    /// [`Model::train_step`](super::Model::train_step) passes epoch 0, step 0.
    pub position: StepPosition,
    /// Samples in the batch the gradients were computed on.
    pub samples: usize,
    /// The batch's loss as computed (the mean over `samples`). The hook may replace it, for
    /// example by the mean over every process's batch: the replaced value is the one reported
    /// and checked for being finite.
    pub loss: &'a mut f64,
    /// Each parameter that received a gradient, as (stable name, gradient), in the
    /// network's parameter order. The hook may replace any gradient by another of the same
    /// shape (the optimiser checks shapes); the replaced gradients are the ones applied and
    /// checked for being finite.
    pub gradients: &'a mut [(String, Tensor<T>)],
}

/// One parameter's gradient, final while the backward pass still runs (see
/// [`GradientHook::on_gradient_ready`]).
#[derive(Debug)]
pub struct ReadyGradient<'a, T: Element> {
    /// Where training is (0-based), as in [`StepGradients::position`].
    pub position: StepPosition,
    /// Samples in the batch.
    pub samples: usize,
    /// The batch's loss as computed (the mean over `samples`).
    pub loss: f64,
    /// The parameter's index in the network's parameter order.
    pub parameter: usize,
    /// The parameter's stable name.
    pub name: &'a str,
    /// Its gradient (final: the same tensor [`GradientHook::on_gradients`] then sees).
    pub gradient: &'a Tensor<T>,
}

/// Runs after every training step's backward pass and before its optimiser step
/// (see [`Model::set_gradient_hook`](super::Model::set_gradient_hook)).
///
/// It is called on every step, also one whose loss or gradients are not finite (those are
/// checked after the hook, so that processes that must take part in a collective operation
/// on every step all do); an error it returns stops training with that error and leaves the
/// parameters unchanged.
pub trait GradientHook<T: Element> {
    /// Sees, and may change, one step's loss and gradients.
    fn on_gradients(&mut self, step: StepGradients<'_, T>) -> HookResult;

    /// Whether [`GradientHook::on_gradient_ready`] is wanted. Default `false`: the backward
    /// pass then runs without looking up its leaves.
    fn wants_ready_gradients(&self) -> bool {
        false
    }

    /// Called during the backward pass, in the order gradients become final (the last
    /// layers' first), for each parameter that receives a gradient, when
    /// [`GradientHook::wants_ready_gradients`] says so; then
    /// [`GradientHook::on_gradients`] runs as usual. Work started here overlaps the rest of
    /// the backward pass. A failure here is reported by the following `on_gradients`.
    fn on_gradient_ready(&mut self, ready: ReadyGradient<'_, T>) {
        let _ = ready;
    }

    /// Called instead of [`GradientHook::on_gradients`] when the backward pass failed after
    /// some gradients were handed to [`GradientHook::on_gradient_ready`]: the step ends
    /// with that failure, and the hook drops (or finishes) what it started for it, so that
    /// the next step starts clean.
    fn on_step_abandoned(&mut self) {}
}

impl<T: Element, F> GradientHook<T> for F
where
    F: FnMut(StepGradients<'_, T>) -> HookResult,
{
    fn on_gradients(&mut self, step: StepGradients<'_, T>) -> HookResult {
        self(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Activation, DenseConfig};
    use crate::loss::Loss;
    use crate::module::ForwardContext;
    use crate::optim::{Sgd, SgdConfig};
    use crate::train::Model;
    use crate::{LayersError, Sequential, Targets};

    fn model(learning_rate: f64) -> Model<f64> {
        let network = Sequential::builder(&[3])
            .seed(7)
            .add(DenseConfig::new(4).activation(Activation::Tanh))
            .add(DenseConfig::new(2))
            .build()
            .unwrap();
        let sgd = Sgd::new(SgdConfig {
            learning_rate,
            ..SgdConfig::default()
        })
        .unwrap();
        Model::new(
            network,
            Loss::SparseCategoricalCrossentropy { from_logits: true },
            sgd,
        )
    }

    fn batch() -> (Tensor<f64>, Targets<f64>) {
        let x = Tensor::from_vec(vec![0.5, -1.0, 0.25, 1.5, 0.75, -0.5], &[2, 3]).unwrap();
        (x, Targets::Labels(vec![0, 1]))
    }

    fn weights(model: &Model<f64>) -> Vec<Vec<f64>> {
        let params = model.network().parameters();
        params.iter().map(|(_, v)| v.value().to_vec()).collect()
    }

    #[test]
    fn a_hook_may_reorder_the_gradients() {
        let (x, y) = batch();
        let mut plain = model(0.1);
        plain
            .train_step(&x, &y, &mut ForwardContext::train(1))
            .unwrap();
        let mut reordered = model(0.1);
        reordered.set_gradient_hook(Some(Box::new(
            |step: StepGradients<'_, f64>| -> HookResult {
                step.gradients.reverse();
                Ok(())
            },
        )));
        reordered
            .train_step(&x, &y, &mut ForwardContext::train(1))
            .unwrap();
        assert_eq!(weights(&reordered), weights(&plain));
    }

    #[test]
    fn a_hook_that_renames_a_gradient_is_an_error_naming_it() {
        let (x, y) = batch();
        let mut m = model(0.1);
        let before = weights(&m);
        m.set_gradient_hook(Some(Box::new(
            |step: StepGradients<'_, f64>| -> HookResult {
                step.gradients[0].0 = "nowhere.weight".into();
                Ok(())
            },
        )));
        let err = m
            .train_step(&x, &y, &mut ForwardContext::train(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nowhere.weight"), "{err}");
        assert_eq!(weights(&m), before);
    }

    #[test]
    fn a_hook_changes_the_gradients_that_are_applied() {
        // Doubling every gradient under SGD is a step at twice the rate: bit for bit, as
        // both scale an exact product by two.
        let (x, y) = batch();
        let mut doubled = model(0.1);
        let seen = std::rc::Rc::new(std::cell::Cell::new(0));
        let counter = seen.clone();
        let previous = doubled.set_gradient_hook(Some(Box::new(
            move |step: StepGradients<'_, f64>| -> HookResult {
                assert_eq!(step.samples, 2);
                counter.set(counter.get() + step.gradients.len());
                for (_, g) in step.gradients.iter_mut() {
                    *g = g.mul_scalar(2.0);
                }
                Ok(())
            },
        )));
        assert!(previous.is_none());
        let mut faster = model(0.2);
        for _ in 0..3 {
            doubled
                .train_step(&x, &y, &mut ForwardContext::train(1))
                .unwrap();
            faster
                .train_step(&x, &y, &mut ForwardContext::train(1))
                .unwrap();
        }
        assert_eq!(weights(&doubled), weights(&faster));
        assert_eq!(seen.get(), 3 * 4, "four parameters on each of three steps");
        assert!(doubled.set_gradient_hook(None).is_some());
    }

    #[test]
    fn a_failing_hook_or_a_non_finite_loss_leaves_the_parameters_unchanged() {
        let (x, y) = batch();
        let mut m = model(0.1);
        let before = weights(&m);
        m.set_gradient_hook(Some(Box::new(|_: StepGradients<'_, f64>| -> HookResult {
            Err("the other process hung up".into())
        })));
        let err = m
            .train_step(&x, &y, &mut ForwardContext::train(1))
            .unwrap_err();
        assert!(
            matches!(err, LayersError::GradientHook { step: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("hung up"), "{err}");
        m.set_gradient_hook(Some(Box::new(
            |step: StepGradients<'_, f64>| -> HookResult {
                *step.loss = f64::NAN;
                Ok(())
            },
        )));
        let err = m
            .train_step(&x, &y, &mut ForwardContext::train(1))
            .unwrap_err();
        assert!(matches!(err, LayersError::NonFiniteLoss { .. }), "{err}");
        m.set_gradient_hook(Some(Box::new(
            |step: StepGradients<'_, f64>| -> HookResult {
                let (_, g) = &mut step.gradients[1];
                *g = g.mul_scalar(f64::INFINITY);
                Ok(())
            },
        )));
        let err = m
            .train_step(&x, &y, &mut ForwardContext::train(1))
            .unwrap_err();
        assert!(
            matches!(&err, LayersError::NonFiniteGradient { parameter, .. } if parameter == "dense.bias"),
            "{err}"
        );
        assert_eq!(weights(&m), before);
    }

    /// Records the gradients it is given as they become ready, then at the end.
    #[derive(Default)]
    struct Recorder {
        ready: Vec<(usize, String, Vec<f64>, usize)>,
        at_end: Vec<(String, Vec<f64>)>,
    }

    impl GradientHook<f64> for std::rc::Rc<std::cell::RefCell<Recorder>> {
        fn on_gradients(&mut self, step: StepGradients<'_, f64>) -> HookResult {
            self.borrow_mut().at_end = step
                .gradients
                .iter()
                .map(|(n, g)| (n.clone(), g.to_vec()))
                .collect();
            Ok(())
        }

        fn wants_ready_gradients(&self) -> bool {
            true
        }

        fn on_gradient_ready(&mut self, ready: ReadyGradient<'_, f64>) {
            self.borrow_mut().ready.push((
                ready.parameter,
                ready.name.to_string(),
                ready.gradient.to_vec(),
                ready.samples,
            ));
        }
    }

    #[test]
    fn ready_gradients_come_last_layer_first_and_are_the_final_ones() {
        let (x, y) = batch();
        let mut m = model(0.1);
        let recorder = std::rc::Rc::new(std::cell::RefCell::new(Recorder::default()));
        m.set_gradient_hook(Some(Box::new(recorder.clone())));
        m.train_step(&x, &y, &mut ForwardContext::train(1)).unwrap();
        let r = recorder.borrow();
        let order: Vec<usize> = r.ready.iter().map(|g| g.0).collect();
        // dense_1's bias and kernel before dense's: the backward pass runs from the loss.
        assert_eq!(order.len(), 4);
        assert!(
            order[0] >= 2 && order[1] >= 2 && order[2] < 2 && order[3] < 2,
            "{order:?}"
        );
        for (parameter, name, g, samples) in &r.ready {
            assert_eq!(*samples, 2);
            assert_eq!(&r.at_end[*parameter].0, name);
            assert_eq!(&r.at_end[*parameter].1, g, "{name}");
        }
    }
}
