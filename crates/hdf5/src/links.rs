//! The members of a group, from whichever of the three storage forms it uses:
//! a symbol table (v1 B-tree + local heap), link messages in the header, or dense
//! link storage (fractal heap + v2 B-tree).

use crate::btree1;
use crate::error::Result;
use crate::fractal_heap::FractalHeap;
use crate::heap::LocalHeap;
use crate::object_header::{kind, ObjectHeader};
use crate::source::{Cursor, Source, UNDEFINED};

/// Where a group member points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A hard link: the object header's address.
    Hard(u64),
    /// A soft link to a path (not followed by this reader).
    Soft(String),
    /// An external or user-defined link of this type.
    Other(u8),
}

/// All members of the group whose header is `h`, in creation order: names in a
/// symbol table's local heap and objects in a fractal heap are appended as links
/// are made, and link messages are written in order.
pub(crate) fn members(src: &Source, h: &ObjectHeader<'_>) -> Result<Vec<(String, Target)>> {
    let mut keyed = keyed_members(src, h)?;
    keyed.sort_by_key(|(k, _, _)| *k);
    Ok(keyed.into_iter().map(|(_, n, t)| (n, t)).collect())
}

fn keyed_members(src: &Source, h: &ObjectHeader<'_>) -> Result<Vec<(u64, String, Target)>> {
    let mut out = Vec::new();
    if let Some(m) = h.first(kind::SYMBOL_TABLE) {
        let mut c = m.cursor(src);
        let tree = c.offset("symbol table B-tree address")?;
        let heap = c.offset("symbol table local heap address")?;
        let heap = LocalHeap::read(src, heap)?;
        for snod in btree1::group_leaves(src, tree)? {
            let mut c = src.cursor_to_end(snod, "symbol table node")?;
            c.signature(b"SNOD", "symbol table node")?;
            c.version("symbol table node", &[1])?;
            c.skip(1, "symbol table node reserved")?;
            let n = c.u16("symbol table node symbol count")?;
            let entry = 2 * u64::from(src.offset_size) + 24;
            src.check_count(
                "symbol table entries",
                u64::from(n),
                entry,
                c.remaining() as u64,
            )?;
            for _ in 0..n {
                let name = c.offset("symbol name offset")?;
                let addr = c.offset("symbol object header address")?;
                c.skip(24, "symbol cache")?;
                out.push((name, heap.string(src, name)?, Target::Hard(addr)));
            }
        }
        return Ok(out);
    }
    for (i, m) in h.all(kind::LINK).enumerate() {
        let (name, target) = parse_link(src, &mut m.cursor(src))?;
        out.push((i as u64, name, target));
    }
    if let Some(m) = h.first(kind::LINK_INFO) {
        let mut c = m.cursor(src);
        c.version("link info", &[0])?;
        let flags = c.u8("link info flags")?;
        if flags & 0x01 != 0 {
            c.skip(8, "maximum creation index")?;
        }
        let heap_addr = c.offset("link fractal heap address")?;
        let index = c.offset("link name index address")?;
        if heap_addr != UNDEFINED && index != UNDEFINED {
            let heap = FractalHeap::read(src, heap_addr)?;
            for rec in crate::btree2::records(src, index, 5)? {
                let id = rec.get(4..).unwrap_or(&[]);
                let obj = heap.object(src, id)?;
                let (name, target) = parse_link(src, &mut Cursor::over(src, obj, heap_addr))?;
                out.push((heap.offset(src, id)?, name, target));
            }
        }
    }
    Ok(out)
}

/// Parses a link message body.
pub(crate) fn parse_link(src: &Source, c: &mut Cursor<'_>) -> Result<(String, Target)> {
    let at = c.addr();
    c.version("link message", &[1])?;
    let flags = c.u8("link flags")?;
    let ty = if flags & 0x08 != 0 {
        c.u8("link type")?
    } else {
        0
    };
    if flags & 0x04 != 0 {
        c.skip(8, "link creation order")?;
    }
    if flags & 0x10 != 0 {
        c.skip(1, "link name charset")?;
    }
    let len = c.uint(1 << (flags & 0x03), "link name length")?;
    if len == 0 {
        return Err(src.malformed("link name length", at, "at least 1", "0"));
    }
    let name = String::from_utf8_lossy(c.take(len, "link name")?).into_owned();
    let target = match ty {
        0 => Target::Hard(c.offset("link object address")?),
        1 => {
            let n = c.u16("soft link length")?;
            Target::Soft(
                String::from_utf8_lossy(c.take(u64::from(n), "soft link value")?).into_owned(),
            )
        }
        t => Target::Other(t),
    };
    Ok((name, target))
}
