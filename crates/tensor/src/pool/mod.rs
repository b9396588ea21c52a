//! Pooling on NCHW batches: max pooling (with the positions of the maxima its backward pass needs),
//! average pooling and global average pooling, each with its backward kernel.
//!
//! Windows are placed as in PyTorch: `OH = (H + top + bottom − (dh·(kh − 1) + 1)) / sh + 1`,
//! rounded up with `ceil_mode` (and then one fewer if the last window would start past the
//! input and its top padding). Padding is at most `kernel − 1` per side, so every window
//! holds at least one input element. Dilated or `ceil_mode` windows go through the plain
//! loops of `general.rs`; the others through the tuned kernels. Planes are processed in
//! parallel; results do not depend on the number of threads.

mod avg;
mod general;
mod global;
mod max;
#[cfg(test)]
mod reference;

pub use avg::{avg_pool2d, avg_pool2d_backward};
pub use global::{global_avg_pool2d, global_avg_pool2d_backward};
pub use max::{max_pool2d, max_pool2d_backward, max_pool2d_with_indices, PoolIndices};

use crate::conv::Padding2d;
use crate::error::{Result, TensorError};

/// The window geometry of a 2-D pooling: kernel, stride and padding.
///
/// ```
/// use strata_tensor::{conv::Padding2d, pool::Pool2dOptions};
/// let p = Pool2dOptions::new([2, 2]); // stride defaults to the kernel size
/// assert_eq!(p.stride, [2, 2]);
/// let p = Pool2dOptions::new([3, 3]).with_stride([1, 1]).with_padding(Padding2d::uniform(1));
/// assert_eq!(p.output_size([5, 5])?, [5, 5]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2dOptions {
    /// Window size `[rows, cols]`; must be positive.
    pub kernel: [usize; 2],
    /// Step between windows `[rows, cols]`; must be positive.
    pub stride: [usize; 2],
    /// Padding per side, each side smaller than the kernel along its axis. Max pooling treats
    /// padding as `-∞`; average pooling as zeros (counted in the divisor or not).
    pub padding: Padding2d,
    /// Spacing between window taps `[rows, cols]` (PyTorch's `dilation`; 1 = dense);
    /// must be positive. Max pooling only, as in PyTorch. Default `[1, 1]`.
    pub dilation: [usize; 2],
    /// Round the output size up (PyTorch's `ceil_mode=True`): a last, partial window
    /// covers what is left of the input when the stride does not divide it. Such a window
    /// is averaged over its elements inside the (padded) input only. Default false.
    pub ceil_mode: bool,
}

impl Pool2dOptions {
    /// A `kernel`-sized window with stride equal to the kernel and no padding.
    pub fn new(kernel: [usize; 2]) -> Self {
        Self {
            kernel,
            stride: kernel,
            padding: Padding2d::default(),
            dilation: [1, 1],
            ceil_mode: false,
        }
    }

    /// The same parameters with another dilation.
    pub fn with_dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }

    /// The same parameters with `ceil_mode` set or not.
    pub fn with_ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// Whether the windows need the general loops (dilated or `ceil_mode`).
    pub(crate) fn is_general(&self) -> bool {
        self.dilation != [1, 1] || self.ceil_mode
    }

    /// The same parameters with another stride.
    pub fn with_stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }

    /// The same parameters with another padding.
    pub fn with_padding(mut self, padding: Padding2d) -> Self {
        self.padding = padding;
        self
    }

    /// The output size `[OH, OW]` for an `[H, W]` input.
    ///
    /// # Errors
    /// A zero kernel size or stride, padding not smaller than the kernel, or a kernel larger
    /// than the padded input.
    pub fn output_size(&self, input: [usize; 2]) -> Result<[usize; 2]> {
        self.output_size_for("pool2d", input)
    }

    fn output_size_for(&self, op: &'static str, input: [usize; 2]) -> Result<[usize; 2]> {
        crate::conv::check_positive(op, "kernel size", self.kernel)?;
        crate::conv::check_positive(op, "stride", self.stride)?;
        crate::conv::check_positive(op, "dilation", self.dilation)?;
        let p = self.padding;
        if p.top.max(p.bottom) >= self.kernel[0] || p.left.max(p.right) >= self.kernel[1] {
            return Err(TensorError::invalid(
                op,
                format!(
                    "padding {p:?} must be smaller than the kernel {:?} on every side",
                    self.kernel
                ),
            ));
        }
        let padded = [
            input[0]
                .checked_add(p.top)
                .and_then(|v| v.checked_add(p.bottom)),
            input[1]
                .checked_add(p.left)
                .and_then(|v| v.checked_add(p.right)),
        ];
        let [Some(padded_h), Some(padded_w)] = padded else {
            return Err(TensorError::invalid(
                op,
                format!("sizes overflow: input {input:?}, padding {p:?}"),
            ));
        };
        let padded = [padded_h, padded_w];
        // The span of a window: (k − 1)·d + 1.
        let span = |axis: usize| {
            (self.kernel[axis] - 1)
                .checked_mul(self.dilation[axis])
                .and_then(|v| v.checked_add(1))
        };
        let (Some(span_h), Some(span_w)) = (span(0), span(1)) else {
            return Err(TensorError::invalid(
                op,
                format!(
                    "sizes overflow: kernel {:?}, dilation {:?}",
                    self.kernel, self.dilation
                ),
            ));
        };
        let span = [span_h, span_w];
        if span[0] > padded[0] || span[1] > padded[1] {
            return Err(TensorError::shape(
                op,
                format!(
                    "kernel {:?} (dilation {:?}) is larger than the padded input {padded:?} \
                     (input {input:?})",
                    self.kernel, self.dilation
                ),
            ));
        }
        let size = |axis: usize, before: usize| {
            let room = padded[axis] - span[axis];
            let s = self.stride[axis];
            let mut out = if self.ceil_mode {
                room.div_ceil(s) + 1
            } else {
                room / s + 1
            };
            // PyTorch: the last window must start inside the input or its leading padding.
            if self.ceil_mode && (out - 1) * s >= input[axis] + before {
                out -= 1;
            }
            out
        };
        let out = [size(0, p.top), size(1, p.left)];
        // Undilated, padding < kernel leaves an input element in every window; dilated taps
        // can straddle the input and land on padding only, which no framework defines.
        for (axis, before, len) in [(0, p.top, input[0]), (1, p.left, input[1])] {
            if self.dilation[axis] == 1 {
                continue;
            }
            let (s, k, d) = (self.stride[axis], self.kernel[axis], self.dilation[axis]);
            let empty = (0..out[axis]).find(|&o| {
                !(0..k).any(|j| {
                    let at = o * s + j * d; // in padded coordinates
                    at >= before && at < before + len
                })
            });
            if let Some(o) = empty {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "window {o} along axis {axis} covers only padding (kernel {:?}, \
                         dilation {:?}, padding {p:?}, input {input:?})",
                        self.kernel, self.dilation
                    ),
                ));
            }
        }
        Ok(out)
    }
}

/// Validated sizes of one pooling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolGeometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub params: Pool2dOptions,
}

impl PoolGeometry {
    pub fn new(op: &'static str, input: &[usize], params: &Pool2dOptions) -> Result<Self> {
        if input.len() != 4 {
            return Err(TensorError::shape(
                op,
                format!("input must be NCHW (rank 4), got shape {input:?}"),
            ));
        }
        let [oh, ow] = params.output_size_for(op, [input[2], input[3]])?;
        Ok(Self {
            n: input[0],
            c: input[1],
            h: input[2],
            w: input[3],
            oh,
            ow,
            params: *params,
        })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.oh, self.ow]
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }

    /// The input rows `lo..hi` and columns of the window of output `(y, x)`, clipped to the
    /// input.
    #[inline]
    pub fn window(&self, y: usize, x: usize) -> ([usize; 2], [usize; 2]) {
        let p = &self.params;
        let clip = |o: usize, s: usize, pad: usize, k: usize, len: usize| {
            let start = o * s;
            let lo = start.saturating_sub(pad);
            let hi = (start + k).saturating_sub(pad).min(len);
            [lo, hi]
        };
        (
            clip(y, p.stride[0], p.padding.top, p.kernel[0], self.h),
            clip(x, p.stride[1], p.padding.left, p.kernel[1], self.w),
        )
    }

    pub fn check_grad_output(&self, op: &'static str, grad: &[usize]) -> Result<()> {
        if grad != self.output_shape() {
            return Err(TensorError::shape(
                op,
                format!(
                    "grad_output {grad:?} does not match the pooling's output shape {:?} for \
                     input {:?}",
                    self.output_shape(),
                    self.input_shape()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_errors() {
        let p = Pool2dOptions::new([2, 0]);
        assert!(p.output_size([4, 4]).is_err());
        let p = Pool2dOptions::new([2, 2]).with_stride([0, 1]);
        assert!(p.output_size([4, 4]).is_err());
        let p = Pool2dOptions::new([2, 2]).with_padding(Padding2d::uniform(2));
        let err = p.output_size([4, 4]).unwrap_err();
        assert!(err.to_string().contains("smaller than the kernel"), "{err}");
        let err = Pool2dOptions::new([3, 3]).output_size([2, 5]).unwrap_err();
        assert!(
            err.to_string().contains("larger than the padded input"),
            "{err}"
        );
        assert!(PoolGeometry::new("p", &[1, 2, 3], &Pool2dOptions::new([1, 1])).is_err());
    }
}
