//! Version 1 B-trees: group nodes (type 0) and raw-data chunk nodes (type 1).

use std::collections::HashSet;

use crate::error::Result;
use crate::source::Source;

/// Deepest v1 B-tree this reader follows.
pub(crate) const MAX_DEPTH: usize = 64;

/// A leaf entry of a chunk B-tree: where a chunk is and what it holds.
#[derive(Debug, Clone)]
pub(crate) struct ChunkEntry {
    /// Stored (possibly filtered) size in bytes.
    pub(crate) size: u32,
    /// Bit `i` set: filter `i` of the pipeline was not applied.
    pub(crate) filter_mask: u32,
    /// Element offsets of the chunk's first element, one per dataset dimension.
    pub(crate) offsets: Vec<u64>,
    /// Address of the chunk's bytes.
    pub(crate) addr: u64,
}

/// Walks a group B-tree and returns the addresses of its symbol table nodes (SNODs).
pub(crate) fn group_leaves(src: &Source, root: u64) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk(src, root, 0, None, 0, &mut seen, &mut |_, child| {
        out.push(child);
        Ok(())
    })?;
    Ok(out)
}

/// Walks a chunk B-tree of a dataset with `rank` dimensions (the key holds rank + 1
/// offsets, the last for the element).
pub(crate) fn chunks(src: &Source, root: u64, rank: usize) -> Result<Vec<ChunkEntry>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    walk(src, root, 1, Some(rank), 0, &mut seen, &mut |key, addr| {
        let mut c = crate::source::Cursor::over(src, key, 0);
        let size = c.u32("chunk size")?;
        let filter_mask = c.u32("chunk filter mask")?;
        let mut offsets = Vec::with_capacity(rank);
        for _ in 0..rank {
            offsets.push(c.u64("chunk offset")?);
        }
        out.push(ChunkEntry {
            size,
            filter_mask,
            offsets,
            addr,
        });
        Ok(())
    })?;
    Ok(out)
}

fn walk(
    src: &Source,
    addr: u64,
    node_type: u8,
    rank: Option<usize>,
    depth: usize,
    seen: &mut HashSet<u64>,
    leaf: &mut dyn FnMut(&[u8], u64) -> Result<()>,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(src.too_deep("v1 B-tree", MAX_DEPTH));
    }
    if !seen.insert(addr) {
        return Err(src.cycle("v1 B-tree node", addr));
    }
    let mut c = src.cursor_to_end(addr, "v1 B-tree node")?;
    c.signature(b"TREE", "v1 B-tree node")?;
    let ty = c.u8("v1 B-tree node type")?;
    if ty != node_type {
        return Err(src.malformed(
            "v1 B-tree node type",
            addr,
            node_type.to_string(),
            ty.to_string(),
        ));
    }
    let level = c.u8("v1 B-tree node level")?;
    let entries = c.u16("v1 B-tree entries used")?;
    c.offset("left sibling")?;
    c.offset("right sibling")?;
    let key_size = match rank {
        None => u64::from(src.length_size),
        Some(r) => 8 + 8 * (r as u64 + 1),
    };
    let entry = key_size + u64::from(src.offset_size);
    src.check_count(
        "v1 B-tree entries",
        u64::from(entries),
        entry,
        c.remaining() as u64,
    )?;
    for _ in 0..entries {
        let key = c.take(key_size, "v1 B-tree key")?;
        let child = c.offset("v1 B-tree child")?;
        if level == 0 {
            leaf(key, child)?;
        } else {
            // A child's level is one less; a deeper walk than the declared level
            // is caught by the depth bound and the cycle check.
            walk(src, child, node_type, rank, depth + 1, seen, leaf)?;
        }
    }
    Ok(())
}
