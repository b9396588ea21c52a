//! Files: named tensors in the safetensors format, written atomically with
//! [`strata_tensor::fsio::write_atomic`].

mod tensors;

pub use tensors::{load_tensors, save_tensors, NamedTensors};
