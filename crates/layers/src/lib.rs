//! # strata-layers
//!
//! The modelling layer of Strata, in the manner of Keras's `Sequential` API and PyTorch's
//! `nn` and `optim`: layers ([`layer`]) built into a [`Sequential`] model with a Keras-style
//! summary, initialisers ([`init`]), losses ([`loss`]), metrics ([`metrics`]), optimisers
//! and schedules ([`optim`]), a training loop with progress, callbacks and checkpoints
//! ([`train`]), and save/load in safetensors ([`io`]).
//!
//! ```
//! use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig};
//! use strata_layers::loss::Loss;
//! use strata_layers::optim::{Adam, AdamConfig};
//! use strata_layers::train::{FitConfig, Model, Verbosity};
//! use strata_layers::Targets;
//! use strata_layers::Sequential;
//! use strata_tensor::Tensor;
//!
//! let network = Sequential::<f32>::builder(&[1, 8, 8])
//!     .add(Conv2dConfig::new(4, 3).activation(Activation::Relu))
//!     .add(MaxPool2dConfig::new(2))
//!     .add(FlattenConfig::new())
//!     .add(DenseConfig::new(2))
//!     .build()?;
//! println!("{}", network.summary());
//! let mut model = Model::new(
//!     network,
//!     Loss::SparseCategoricalCrossentropy { from_logits: true },
//!     Adam::new(AdamConfig::default())?,
//! );
//! // Two classes: bright images and dark images.
//! let x = Tensor::<f32>::from_vec((0..8 * 64).map(|i| if i < 4 * 64 { 1.0 } else { 0.0 }).collect(), &[8, 1, 8, 8])?;
//! let y = Targets::Labels(vec![0, 0, 0, 0, 1, 1, 1, 1]);
//! let config = FitConfig { epochs: 30, batch_size: 4, verbosity: Verbosity::Silent, ..FitConfig::default() };
//! let history = model.fit(&x, &y, &config, &mut [])?;
//! assert_eq!(history.last().and_then(|e| e.accuracy), Some(1.0));
//! # Ok::<(), strata_layers::LayersError>(())
//! ```

#![warn(missing_docs)]

mod error;
pub mod init;
pub mod io;
pub mod layer;
pub mod loss;
pub mod metrics;
mod module;
pub mod optim;
mod sequential;
pub mod summary;
mod targets;
pub mod train;

pub use error::{LayersError, Result};
pub use module::{ForwardContext, Module, NamedVar};
pub use sequential::{
    Architecture, ExpectedState, NamedLayerConfig, Sequential, SequentialBuilder,
};
pub use targets::Targets;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
