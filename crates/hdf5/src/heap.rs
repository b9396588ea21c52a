//! Local heaps (names of symbol-table groups) and global heaps (variable-length data).

use crate::error::Result;
use crate::source::Source;

/// A local heap's data segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalHeap<'a> {
    data: &'a [u8],
    addr: u64,
}

impl<'a> LocalHeap<'a> {
    /// Reads the local heap header at `addr`.
    pub(crate) fn read(src: &'a Source, addr: u64) -> Result<Self> {
        let mut c = src.cursor_to_end(addr, "local heap")?;
        c.signature(b"HEAP", "local heap")?;
        c.version("local heap", &[0])?;
        c.skip(3, "local heap reserved")?;
        let size = c.length("local heap data size")?;
        c.length("local heap free list offset")?;
        let data_addr = c.offset("local heap data address")?;
        let data = src.bytes(data_addr, size, "local heap data segment")?;
        Ok(LocalHeap {
            data,
            addr: data_addr,
        })
    }

    /// The NUL-terminated string at `offset` in the data segment.
    pub(crate) fn string(&self, src: &Source, offset: u64) -> Result<String> {
        let start = usize::try_from(offset)
            .ok()
            .filter(|&s| s < self.data.len())
            .ok_or_else(|| {
                src.out_of_bounds("local heap name", self.addr.saturating_add(offset), 1)
            })?;
        let rest = &self.data[start..];
        let end = rest.iter().position(|&b| b == 0).ok_or_else(|| {
            src.malformed(
                "local heap name",
                self.addr + offset,
                "a NUL-terminated string",
                "no NUL before the heap's end",
            )
        })?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}

/// The object `index` of the global heap collection at `collection`.
pub(crate) fn global_object(src: &Source, collection: u64, index: u32) -> Result<&[u8]> {
    let mut c = src.cursor_to_end(collection, "global heap collection")?;
    c.signature(b"GCOL", "global heap collection")?;
    c.version("global heap", &[1])?;
    c.skip(3, "global heap reserved")?;
    let size = c.length("global heap collection size")?;
    let mut c = src.cursor(collection, size, "global heap collection")?;
    c.skip(8 + u64::from(src.length_size), "global heap header")?;
    let obj_head = 8 + u64::from(src.length_size);
    while c.remaining() as u64 >= obj_head {
        let i = c.u16("global heap object index")?;
        c.skip(6, "global heap object reference count")?;
        let len = c.length("global heap object size")?;
        if i == 0 {
            break;
        }
        let at = c.addr();
        let data = c.take(len, "global heap object")?;
        if u32::from(i) == index {
            return Ok(data);
        }
        let pad = (8 - len % 8) % 8;
        if c.remaining() as u64 <= pad {
            break;
        }
        c.skip(pad, "global heap object padding")
            .map_err(|_| src.out_of_bounds("global heap object", at, len))?;
    }
    Err(src.malformed(
        "global heap object",
        collection,
        format!("object {index} in the collection"),
        "no such object",
    ))
}
