//! How a tensor's elements sit in its storage: shape, strides and offset.
//!
//! Every view operation (permute, narrow, reshape where possible, broadcast, squeeze) is a
//! change of layout only; the storage is shared and never copied.

use crate::error::{Result, TensorError};
use crate::shape::{check_axis, contiguous_strides, numel};
use crate::strided_index::StridedIndex;

/// Shape, strides (in elements) and offset of a tensor view into its storage.
///
/// A stride of 0 repeats an element along an axis; that is how broadcasting views work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

impl Layout {
    /// A row-major layout of `shape` starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Self {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Where the first element sits in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Whether the elements are in row-major order with no gaps (offset may be non-zero).
    /// Dimensions of size 1 may have any stride; an empty layout is contiguous.
    pub fn is_contiguous(&self) -> bool {
        if self.numel() == 0 {
            return true;
        }
        let mut expected = 1;
        for (&dim, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if dim != 1 && stride != expected {
                return false;
            }
            expected *= dim;
        }
        true
    }

    /// The storage range `offset..offset + numel` when the layout is contiguous.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        self.is_contiguous()
            .then(|| self.offset..self.offset + self.numel())
    }

    /// One past the largest storage position this layout can address (its offset when empty).
    pub fn storage_extent(&self) -> usize {
        if self.numel() == 0 {
            return self.offset;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }

    /// Storage positions of the elements in row-major logical order.
    pub fn offsets(&self) -> StridedIndex<'_> {
        StridedIndex::new(self)
    }

    /// Storage position of a multi-index, checked against the shape.
    pub fn position(&self, index: &[usize]) -> Result<usize> {
        if index.len() != self.rank() || index.iter().zip(&self.shape).any(|(&i, &d)| i >= d) {
            return Err(TensorError::IndexOutOfBounds {
                op: "index",
                index: index.to_vec(),
                shape: self.shape.clone(),
            });
        }
        Ok(self.offset
            + index
                .iter()
                .zip(&self.strides)
                .map(|(&i, &s)| i * s)
                .sum::<usize>())
    }

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self`.
    pub fn permute(&self, axes: &[usize]) -> Result<Self> {
        let mut seen = vec![false; self.rank()];
        let valid = axes.len() == self.rank()
            && axes.iter().all(|&a| {
                let fresh = a < seen.len() && !seen[a];
                if fresh {
                    seen[a] = true;
                }
                fresh
            });
        if !valid {
            return Err(TensorError::invalid(
                "permute",
                format!(
                    "{axes:?} is not a permutation of the axes of shape {:?}",
                    self.shape
                ),
            ));
        }
        Ok(Self {
            shape: axes.iter().map(|&a| self.shape[a]).collect(),
            strides: axes.iter().map(|&a| self.strides[a]).collect(),
            offset: self.offset,
        })
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Self> {
        check_axis("transpose", a, &self.shape)?;
        check_axis("transpose", b, &self.shape)?;
        let mut out = self.clone();
        out.shape.swap(a, b);
        out.strides.swap(a, b);
        Ok(out)
    }

    /// Keeps `len` elements of `axis` starting at `start`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Self> {
        check_axis("narrow", axis, &self.shape)?;
        let dim = self.shape[axis];
        if start.checked_add(len).is_none_or(|end| end > dim) {
            return Err(TensorError::invalid(
                "narrow",
                format!(
                    "range {start}..{} of axis {axis} exceeds its size {dim} (shape {:?})",
                    start.saturating_add(len),
                    self.shape
                ),
            ));
        }
        let mut out = self.clone();
        out.shape[axis] = len;
        // An empty view addresses nothing: keep its offset inside the storage.
        if out.numel() > 0 {
            out.offset += start * self.strides[axis];
        }
        Ok(out)
    }

    /// Takes every `step`-th element of `axis` in `start..end` (like `t[start:end:step]`).
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Self> {
        check_axis("slice", axis, &self.shape)?;
        let dim = self.shape[axis];
        if step == 0 || start > end || end > dim {
            return Err(TensorError::invalid(
                "slice",
                format!(
                    "{start}..{end} step {step} is not a valid slice of axis {axis} with size {dim}"
                ),
            ));
        }
        let len = (end - start).div_ceil(step);
        let mut out = self.narrow(axis, start, end - start)?;
        out.shape[axis] = len;
        out.strides[axis] *= step;
        Ok(out)
    }

    /// Removes `axis`, which must have size 1.
    pub fn squeeze(&self, axis: usize) -> Result<Self> {
        check_axis("squeeze", axis, &self.shape)?;
        if self.shape[axis] != 1 {
            return Err(TensorError::shape(
                "squeeze",
                format!(
                    "axis {axis} of shape {:?} has size {}, not 1",
                    self.shape, self.shape[axis]
                ),
            ));
        }
        let mut out = self.clone();
        out.shape.remove(axis);
        out.strides.remove(axis);
        Ok(out)
    }

    /// Inserts an axis of size 1 at position `axis` (`0..=rank`).
    pub fn unsqueeze(&self, axis: usize) -> Result<Self> {
        if axis > self.rank() {
            return Err(TensorError::AxisOutOfRange {
                op: "unsqueeze",
                axis,
                shape: self.shape.clone(),
            });
        }
        let mut out = self.clone();
        let stride = self.strides.get(axis).map_or(1, |&s| s * self.shape[axis]);
        out.shape.insert(axis, 1);
        out.strides.insert(axis, stride);
        Ok(out)
    }

    /// A view with `shape`, repeating size-1 (or missing leading) axes with stride 0.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        let error = || TensorError::Broadcast {
            op: "broadcast_to",
            lhs: self.shape.clone(),
            rhs: shape.to_vec(),
        };
        if shape.len() < self.rank() {
            return Err(error());
        }
        let lead = shape.len() - self.rank();
        let mut strides = vec![0; shape.len()];
        for (i, (&dim, &stride)) in self.shape.iter().zip(&self.strides).enumerate() {
            let target = shape[lead + i];
            if dim == target {
                strides[lead + i] = stride;
            } else if dim != 1 {
                return Err(error());
            }
        }
        Ok(Self {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    /// A view with a new shape of the same element count, if one exists without copying
    /// (NumPy's rule: each run of merged or split axes must be contiguous within itself).
    /// Returns `None` when a copy is needed.
    pub fn reshaped(&self, shape: &[usize]) -> Option<Self> {
        if numel(shape) != self.numel() {
            return None;
        }
        if self.is_contiguous() {
            return Some(Self {
                shape: shape.to_vec(),
                strides: contiguous_strides(shape),
                offset: self.offset,
            });
        }
        // Drop size-1 axes; they carry no stride information.
        let (old_shape, old_strides): (Vec<usize>, Vec<usize>) = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(&d, _)| d != 1)
            .map(|(&d, &s)| (d, s))
            .unzip();
        let mut new_strides = vec![0; shape.len()];
        let (mut oi, mut ni) = (0, 0);
        while oi < old_shape.len() && ni < shape.len() {
            // Grow a group of old axes and a group of new axes until their products match.
            let (mut oj, mut nj) = (oi + 1, ni + 1);
            let (mut old_prod, mut new_prod) = (old_shape[oi], shape[ni]);
            while old_prod != new_prod {
                if new_prod < old_prod {
                    new_prod *= shape[nj];
                    nj += 1;
                } else {
                    old_prod *= old_shape[oj];
                    oj += 1;
                }
            }
            // The old group must be contiguous within itself.
            for k in oi..oj - 1 {
                if old_strides[k] != old_strides[k + 1] * old_shape[k + 1] {
                    return None;
                }
            }
            // Give the new group row-major strides based on the old group's innermost stride.
            new_strides[nj - 1] = old_strides[oj - 1];
            for k in (ni..nj - 1).rev() {
                new_strides[k] = new_strides[k + 1] * shape[k + 1];
            }
            oi = oj;
            ni = nj;
        }
        // Trailing size-1 axes of the new shape.
        for stride in &mut new_strides[ni..] {
            *stride = 1;
        }
        Some(Self {
            shape: shape.to_vec(),
            strides: new_strides,
            offset: self.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_and_transpose_swap_strides() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let p = l.permute(&[2, 0, 1]).unwrap();
        assert_eq!(p.shape(), &[4, 2, 3]);
        assert_eq!(p.strides(), &[1, 12, 4]);
        assert!(!p.is_contiguous());
        assert!(l.permute(&[0, 0, 1]).is_err());
        assert!(l.permute(&[0, 1]).is_err());
        assert_eq!(l.transpose(0, 2).unwrap().shape(), &[4, 3, 2]);
    }

    #[test]
    fn narrow_and_slice_move_offset() {
        let l = Layout::contiguous(&[4, 5]);
        let n = l.narrow(1, 2, 3).unwrap();
        assert_eq!((n.shape(), n.offset()), (&[4usize, 3][..], 2));
        let s = l.slice(0, 1, 4, 2).unwrap();
        assert_eq!(
            (s.shape(), s.strides(), s.offset()),
            (&[2usize, 5][..], &[10usize, 1][..], 5)
        );
        assert!(l.narrow(1, 4, 2).is_err());
        assert!(l.slice(0, 0, 4, 0).is_err());
    }

    #[test]
    fn narrowing_an_empty_layout_keeps_the_offset() {
        let l = Layout::contiguous(&[0, 3]);
        let n = l.narrow(1, 1, 1).unwrap();
        assert_eq!((n.offset(), n.numel()), (0, 0));
        assert_eq!(n.contiguous_range(), Some(0..0));
    }

    #[test]
    fn reshape_views_only_when_possible() {
        let l = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(l.reshaped(&[6, 4]).unwrap().strides(), &[4, 1]);
        let t = l.permute(&[1, 0, 2]).unwrap(); // [3, 2, 4], strides [4, 12, 1]
                                                // Splitting the last axis keeps a view.
        let split = t.reshaped(&[3, 2, 2, 2]).unwrap();
        assert_eq!(split.strides(), &[4, 12, 2, 1]);
        // Merging the first two axes would need a copy.
        assert!(t.reshaped(&[6, 4]).is_none());
        assert!(l.reshaped(&[5, 5]).is_none());
    }

    #[test]
    fn broadcast_uses_zero_strides() {
        let l = Layout::contiguous(&[3, 1]);
        let b = l.broadcast_to(&[2, 3, 4]).unwrap();
        assert_eq!(b.strides(), &[0, 1, 0]);
        assert!(l.broadcast_to(&[3, 2]).is_ok());
        assert!(l.broadcast_to(&[2, 4]).is_err());
    }

    #[test]
    fn squeeze_and_unsqueeze_round_trip() {
        let l = Layout::contiguous(&[2, 3]);
        let u = l.unsqueeze(1).unwrap();
        assert_eq!(u.shape(), &[2, 1, 3]);
        assert_eq!(u.squeeze(1).unwrap(), l);
        assert!(l.squeeze(0).is_err());
        assert!(l.unsqueeze(3).is_err());
        assert_eq!(l.unsqueeze(2).unwrap().shape(), &[2, 3, 1]);
    }

    #[test]
    fn out_of_range_index_is_an_error() {
        let l = Layout::contiguous(&[2, 3]);
        assert_eq!(l.position(&[1, 2]).unwrap(), 5);
        assert!(l.position(&[2, 0]).is_err());
        assert!(l.position(&[0]).is_err());
    }
}
