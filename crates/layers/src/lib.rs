//! # strata-layers
//!
//! The modelling layer of Strata: initialisers and optimisers today; modules, `Sequential`
//! with a Keras-style summary, losses, the training loop and save/load as the crate grows.
//!
//! ```
//! use strata_layers::optim::{Adam, AdamConfig, Optimizer, ParamGrad};
//! use strata_tensor::Tensor;
//!
//! let mut adam = Adam::new(AdamConfig::torch())?;
//! let w = Tensor::<f32>::from_vec(vec![1.0, -1.0], &[2])?;
//! let g = Tensor::<f32>::from_vec(vec![0.5, -0.5], &[2])?;
//! let next = adam.step(&[ParamGrad { name: "w", value: &w, grad: &g }])?;
//! // Adam's first step moves each weight by the learning rate against its gradient's sign.
//! assert!((next[0].to_vec()[0] - 0.999).abs() < 1e-6);
//! # Ok::<(), strata_layers::LayersError>(())
//! ```

#![warn(missing_docs)]

mod error;
pub mod init;
pub mod io;
pub mod metrics;
pub mod optim;
pub mod summary;

pub use error::{LayersError, Result};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
