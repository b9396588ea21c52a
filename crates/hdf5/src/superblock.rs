//! The superblock: where the file starts, its address sizes and its root group.

use crate::error::Result;
use crate::source::Source;

const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// What the rest of the reader needs from the superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Superblock {
    /// Superblock version (0 to 3).
    pub(crate) version: u8,
    /// Address of the root group's object header.
    pub(crate) root: u64,
}

/// Finds and reads the superblock, and records address sizes and the base address
/// in `src`. The signature may sit at 0, 512, 1024, 2048, ... (a user block before it).
pub(crate) fn read(src: &mut Source) -> Result<Superblock> {
    let mut at = 0u64;
    loop {
        if at.saturating_add(8) > src.len() {
            return Err(src.malformed(
                "superblock",
                0,
                "the HDF5 signature at 0, 512, 1024, ...",
                "none",
            ));
        }
        if src.raw(at, 8, "superblock signature")? == SIGNATURE {
            break;
        }
        at = if at == 0 { 512 } else { at * 2 };
    }
    let head = src
        .raw(at, (src.len() - at).min(256), "superblock")?
        .to_vec();
    let head = &head[..];
    let version = *head
        .get(8)
        .ok_or_else(|| src.out_of_bounds("superblock", at, 9))?;
    let (offset_size, length_size) = match version {
        0 | 1 => (at_index(src, head, 13, at)?, at_index(src, head, 14, at)?),
        2 | 3 => (at_index(src, head, 9, at)?, at_index(src, head, 10, at)?),
        v => return Err(src.unsupported(format!("superblock version {v}"), at)),
    };
    for (what, n) in [
        ("size of offsets", offset_size),
        ("size of lengths", length_size),
    ] {
        if ![2, 4, 8].contains(&n) {
            return Err(src.malformed(what, at, "2, 4 or 8", n.to_string()));
        }
    }
    src.offset_size = offset_size;
    src.length_size = length_size;
    // Read the rest with addresses relative to the superblock's own position.
    let (root, base) = {
        let src = &*src;
        let mut c = crate::source::Cursor::over(src, head, at);
        if version <= 1 {
            c.skip(16, "superblock fields")?;
            let leaf_k = c.u16("group leaf node K")?;
            let internal_k = c.u16("group internal node K")?;
            if leaf_k == 0 || internal_k == 0 {
                return Err(src.malformed("group node K", at + 16, "a value above 0", "0"));
            }
            c.skip(4, "file consistency flags")?;
            if version == 1 {
                c.skip(4, "indexed storage K")?;
            }
            let base = c.offset("base address")?;
            c.offset("free-space address")?;
            c.offset("end-of-file address")?;
            c.offset("driver information address")?;
            // Root group symbol table entry: link name offset, then the object header.
            c.offset("root link name offset")?;
            let root = c.offset("root object header address")?;
            (root, base)
        } else {
            c.skip(12, "superblock fields")?;
            let base = c.offset("base address")?;
            c.offset("superblock extension address")?;
            c.offset("end-of-file address")?;
            let root = c.offset("root object header address")?;
            let end = c.position();
            let stored = c.u32("superblock checksum")?;
            let computed = crate::checksum::lookup3(&head[..end]);
            if stored != computed {
                return Err(src.malformed(
                    "superblock checksum",
                    at,
                    format!("{computed:#010x}"),
                    format!("{stored:#010x}"),
                ));
            }
            (root, base)
        }
    };
    set_base(src, base, at);
    Ok(Superblock { version, root })
}

fn set_base(src: &mut Source, base: u64, at: u64) {
    // A base of 0 with a user block means addresses are relative to the superblock.
    src.base = if base == crate::source::UNDEFINED {
        at
    } else {
        base.max(at)
    };
}

fn at_index(src: &Source, head: &[u8], i: usize, at: u64) -> Result<u8> {
    head.get(i)
        .copied()
        .ok_or_else(|| src.out_of_bounds("superblock", at, i as u64 + 1))
}
