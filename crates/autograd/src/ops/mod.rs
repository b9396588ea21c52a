//! The differentiable operations, one module per family. In each, an op's forward
//! computation and its backward rule stand side by side in one method.

mod activation;
mod arith;
mod batch_norm;
mod binary_cross_entropy;
mod conv;
mod dropout;
mod loss;
mod matmul;
mod pad;
mod pool;
mod reduce;
mod shape;
mod softmax;

pub use batch_norm::BatchStats;

use strata_tensor::{Element, Layout, Tensor};

use crate::error::{AutogradError, Result};

/// Sums a gradient over the axes that broadcasting added or stretched, so that it gets back
/// the `shape` of the input it belongs to.
pub(crate) fn sum_to_shape<T: Element>(grad: &Tensor<T>, shape: &[usize]) -> Result<Tensor<T>> {
    if grad.shape() == shape {
        return Ok(grad.clone());
    }
    let leading = grad.rank().checked_sub(shape.len()).ok_or_else(|| {
        AutogradError::shape(
            "sum_to_shape",
            format!(
                "gradient of shape {:?} cannot be reduced to shape {shape:?}",
                grad.shape()
            ),
        )
    })?;
    let axes: Vec<usize> = (0..grad.rank())
        .filter(|&a| a < leading || (shape[a - leading] == 1 && grad.shape()[a] != 1))
        .collect();
    Ok(grad.sum_axes(&axes, true)?.reshape(shape)?)
}

/// A zero tensor of `shape` with `values` written, in row-major order, at the positions a
/// view `layout` of a contiguous buffer of `shape` addresses (the adjoint of taking that
/// view; positions addressed twice accumulate).
pub(crate) fn scatter_into_zeros<T: Element>(
    shape: &[usize],
    layout: &Layout,
    values: &Tensor<T>,
) -> Result<Tensor<T>> {
    let mut out = vec![T::zero(); shape.iter().product()];
    let src = values.contiguous();
    let src = src.to_vec();
    for (pos, v) in layout.offsets().zip(src) {
        if let Some(slot) = out.get_mut(pos) {
            *slot = *slot + v;
        }
    }
    Ok(Tensor::from_vec(out, shape)?)
}

/// `T::from_f64_lossy` for short.
pub(crate) fn lit<T: Element>(v: f64) -> T {
    T::from_f64_lossy(v)
}

#[cfg(test)]
mod f32_accuracy_tests;
