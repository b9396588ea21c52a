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
        self.backward_observed(grad_output, &mut |_, _| {}, &mut |_, _| {})
    }

    /// [`backward`](Var::backward), calling `ready` with each leaf and its gradient as soon
    /// as that gradient is final (all of its uses differentiated), while the rest of the
    /// pass still runs: in reverse topological order, so the leaves used last in the forward
    /// pass come first. What the caller does there (copying the gradient out, starting to
    /// send it elsewhere) overlaps the remaining backward work.
    ///
    /// ```
    /// use strata_autograd::Var;
    /// use strata_tensor::Tensor;
    /// let a = Var::parameter(Tensor::<f32>::ones(&[2]));
    /// let b = Var::parameter(Tensor::<f32>::ones(&[2]));
    /// let y = a.exp().mul(&b)?.sum_all()?;
    /// let mut order = Vec::new();
    /// let grads = y.backward_ready(&mut |leaf, _grad| order.push(leaf.id()))?;
    /// assert_eq!(order.len(), 2);
    /// assert_eq!(grads.len(), 2);
    /// # Ok::<(), strata_autograd::AutogradError>(())
    /// ```
    pub fn backward_ready(
        &self,
        ready: &mut dyn FnMut(&Var<T>, &Tensor<T>),
    ) -> Result<GradStore<T>> {
        if self.value().numel() != 1 {
            return Err(AutogradError::NotScalar {
                shape: self.shape().to_vec(),
            });
        }
        self.backward_observed(&Tensor::ones(self.shape()), &mut |_, _| {}, ready)
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
        if self.value().numel() != 1 {
            return Err(AutogradError::NotScalar {
                shape: self.shape().to_vec(),
            });
        }
        let mut timings = Vec::new();
        let grads = self.backward_observed(
            &Tensor::ones(self.shape()),
            &mut |var, time| {
                if let Some(op) = var.op_name() {
                    timings.push(NodeTiming {
                        id: var.id(),
                        op,
                        time,
                    });
                }
            },
            &mut |_, _| {},
        )?;
        Ok((grads, timings))
    }

    /// The backward pass; `observe` receives every visited variable with the time spent on
    /// it, `ready` every leaf with its final gradient.
    fn backward_observed(
        &self,
        grad_output: &Tensor<T>,
        observe: &mut dyn FnMut(&Var<T>, Duration),
        ready: &mut dyn FnMut(&Var<T>, &Tensor<T>),
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
        let mut pending: HashMap<VarId, Tensor<T>> = HashMap::new();
        pending.insert(self.id(), grad_output.clone());
        for var in topological_order(self).iter().rev() {
            let Some(grad) = pending.remove(&var.id()) else {
                continue;
            };
            let started = Instant::now();
            let inputs = var.inputs();
            let needs: Vec<bool> = inputs.iter().map(Var::requires_grad).collect();
            let Some((op, grads)) = var.run_backward(&grad, &needs) else {
                ready(var, &grad);
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
            observe(var, started.elapsed());
        }
        Ok(store)
    }
}

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

    #[test]
    fn each_leaf_is_ready_once_with_its_final_gradient_latest_used_first() {
        let a = Var::parameter(Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2]).unwrap());
        let b = Var::parameter(Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2]).unwrap());
        // a is used twice (its gradient accumulates), b once, by the last op.
        let y = a.exp().add(&a).unwrap().mul(&b).unwrap().sum_all().unwrap();
        let mut ready = Vec::new();
        let grads = y
            .backward_ready(&mut |leaf, g| ready.push((leaf.id(), g.to_vec())))
            .unwrap();
        let ids: Vec<VarId> = ready.iter().map(|r| r.0).collect();
        assert_eq!(ids, [b.id(), a.id()]);
        for (id, g) in &ready {
            assert_eq!(grads.get_id(*id).unwrap().to_vec(), *g);
        }
        assert_eq!(
            grads.get(&a).unwrap().to_vec(),
            y.backward().unwrap().get(&a).unwrap().to_vec()
        );
        assert!(a.exp().backward_ready(&mut |_, _| {}).is_err());
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
