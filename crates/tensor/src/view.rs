//! Views: new shapes and orders over the same storage, without copying.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shape::numel;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The same elements with a new shape of the same size: a view when the layout allows
    /// (always, for a contiguous tensor), a copy otherwise, like `torch.reshape`.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        self.check_reshape("reshape", shape)?;
        Ok(match self.layout().reshaped(shape) {
            Some(layout) => self.with_layout(layout),
            None => Self::from_contiguous(self.to_vec(), shape),
        })
    }

    /// The same elements with a new shape, only as a view, like `torch.Tensor.view`: an
    /// error when the strides do not allow it without a copy.
    pub fn view(&self, shape: &[usize]) -> Result<Self> {
        self.check_reshape("view", shape)?;
        let layout = self.layout().reshaped(shape).ok_or_else(|| {
            TensorError::shape(
                "view",
                format!(
                    "shape {:?} with strides {:?} cannot be viewed as {shape:?} without a copy; use reshape",
                    self.shape(),
                    self.strides()
                ),
            )
        })?;
        Ok(self.with_layout(layout))
    }

    fn check_reshape(&self, op: &'static str, shape: &[usize]) -> Result<()> {
        if numel(shape) != self.numel() {
            return Err(TensorError::shape(
                op,
                format!(
                    "cannot reshape {:?} ({} elements) into {shape:?} ({} elements)",
                    self.shape(),
                    self.numel(),
                    numel(shape)
                ),
            ));
        }
        Ok(())
    }

    /// Flattens axes `start..=end` into one (`torch.flatten(t, start, end)`).
    pub fn flatten(&self, start: usize, end: usize) -> Result<Self> {
        if start > end || end >= self.rank() {
            return Err(TensorError::invalid(
                "flatten",
                format!(
                    "axes {start}..={end} are not a range of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let dims = self.shape();
        let mut shape = dims[..start].to_vec();
        shape.push(numel(&dims[start..=end]));
        shape.extend_from_slice(&dims[end + 1..]);
        self.reshape(&shape)
    }

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self`.
    pub fn permute(&self, axes: &[usize]) -> Result<Self> {
        Ok(self.with_layout(self.layout().permute(axes)?))
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Self> {
        Ok(self.with_layout(self.layout().transpose(a, b)?))
    }

    /// The transpose of a 2-D tensor (its last two axes for higher ranks).
    pub fn t(&self) -> Result<Self> {
        if self.rank() < 2 {
            return Err(TensorError::shape(
                "t",
                format!("needs at least 2 dimensions, shape {:?}", self.shape()),
            ));
        }
        self.transpose(self.rank() - 2, self.rank() - 1)
    }

    /// Keeps `len` elements of `axis` from `start` (`torch.narrow`).
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Self> {
        Ok(self.with_layout(self.layout().narrow(axis, start, len)?))
    }

    /// Every `step`-th element of `axis` in `start..end` (`t[start:end:step]` on that axis).
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Self> {
        Ok(self.with_layout(self.layout().slice(axis, start, end, step)?))
    }

    /// The sub-tensor at `index` of axis 0 (one sample of a batch), with that axis removed.
    pub fn select(&self, axis: usize, index: usize) -> Result<Self> {
        self.narrow(axis, index, 1)?.squeeze(axis)
    }

    /// Removes an axis of size 1.
    pub fn squeeze(&self, axis: usize) -> Result<Self> {
        Ok(self.with_layout(self.layout().squeeze(axis)?))
    }

    /// Inserts an axis of size 1 at `axis` (`0..=rank`).
    pub fn unsqueeze(&self, axis: usize) -> Result<Self> {
        Ok(self.with_layout(self.layout().unsqueeze(axis)?))
    }

    /// A view of `shape` that repeats size-1 and missing leading axes (NumPy broadcasting).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        Ok(self.with_layout(self.layout().broadcast_to(shape)?))
    }

    /// Joins tensors of equal shapes but for `axis` along that axis (`torch.cat`).
    pub fn concat(tensors: &[Self], axis: usize) -> Result<Self> {
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::invalid("concat", "needs at least one tensor"))?;
        crate::shape::check_axis("concat", axis, first.shape())?;
        let mut shape = first.shape().to_vec();
        shape[axis] = 0;
        for t in tensors {
            let compatible = t.rank() == first.rank()
                && t.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b);
            if !compatible {
                return Err(TensorError::shape(
                    "concat",
                    format!(
                        "shapes {:?} and {:?} differ outside axis {axis}",
                        first.shape(),
                        t.shape()
                    ),
                ));
            }
            shape[axis] += t.shape()[axis];
        }
        let outer = numel(&shape[..axis]);
        let mut data = Vec::with_capacity(numel(&shape));
        let parts: Vec<Vec<T>> = tensors.iter().map(Self::to_vec).collect();
        for o in 0..outer {
            for (t, part) in tensors.iter().zip(&parts) {
                let run = numel(&t.shape()[axis..]);
                data.extend_from_slice(&part[o * run..(o + 1) * run]);
            }
        }
        Ok(Self::from_contiguous(data, &shape))
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    fn counting(shape: &[usize]) -> Tensor<f64> {
        let n = crate::shape::numel(shape);
        Tensor::from_vec((0..n).map(|i| i as f64).collect(), shape).unwrap()
    }

    #[test]
    fn reshape_copies_only_when_needed() {
        let t = counting(&[2, 3, 4]);
        let r = t.reshape(&[4, 6]).unwrap();
        assert!(r.shares_storage_with(&t));
        let p = t.permute(&[1, 0, 2]).unwrap();
        assert!(p.view(&[6, 4]).is_err());
        let copied = p.reshape(&[6, 4]).unwrap();
        assert!(!copied.shares_storage_with(&t));
        assert_eq!(copied.to_vec(), p.to_vec());
        assert!(t.reshape(&[5, 5]).is_err());
    }

    #[test]
    fn concat_joins_along_an_axis() {
        let a = counting(&[2, 2]);
        let b = counting(&[2, 1]);
        let c = Tensor::concat(&[a.clone(), b], 1).unwrap();
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_vec(), vec![0., 1., 0., 2., 3., 1.]);
        assert!(Tensor::concat(&[a.clone(), counting(&[3, 1])], 1).is_err());
        assert_eq!(Tensor::concat(&[a.clone(), a], 0).unwrap().shape(), &[4, 2]);
    }

    #[test]
    fn flatten_and_select() {
        let t = counting(&[2, 3, 4]);
        assert_eq!(t.flatten(1, 2).unwrap().shape(), &[2, 12]);
        let s = t.select(0, 1).unwrap();
        assert_eq!(s.shape(), &[3, 4]);
        assert_eq!(s.get(&[0, 0]).unwrap(), 12.0);
        assert!(t.flatten(2, 1).is_err());
    }
}
