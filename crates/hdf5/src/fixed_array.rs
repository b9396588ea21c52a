//! Fixed arrays: the chunk index that layout version 4 uses for datasets whose
//! dimensions cannot grow (h5py's default from file format 1.10 on). Only the
//! unpaged form is read; h5py pages only arrays of more than 1024 chunks.

use crate::error::Result;
use crate::source::Source;

/// One chunk's entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) addr: u64,
    pub(crate) size: u64,
    pub(crate) filter_mask: u32,
}

/// The entries, in row-major chunk order, of the fixed array whose header is at
/// `addr`. Unfiltered chunks are `chunk_bytes` long.
pub(crate) fn chunks(
    src: &Source,
    addr: u64,
    filtered: bool,
    chunk_bytes: u64,
) -> Result<Vec<Entry>> {
    let mut c = src.cursor_to_end(addr, "fixed array header")?;
    c.signature(b"FAHD", "fixed array header")?;
    c.version("fixed array header", &[0])?;
    let client = c.u8("fixed array client")?;
    if u8::from(filtered) != client {
        return Err(src.malformed(
            "fixed array client",
            addr,
            u8::from(filtered).to_string(),
            client.to_string(),
        ));
    }
    let elem_size = u64::from(c.u8("fixed array element size")?);
    let page_bits = c.u8("fixed array page bits")?;
    let n = c.length("fixed array element count")?;
    let block = c.offset("fixed array data block address")?;
    let pages = page_bits < 64 && n > (1u64 << page_bits);
    if pages {
        return Err(src.unsupported("paged fixed array chunk index", addr));
    }
    let off = u64::from(src.offset_size);
    let min = if filtered { off + 5 } else { off };
    if elem_size < min {
        return Err(src.malformed(
            "fixed array element size",
            addr,
            format!("at least {min}"),
            elem_size.to_string(),
        ));
    }
    let mut c = src.cursor_to_end(block, "fixed array data block")?;
    c.signature(b"FADB", "fixed array data block")?;
    c.version("fixed array data block", &[0])?;
    c.skip(1 + off, "fixed array data block client and header address")?;
    let count = src.check_count("fixed array elements", n, elem_size, c.remaining() as u64)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let a = c.offset("chunk address")?;
        if filtered {
            let size = c.uint((elem_size - off - 4) as u8, "filtered chunk size")?;
            let filter_mask = c.u32("chunk filter mask")?;
            out.push(Entry {
                addr: a,
                size,
                filter_mask,
            });
        } else {
            out.push(Entry {
                addr: a,
                size: chunk_bytes,
                filter_mask: 0,
            });
        }
    }
    Ok(out)
}
