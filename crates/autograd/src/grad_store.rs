//! Gradients returned by a backward pass, keyed by variable.

use std::collections::HashMap;

use strata_tensor::{Element, Tensor};

use crate::var::{Var, VarId};

/// The gradients of a backward pass: one tensor per leaf that requires a gradient and that
/// the output depends on, of that leaf's shape.
///
/// Optimisers read it with [`GradStore::get`]; gradients of intermediate variables are freed
/// during the pass and not kept.
#[derive(Debug, Clone)]
pub struct GradStore<T: Element> {
    grads: HashMap<VarId, Tensor<T>>,
}

impl<T: Element> Default for GradStore<T> {
    fn default() -> Self {
        Self {
            grads: HashMap::new(),
        }
    }
}

impl<T: Element> GradStore<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The gradient of `var`, if the output depends on it.
    pub fn get(&self, var: &Var<T>) -> Option<&Tensor<T>> {
        self.grads.get(&var.id())
    }

    /// The gradient of the variable with this id.
    pub fn get_id(&self, id: VarId) -> Option<&Tensor<T>> {
        self.grads.get(&id)
    }

    /// Takes the gradient of `var` out of the store.
    pub fn remove(&mut self, var: &Var<T>) -> Option<Tensor<T>> {
        self.grads.remove(&var.id())
    }

    /// Sets the gradient of `var` (for gradient clipping or accumulation by a caller).
    pub fn insert(&mut self, var: &Var<T>, grad: Tensor<T>) -> Option<Tensor<T>> {
        self.grads.insert(var.id(), grad)
    }

    pub(crate) fn insert_id(&mut self, id: VarId, grad: Tensor<T>) {
        self.grads.insert(id, grad);
    }

    /// The number of gradients held.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// All gradients, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (VarId, &Tensor<T>)> {
        self.grads.iter().map(|(&id, g)| (id, g))
    }
}
