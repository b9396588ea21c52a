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
        Self::starting_at(layout, 0)
    }

    /// Starts at the element with row-major position `start` (yields nothing past the end).
    pub fn starting_at(layout: &'a Layout, start: usize) -> Self {
        let remaining = layout.numel().saturating_sub(start);
        let mut index = vec![0; layout.rank()];
        let mut position = layout.offset();
        let mut rest = start;
        for axis in (0..layout.rank()).rev() {
            let dim = layout.shape()[axis];
            index[axis] = rest % dim.max(1);
            rest /= dim.max(1);
            position += index[axis] * layout.strides()[axis];
        }
        Self {
            shape: layout.shape(),
            strides: layout.strides(),
            index,
            next: (remaining > 0).then_some(position),
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
    fn starting_mid_way_matches_skipping() {
        let layout = Layout::contiguous(&[3, 4, 5]).permute(&[2, 0, 1]).unwrap();
        let all: Vec<usize> = layout.offsets().collect();
        for start in [0, 1, 7, 59, 60] {
            let tail: Vec<usize> = StridedIndex::starting_at(&layout, start).collect();
            assert_eq!(tail, all[start.min(60)..]);
        }
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
