//! The pickle virtual machine, restricted to the opcodes and globals of a state dict.

use std::collections::HashMap;

use super::value::{Dtype, Global, StorageRef, TensorRef, Value};

/// A pickle the reader refuses or cannot parse: the opcode's byte offset and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickleError {
    /// Byte offset of the opcode in the pickle.
    pub offset: usize,
    /// What was wrong, naming the opcode or global.
    pub message: String,
}

type Step<T> = std::result::Result<T, PickleError>;

/// Copies (memo gets, `DUP`) may create at most this many values per input byte, so that a
/// small pickle cannot expand into a huge tree.
const COPY_BUDGET_PER_BYTE: usize = 8;

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run.
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    copy_budget: usize,
}

/// Runs the pickle at the start of `data`; returns the value and the bytes consumed (up to and
/// including `STOP`).
pub fn unpickle(data: &[u8]) -> Step<(Value, usize)> {
    let mut m = Machine {
        data,
        pos: 0,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        copy_budget: data.len().saturating_mul(COPY_BUDGET_PER_BYTE).max(1024),
    };
    loop {
        m.at = m.pos;
        let op = m.take(1)?[0];
        if op == b'.' {
            let value = m.pop()?;
            return Ok((value, m.pos));
        }
        m.step(op)?;
    }
}

impl<'a> Machine<'a> {
    fn fail<T>(&self, message: impl Into<String>) -> Step<T> {
        Err(PickleError {
            offset: self.at,
            message: message.into(),
        })
    }

    fn take(&mut self, n: usize) -> Step<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return self.fail(format!(
                "truncated: needs {n} more bytes, {} left",
                self.data.len() - self.pos
            ));
        };
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Step<usize> {
        Ok(usize::from(self.take(1)?[0]))
    }

    fn u16(&mut self) -> Step<usize> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
    }

    fn u32(&mut self) -> Step<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Step<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length read from the file, checked against the bytes that are left.
    fn len(&mut self, n: u64) -> Step<usize> {
        match usize::try_from(n) {
            Ok(n) if n <= self.data.len() - self.pos => Ok(n),
            _ => self.fail(format!(
                "declared length {n} exceeds the {} bytes left",
                self.data.len() - self.pos
            )),
        }
    }

    fn text(&mut self, n: usize) -> Step<String> {
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => self.fail(format!("string is not UTF-8: {e}")),
        }
    }

    fn line(&mut self) -> Step<String> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return self.fail("truncated: GLOBAL name without a newline");
        };
        let s = self.text(n)?;
        self.pos += 1;
        Ok(s)
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Step<Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.fail("stack underflow");
        }
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => self.fail("stack underflow"),
        }
    }

    fn top(&mut self) -> Step<&mut Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.fail("stack underflow");
        }
        let at = self.at;
        self.stack.last_mut().ok_or(PickleError {
            offset: at,
            message: "stack underflow".into(),
        })
    }

    /// The values pushed since the last `MARK`, which is removed.
    fn pop_mark(&mut self) -> Step<Vec<Value>> {
        let Some(mark) = self.marks.pop() else {
            return self.fail("no MARK on the stack");
        };
        Ok(self.stack.split_off(mark))
    }

    fn copy(&mut self, v: &Value) -> Step<Value> {
        let w = v.weight();
        if w > self.copy_budget {
            return self.fail("copies of memoised values exceed the pickle's size budget");
        }
        self.copy_budget -= w;
        Ok(v.clone())
    }

    fn memo_put(&mut self, key: u32) -> Step<()> {
        let floor = self.marks.last().copied().unwrap_or(0);
        let Some(v) = self.stack.last().filter(|_| self.stack.len() > floor) else {
            return self.fail("memo put on an empty stack");
        };
        let v = v.clone();
        let v = self.copy(&v)?;
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Step<()> {
        let Some(v) = self.memo.get(&key).cloned() else {
            return self.fail(format!("memo key {key} was never stored"));
        };
        let v = self.copy(&v)?;
        self.push(v);
        Ok(())
    }

    fn global(&self, module: &str, name: &str) -> Step<Value> {
        let g = match (module, name) {
            ("collections", "OrderedDict") => Global::OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
            ("torch", storage) => match Dtype::from_storage_name(storage) {
                Some(d) => Global::Storage(d),
                None => return self.refuse(module, name),
            },
            _ => return self.refuse(module, name),
        };
        Ok(Value::Global(g))
    }

    fn refuse<T>(&self, module: &str, name: &str) -> Step<T> {
        self.fail(format!(
            "global {module}.{name} is not allowed (a weights-only reader accepts only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.{{Float,Half,BFloat16,Double}}Storage)"
        ))
    }

    fn int(&self, v: &Value, what: &str) -> Step<usize> {
        match v {
            Value::Int(i) => match usize::try_from(*i) {
                Ok(u) => Ok(u),
                Err(_) => self.fail(format!("{what} is negative ({i})")),
            },
            other => self.fail(format!("{what} must be an int, found {}", other.kind())),
        }
    }

    fn ints(&self, v: &Value, what: &str) -> Step<Vec<usize>> {
        match v {
            Value::Tuple(items) | Value::List(items) => {
                items.iter().map(|i| self.int(i, what)).collect()
            }
            other => self.fail(format!("{what} must be a tuple, found {}", other.kind())),
        }
    }

    fn reduce(&mut self, callable: Value, args: Value) -> Step<Value> {
        let Value::Tuple(args) = args else {
            return self.fail(format!(
                "REDUCE arguments must be a tuple, found {}",
                args.kind()
            ));
        };
        match callable {
            Value::Global(Global::OrderedDict) => match args.as_slice() {
                [] => Ok(Value::Dict(Vec::new())),
                [Value::List(pairs)] => {
                    let mut out = Vec::with_capacity(pairs.len());
                    for p in pairs {
                        match p {
                            Value::Tuple(kv) if kv.len() == 2 => {
                                out.push((kv[0].clone(), kv[1].clone()))
                            }
                            _ => return self.fail("OrderedDict items must be pairs"),
                        }
                    }
                    Ok(Value::Dict(out))
                }
                _ => self.fail("REDUCE of collections.OrderedDict with unexpected arguments"),
            },
            Value::Global(Global::RebuildTensorV2) => {
                if !(6..=7).contains(&args.len()) {
                    return self.fail(format!(
                        "torch._utils._rebuild_tensor_v2 takes 6 or 7 arguments, found {}",
                        args.len()
                    ));
                }
                let Value::Storage(storage) = &args[0] else {
                    return self.fail(format!(
                        "_rebuild_tensor_v2's first argument must be a storage, found {}",
                        args[0].kind()
                    ));
                };
                let offset = self.int(&args[1], "storage offset")?;
                let shape = self.ints(&args[2], "size")?;
                let stride = self.ints(&args[3], "stride")?;
                if shape.len() != stride.len() {
                    return self.fail(format!(
                        "size {shape:?} and stride {stride:?} have different lengths"
                    ));
                }
                Ok(Value::Tensor(TensorRef {
                    storage: storage.clone(),
                    offset,
                    shape,
                    stride,
                }))
            }
            other => self.fail(format!(
                "REDUCE may call only collections.OrderedDict or torch._utils._rebuild_tensor_v2, found a {}",
                other.kind()
            )),
        }
    }

    fn persistent(&self, pid: Value) -> Step<Value> {
        let Value::Tuple(items) = pid else {
            return self.fail(format!(
                "persistent id must be a tuple, found {}",
                pid.kind()
            ));
        };
        match items.as_slice() {
            [Value::Str(tag), Value::Global(Global::Storage(dtype)), Value::Str(key), Value::Str(_location), numel, rest @ ..]
                if tag == "storage" && rest.len() <= 1 =>
            {
                if let Some(meta) = rest.first() {
                    if *meta != Value::None {
                        return self.fail("storage views (legacy view metadata) are not supported");
                    }
                }
                Ok(Value::Storage(StorageRef {
                    dtype: *dtype,
                    key: key.clone(),
                    numel: self.int(numel, "storage size")?,
                }))
            }
            _ => self.fail(
                "persistent id is not ('storage', torch.<Float|Half|BFloat16|Double>Storage, key, location, numel)",
            ),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> Step<()> {
        if !items.len().is_multiple_of(2) {
            return self.fail("SETITEMS with an odd number of values");
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((k, v));
        }
        match self.top()? {
            Value::Dict(d) => {
                d.extend(pairs);
                Ok(())
            }
            other => {
                let kind = other.kind();
                self.fail(format!("SETITEM(S) on a {kind}, not a dict"))
            }
        }
    }

    fn append(&mut self, items: Vec<Value>) -> Step<()> {
        match self.top()? {
            Value::List(l) => {
                l.extend(items);
                Ok(())
            }
            other => {
                let kind = other.kind();
                self.fail(format!("APPEND(S) on a {kind}, not a list"))
            }
        }
    }

    fn step(&mut self, op: u8) -> Step<()> {
        match op {
            0x80 => {
                let proto = self.u8()?;
                if !(2..=5).contains(&proto) {
                    return self.fail(format!("pickle protocol {proto} (only 2 to 5 are read)"));
                }
            }
            0x95 => {
                self.u64()?; // FRAME: a size hint only
            }
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                self.pop()?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let v = self.top()?.clone();
                let v = self.copy(&v)?;
                self.push(v);
            }
            b'N' => self.push(Value::None),
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'J' => {
                let v = self.u32()? as i32;
                self.push(Value::Int(i64::from(v)));
            }
            b'K' => {
                let v = self.u8()?;
                self.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = self.u16()?;
                self.push(Value::Int(v as i64));
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.u8()? as u64
                } else {
                    u64::from(self.u32()?)
                };
                let n = self.len(n)?;
                if n > 8 {
                    return self.fail(format!("LONG of {n} bytes does not fit in 64 bits"));
                }
                let bytes = self.take(n)?;
                let mut a = if bytes.last().is_some_and(|&b| b & 0x80 != 0) {
                    [0xffu8; 8]
                } else {
                    [0u8; 8]
                };
                a[..n].copy_from_slice(bytes);
                self.push(Value::Int(i64::from_le_bytes(a)));
            }
            b'G' => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                self.push(Value::Float(f64::from_be_bytes(a)));
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => u64::from(self.u32()?),
                    0x8c => self.u8()? as u64,
                    _ => self.u64()?,
                };
                let n = self.len(n)?;
                let s = self.text(n)?;
                self.push(Value::Str(s));
            }
            b'C' | b'B' | 0x8e => {
                let n = match op {
                    b'C' => self.u8()? as u64,
                    b'B' => u64::from(self.u32()?),
                    _ => self.u64()?,
                };
                let n = self.len(n)?;
                let b = self.take(n)?.to_vec();
                self.push(Value::Bytes(b));
            }
            b')' => self.push(Value::Tuple(Vec::new())),
            b't' => {
                let items = self.pop_mark()?;
                self.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                items.reverse();
                self.push(Value::Tuple(items));
            }
            b']' => self.push(Value::List(Vec::new())),
            b'l' => {
                let items = self.pop_mark()?;
                self.push(Value::List(items));
            }
            b'a' => {
                let v = self.pop()?;
                self.append(vec![v])?;
            }
            b'e' => {
                let items = self.pop_mark()?;
                self.append(items)?;
            }
            b'}' => self.push(Value::Dict(Vec::new())),
            b'd' => {
                let items = self.pop_mark()?;
                self.push(Value::Dict(Vec::new()));
                self.set_items(items)?;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![k, v])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                self.set_items(items)?;
            }
            b'q' => {
                let k = self.u8()? as u32;
                self.memo_put(k)?;
            }
            b'r' => {
                let k = self.u32()?;
                self.memo_put(k)?;
            }
            0x94 => {
                let k = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                self.memo_put(k)?;
            }
            b'h' => {
                let k = self.u8()? as u32;
                self.memo_get(k)?;
            }
            b'j' => {
                let k = self.u32()?;
                self.memo_get(k)?;
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                let g = self.global(&module, &name)?;
                self.push(g);
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Value::Str(module), Value::Str(name)) = (module, name) else {
                    return self.fail("STACK_GLOBAL needs two strings");
                };
                let g = self.global(&module, &name)?;
                self.push(g);
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let v = self.reduce(callable, args)?;
                self.push(v);
            }
            b'Q' => {
                let pid = self.pop()?;
                let v = self.persistent(pid)?;
                self.push(v);
            }
            b'b' => {
                // BUILD: only the `_metadata` state an OrderedDict state dict carries; it is
                // dropped.
                let _state = self.pop()?;
                if !matches!(self.top()?, Value::Dict(_)) {
                    return self
                        .fail("BUILD is accepted only on a dict (a state dict's _metadata)");
                }
            }
            other => {
                return self.fail(format!(
                    "opcode 0x{other:02x} ({:?}) is not allowed in a weights-only pickle",
                    char::from(other)
                ))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A state dict with one tensor, as `torch.save` (protocol 2) writes it.
    pub(crate) fn state_dict_pickle() -> Vec<u8> {
        let mut p = vec![0x80, 2];
        p.extend(b"ccollections\nOrderedDict\nq\x00)Rq\x01(");
        p.extend(b"X\x01\x00\x00\x00w");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\nq\x02((");
        p.extend(b"X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ");
        p.extend(b"K\x00K\x02K\x03\x86K\x03K\x01\x86\x89h\x00)Rtq\x03Ru.");
        p
    }

    #[test]
    fn reads_a_state_dict() {
        let (v, n) = unpickle(&state_dict_pickle()).unwrap();
        assert_eq!(n, state_dict_pickle().len());
        let Value::Dict(items) = v else {
            panic!("{v:?}")
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].0, Value::Str("w".into()));
        let Value::Tensor(t) = &items[0].1 else {
            panic!()
        };
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.stride, vec![3, 1]);
        assert_eq!(t.storage.numel, 6);
        assert_eq!(t.storage.dtype, Dtype::F32);
    }

    #[test]
    fn refuses_os_system() {
        let p = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R.";
        let e = unpickle(p).unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("os.system"), "{}", e.message);
        // STACK_GLOBAL names it too.
        let p = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02ls\x85R.";
        let e = unpickle(p).unwrap_err();
        assert!(e.message.contains("os.system"), "{}", e.message);
    }

    #[test]
    fn refuses_calls_and_opcodes_outside_the_set() {
        // REDUCE of a plain value.
        let e = unpickle(b"\x80\x02K\x01)R.").unwrap_err();
        assert!(e.message.contains("REDUCE"), "{}", e.message);
        // INST, OBJ, NEWOBJ, EXT1.
        for op in [b'i', b'o', 0x81, 0x82] {
            let e = unpickle(&[0x80, 2, op, b'.']).unwrap_err();
            assert!(e.message.contains(&format!("0x{op:02x}")), "{}", e.message);
            assert_eq!(e.offset, 2);
        }
        // A storage type that is not a float.
        let e = unpickle(b"\x80\x02ctorch\nLongStorage\n.").unwrap_err();
        assert!(e.message.contains("torch.LongStorage"));
    }

    #[test]
    fn bounds_copies_and_lengths() {
        // A list doubled through the memo again and again.
        let mut p = b"\x80\x02]q\x00".to_vec();
        for _ in 0..64 {
            p.extend(b"h\x00h\x00\x86q\x00");
        }
        p.push(b'.');
        let e = unpickle(&p).unwrap_err();
        assert!(e.message.contains("budget"), "{}", e.message);
        let e = unpickle(b"\x80\x02X\xff\xff\xff\xffab.").unwrap_err();
        assert!(e.message.contains("exceeds"), "{}", e.message);
    }

    #[test]
    fn reads_protocol_4_frames_and_memoize() {
        let p = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94K\x07\x8c\x01b\x94G?\xf0\x00\x00\x00\x00\x00\x00u.";
        let (v, _) = unpickle(p).unwrap();
        assert_eq!(
            v,
            Value::Dict(vec![
                (Value::Str("a".into()), Value::Int(7)),
                (Value::Str("b".into()), Value::Float(1.0)),
            ])
        );
        let (v, _) = unpickle(b"\x80\x02\x8a\x02\xff\x7f.").unwrap();
        assert_eq!(v, Value::Int(0x7fff));
        let (v, _) = unpickle(b"\x80\x02\x8a\x01\xff.").unwrap();
        assert_eq!(v, Value::Int(-1));
    }

    proptest! {
        #[test]
        fn corrupted_pickles_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
        ) {
            let mut p = state_dict_pickle();
            for (i, b) in flips {
                let n = p.len();
                p[i % n] = b;
            }
            p.truncate(cut % (p.len() + 1));
            let _ = unpickle(&p);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = unpickle(&bytes);
        }
    }
}
