//! The backward pass: reverse topological order, gradient accumulation.

use std::collections::{HashMap, HashSet};

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
            let inputs = var.inputs();
            let needs: Vec<bool> = inputs.iter().map(Var::requires_grad).collect();
            let Some((op, grads)) = var.run_backward(&grad, &needs) else {
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
        }
        Ok(store)
    }
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
