//! The values a restricted pickle can build.

/// A storage's element type, from its persistent id (`torch.FloatStorage`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `torch.float32`.
    F32,
    /// `torch.float16`.
    F16,
    /// `torch.bfloat16`.
    BF16,
    /// `torch.float64`.
    F64,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
            Dtype::F64 => 8,
        }
    }

    /// The dtype of a `torch.<name>` storage global, if it is one we read.
    pub(crate) fn from_storage_name(name: &str) -> Option<Self> {
        match name {
            "FloatStorage" => Some(Dtype::F32),
            "HalfStorage" => Some(Dtype::F16),
            "BFloat16Storage" => Some(Dtype::BF16),
            "DoubleStorage" => Some(Dtype::F64),
            _ => None,
        }
    }
}

/// A storage named by a persistent id: `('storage', torch.FloatStorage, key, location,
/// numel)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// Element type.
    pub dtype: Dtype,
    /// The storage's key (`"0"`): its record `data/<key>` in a zip file.
    pub key: String,
    /// Elements in the storage.
    pub numel: usize,
}

/// A tensor view of a storage: `_rebuild_tensor_v2(storage, offset, size, stride, …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage it views.
    pub storage: StorageRef,
    /// Offset of its first element in the storage, in elements.
    pub offset: usize,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its strides, in elements.
    pub stride: Vec<usize>,
}

/// A value built by the restricted unpickler.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A float.
    Float(f64),
    /// A text string.
    Str(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A dict or `OrderedDict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// One of the allowed globals, not yet called.
    Global(Global),
    /// A storage from a persistent id.
    Storage(StorageRef),
    /// A tensor.
    Tensor(TensorRef),
}

/// The globals the unpickler accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// `collections.OrderedDict`.
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2`.
    RebuildTensorV2,
    /// `torch.<Dtype>Storage`.
    Storage(Dtype),
}

impl Value {
    /// How many values this one holds, itself included (bounds the work of copies).
    pub(crate) fn weight(&self) -> usize {
        match self {
            Value::Tuple(items) | Value::List(items) => {
                1 + items.iter().map(Value::weight).sum::<usize>()
            }
            Value::Dict(pairs) => {
                1 + pairs
                    .iter()
                    .map(|(k, v)| k.weight() + v.weight())
                    .sum::<usize>()
            }
            Value::Str(s) => 1 + s.len() / 64,
            Value::Bytes(b) => 1 + b.len() / 64,
            _ => 1,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
        }
    }
}
