//! A restricted unpickler: it reads the pickles that `torch.save` writes for a state dict and
//! executes nothing.
//!
//! It accepts what `torch.load(weights_only=True)` accepts for a state dict and no more:
//! the protocol 2–5 opcodes of plain values and containers, and exactly these globals:
//! `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and the storage types
//! `torch.FloatStorage`, `HalfStorage`, `BFloat16Storage` and `DoubleStorage` (as persistent
//! ids). Any other global, any call (`REDUCE`) of something else and any other opcode is an
//! error that names the opcode or global and its byte offset. Nothing is imported or run:
//! the "calls" build plain [`Value`]s.

mod machine;
mod value;

pub use machine::{unpickle, PickleError};
pub use value::{Dtype, StorageRef, TensorRef, Value};
