//! # strata-tensor
//!
//! N-dimensional tensors for deep learning on the CPU, generic over `f32` and `f64`:
//! strided views without copies, NumPy broadcasting, reductions, a cache-blocked parallel
//! matrix multiply, and the convolution and pooling kernels of a CNN (NCHW layout).
//!
//! ```
//! use strata_tensor::Tensor;
//! let a = Tensor::<f32>::from_vec(vec![1., 2., 3., 4.], &[2, 2])?;
//! let b = Tensor::<f32>::from_vec(vec![10., 20.], &[2])?;
//! let c = a.add(&b)?; // broadcasts b over the rows
//! assert_eq!(c.to_vec(), vec![11., 22., 13., 24.]);
//! # Ok::<(), strata_tensor::TensorError>(())
//! ```
//!
//! Every operation whose validity depends on shapes returns a [`Result`] whose error names
//! the operation and the shapes involved. Results do not depend on the number of threads.

#![warn(missing_docs)]

mod buffer;
pub mod conv;
mod element;
mod elementwise;
mod error;
pub mod fsio;
mod gemm;
mod index;
pub mod layout;
mod matmul;
mod pad;
pub mod pool;
mod random;
mod reduce;
mod scratch;
pub mod seed;
pub mod shape;
mod shared_mut;
pub mod split;
pub mod strided_index;
mod tensor;
#[cfg(test)]
mod testing;
mod view;

pub use buffer::{buffer_cache_limit, set_buffer_cache_limit, BUFFER_CACHE_DEFAULT_BYTES};
pub use element::Element;
pub use error::{Result, TensorError};
pub use layout::Layout;
pub use tensor::Tensor;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
