//! The [`Tensor`] type: shared storage plus a strided [`Layout`].

use std::fmt;
use std::sync::Arc;

use crate::buffer::Storage;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::Layout;
use crate::shape::numel;

/// An n-dimensional array of `T` with shared storage and a strided layout.
///
/// Cloning a tensor and taking views (`permute`, `narrow`, `broadcast_to`, `reshape` when no
/// copy is needed, …) share the storage; operations that compute new values return new,
/// contiguous tensors. Tensors are immutable.
///
/// ```
/// use strata_tensor::Tensor;
/// let t = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
/// let tt = t.t()?; // a transposed view: no copy
/// assert_eq!(tt.shape(), &[3, 2]);
/// assert_eq!(tt.to_vec(), vec![1., 4., 2., 5., 3., 6.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
#[derive(Clone)]
pub struct Tensor<T: Element> {
    storage: Arc<Storage<T>>,
    layout: Layout,
}

impl<T: Element> Tensor<T> {
    /// A contiguous tensor of `shape` holding `data` in row-major order.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let expected = numel(shape);
        if data.len() != expected {
            return Err(TensorError::ElementCount {
                op: "from_vec",
                shape: shape.to_vec(),
                expected,
                found: data.len(),
            });
        }
        Ok(Self::from_contiguous(data, shape))
    }

    /// A contiguous tensor copied from a slice.
    pub fn from_slice(data: &[T], shape: &[usize]) -> Result<Self> {
        Self::from_vec(data.to_vec(), shape)
    }

    /// Wraps a buffer whose length the caller has already checked.
    pub(crate) fn from_contiguous(data: Vec<T>, shape: &[usize]) -> Self {
        debug_assert_eq!(data.len(), numel(shape));
        Self {
            storage: Arc::new(Storage::new(data)),
            layout: Layout::contiguous(shape),
        }
    }

    /// A tensor over existing storage with any layout that stays inside it. The buffer is
    /// taken over without a copy when `storage` is its only handle, copied otherwise.
    pub fn from_storage(storage: Arc<Vec<T>>, layout: Layout) -> Result<Self> {
        if layout.storage_extent() > storage.len() {
            return Err(TensorError::shape(
                "from_storage",
                format!(
                    "layout {:?} with strides {:?} and offset {} reaches position {} of a storage of {} elements",
                    layout.shape(),
                    layout.strides(),
                    layout.offset(),
                    layout.storage_extent(),
                    storage.len()
                ),
            ));
        }
        let data = Arc::try_unwrap(storage).unwrap_or_else(|shared| shared.as_ref().clone());
        Ok(Self {
            storage: Arc::new(Storage::new(data)),
            layout,
        })
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::from_contiguous(vec![value], &[])
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::from_contiguous(vec![value; numel(shape)], shape)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// The values `start, start + step, …` below `end` (above it for a negative step), as a
    /// 1-D tensor, like `numpy.arange`.
    pub fn arange(start: T, end: T, step: T) -> Result<Self> {
        if step == T::zero() || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(TensorError::invalid(
                "arange",
                format!("start {start}, end {end} and step {step} must be finite, step non-zero"),
            ));
        }
        let count = ((end - start) / step).ceil().to_usize().unwrap_or(0);
        let data: Vec<T> = (0..count)
            .map(|i| start + step * T::from_f64_lossy(i as f64))
            .collect();
        Ok(Self::from_contiguous(data, &[count]))
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// The strides of the view, in elements.
    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The view's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The whole shared storage, which the layout indexes into.
    pub fn storage(&self) -> &[T] {
        &self.storage
    }

    /// Whether this tensor and `other` share storage.
    pub fn shares_storage_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// Whether the elements are in row-major order with no gaps.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// The elements as a slice when the tensor is contiguous.
    pub fn as_slice(&self) -> Option<&[T]> {
        self.layout.contiguous_range().map(|r| &self.storage[r])
    }

    /// The elements in row-major logical order.
    pub fn to_vec(&self) -> Vec<T> {
        match self.as_slice() {
            Some(slice) => slice.to_vec(),
            None => self.layout.offsets().map(|i| self.storage[i]).collect(),
        }
    }

    /// The elements in row-major logical order, taking the buffer without a copy when this
    /// tensor is its storage's only user and covers all of it.
    pub fn into_vec(self) -> Vec<T> {
        let whole = self.layout.is_contiguous()
            && self.layout.offset() == 0
            && self.storage.len() == self.numel();
        if !whole {
            return self.to_vec();
        }
        Arc::try_unwrap(self.storage).map_or_else(|shared| shared.to_vec(), Storage::into_vec)
    }

    /// A contiguous tensor with the same values: `self` (shared) if already contiguous with
    /// offset 0 and no trailing storage, a copy otherwise.
    pub fn contiguous(&self) -> Self {
        if self.layout.is_contiguous()
            && self.layout.offset() == 0
            && self.storage.len() == self.numel()
        {
            return self.clone();
        }
        Self::from_contiguous(self.to_vec(), self.shape())
    }

    /// The element at a multi-index.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        Ok(self.storage[self.layout.position(index)?])
    }

    /// The value of a tensor with exactly one element.
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::shape(
                "item",
                format!(
                    "needs exactly one element, shape {:?} has {}",
                    self.shape(),
                    self.numel()
                ),
            ));
        }
        Ok(self.storage[self.layout.offset()])
    }

    /// The same values converted to another element type.
    pub fn cast<U: Element>(&self) -> Tensor<U> {
        let data = self
            .to_vec()
            .into_iter()
            .map(|v| U::from_f64_lossy(v.to_f64().unwrap_or(f64::NAN)))
            .collect();
        Tensor::from_contiguous(data, self.shape())
    }

    /// A tensor sharing this storage with another layout (crate-internal: unchecked).
    pub(crate) fn with_layout(&self, layout: Layout) -> Self {
        Self {
            storage: Arc::clone(&self.storage),
            layout,
        }
    }
}

impl<T: Element> PartialEq for Tensor<T> {
    /// Equal shapes and equal values (NaN is unequal to everything, as for floats).
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape() && self.to_vec() == other.to_vec()
    }
}

impl<T: Element> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        let values: Vec<T> = self
            .layout
            .offsets()
            .take(SHOWN)
            .map(|i| self.storage[i])
            .collect();
        write!(f, "Tensor<{}>{:?} {:?}", T::NAME, self.shape(), values)?;
        if self.numel() > SHOWN {
            write!(f, " … ({} more)", self.numel() - SHOWN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_length() {
        let err = Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "from_vec: shape [2, 3] needs 6 elements but 5 were given"
        );
    }

    #[test]
    fn arange_counts_like_numpy() {
        assert_eq!(
            Tensor::<f64>::arange(0., 1., 0.25).unwrap().to_vec(),
            vec![0., 0.25, 0.5, 0.75]
        );
        assert_eq!(
            Tensor::<f64>::arange(3., 0., -1.).unwrap().to_vec(),
            vec![3., 2., 1.]
        );
        assert_eq!(Tensor::<f64>::arange(3., 0., 1.).unwrap().numel(), 0);
        assert!(Tensor::<f64>::arange(0., 1., 0.).is_err());
    }

    #[test]
    fn contiguous_shares_when_possible() {
        let t = Tensor::<f32>::ones(&[2, 3]);
        assert!(t.contiguous().shares_storage_with(&t));
        let tt = t.t().unwrap().contiguous();
        assert!(!tt.shares_storage_with(&t));
    }

    #[test]
    fn into_vec_takes_unique_buffers_and_copies_views() {
        let t = Tensor::<f32>::from_vec(vec![1., 2., 3., 4.], &[2, 2]).unwrap();
        let view = t.t().unwrap();
        assert_eq!(view.into_vec(), vec![1., 3., 2., 4.]);
        let shared = t.clone();
        assert_eq!(t.into_vec(), vec![1., 2., 3., 4.]);
        assert_eq!(shared.into_vec(), vec![1., 2., 3., 4.]);
    }

    #[test]
    fn from_storage_rejects_out_of_bounds_layouts() {
        let storage = Arc::new(vec![0.0f32; 6]);
        assert!(Tensor::from_storage(storage.clone(), Layout::contiguous(&[2, 3])).is_ok());
        assert!(Tensor::from_storage(storage, Layout::contiguous(&[7])).is_err());
    }

    #[test]
    fn item_needs_one_element() {
        assert_eq!(Tensor::scalar(2.5f64).item().unwrap(), 2.5);
        assert!(Tensor::<f64>::zeros(&[2]).item().is_err());
    }
}
