//! Attribute messages, compact (in the header) or dense (fractal heap + v2 B-tree).

use crate::datatype::{self, Datatype};
use crate::error::{Error, Result};
use crate::fractal_heap::FractalHeap;
use crate::object_header::{kind, ObjectHeader};
use crate::source::{Cursor, Source, UNDEFINED};

/// An attribute of a group or dataset: its name, type, shape and raw value.
#[derive(Debug, Clone)]
pub struct Attribute<'f> {
    src: &'f Source,
    object: String,
    name: String,
    datatype: Datatype,
    shape: Option<Vec<u64>>,
    raw: &'f [u8],
    addr: u64,
}

impl<'f> Attribute<'f> {
    /// The attribute's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The element type.
    pub fn datatype(&self) -> &Datatype {
        &self.datatype
    }

    /// The shape: `[]` for a scalar, `None` for an empty (null) dataspace.
    pub fn shape(&self) -> Option<&[u64]> {
        self.shape.as_deref()
    }

    fn label(&self) -> String {
        format!("{} attribute {:?}", self.object, self.name)
    }

    fn count(&self) -> u64 {
        self.shape
            .as_deref()
            .and_then(crate::dataspace::count)
            .unwrap_or(0)
    }

    /// The values as strings: fixed-length strings lose their NUL or space padding;
    /// variable-length strings are read from the global heap. Non-UTF-8 bytes are
    /// replaced by U+FFFD.
    pub fn strings(&self) -> Result<Vec<String>> {
        let n = self.count();
        let src = self.src;
        let label = self.label();
        if n == 0 {
            // An empty list (Keras writes a layer without weights as an empty float
            // array) has no strings whatever its type.
            return Ok(Vec::new());
        }
        match self.datatype {
            Datatype::FixedString { size } => {
                if size == 0 {
                    return Ok(vec![String::new(); n.min(self.raw.len() as u64) as usize]);
                }
                Ok(self
                    .raw
                    .chunks_exact(size as usize)
                    .map(|b| {
                        let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
                        String::from_utf8_lossy(&b[..end])
                            .trim_end_matches(' ')
                            .to_string()
                    })
                    .collect())
            }
            Datatype::VarString => {
                let mut c = Cursor::over(src, self.raw, self.addr);
                let mut out = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let len = c.u32("variable-length string length")?;
                    let coll = c.offset("global heap collection address")?;
                    let index = c.u32("global heap object index")?;
                    if len == 0 && (coll == 0 || coll == UNDEFINED) {
                        out.push(String::new());
                        continue;
                    }
                    let data = crate::heap::global_object(src, coll, index)
                        .map_err(|e| e.in_object(&label))?;
                    let data = data.get(..len as usize).unwrap_or(data);
                    let end = data.iter().position(|&x| x == 0).unwrap_or(data.len());
                    out.push(String::from_utf8_lossy(&data[..end]).into_owned());
                }
                Ok(out)
            }
            ref other => Err(wrong(src, label, "strings", other)),
        }
    }

    /// The values as f64 (from any integer or float type).
    pub fn numbers(&self) -> Result<Vec<f64>> {
        datatype::to_f64(&self.datatype, self.raw)
            .ok_or_else(|| wrong(self.src, self.label(), "numbers", &self.datatype))
    }

    /// The values as i64 (from an integer type).
    pub fn integers(&self) -> Result<Vec<i64>> {
        datatype::to_i64(&self.datatype, self.raw)
            .ok_or_else(|| wrong(self.src, self.label(), "integers", &self.datatype))
    }
}

fn wrong(src: &Source, object: String, expected: &str, found: &Datatype) -> Error {
    Error::WrongKind {
        file: src.path.clone(),
        object,
        expected: expected.to_string(),
        found: found.describe(),
    }
}

/// All attributes of the object whose header is `h`.
pub(crate) fn all<'f>(
    src: &'f Source,
    h: &ObjectHeader<'f>,
    object: &str,
) -> Result<Vec<Attribute<'f>>> {
    let mut out = Vec::new();
    for m in h.all(kind::ATTRIBUTE) {
        if m.is_shared() {
            return Err(src.unsupported("shared attribute message", m.addr));
        }
        out.push(parse(src, Cursor::over(src, m.body, m.addr), object)?);
    }
    if let Some(m) = h.first(kind::ATTRIBUTE_INFO) {
        let mut c = m.cursor(src);
        c.version("attribute info", &[0])?;
        let flags = c.u8("attribute info flags")?;
        if flags & 0x01 != 0 {
            c.skip(2, "maximum attribute creation index")?;
        }
        let heap_addr = c.offset("attribute fractal heap address")?;
        let index = c.offset("attribute name index address")?;
        if heap_addr != UNDEFINED && index != UNDEFINED {
            let heap = FractalHeap::read(src, heap_addr)?;
            for rec in crate::btree2::records(src, index, 8)? {
                let id = rec.get(..8).unwrap_or(rec);
                let body = heap.object(src, id)?;
                out.push(parse(src, Cursor::over(src, body, heap_addr), object)?);
            }
        }
    }
    Ok(out)
}

fn parse<'f>(src: &'f Source, mut c: Cursor<'f>, object: &str) -> Result<Attribute<'f>> {
    let at = c.addr();
    let version = c.version("attribute message", &[1, 2, 3])?;
    let flags = c.u8("attribute flags")?;
    if flags & 0x03 != 0 {
        return Err(src.unsupported("attribute with a shared datatype or dataspace", at));
    }
    let name_len = c.u16("attribute name size")?;
    let dt_len = c.u16("attribute datatype size")?;
    let ds_len = c.u16("attribute dataspace size")?;
    if version == 3 {
        c.skip(1, "attribute name encoding")?;
    }
    let pad = |n: u16| {
        if version == 1 {
            u64::from(n).div_ceil(8) * 8
        } else {
            u64::from(n)
        }
    };
    let name_bytes = c.take(pad(name_len), "attribute name")?;
    let name_bytes = &name_bytes[..usize::from(name_len).min(name_bytes.len())];
    let end = name_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name_bytes.len());
    let name = String::from_utf8_lossy(&name_bytes[..end]).into_owned();
    let dt_at = c.addr();
    let dt_bytes = c.take(pad(dt_len), "attribute datatype")?;
    let datatype = datatype::parse(src, &mut Cursor::over(src, dt_bytes, dt_at))?;
    let ds_at = c.addr();
    let ds_bytes = c.take(pad(ds_len), "attribute dataspace")?;
    let shape = crate::dataspace::parse(src, &mut Cursor::over(src, ds_bytes, ds_at))?;
    let n = shape.as_deref().map_or(Some(0), crate::dataspace::count);
    let size = n.and_then(|n| n.checked_mul(datatype.stored_size(src)));
    let Some(size) = size.filter(|&s| s <= c.remaining() as u64) else {
        return Err(src
            .too_large(
                "attribute value",
                size.unwrap_or(u64::MAX),
                c.remaining() as u64,
            )
            .in_object(&format!("{object} attribute {name:?}")));
    };
    let addr = c.addr();
    let raw = c.take(size, "attribute value")?;
    Ok(Attribute {
        src,
        object: object.to_string(),
        name,
        datatype,
        shape,
        raw,
        addr,
    })
}
