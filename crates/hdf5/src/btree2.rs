//! Version 2 B-trees: the name indexes of dense groups (type 5) and of dense
//! attribute storage (type 8). Only a walk over all records is needed.

use std::collections::HashSet;

use crate::error::Result;
use crate::source::{limit_enc_size, Source};

/// Deepest v2 B-tree followed.
const MAX_DEPTH: u16 = 32;

/// Every record of the v2 B-tree whose header is at `addr`, in key order.
pub(crate) fn records(src: &Source, addr: u64, expect_type: u8) -> Result<Vec<&[u8]>> {
    let mut c = src.cursor_to_end(addr, "v2 B-tree header")?;
    c.signature(b"BTHD", "v2 B-tree header")?;
    c.version("v2 B-tree", &[0])?;
    let ty = c.u8("v2 B-tree type")?;
    if ty != expect_type {
        return Err(src.malformed(
            "v2 B-tree type",
            addr,
            expect_type.to_string(),
            ty.to_string(),
        ));
    }
    let node_size = u64::from(c.u32("v2 B-tree node size")?);
    let record_size = u64::from(c.u16("v2 B-tree record size")?);
    let depth = c.u16("v2 B-tree depth")?;
    c.skip(2, "v2 B-tree split and merge percents")?;
    let root = c.offset("v2 B-tree root address")?;
    let root_records = c.u16("v2 B-tree root record count")?;
    if depth > MAX_DEPTH {
        return Err(src.too_deep("v2 B-tree", usize::from(MAX_DEPTH)));
    }
    if record_size == 0 || node_size < 10 + record_size || node_size > src.len() {
        return Err(src.malformed(
            "v2 B-tree node size",
            addr,
            "room for one record within the file",
            node_size.to_string(),
        ));
    }
    let mut out = Vec::new();
    if root == crate::source::UNDEFINED || root_records == 0 {
        return Ok(out);
    }
    let tree = Tree::new(src, node_size, record_size, depth);
    let mut seen = HashSet::new();
    tree.node(root, depth, u64::from(root_records), &mut seen, &mut out)?;
    Ok(out)
}

struct Tree<'a> {
    src: &'a Source,
    node_size: u64,
    record_size: u64,
    /// Bytes of the "records in child" field.
    max_nrec_size: u8,
    /// Bytes of the "total records in child" field, per depth.
    cum_size: Vec<u8>,
}

impl<'a> Tree<'a> {
    fn new(src: &'a Source, node_size: u64, record_size: u64, depth: u16) -> Self {
        let leaf_max = (node_size - 10) / record_size;
        let max_nrec_size = limit_enc_size(leaf_max);
        let mut cum_max = vec![leaf_max];
        let mut cum_size = vec![0u8];
        for u in 1..=usize::from(depth) {
            let ptr = u64::from(src.offset_size)
                + u64::from(max_nrec_size)
                + if u > 1 { u64::from(cum_size[u - 1]) } else { 0 };
            let max = node_size.saturating_sub(10 + ptr) / (record_size + ptr);
            let cum = max
                .saturating_add(1)
                .saturating_mul(cum_max[u - 1])
                .saturating_add(max);
            cum_max.push(cum);
            cum_size.push(limit_enc_size(cum));
        }
        Tree {
            src,
            node_size,
            record_size,
            max_nrec_size,
            cum_size,
        }
    }

    fn node(
        &self,
        addr: u64,
        depth: u16,
        nrec: u64,
        seen: &mut HashSet<u64>,
        out: &mut Vec<&'a [u8]>,
    ) -> Result<()> {
        let src = self.src;
        if !seen.insert(addr) {
            return Err(src.cycle("v2 B-tree node", addr));
        }
        let mut c = src.cursor(addr, self.node_size, "v2 B-tree node")?;
        let sig = if depth == 0 { b"BTLF" } else { b"BTIN" };
        c.signature(sig, "v2 B-tree node")?;
        c.version("v2 B-tree node", &[0])?;
        c.skip(1, "v2 B-tree node type")?;
        src.check_count(
            "v2 B-tree records",
            nrec,
            self.record_size,
            c.remaining() as u64,
        )?;
        let mut records = Vec::with_capacity(nrec as usize);
        for _ in 0..nrec {
            records.push(c.take(self.record_size, "v2 B-tree record")?);
        }
        if depth == 0 {
            out.extend(records);
            return Ok(());
        }
        let d = usize::from(depth);
        let mut children = Vec::with_capacity(records.len() + 1);
        for _ in 0..=nrec {
            let child = c.offset("v2 B-tree child address")?;
            let n = c.uint(self.max_nrec_size, "v2 B-tree child record count")?;
            if d > 1 {
                c.uint(self.cum_size[d - 1], "v2 B-tree child total records")?;
            }
            children.push((child, n));
        }
        for (i, (child, n)) in children.into_iter().enumerate() {
            self.node(child, depth - 1, n, seen, out)?;
            if let Some(r) = records.get(i) {
                out.push(r);
            }
        }
        Ok(())
    }
}
