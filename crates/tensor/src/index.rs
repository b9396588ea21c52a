//! Gathering along an axis by index.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shape::{check_axis, numel};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The sub-tensors at `indices` along `axis`, in that order (`torch.index_select`); used
    /// to gather a shuffled batch of samples along axis 0.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![0., 1., 2., 3., 4., 5.], &[3, 2])?;
    /// assert_eq!(x.index_select(0, &[2, 0])?.to_vec(), vec![4., 5., 0., 1.]);
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Self> {
        check_axis("index_select", axis, self.shape())?;
        let dim = self.shape()[axis];
        if let Some(&bad) = indices.iter().find(|&&i| i >= dim) {
            return Err(TensorError::IndexOutOfBounds {
                op: "index_select",
                index: vec![bad],
                shape: self.shape().to_vec(),
            });
        }
        let source = self.contiguous();
        let values = source.as_slice().unwrap_or_default();
        let outer = numel(&self.shape()[..axis]);
        let inner = numel(&self.shape()[axis + 1..]);
        let mut data = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let start = (o * dim + i) * inner;
                data.extend_from_slice(&values[start..start + inner]);
            }
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = indices.len();
        Ok(Self::from_contiguous(data, &shape))
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn selects_along_inner_axes_and_checks_bounds() {
        let x = Tensor::<f64>::arange(0., 24., 1.)
            .unwrap()
            .reshape(&[2, 3, 4])
            .unwrap();
        let s = x.index_select(1, &[2, 2, 0]).unwrap();
        assert_eq!(s.shape(), &[2, 3, 4]);
        assert_eq!(s.get(&[1, 0, 3]).unwrap(), x.get(&[1, 2, 3]).unwrap());
        assert_eq!(s.get(&[0, 2, 1]).unwrap(), x.get(&[0, 0, 1]).unwrap());
        assert!(x.index_select(1, &[3]).is_err());
        assert!(x.index_select(3, &[0]).is_err());
        assert_eq!(x.index_select(0, &[]).unwrap().shape(), &[0, 3, 4]);
        let t = x.permute(&[2, 0, 1]).unwrap();
        assert_eq!(
            t.index_select(0, &[1]).unwrap().to_vec(),
            t.select(0, 1).unwrap().to_vec()
        );
    }
}
