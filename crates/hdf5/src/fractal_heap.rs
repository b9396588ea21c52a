//! Fractal heaps: where dense groups keep link messages and dense attribute storage
//! keeps attribute messages. Only what h5py writes is read: managed and tiny
//! objects in unfiltered heaps.

use std::collections::HashSet;

use crate::error::Result;
use crate::source::{log2, Source};

/// Deepest nesting of indirect blocks followed.
const MAX_DEPTH: usize = 16;

/// A parsed fractal heap header plus the list of its direct blocks.
#[derive(Debug)]
pub(crate) struct FractalHeap {
    addr: u64,
    /// Bytes of the offset field of a managed heap ID.
    offset_bytes: u8,
    /// Bytes of the length field of a managed heap ID.
    length_bytes: u8,
    /// (heap offset, file address, size) of every direct block.
    blocks: Vec<(u64, u64, u64)>,
}

impl FractalHeap {
    /// Reads the header at `addr` and indexes its direct blocks.
    pub(crate) fn read(src: &Source, addr: u64) -> Result<Self> {
        let mut c = src.cursor_to_end(addr, "fractal heap header")?;
        c.signature(b"FRHP", "fractal heap header")?;
        c.version("fractal heap", &[0])?;
        let _id_len = c.u16("fractal heap ID length")?;
        let filter_len = c.u16("fractal heap I/O filter length")?;
        if filter_len != 0 {
            return Err(src.unsupported("filtered fractal heap", addr));
        }
        c.u8("fractal heap flags")?;
        let max_managed = c.u32("fractal heap maximum managed object size")?;
        c.length("next huge object ID")?;
        c.offset("huge object B-tree address")?;
        c.length("managed free space")?;
        c.offset("free space manager address")?;
        c.length("managed space")?;
        c.length("allocated managed space")?;
        c.length("direct block allocation iterator")?;
        c.length("managed object count")?;
        c.length("huge object size")?;
        c.length("huge object count")?;
        c.length("tiny object size")?;
        c.length("tiny object count")?;
        let width = c.u16("fractal heap table width")?;
        let start = c.length("fractal heap starting block size")?;
        let max_direct = c.length("fractal heap maximum direct block size")?;
        let max_heap_bits = c.u16("fractal heap maximum size")?;
        c.u16("starting rows of root indirect block")?;
        let root = c.offset("fractal heap root block address")?;
        let rows = c.u16("current rows of root indirect block")?;
        let bad = |what: &'static str, v: u64| {
            src.malformed(
                what,
                addr,
                "a power of two within the file's size",
                v.to_string(),
            )
        };
        if width == 0 || width > 1024 {
            return Err(bad("fractal heap table width", u64::from(width)));
        }
        if !start.is_power_of_two() || !max_direct.is_power_of_two() || start > max_direct {
            return Err(bad("fractal heap block size", start));
        }
        if max_heap_bits == 0 || max_heap_bits > 64 {
            return Err(bad("fractal heap maximum size", u64::from(max_heap_bits)));
        }
        let offset_bytes = max_heap_bits.div_ceil(8) as u8;
        let dir_bytes = limit_bytes(max_direct);
        let length_bytes = dir_bytes.min(crate::source::limit_enc_size(u64::from(max_managed)));
        let mut heap = FractalHeap {
            addr,
            offset_bytes,
            length_bytes,
            blocks: Vec::new(),
        };
        let geometry = Geometry {
            width: u64::from(width),
            start,
            max_direct,
            offset_bytes,
        };
        if root != crate::source::UNDEFINED {
            let mut seen = HashSet::new();
            if rows == 0 {
                heap.blocks.push((0, root, start));
            } else {
                geometry.indirect(src, root, u64::from(rows), 0, &mut seen, &mut heap.blocks)?;
            }
        }
        heap.verify_blocks(src)?;
        Ok(heap)
    }

    /// The heap offset of a managed object (0 for tiny objects), which grows in the
    /// order objects were added.
    pub(crate) fn offset(&self, src: &Source, id: &[u8]) -> Result<u64> {
        if id.first().is_some_and(|b| (b >> 4) & 0x03 == 0) {
            let mut c = crate::source::Cursor::over(src, id, self.addr);
            c.skip(1, "heap ID flags")?;
            return c.uint(self.offset_bytes, "heap ID offset");
        }
        Ok(0)
    }

    /// The bytes of the object a heap ID names.
    pub(crate) fn object<'a>(&self, src: &'a Source, id: &'a [u8]) -> Result<&'a [u8]> {
        let Some(&first) = id.first() else {
            return Err(src.malformed("fractal heap ID", self.addr, "at least one byte", "none"));
        };
        match (first >> 4) & 0x03 {
            0 => {
                let mut c = crate::source::Cursor::over(src, id, self.addr);
                c.skip(1, "heap ID flags")?;
                let offset = c.uint(self.offset_bytes, "heap ID offset")?;
                let len = c.uint(self.length_bytes, "heap ID length")?;
                let Some(&(block_off, block_addr, size)) = self
                    .blocks
                    .iter()
                    .find(|&&(o, _, s)| offset >= o && offset - o < s)
                else {
                    return Err(src.malformed(
                        "fractal heap ID",
                        self.addr,
                        "an offset inside a direct block",
                        offset.to_string(),
                    ));
                };
                let within = offset - block_off;
                if within.saturating_add(len) > size {
                    return Err(src.out_of_bounds(
                        "fractal heap object",
                        block_addr.saturating_add(within),
                        len,
                    ));
                }
                src.bytes(block_addr + within, len, "fractal heap object")
            }
            2 => {
                let len = usize::from(first & 0x0f) + 1;
                id.get(1..1 + len)
                    .ok_or_else(|| src.out_of_bounds("tiny heap object", self.addr, len as u64))
            }
            1 => Err(src.unsupported("huge fractal heap objects", self.addr)),
            t => Err(src.malformed(
                "fractal heap ID type",
                self.addr,
                "0, 1 or 2",
                t.to_string(),
            )),
        }
    }

    /// Checks every direct block's header (its signature and its own offset).
    fn verify_blocks(&self, src: &Source) -> Result<()> {
        for &(offset, addr, size) in &self.blocks {
            let mut c = src.cursor(addr, size, "fractal heap direct block")?;
            c.signature(b"FHDB", "fractal heap direct block")?;
            c.version("fractal heap direct block", &[0])?;
            c.offset("direct block heap address")?;
            let stored = c.uint(self.offset_bytes, "direct block offset")?;
            if stored != offset {
                return Err(src.malformed(
                    "direct block offset",
                    addr,
                    offset.to_string(),
                    stored.to_string(),
                ));
            }
        }
        Ok(())
    }
}

fn limit_bytes(max_direct: u64) -> u8 {
    // Bytes to encode an offset within the largest direct block.
    (log2(max_direct).div_ceil(8)).max(1) as u8
}

struct Geometry {
    width: u64,
    start: u64,
    max_direct: u64,
    offset_bytes: u8,
}

impl Geometry {
    fn row_size(&self, row: u64) -> Option<u64> {
        if row == 0 {
            Some(self.start)
        } else {
            self.start
                .checked_shl(u32::try_from(row - 1).ok()?)
                .filter(|&s| s != 0 && row < 64)
        }
    }

    fn max_direct_rows(&self) -> u64 {
        u64::from(log2(self.max_direct) - log2(self.start)) + 2
    }

    fn indirect(
        &self,
        src: &Source,
        addr: u64,
        rows: u64,
        depth: usize,
        seen: &mut HashSet<u64>,
        out: &mut Vec<(u64, u64, u64)>,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(src.too_deep("fractal heap indirect blocks", MAX_DEPTH));
        }
        if !seen.insert(addr) {
            return Err(src.cycle("fractal heap indirect block", addr));
        }
        if rows > 64 {
            return Err(src.malformed(
                "fractal heap indirect block rows",
                addr,
                "at most 64",
                rows.to_string(),
            ));
        }
        let mut c = src.cursor_to_end(addr, "fractal heap indirect block")?;
        c.signature(b"FHIB", "fractal heap indirect block")?;
        c.version("fractal heap indirect block", &[0])?;
        c.offset("indirect block heap address")?;
        let mut offset = c.uint(self.offset_bytes, "indirect block offset")?;
        let direct_rows = rows.min(self.max_direct_rows());
        for row in 0..rows {
            let size = self.row_size(row).ok_or_else(|| {
                src.malformed(
                    "fractal heap row",
                    addr,
                    "a block size that fits 64 bits",
                    row.to_string(),
                )
            })?;
            for _ in 0..self.width {
                let child = c.offset("fractal heap child block address")?;
                if child != crate::source::UNDEFINED {
                    if row < direct_rows {
                        out.push((offset, child, size));
                    } else {
                        // A child indirect block spanning `size` bytes has this many rows.
                        let first_row_bits = log2(self.start) + log2(self.width);
                        let child_rows = u64::from(log2(size).saturating_sub(first_row_bits)) + 1;
                        self.indirect(src, child, child_rows, depth + 1, seen, out)?;
                    }
                }
                offset = offset.saturating_add(size);
            }
        }
        Ok(())
    }
}
