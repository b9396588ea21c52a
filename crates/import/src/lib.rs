//! # strata-import
//!
//! Reads pretrained weights into named `f32` tensors, safely, and maps VGG-16's names.
//!
//! - [`read_weights`] detects the format from the file's first bytes ([`WeightFormat`]):
//!   PyTorch `.pth` (the zip format of `torch.save`, and the legacy format before
//!   PyTorch 1.6), safetensors, or Keras HDF5 (the legacy Keras 2 `.h5` and Keras 3's
//!   `.weights.h5`, read in pure Rust by `strata-hdf5`); float32, float16, bfloat16 and
//!   float64 become `f32`.
//! - The `.pth` pickle runs on a restricted unpickler ([`pickle`]) that executes nothing: it
//!   accepts only what `torch.load(weights_only=True)` accepts for a state dict and names the
//!   opcode or global and its offset when it refuses. Declared sizes are checked against the
//!   file's size before anything is allocated.
//! - [`vgg16_to_strata`] renames torchvision's, timm's and Keras's VGG-16 keys to Strata's
//!   (converting Keras's kernel layouts with [`keras`]).
//!
//! ```no_run
//! use std::path::Path;
//! use strata_import::{read_weights, vgg16_to_strata};
//!
//! let tensors = read_weights(Path::new("vgg16-397923af.pth"))?;
//! let tensors = vgg16_to_strata(tensors, "vgg16-397923af.pth")?;
//! assert_eq!(tensors["fc1.weight"].shape(), &[4096, 25088]);
//! # Ok::<(), strata_import::ImportError>(())
//! ```

#![warn(missing_docs)]

mod convert;
mod error;
mod format;
pub mod keras;
mod keras_h5;
pub mod pickle;
mod safetensors;
mod torch;
mod vgg;

use std::collections::BTreeMap;

use strata_tensor::Tensor;

pub use convert::{bf16_to_f32, f16_to_f32};
pub use error::{ImportError, Result};
pub use format::{read_weights, WeightFormat};
pub use keras_h5::read_keras_h5;
pub use safetensors::read_safetensors;
pub use torch::{read_torch_legacy, read_torch_zip};
pub use vgg::{detect_scheme, vgg16_to_strata, NameScheme, VGG16_CONV_LAYERS, VGG16_DENSE_LAYERS};

/// Tensors by name, in name order (the shape of a PyTorch state dict).
pub type NamedTensors = BTreeMap<String, Tensor<f32>>;
