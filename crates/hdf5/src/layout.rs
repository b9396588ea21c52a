//! Data layout, filter pipeline and fill value messages: how a dataset's bytes
//! are stored.

use crate::error::Result;
use crate::object_header::{kind, ObjectHeader};
use crate::source::{Cursor, Source};

/// Where a dataset's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum Layout<'a> {
    /// In the object header.
    Compact(&'a [u8]),
    /// One run of `size` bytes at `addr` (undefined address: never written).
    Contiguous { addr: u64, size: u64 },
    /// Chunks of `dims` elements indexed by a v1 B-tree at `index`.
    ChunkedBtree { index: u64, dims: Vec<u64> },
    /// A single chunk (layout version 4) at `addr`, `size` bytes as stored.
    SingleChunk {
        addr: u64,
        size: u64,
        filter_mask: u32,
        dims: Vec<u64>,
    },
    /// Unfiltered chunks stored one after another in row-major chunk order.
    Implicit { addr: u64, dims: Vec<u64> },
    /// Chunks indexed by a fixed array (layout version 4) whose header is at `index`.
    FixedArray { index: u64, dims: Vec<u64> },
}

/// One filter of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) id: u16,
    pub(crate) params: Vec<u32>,
}

/// Filter identifiers HDF5 reserves.
pub(crate) const DEFLATE: u16 = 1;
pub(crate) const SHUFFLE: u16 = 2;
pub(crate) const FLETCHER32: u16 = 3;

pub(crate) fn layout<'a>(src: &'a Source, h: &ObjectHeader<'a>) -> Result<Layout<'a>> {
    let m = h
        .first(kind::LAYOUT)
        .ok_or_else(|| src.malformed("dataset", h.addr, "a data layout message", "none"))?;
    let mut c = m.cursor(src);
    let at = c.addr();
    let version = c.u8("layout version")?;
    if !(3..=4).contains(&version) {
        return Err(src.unsupported(format!("data layout message version {version}"), at));
    }
    let class = c.u8("layout class")?;
    match class {
        0 => {
            let size = c.u16("compact data size")?;
            Ok(Layout::Compact(c.take(u64::from(size), "compact data")?))
        }
        1 => {
            let addr = c.offset("contiguous data address")?;
            let size = c.length("contiguous data size")?;
            Ok(Layout::Contiguous { addr, size })
        }
        2 if version == 3 => {
            let rank = c.u8("chunk dimensionality")?;
            let index = c.offset("chunk B-tree address")?;
            let mut dims = Vec::with_capacity(usize::from(rank));
            for _ in 0..rank {
                dims.push(u64::from(c.u32("chunk dimension")?));
            }
            Ok(Layout::ChunkedBtree { index, dims })
        }
        2 => {
            let flags = c.u8("chunk layout flags")?;
            let rank = c.u8("chunk dimensionality")?;
            let enc = c.u8("chunk dimension size bytes")?;
            if !(1..=8).contains(&enc) {
                return Err(src.malformed(
                    "chunk dimension size bytes",
                    at,
                    "1 to 8",
                    enc.to_string(),
                ));
            }
            let mut dims = Vec::with_capacity(usize::from(rank));
            for _ in 0..rank {
                dims.push(c.uint(enc, "chunk dimension")?);
            }
            let index_type = c.u8("chunk index type")?;
            match index_type {
                1 => {
                    let (size, filter_mask) = if flags & 0x02 != 0 {
                        (
                            c.length("single chunk filtered size")?,
                            c.u32("single chunk filter mask")?,
                        )
                    } else {
                        (u64::MAX, 0)
                    };
                    let addr = c.offset("single chunk address")?;
                    Ok(Layout::SingleChunk {
                        addr,
                        size,
                        filter_mask,
                        dims,
                    })
                }
                2 => Ok(Layout::Implicit {
                    addr: c.offset("implicit chunk address")?,
                    dims,
                }),
                3 => {
                    c.skip(1, "fixed array page bits")?;
                    Ok(Layout::FixedArray {
                        index: c.offset("fixed array address")?,
                        dims,
                    })
                }
                4 => Err(src.unsupported(
                    "chunk index of type extensible array (layout version 4)",
                    at,
                )),
                5 => Err(src.unsupported("chunk index of type v2 B-tree (layout version 4)", at)),
                t => Err(src.malformed("chunk index type", at, "1 to 5", t.to_string())),
            }
        }
        3 => Err(src.unsupported("virtual dataset layout", at)),
        c => Err(src.malformed("layout class", at, "0 to 3", c.to_string())),
    }
}

pub(crate) fn filters(src: &Source, h: &ObjectHeader<'_>) -> Result<Vec<Filter>> {
    let Some(m) = h.first(kind::FILTER_PIPELINE) else {
        return Ok(Vec::new());
    };
    let mut c = m.cursor(src);
    let version = c.version("filter pipeline", &[1, 2])?;
    let n = c.u8("filter count")?;
    if version == 1 {
        c.skip(6, "filter pipeline reserved")?;
    }
    let mut out = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let id = c.u16("filter id")?;
        let name_len = if version == 1 || id >= 256 {
            c.u16("filter name length")?
        } else {
            0
        };
        let flags = c.u16("filter flags")?;
        let nvals = c.u16("filter parameter count")?;
        let name_room = if version == 1 {
            u64::from(name_len).div_ceil(8) * 8
        } else {
            u64::from(name_len)
        };
        c.skip(name_room, "filter name")?;
        let mut params = Vec::with_capacity(usize::from(nvals));
        for _ in 0..nvals {
            params.push(c.u32("filter parameter")?);
        }
        if version == 1 && nvals % 2 == 1 {
            c.skip(4, "filter parameter padding")?;
        }
        // Flag bit 0 marks a filter optional; an unknown filter is refused either
        // way, since its chunks cannot be decoded.
        let _ = flags;
        out.push(Filter { id, params });
    }
    Ok(out)
}

/// The fill value's bytes, if the dataset defines one.
pub(crate) fn fill_value<'a>(src: &'a Source, h: &ObjectHeader<'a>) -> Result<Option<&'a [u8]>> {
    if let Some(m) = h.first(kind::FILL_VALUE) {
        let mut c = m.cursor(src);
        let version = c.version("fill value message", &[1, 2, 3])?;
        let defined = if version == 3 {
            let flags = c.u8("fill value flags")?;
            flags & 0x20 != 0
        } else {
            c.skip(2, "fill value times")?;
            let defined = c.u8("fill value defined")? != 0;
            version == 1 || defined
        };
        if defined && c.remaining() >= 4 {
            let size = c.u32("fill value size")?;
            return Ok(Some(c.take(u64::from(size), "fill value")?).filter(|v| !v.is_empty()));
        }
        return Ok(None);
    }
    if let Some(m) = h.first(kind::FILL_VALUE_OLD) {
        let mut c: Cursor<'a> = m.cursor(src);
        let size = c.u32("fill value size")?;
        return Ok(Some(c.take(u64::from(size), "fill value")?).filter(|v| !v.is_empty()));
    }
    Ok(None)
}
