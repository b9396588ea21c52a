//! Free functions on shapes: element counts, row-major strides and broadcasting.

use crate::error::{Result, TensorError};

/// The number of elements of a tensor with this shape (1 for a scalar, `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C-order) strides, in elements, for a contiguous tensor of this shape.
///
/// ```
/// assert_eq!(strata_tensor::shape::contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
/// ```
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut running = 1;
    for (stride, &dim) in strides.iter_mut().zip(shape).rev() {
        *stride = running;
        running *= dim.max(1);
    }
    strides
}

/// The shape two shapes broadcast to under NumPy's rules: align on the right, and each pair
/// of dimensions must be equal or contain a 1.
///
/// ```
/// use strata_tensor::shape::broadcast_shapes;
/// assert_eq!(broadcast_shapes("add", &[4, 1, 3], &[5, 1]).unwrap(), vec![4, 5, 3]);
/// assert!(broadcast_shapes("add", &[2, 3], &[4]).is_err());
/// ```
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let rank = lhs.len().max(rhs.len());
    let mut out = vec![0; rank];
    for (i, slot) in out.iter_mut().enumerate() {
        let l = dim_from_right(lhs, rank - 1 - i);
        let r = dim_from_right(rhs, rank - 1 - i);
        *slot = match (l, r) {
            (a, b) if a == b => a,
            (1, b) => b,
            (a, 1) => a,
            _ => {
                return Err(TensorError::Broadcast {
                    op,
                    lhs: lhs.to_vec(),
                    rhs: rhs.to_vec(),
                })
            }
        };
    }
    Ok(out)
}

/// The dimension `from_right` places from the end of `shape`, or 1 past its start.
fn dim_from_right(shape: &[usize], from_right: usize) -> usize {
    if from_right < shape.len() {
        shape[shape.len() - 1 - from_right]
    } else {
        1
    }
}

/// Checks that `axis < rank` and returns it.
pub fn check_axis(op: &'static str, axis: usize, shape: &[usize]) -> Result<usize> {
    if axis < shape.len() {
        Ok(axis)
    } else {
        Err(TensorError::AxisOutOfRange {
            op,
            axis,
            shape: shape.to_vec(),
        })
    }
}

/// Checks a list of axes (each in range, none repeated) and returns a mask of length `rank`
/// with `true` at the given axes.
pub fn axes_mask(op: &'static str, axes: &[usize], shape: &[usize]) -> Result<Vec<bool>> {
    let mut mask = vec![false; shape.len()];
    for &axis in axes {
        check_axis(op, axis, shape)?;
        if mask[axis] {
            return Err(TensorError::invalid(
                op,
                format!("axis {axis} is repeated in {axes:?}"),
            ));
        }
        mask[axis] = true;
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_of_shapes_with_zero_and_one() {
        assert_eq!(contiguous_strides(&[]), Vec::<usize>::new());
        assert_eq!(contiguous_strides(&[3, 0, 2]), vec![2, 2, 1]);
        assert_eq!(numel(&[3, 0, 2]), 0);
        assert_eq!(numel(&[]), 1);
    }

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(broadcast_shapes("t", &[], &[2, 3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shapes("t", &[2, 1], &[1, 3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shapes("t", &[0, 1], &[1, 3]).unwrap(), vec![0, 3]);
        let err = broadcast_shapes("add", &[2, 3], &[3, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: shapes [2, 3] and [3, 2] cannot be broadcast together"
        );
    }

    #[test]
    fn repeated_axes_are_rejected() {
        assert!(axes_mask("sum", &[1, 1], &[2, 3]).is_err());
        assert!(axes_mask("sum", &[2], &[2, 3]).is_err());
        assert_eq!(axes_mask("sum", &[1], &[2, 3]).unwrap(), vec![false, true]);
    }
}
