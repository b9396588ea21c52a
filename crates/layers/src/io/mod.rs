//! Files: atomic writes and named tensors in the safetensors format.

mod atomic;
mod tensors;

pub use atomic::write_atomic;
pub use tensors::{load_tensors, save_tensors, NamedTensors};
