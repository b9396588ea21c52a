//! The variable: a tensor and the record of how it was made.
//!
//! A [`Var`] is a shared handle (`Arc`) to an immutable node. A node made by an operation
//! holds its inputs (the edges of the graph) and a backward closure that captures exactly
//! what the rule needs (saved tensors, masks, argmax positions). Nodes only point at their
//! inputs, never at their consumers, so the graph has no cycles and is freed as soon as the
//! last handle to its output is dropped.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use strata_tensor::{Element, Tensor};

use crate::error::{AutogradError, Result};
use crate::grad_mode::is_grad_enabled;

/// Nodes alive in the process (a diagnostic for leak tests, see [`live_nodes`]).
static LIVE_NODES: AtomicUsize = AtomicUsize::new(0);
/// The next variable id; ids are never reused.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// The number of graph nodes (variables) alive in the process.
///
/// Every [`Var`] constructor adds one node and dropping the last handle to a node removes it,
/// so a training loop whose graphs are freed returns to the same count after every step.
pub fn live_nodes() -> usize {
    LIVE_NODES.load(Ordering::Relaxed)
}

/// One optional gradient per input of an op.
pub(crate) type InputGrads<T> = Vec<Option<Tensor<T>>>;

/// A backward rule: given the gradient of the output and which inputs need a gradient,
/// returns one optional gradient per input (each of that input's shape).
pub(crate) type BackwardFn<T> =
    Box<dyn Fn(&Tensor<T>, &[bool]) -> Result<InputGrads<T>> + Send + Sync>;

/// How a non-leaf variable was made.
struct Recorded<T: Element> {
    op: &'static str,
    inputs: Vec<Var<T>>,
    backward: BackwardFn<T>,
}

struct Node<T: Element> {
    id: VarId,
    shape: Vec<usize>,
    /// Only a leaf's value can change (an optimiser step); behind a lock so that models can
    /// be shared between threads.
    value: RwLock<Tensor<T>>,
    requires_grad: bool,
    recorded: Option<Recorded<T>>,
}

/// A variable's identity, the key of a [`GradStore`](crate::GradStore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(usize);

/// A tensor in a computation graph (define-by-run).
///
/// Leaves are *parameters* (trainable: [`Var::parameter`]) or *constants*
/// ([`Var::constant`]). Every operation on variables computes its value at once and, when
/// one of its inputs requires a gradient and recording is on (see [`no_grad`](crate::no_grad)),
/// records itself so that [`Var::backward`] can differentiate it.
///
/// Cloning a `Var` clones the handle: both refer to the same node and the same gradient.
///
/// ```
/// use strata_autograd::Var;
/// use strata_tensor::Tensor;
/// let x = Var::parameter(Tensor::<f64>::from_vec(vec![1., 2., 3.], &[3])?);
/// let y = x.mul(&x)?.sum_all()?; // Σ x²
/// let grads = y.backward()?;
/// assert_eq!(grads.get(&x).unwrap().to_vec(), vec![2., 4., 6.]);
/// # Ok::<(), strata_autograd::AutogradError>(())
/// ```
///
/// `Var` is `Send + Sync` (it is built on `Arc` and `RwLock`), so a model holding its
/// parameters can move to or be shared with other threads.
pub struct Var<T: Element>(Arc<Node<T>>);

impl<T: Element> Clone for Var<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: Element> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.0.id.0)
            .field("shape", &self.0.shape)
            .field("op", &self.op_name())
            .field("requires_grad", &self.0.requires_grad)
            .finish()
    }
}

impl<T: Element> Var<T> {
    fn from_node(value: Tensor<T>, requires_grad: bool, recorded: Option<Recorded<T>>) -> Self {
        LIVE_NODES.fetch_add(1, Ordering::Relaxed);
        Self(Arc::new(Node {
            id: VarId(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            shape: value.shape().to_vec(),
            value: RwLock::new(value),
            requires_grad,
            recorded,
        }))
    }

    /// A trainable leaf: backward computes its gradient.
    pub fn parameter(value: Tensor<T>) -> Self {
        Self::from_node(value, true, None)
    }

    /// A constant leaf (data, labels): no gradient flows into it.
    pub fn constant(value: Tensor<T>) -> Self {
        Self::from_node(value, false, None)
    }

    /// A leaf that is a parameter when `requires_grad` is true, a constant otherwise.
    pub fn leaf(value: Tensor<T>, requires_grad: bool) -> Self {
        Self::from_node(value, requires_grad, None)
    }

    /// Records the result of an operation (crate-internal: every op goes through here).
    ///
    /// When no input requires a gradient, or recording is off, the result is a constant and
    /// `backward` (with everything it captured) is dropped at once.
    pub(crate) fn record(
        op: &'static str,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        backward: impl Fn(&Tensor<T>, &[bool]) -> Result<Vec<Option<Tensor<T>>>> + Send + Sync + 'static,
    ) -> Self {
        if !Self::needs_graph(inputs) {
            return Self::constant(value);
        }
        let recorded = Recorded {
            op,
            inputs: inputs.iter().map(|&v| v.clone()).collect(),
            backward: Box::new(backward),
        };
        Self::from_node(value, true, Some(recorded))
    }

    /// Records a one-input op whose rule maps the output gradient to the input gradient.
    pub(crate) fn record_unary(
        &self,
        op: &'static str,
        value: Tensor<T>,
        backward: impl Fn(&Tensor<T>) -> Result<Tensor<T>> + Send + Sync + 'static,
    ) -> Self {
        Self::record(op, value, &[self], move |g, _| Ok(vec![Some(backward(g)?)]))
    }

    /// Whether an op on `inputs` must be recorded.
    pub(crate) fn needs_graph(inputs: &[&Var<T>]) -> bool {
        is_grad_enabled() && inputs.iter().any(|v| v.0.requires_grad)
    }

    /// The variable's identity.
    pub fn id(&self) -> VarId {
        self.0.id
    }

    /// The current value (a cheap handle: tensors share their storage).
    pub fn value(&self) -> Tensor<T> {
        match self.0.value.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The shape of the value (fixed for the variable's life).
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    /// Whether a gradient flows into this variable.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Whether the variable is a leaf (a parameter or constant, or anything made in
    /// no-grad mode or from constants only).
    pub fn is_leaf(&self) -> bool {
        self.0.recorded.is_none()
    }

    /// The name of the op that made this variable (`None` for a leaf).
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.recorded.as_ref().map(|r| r.op)
    }

    /// The variables this one was computed from (empty for a leaf).
    pub fn inputs(&self) -> &[Var<T>] {
        self.0
            .recorded
            .as_ref()
            .map_or(&[][..], |r| r.inputs.as_slice())
    }

    /// A constant with the same value, cut off from the graph (`torch.Tensor.detach`).
    pub fn detach(&self) -> Self {
        Self::constant(self.value())
    }

    /// Replaces a leaf's value (an optimiser step). The shape must stay the same, and only
    /// leaves can be set: an op's output is defined by its inputs.
    ///
    /// Graphs built before the update keep the values they saved, so a gradient computed
    /// after an update is still the gradient at the values used in the forward pass.
    pub fn set_value(&self, value: Tensor<T>) -> Result<()> {
        if let Some(op) = self.op_name() {
            return Err(AutogradError::invalid(
                "set_value",
                format!("only a leaf can be set, this variable was made by {op}"),
            ));
        }
        if value.shape() != self.shape() {
            return Err(AutogradError::shape(
                "set_value",
                format!(
                    "expected shape {:?}, found {:?}",
                    self.shape(),
                    value.shape()
                ),
            ));
        }
        match self.0.value.write() {
            Ok(mut v) => *v = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
        Ok(())
    }

    /// Runs the backward rule of a non-leaf (crate-internal, used by the engine).
    pub(crate) fn run_backward(
        &self,
        grad: &Tensor<T>,
        needs: &[bool],
    ) -> Option<(&'static str, Result<InputGrads<T>>)> {
        self.0
            .recorded
            .as_ref()
            .map(|r| (r.op, (r.backward)(grad, needs)))
    }
}

impl<T: Element> Drop for Node<T> {
    /// Frees the graph behind this node iteratively: a chain of a million ops would
    /// otherwise overflow the stack through nested `Arc` drops.
    fn drop(&mut self) {
        LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
        let Some(recorded) = self.recorded.as_mut() else {
            return;
        };
        let mut stack = std::mem::take(&mut recorded.inputs);
        while let Some(var) = stack.pop() {
            if let Some(mut node) = Arc::into_inner(var.0) {
                if let Some(r) = node.recorded.as_mut() {
                    stack.append(&mut r.inputs);
                }
                // `node` drops here with no inputs left: no recursion.
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<S: Send + Sync>() {}

    #[test]
    fn var_is_send_and_sync() {
        assert_send_sync::<Var<f32>>();
    }

    #[test]
    fn set_value_checks_leaf_and_shape() {
        let w = Var::parameter(Tensor::<f64>::zeros(&[2]));
        assert!(w.set_value(Tensor::ones(&[3])).is_err());
        w.set_value(Tensor::ones(&[2])).unwrap();
        assert_eq!(w.value().to_vec(), vec![1., 1.]);
        let y = w.mul_scalar(2.0);
        let err = y.set_value(Tensor::ones(&[2])).unwrap_err();
        assert!(err.to_string().contains("mul_scalar"), "{err}");
    }

    #[test]
    fn ops_on_constants_record_nothing() {
        let c = Var::constant(Tensor::<f64>::ones(&[2]));
        let y = c.exp().mul(&c).unwrap();
        assert!(y.is_leaf() && !y.requires_grad());
        let d = Var::parameter(Tensor::<f64>::ones(&[2])).detach();
        assert!(d.is_leaf() && !d.requires_grad());
    }

    #[test]
    fn a_deep_chain_is_freed_without_overflowing_the_stack() {
        let x = Var::parameter(Tensor::<f32>::ones(&[1]));
        let mut y = x.clone();
        for _ in 0..200_000 {
            y = y.add_scalar(1.0);
        }
        assert_eq!(y.value().to_vec(), vec![200_001.0]);
        let grads = y.backward().unwrap();
        assert_eq!(grads.get(&x).unwrap().to_vec(), vec![1.0]);
        drop(y);
    }
}
