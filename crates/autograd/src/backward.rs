//! The backward pass: reverse topological order, gradient accumulation.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use strata_tensor::{Element, Tensor};

use crate::error::{AutogradError, Result};
use crate::grad_store::GradStore;
use crate::var::{Var, VarId};

impl<T: Element> Var<T> {
    /// Differentiates this one-element output with respect to every leaf that requires a
    /// gradient, seeding with 1. A variable used several times receives the sum of its
    /// gradients.
    pub fn backward(&self) -> Result<GradStore<T>> {
        if self.value().numel() != 1 {
            return Err(AutogradError::NotScalar {
                shape: self.shape().to_vec(),
            });
        }
        self.backward_with(&Tensor::ones(self.shape()))
    }

    /// Backward from an output of any shape, seeded with `grad_output` (of the output's
    /// shape): computes the vector–Jacobian product `grad_outputᵀ·J` for every leaf.
    pub fn backward_with(&self, grad_output: &Tensor<T>) -> Result<GradStore<T>> {
        self.backward_observed(grad_output, &mut Unobserved)
    }

    /// [`backward`](Var::backward), also timing each recorded op's backward rule (with the
    /// accumulation of its inputs' gradients), in the order they ran: a profile of where
    /// the backward pass spends its time.
    ///
    /// ```
    /// use strata_autograd::Var;
    /// use strata_tensor::Tensor;
    /// let x = Var::parameter(Tensor::<f32>::ones(&[4]));
    /// let y = x.exp().sum_all()?;
    /// let (grads, timings) = y.backward_timed()?;
    /// assert!(grads.get(&x).is_some());
    /// let ops: Vec<&str> = timings.iter().map(|t| t.op).collect();
    /// assert_eq!(ops, ["sum_all", "exp"]);
    /// # Ok::<(), strata_autograd::AutogradError>(())
    /// ```
    pub fn backward_timed(&self) -> Result<(GradStore<T>, Vec<NodeTiming>)> {
        /// Keeps every op's timing.
        struct Timings(Vec<NodeTiming>);
        impl<T: Element> BackwardObserver<T> for Timings {
            fn times_ops(&self) -> bool {
                true
            }
            fn op_done(&mut self, timing: NodeTiming) {
                self.0.push(timing);
            }
        }
        if self.value().numel() != 1 {
            return Err(AutogradError::NotScalar {
                shape: self.shape().to_vec(),
            });
        }
        let mut timings = Timings(Vec::new());
        let grads = self.backward_observed(&Tensor::ones(self.shape()), &mut timings)?;
        Ok((grads, timings.0))
    }

    /// [`backward_with`](Var::backward_with), telling `observer` what happens as the pass
    /// goes: each op's time (only when [`BackwardObserver::times_ops`]; otherwise no clock
    /// is read) and the moment each leaf's gradient is complete.
    ///
    /// ```
    /// use strata_autograd::{BackwardObserver, Var};
    /// use strata_tensor::Tensor;
    ///
    /// /// Notes the leaves in the order their gradients become final.
    /// struct Ready(Vec<f32>);
    /// impl BackwardObserver<f32> for Ready {
    ///     fn gradient_ready(&mut self, _leaf: &Var<f32>, grad: &Tensor<f32>) {
    ///         self.0.push(grad.to_vec()[0]);
    ///     }
    /// }
    /// let a = Var::parameter(Tensor::from_vec(vec![2.0f32], &[1])?);
    /// let b = Var::parameter(Tensor::from_vec(vec![3.0f32], &[1])?);
    /// let y = a.mul(&b)?.sum_all()?;
    /// let mut ready = Ready(Vec::new());
    /// y.backward_observed(&Tensor::ones(&[]), &mut ready)?;
    /// ready.0.sort_by(f32::total_cmp);
    /// assert_eq!(ready.0, [2.0, 3.0]); // dy/db = a, dy/da = b
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backward_observed(
        &self,
        grad_output: &Tensor<T>,
        observer: &mut dyn BackwardObserver<T>,
    ) -> Result<GradStore<T>> {
        if grad_output.shape() != self.shape() {
            return Err(AutogradError::shape(
                "backward_with",
                format!(
                    "the seed must have the output's shape {:?}, found {:?}",
                    self.shape(),
                    grad_output.shape()
                ),
            ));
        }
        let mut store = GradStore::new();
        if !self.requires_grad() {
            return Ok(store);
        }
        let timed = observer.times_ops();
        let mut pending: HashMap<VarId, Tensor<T>> = HashMap::new();
        pending.insert(self.id(), grad_output.clone());
        for var in topological_order(self).iter().rev() {
            let Some(grad) = pending.remove(&var.id()) else {
                continue;
            };
            let started = timed.then(Instant::now);
            let inputs = var.inputs();
            let needs: Vec<bool> = inputs.iter().map(Var::requires_grad).collect();
            let Some((op, grads)) = var.run_backward(&grad, &needs) else {
                // A leaf: every op that used it came later in the graph and has run.
                observer.gradient_ready(var, &grad);
                store.insert_id(var.id(), grad);
                continue;
            };
            let grads = grads?;
            if grads.len() != inputs.len() {
                return Err(AutogradError::GradientCount {
                    op,
                    expected: inputs.len(),
                    found: grads.len(),
                });
            }
            for (i, (input, g)) in inputs.iter().zip(grads).enumerate() {
                let Some(g) = g.filter(|_| needs[i]) else {
                    continue;
                };
                if g.shape() != input.shape() {
                    return Err(AutogradError::GradientShape {
                        op,
                        input: i,
                        expected: input.shape().to_vec(),
                        found: g.shape().to_vec(),
                    });
                }
                match pending.remove(&input.id()) {
                    Some(sum) => pending.insert(input.id(), sum.add(&g)?),
                    None => pending.insert(input.id(), g),
                };
            }
            if let Some(started) = started {
                observer.op_done(NodeTiming {
                    id: var.id(),
                    op,
                    time: started.elapsed(),
                });
            }
        }
        Ok(store)
    }
}

/// What a caller learns as a backward pass goes (see [`Var::backward_observed`]): the one
/// hook behind profiles ([`Var::backward_timed`]) and behind starting work on gradients
/// before the pass ends. Every method has a default that does nothing.
pub trait BackwardObserver<T: Element> {
    /// Whether [`op_done`](BackwardObserver::op_done) is wanted: only then does the pass
    /// read the clock around each op.
    fn times_ops(&self) -> bool {
        false
    }

    /// An op's backward rule ran, with the accumulation of its inputs' gradients.
    fn op_done(&mut self, _timing: NodeTiming) {}

    /// `leaf`'s gradient is complete: no later part of this pass adds to it. The rest of the
    /// pass may still fail, after some leaves were reported.
    fn gradient_ready(&mut self, _leaf: &Var<T>, _grad: &Tensor<T>) {}
}

/// The observer of a plain backward pass: wants nothing.
struct Unobserved;

impl<T: Element> BackwardObserver<T> for Unobserved {}

/// The time one recorded op's backward rule took (see [`Var::backward_timed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeTiming {
    /// The op's output variable: ids grow in creation order, so a caller that noted the
    /// ids around a stretch of forward code can attribute backward time to it.
    pub id: VarId,
    /// The op's name (as [`Var::op_name`]).
    pub op: &'static str,
    /// Wall time of the rule and of accumulating the gradients it returned.
    pub time: Duration,
}

/// Every variable `root` depends on through variables that require a gradient, inputs
/// before the variables made from them (post-order of an iterative depth-first search, so
/// that deep graphs cannot overflow the stack).
fn topological_order<T: Element>(root: &Var<T>) -> Vec<Var<T>> {
    let mut order = Vec::new();
    let mut visited = HashSet::from([root.id()]);
    let mut stack = vec![(root.clone(), 0usize)];
    while let Some((var, next)) = stack.last_mut() {
        if let Some(input) = var.inputs().get(*next) {
            *next += 1;
            if input.requires_grad() && visited.insert(input.id()) {
                let input = input.clone();
                stack.push((input, 0));
            }
        } else if let Some((var, _)) = stack.pop() {
            order.push(var);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_used_twice_accumulates() {
        let x = Var::parameter(Tensor::<f64>::from_vec(vec![3.0], &[1]).unwrap());
        // y = x·x + x  →  dy/dx = 2x + 1
        let y = x.mul(&x).unwrap().add(&x).unwrap();
        let g = y.backward().unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec(), vec![7.0]);
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn timed_backward_gives_the_same_gradients_and_one_timing_per_op() {
        let x = Var::parameter(Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2]).unwrap());
        let y = x.exp().mul(&x).unwrap().sum_all().unwrap();
        let (grads, timings) = y.backward_timed().unwrap();
        assert_eq!(
            grads.get(&x).unwrap().to_vec(),
            y.backward().unwrap().get(&x).unwrap().to_vec()
        );
        let ops: Vec<&str> = timings.iter().map(|t| t.op).collect();
        assert_eq!(ops, ["sum_all", "mul", "exp"]);
        assert!(timings.windows(2).all(|w| w[0].id > w[1].id));
        assert!(x.exp().backward_timed().is_err());
    }

    /// Records what a backward pass reports, in order.
    #[derive(Default)]
    struct Log {
        timed: bool,
        events: Vec<(&'static str, VarId)>,
        ready: Vec<(VarId, Vec<f64>)>,
    }

    impl BackwardObserver<f64> for Log {
        fn times_ops(&self) -> bool {
            self.timed
        }
        fn op_done(&mut self, timing: NodeTiming) {
            self.events.push((timing.op, timing.id));
        }
        fn gradient_ready(&mut self, leaf: &Var<f64>, grad: &Tensor<f64>) {
            self.events.push(("ready", leaf.id()));
            self.ready.push((leaf.id(), grad.to_vec()));
        }
    }

    #[test]
    fn each_leaf_is_reported_once_with_its_final_gradient_after_every_op_that_used_it() {
        let a = Var::parameter(Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2]).unwrap());
        let b = Var::parameter(Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2]).unwrap());
        // a is used by two ops: its gradient is final only after both ran.
        let y = a.mul(&b).unwrap().add(&a.exp()).unwrap().sum_all().unwrap();
        let mut log = Log {
            timed: true,
            ..Log::default()
        };
        let grads = y.backward_observed(&Tensor::ones(&[]), &mut log).unwrap();
        assert_eq!(log.ready.len(), 2);
        for (id, grad) in &log.ready {
            let leaf = if *id == a.id() { &a } else { &b };
            assert_eq!(&grads.get(leaf).unwrap().to_vec(), grad);
        }
        let a_ready = log
            .events
            .iter()
            .position(|&(e, i)| e == "ready" && i == a.id())
            .unwrap();
        let ops_before_a = log.events[..a_ready]
            .iter()
            .filter(|(e, _)| *e == "mul" || *e == "exp")
            .count();
        assert_eq!(ops_before_a, 2, "{:?}", log.events);
    }

    #[test]
    fn leaves_are_ready_latest_used_first() {
        let a = Var::parameter(Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2]).unwrap());
        let b = Var::parameter(Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2]).unwrap());
        // b is used by the last op, a (twice) before it: b's gradient is final first.
        let y = a.exp().add(&a).unwrap().mul(&b).unwrap().sum_all().unwrap();
        let mut log = Log::default();
        y.backward_observed(&Tensor::ones(&[]), &mut log).unwrap();
        let ids: Vec<VarId> = log.ready.iter().map(|r| r.0).collect();
        assert_eq!(ids, [b.id(), a.id()]);
    }

    #[test]
    fn an_observer_that_times_nothing_gets_no_timings_and_the_same_gradients() {
        let x = Var::parameter(Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2]).unwrap());
        let y = x.exp().mul(&x).unwrap().sum_all().unwrap();
        let mut log = Log::default();
        let grads = y.backward_observed(&Tensor::ones(&[]), &mut log).unwrap();
        assert_eq!(log.events, [("ready", x.id())]);
        assert_eq!(
            grads.get(&x).unwrap().to_vec(),
            y.backward().unwrap().get(&x).unwrap().to_vec()
        );
    }

    #[test]
    fn backward_on_a_non_scalar_is_an_error() {
        let x = Var::parameter(Tensor::<f64>::ones(&[2, 3]));
        let err = x.exp().backward().unwrap_err();
        assert_eq!(
            err.to_string(),
            "backward: the output must have exactly one element, found shape [2, 3] \
             (use backward_with to seed a non-scalar output)"
        );
        assert!(x.exp().backward_with(&Tensor::ones(&[3])).is_err());
    }

    #[test]
    fn constants_get_no_gradient() {
        let x = Var::parameter(Tensor::<f64>::ones(&[2]));
        let c = Var::constant(Tensor::<f64>::ones(&[2]));
        let g = x.mul(&c).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(g.get(&c).is_none());
        assert!(g.get(&x).is_some());
    }

    #[test]
    fn a_diamond_is_visited_once_per_node() {
        // y = exp(x) used by two branches that meet again.
        let x = Var::parameter(Tensor::<f64>::from_vec(vec![0.5], &[1]).unwrap());
        let e = x.exp();
        let y = e.mul_scalar(2.0).add(&e.mul_scalar(3.0)).unwrap();
        let g = y.backward().unwrap();
        let expected = 5.0 * 0.5f64.exp();
        assert!((g.get(&x).unwrap().to_vec()[0] - expected).abs() < 1e-12);
    }
}
