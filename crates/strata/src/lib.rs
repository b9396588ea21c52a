//! # strata
//!
//! The Strata stack in one dependency: [`tensor`] (n-d tensors and kernels), [`autograd`]
//! (reverse-mode differentiation), [`layers`] (modules, `Sequential`, losses, optimisers,
//! training), [`data`] (datasets, the loader, augmentation), [`import`] (pretrained
//! weights from PyTorch, safetensors and Keras files) and [`plot`] (training curves, image
//! grids and feature-map pictures as PNG files).
//!
//! Each part keeps its own error type; [`Error`] converts from all of them, so a program's
//! `main` can `?` any Strata call into one [`Result`] while each error keeps its source chain.
//!
//! ```
//! use strata::data::{DataLoader, Shapes};
//! use strata::layers::layer::{Activation, DenseConfig, FlattenConfig, MaxPool2dConfig};
//! use strata::layers::loss::Loss;
//! use strata::layers::optim::{Adam, AdamConfig};
//! use strata::layers::train::{batches_from_fn, FitConfig, Model, Verbosity};
//! use strata::layers::Sequential;
//!
//! fn main() -> strata::Result<()> {
//!     let shapes = Shapes::new(8, 1);                       // a data::DataError if it fails
//!     let loader = DataLoader::new(&shapes, 4)?.shuffle(1);
//!     let network = Sequential::<f32>::builder(&[3, 128, 128])  // a layers::LayersError
//!         .add(MaxPool2dConfig::new(8))
//!         .add(FlattenConfig::new())
//!         .add(DenseConfig::new(3).activation(Activation::Softmax))
//!         .build()?;
//!     let adam = Adam::new(AdamConfig::default())?;
//!     let mut model = Model::new(network, Loss::SparseCategoricalCrossentropy { from_logits: false }, adam);
//!     let batches = batches_from_fn(Some(loader.num_batches()), |epoch, first| {
//!         loader.epoch_from(epoch as u64, first).map(|b| b.map(strata::data::Batch::into_parts))
//!     });
//!     let config = FitConfig { verbosity: Verbosity::Silent, ..FitConfig::default() };
//!     let history = model.fit_batches(&batches, None, &config, &mut [])?;
//!     assert_eq!(history.epochs.len(), 1);
//!     Ok(())
//! }
//! ```

#![warn(missing_docs)]

pub use strata_autograd as autograd;
pub use strata_data as data;
pub use strata_import as import;
pub use strata_layers as layers;
pub use strata_plot as plot;
pub use strata_tensor as tensor;

/// Any error of the Strata crates, each kept whole (its message and source chain).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] strata_tensor::TensorError),
    /// A differentiable operation failed.
    #[error(transparent)]
    Autograd(#[from] strata_autograd::AutogradError),
    /// Building, training, saving or loading a model failed.
    #[error(transparent)]
    Layers(#[from] strata_layers::LayersError),
    /// Reading, loading or downloading data failed.
    #[error(transparent)]
    Data(#[from] strata_data::DataError),
    /// Reading a weight file failed.
    #[error(transparent)]
    Import(#[from] strata_import::ImportError),
    /// Drawing or writing a picture failed.
    #[error(transparent)]
    Plot(#[from] strata_plot::PlotError),
}

/// The result type of programs built on Strata.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use std::path::Path;

    #[test]
    fn every_crate_error_converts_and_keeps_its_chain() {
        fn load() -> Result<()> {
            strata_data::IdxDataset::Mnist
                .load(Path::new("/no/such/folder"), strata_data::Split::Test)?;
            Ok(())
        }
        let err = load().unwrap_err();
        assert!(matches!(err, Error::Data(_)));
        assert!(err.to_string().contains("/no/such/folder"), "{err}");

        fn fit() -> Result<()> {
            let layers_error = strata_layers::LayersError::config("fit", "bad").in_layer("dense");
            Err(layers_error)?
        }
        let err = fit().unwrap_err();
        assert_eq!(err.to_string(), "layer dense: fit: bad");
        // `transparent` forwards the source: the chain goes on to the layer's cause.
        assert_eq!(
            err.source().map(|s| s.to_string()).as_deref(),
            Some("fit: bad")
        );
    }
}

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
