//! Two-dimensional convolution (cross-correlation, as in deep learning: no kernel flip) on
//! NCHW inputs with OIHW weights, and its backward kernels.
//!
//! * [`conv2d`]: forward pass with stride, explicit padding per side, dilation and groups;
//! * [`conv2d_backward_input`], [`conv2d_backward_weight`], [`conv2d_backward_bias`]: the
//!   gradients the backward pass of `conv2d` needs; [`conv2d_relu_backward_bias`] applies a
//!   fused relu's mask and sums the bias gradient in one pass;
//! * [`Conv2dOptions`], [`Padding2d`], [`PaddingMode`] and [`conv2d_output_size`] describe the
//!   geometry.
//!
//! The kernels use im2col + GEMM over tiles of output rows, so that the column buffer stays
//! bounded (see [`im2col_tile_rows`]); results do not depend on the number of threads.

mod backward;
mod bias;
mod forward;
mod gemm;
mod geometry;
mod im2col;
mod params;
#[cfg(test)]
pub(crate) mod reference;

pub use backward::{conv2d_backward_input, conv2d_backward_weight};
pub use bias::{conv2d_backward_bias, conv2d_relu_backward_bias};
pub use forward::{conv2d, conv2d_relu};
pub use im2col::{im2col_tile_rows, COL_BUFFER_BYTES};
pub(crate) use params::check_positive;
pub use params::{conv2d_output_size, Conv2dOptions, Padding2d, PaddingMode};
