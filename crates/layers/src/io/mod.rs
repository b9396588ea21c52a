//! Files: named tensors in the safetensors format, written atomically with
//! [`strata_tensor::fsio::write_atomic`], and model files
//! ([`Sequential::save`](crate::Sequential::save), [`Sequential::load`](crate::Sequential::load)):
//! a model's architecture, class names and state in one such file.

pub(crate) mod model_file;
mod tensors;

pub use tensors::{load_tensors, save_tensors, NamedTensors};
