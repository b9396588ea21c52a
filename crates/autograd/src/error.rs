//! The one error type of the autograd crate.

use strata_tensor::TensorError;
use thiserror::Error;

/// Everything that can go wrong when building a graph or differentiating it.
///
/// Tensor errors (shape mismatches in a kernel) pass through unchanged and already name the
/// operation and the shapes; the other variants name the op and what was expected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AutogradError {
    /// A tensor kernel rejected its arguments.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// `backward()` was called on a variable with more than one element.
    #[error("backward: the output must have exactly one element, found shape {shape:?} (use backward_with to seed a non-scalar output)")]
    NotScalar {
        /// The output's shape.
        shape: Vec<usize>,
    },
    /// A class label is not smaller than the number of classes.
    #[error("{op}: label {label} at batch index {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The offending label.
        label: usize,
        /// Its position in the batch.
        index: usize,
        /// The number of classes (the logits' last dimension).
        classes: usize,
    },
    /// A backward rule returned a gradient whose shape differs from its input's.
    #[error("{op}: backward returned a gradient of shape {found:?} for input {input}, whose shape is {expected:?}")]
    GradientShape {
        /// The operation whose backward rule failed.
        op: &'static str,
        /// The input's position.
        input: usize,
        /// The input's shape.
        expected: Vec<usize>,
        /// The gradient's shape.
        found: Vec<usize>,
    },
    /// A backward rule returned the wrong number of gradients.
    #[error("{op}: backward returned {found} gradients for {expected} inputs")]
    GradientCount {
        /// The operation whose backward rule failed.
        op: &'static str,
        /// The number of inputs.
        expected: usize,
        /// The number of gradients returned.
        found: usize,
    },
    /// Shapes that do not fit the operation; the message names them.
    #[error("{op}: {message}")]
    Shape {
        /// The operation that failed.
        op: &'static str,
        /// What was expected and what was found.
        message: String,
    },
    /// An argument outside its valid range; the message names it.
    #[error("{op}: invalid argument: {message}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// Which argument and why.
        message: String,
    },
}

impl AutogradError {
    /// An [`AutogradError::Shape`] error for `op`.
    pub fn shape(op: &'static str, message: impl Into<String>) -> Self {
        Self::Shape {
            op,
            message: message.into(),
        }
    }

    /// An [`AutogradError::InvalidArgument`] error for `op`.
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            op,
            message: message.into(),
        }
    }
}

/// The result type of the autograd crate.
pub type Result<T, E = AutogradError> = std::result::Result<T, E>;
