//! The one error type of the tensor crate.

use thiserror::Error;

/// Everything that can go wrong in a tensor operation.
///
/// Every variant names the operation (`op`) and the shapes or values involved, so that a
/// message such as `matmul: inner dimensions differ: [2, 3] × [4, 5]` says exactly what was
/// wrong without a debugger.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TensorError {
    /// A buffer's length does not match the number of elements of the requested shape.
    #[error("{op}: shape {shape:?} needs {expected} elements but {found} were given")]
    ElementCount {
        /// The operation that failed.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
        /// Elements the shape needs.
        expected: usize,
        /// Elements that were given.
        found: usize,
    },
    /// Two shapes cannot be broadcast together under NumPy's rules.
    #[error("{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together")]
    Broadcast {
        /// The operation that failed.
        op: &'static str,
        /// The left operand's shape.
        lhs: Vec<usize>,
        /// The right operand's shape.
        rhs: Vec<usize>,
    },
    /// An axis is not smaller than the tensor's rank.
    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape:?}")]
    AxisOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The offending axis.
        axis: usize,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// An index lies outside the tensor.
    #[error("{op}: index {index:?} is out of bounds for shape {shape:?}")]
    IndexOutOfBounds {
        /// The operation that failed.
        op: &'static str,
        /// The offending index.
        index: Vec<usize>,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// Shapes that do not fit the operation; the message names them.
    #[error("{op}: {message}")]
    Shape {
        /// The operation that failed.
        op: &'static str,
        /// What was expected and what was found.
        message: String,
    },
    /// An argument outside its valid range (a zero stride, a negative standard deviation, …).
    #[error("{op}: invalid argument: {message}")]
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// Which argument and why.
        message: String,
    },
}

impl TensorError {
    /// A [`TensorError::Shape`] error for `op` with a formatted message.
    pub fn shape(op: &'static str, message: impl Into<String>) -> Self {
        Self::Shape {
            op,
            message: message.into(),
        }
    }

    /// A [`TensorError::InvalidArgument`] error for `op` with a formatted message.
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            op,
            message: message.into(),
        }
    }
}

/// The result type of the tensor crate.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;
