//! Constant padding of any axes (`numpy.pad` with `mode="constant"`).

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shape::{contiguous_strides, numel};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// A copy with `pads[axis] = (before, after)` elements of `value` added around each axis
    /// (one pair per axis; `(0, 0)` leaves an axis alone).
    ///
    /// Zero padding of the spatial axes of an NCHW batch is
    /// `x.pad(&[(0, 0), (0, 0), (top, bottom), (left, right)], 0.0)`.
    ///
    /// The backward pass of `pad` is a narrow: the gradient of the input is the gradient of the
    /// output narrowed to `before..before + len` on every axis, which [`Tensor::unpad`] returns
    /// (as a view).
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1., 2., 3., 4.], &[2, 2])?;
    /// let y = x.pad(&[(1, 0), (0, 2)], 0.0)?;
    /// assert_eq!(y.shape(), &[3, 4]);
    /// assert_eq!(y.to_vec(), vec![0., 0., 0., 0., 1., 2., 0., 0., 3., 4., 0., 0.]);
    /// assert_eq!(y.unpad(&[(1, 0), (0, 2)])?.to_vec(), x.to_vec());
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// A number of pairs different from the rank.
    pub fn pad(&self, pads: &[(usize, usize)], value: T) -> Result<Self> {
        const OP: &str = "pad";
        check_pads(OP, self.shape(), pads)?;
        let in_shape = self.shape();
        let out_shape: Vec<usize> = in_shape
            .iter()
            .zip(pads)
            .map(|(&d, &(b, a))| d + b + a)
            .collect();
        let mut out = vec![value; numel(&out_shape)];
        let rank = in_shape.len();
        if rank == 0 {
            return Ok(self.contiguous());
        }
        if numel(in_shape) == 0 {
            return Ok(Self::from_contiguous(out, &out_shape));
        }
        let src = self.contiguous();
        let src = src.storage();
        let out_strides = contiguous_strides(&out_shape);
        let last = in_shape[rank - 1];
        // Copy each run along the last axis; `index` walks the leading axes in row-major order.
        let mut index = vec![0usize; rank - 1];
        for run in src.chunks_exact(last) {
            let offset: usize = index
                .iter()
                .zip(pads)
                .zip(&out_strides)
                .map(|((&i, &(b, _)), &s)| (i + b) * s)
                .sum::<usize>()
                + pads[rank - 1].0;
            out[offset..offset + last].copy_from_slice(run);
            for axis in (0..rank - 1).rev() {
                index[axis] += 1;
                if index[axis] < in_shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        Ok(Self::from_contiguous(out, &out_shape))
    }

    /// The inverse of [`Tensor::pad`] and its backward pass: a view that drops
    /// `pads[axis] = (before, after)` elements at the two ends of each axis.
    ///
    /// # Errors
    /// A number of pairs different from the rank, or more elements dropped than an axis has.
    pub fn unpad(&self, pads: &[(usize, usize)]) -> Result<Self> {
        const OP: &str = "unpad";
        check_pads(OP, self.shape(), pads)?;
        let mut t = self.clone();
        let mut shape = Vec::with_capacity(pads.len());
        for (axis, (&d, &(b, a))) in self.shape().iter().zip(pads).enumerate() {
            if b + a > d {
                return Err(TensorError::shape(
                    OP,
                    format!(
                        "cannot drop {b} + {a} elements from axis {axis} of shape {:?}",
                        self.shape()
                    ),
                ));
            }
            shape.push(d - b - a);
            if self.numel() > 0 {
                t = t.narrow(axis, b, d - b - a)?;
            }
        }
        if self.numel() == 0 {
            // Narrowing an empty tensor would give a view whose offset lies past its (empty)
            // storage; an empty tensor needs no view.
            return Ok(Self::from_contiguous(Vec::new(), &shape));
        }
        Ok(t)
    }
}

fn check_pads(op: &'static str, shape: &[usize], pads: &[(usize, usize)]) -> Result<()> {
    if pads.len() != shape.len() {
        return Err(TensorError::shape(
            op,
            format!(
                "needs one (before, after) pair per axis: {} pairs for shape {shape:?}",
                pads.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Naive padding: every output element looks up its source.
    fn reference(x: &Tensor<f64>, pads: &[(usize, usize)], value: f64) -> Vec<f64> {
        let out_shape: Vec<usize> = x
            .shape()
            .iter()
            .zip(pads)
            .map(|(&d, &(b, a))| d + b + a)
            .collect();
        let strides = contiguous_strides(&out_shape);
        (0..numel(&out_shape))
            .map(|flat| {
                let mut src = Vec::new();
                for (axis, &s) in strides.iter().enumerate() {
                    let i = flat / s % out_shape[axis];
                    let (b, _) = pads[axis];
                    if i < b || i >= b + x.shape()[axis] {
                        return value;
                    }
                    src.push(i - b);
                }
                x.get(&src).unwrap()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn pad_matches_reference(
            shape in prop::collection::vec(0usize..4, 0..5),
            raw_pads in prop::collection::vec((0usize..3, 0usize..3), 5),
            value in -3i32..3,
        ) {
            let pads = &raw_pads[..shape.len()];
            let x = Tensor::<f64>::from_vec(
                (0..numel(&shape)).map(|v| v as f64 + 1.0).collect(),
                &shape,
            ).unwrap();
            let y = x.pad(pads, f64::from(value)).unwrap();
            prop_assert_eq!(y.to_vec(), reference(&x, pads, f64::from(value)));
            prop_assert_eq!(y.unpad(pads).unwrap().to_vec(), x.to_vec());
        }
    }

    #[test]
    fn scalar_is_returned_unchanged_regression() {
        let x = Tensor::<f64>::scalar(1.0);
        assert_eq!(x.pad(&[], 0.0).unwrap().to_vec(), vec![1.0]);
    }

    #[test]
    fn unpad_of_an_empty_tensor_regression() {
        let x = Tensor::<f64>::zeros(&[0, 3]);
        let y = x.pad(&[(0, 0), (1, 1)], 0.0).unwrap();
        assert_eq!(y.shape(), &[0, 5]);
        let z = y.unpad(&[(0, 0), (1, 1)]).unwrap();
        assert_eq!(z.shape(), &[0, 3]);
        assert!(z.to_vec().is_empty());
    }

    #[test]
    fn non_contiguous_and_errors() {
        let x = Tensor::<f32>::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
        let xt = x.t().unwrap();
        let y = xt.pad(&[(0, 1), (1, 0)], 9.0).unwrap();
        assert_eq!(
            y.to_vec(),
            vec![9., 0., 3., 9., 1., 4., 9., 2., 5., 9., 9., 9.]
        );
        let err = x.pad(&[(1, 1)], 0.0).unwrap_err();
        assert!(
            err.to_string().contains("1 pairs for shape [2, 3]"),
            "{err}"
        );
        assert!(x.unpad(&[(1, 1), (0, 0)]).is_ok());
        assert!(x.unpad(&[(2, 1), (0, 0)]).is_err());
    }
}
