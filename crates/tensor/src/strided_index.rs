//! Iteration over the storage positions of a strided layout in logical (row-major) order.

use crate::layout::Layout;

/// An iterator over the storage offsets of a [`Layout`], last axis fastest.
#[derive(Debug, Clone)]
pub struct StridedIndex<'a> {
    shape: &'a [usize],
    strides: &'a [usize],
    index: Vec<usize>,
    next: Option<usize>,
    remaining: usize,
}

impl<'a> StridedIndex<'a> {
    /// Starts at the layout's first element.
    pub fn new(layout: &'a Layout) -> Self {
        let remaining = layout.numel();
        Self {
            shape: layout.shape(),
            strides: layout.strides(),
            index: vec![0; layout.rank()],
            next: (remaining > 0).then_some(layout.offset()),
            remaining,
        }
    }
}

impl Iterator for StridedIndex<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let current = self.next?;
        self.remaining -= 1;
        let mut position = current;
        let mut carried = true;
        for axis in (0..self.shape.len()).rev() {
            self.index[axis] += 1;
            position += self.strides[axis];
            if self.index[axis] < self.shape[axis] {
                carried = false;
                break;
            }
            position -= self.strides[axis] * self.shape[axis];
            self.index[axis] = 0;
        }
        self.next = (!carried).then_some(position);
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for StridedIndex<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_transposed_layout_in_logical_order() {
        let layout = Layout::contiguous(&[2, 3]).transpose(0, 1).unwrap();
        let offsets: Vec<usize> = layout.offsets().collect();
        assert_eq!(offsets, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn scalar_and_empty_layouts() {
        assert_eq!(
            Layout::contiguous(&[]).offsets().collect::<Vec<_>>(),
            vec![0]
        );
        assert_eq!(Layout::contiguous(&[2, 0]).offsets().count(), 0);
    }
}
