//! Object headers (versions 1 and 2) and their continuation blocks.

use std::collections::HashSet;

use crate::checksum::lookup3;
use crate::error::Result;
use crate::source::{Cursor, Source};

/// Header message types this reader looks at.
pub(crate) mod kind {
    pub(crate) const DATASPACE: u16 = 0x0001;
    pub(crate) const LINK_INFO: u16 = 0x0002;
    pub(crate) const DATATYPE: u16 = 0x0003;
    pub(crate) const FILL_VALUE_OLD: u16 = 0x0004;
    pub(crate) const FILL_VALUE: u16 = 0x0005;
    pub(crate) const LINK: u16 = 0x0006;
    pub(crate) const EXTERNAL_FILES: u16 = 0x0007;
    pub(crate) const LAYOUT: u16 = 0x0008;
    pub(crate) const FILTER_PIPELINE: u16 = 0x000B;
    pub(crate) const ATTRIBUTE: u16 = 0x000C;
    pub(crate) const CONTINUATION: u16 = 0x0010;
    pub(crate) const SYMBOL_TABLE: u16 = 0x0011;
    pub(crate) const ATTRIBUTE_INFO: u16 = 0x0015;
}

/// The most continuation blocks one object header may have.
const MAX_BLOCKS: usize = 4096;

/// Message flag: the message is shared (stored elsewhere).
const FLAG_SHARED: u8 = 0x02;

/// One header message: its type and its body's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a> {
    pub(crate) kind: u16,
    pub(crate) flags: u8,
    /// File address of the body.
    pub(crate) addr: u64,
    pub(crate) body: &'a [u8],
}

impl<'a> Message<'a> {
    pub(crate) fn cursor(&self, src: &'a Source) -> Cursor<'a> {
        Cursor::over(src, self.body, self.addr)
    }

    pub(crate) fn is_shared(&self) -> bool {
        self.flags & FLAG_SHARED != 0
    }
}

/// An object's header: all its messages, continuation blocks followed.
#[derive(Debug, Clone)]
pub(crate) struct ObjectHeader<'a> {
    pub(crate) addr: u64,
    pub(crate) messages: Vec<Message<'a>>,
}

impl<'a> ObjectHeader<'a> {
    /// Messages of one type, in header order.
    pub(crate) fn all(&self, kind: u16) -> impl Iterator<Item = &Message<'a>> + '_ {
        self.messages.iter().filter(move |m| m.kind == kind)
    }

    /// The first message of one type.
    pub(crate) fn first(&self, kind: u16) -> Option<&Message<'a>> {
        self.all(kind).next()
    }
}

/// Reads the object header at `addr`.
pub(crate) fn read(src: &Source, addr: u64) -> Result<ObjectHeader<'_>> {
    let first = src.bytes(addr, 4, "object header")?;
    let v2 = first == b"OHDR";
    let mut messages = Vec::new();
    let mut pending: Vec<(u64, u64)> = Vec::new();
    let mut seen = HashSet::new();
    seen.insert(addr);
    if v2 {
        let mut c = src.cursor_to_end(addr, "object header")?;
        c.skip(4, "object header signature")?;
        c.version("object header", &[2])?;
        let flags = c.u8("object header flags")?;
        if flags & 0x20 != 0 {
            c.skip(16, "object header times")?;
        }
        if flags & 0x10 != 0 {
            c.skip(4, "attribute phase change values")?;
        }
        let size = c.uint(1 << (flags & 3), "size of chunk 0")?;
        let start = c.position() as u64;
        let total = start.saturating_add(size);
        let block = src.bytes(addr, total.saturating_add(4), "object header chunk 0")?;
        check_sum(src, block, addr)?;
        let body = &block[start as usize..total as usize];
        parse_v2(src, body, addr + start, flags, &mut messages, &mut pending)?;
    } else {
        let mut c = src.cursor(addr, 16, "object header")?;
        let version = c.u8("object header version")?;
        if version != 1 {
            return Err(src.malformed(
                "object header",
                addr,
                "version 1 or signature OHDR",
                format!("version {version}"),
            ));
        }
        c.skip(7, "object header fields")?;
        let size = c.u32("object header size")?;
        let body = src.bytes(addr + 16, u64::from(size), "object header messages")?;
        parse_v1(src, body, addr + 16, &mut messages, &mut pending)?;
    }
    let mut next = 0usize;
    while next < pending.len() {
        let (at, len) = pending[next];
        next += 1;
        if next > MAX_BLOCKS {
            return Err(src.too_deep("object header continuation chain", MAX_BLOCKS));
        }
        if !seen.insert(at) {
            return Err(src.cycle("object header continuation block", at));
        }
        let block = src.bytes(at, len, "object header continuation block")?;
        if v2 {
            if len < 8 || &block[..4] != b"OCHK" {
                return Err(src.malformed(
                    "continuation block",
                    at,
                    "signature OCHK",
                    format!("{:?}", &block[..block.len().min(4)]),
                ));
            }
            check_sum(src, block, at)?;
            let body = &block[4..block.len() - 4];
            parse_v2(src, body, at + 4, 0, &mut messages, &mut pending)?;
        } else {
            parse_v1(src, block, at, &mut messages, &mut pending)?;
        }
    }
    Ok(ObjectHeader { addr, messages })
}

fn check_sum(src: &Source, block: &[u8], at: u64) -> Result<()> {
    let n = block.len() - 4;
    let stored = u32::from_le_bytes([block[n], block[n + 1], block[n + 2], block[n + 3]]);
    let computed = lookup3(&block[..n]);
    if stored != computed {
        return Err(src.malformed(
            "object header checksum",
            at,
            format!("{computed:#010x}"),
            format!("{stored:#010x}"),
        ));
    }
    Ok(())
}

fn parse_v1<'a>(
    src: &'a Source,
    body: &'a [u8],
    at: u64,
    out: &mut Vec<Message<'a>>,
    pending: &mut Vec<(u64, u64)>,
) -> Result<()> {
    let mut c = Cursor::over(src, body, at);
    while c.remaining() >= 8 {
        let kind = c.u16("message type")?;
        let size = c.u16("message size")?;
        let flags = c.u8("message flags")?;
        c.skip(3, "message reserved")?;
        let addr = c.addr();
        let body = c.take(u64::from(size), "message body")?;
        push(
            src,
            Message {
                kind,
                flags,
                addr,
                body,
            },
            out,
            pending,
        )?;
    }
    Ok(())
}

fn parse_v2<'a>(
    src: &'a Source,
    body: &'a [u8],
    at: u64,
    header_flags: u8,
    out: &mut Vec<Message<'a>>,
    pending: &mut Vec<(u64, u64)>,
) -> Result<()> {
    let mut c = Cursor::over(src, body, at);
    let head = if header_flags & 0x04 != 0 { 6 } else { 4 };
    while c.remaining() >= head {
        let kind = u16::from(c.u8("message type")?);
        let size = c.u16("message size")?;
        let flags = c.u8("message flags")?;
        if header_flags & 0x04 != 0 {
            c.skip(2, "message creation order")?;
        }
        let addr = c.addr();
        let body = c.take(u64::from(size), "message body")?;
        push(
            src,
            Message {
                kind,
                flags,
                addr,
                body,
            },
            out,
            pending,
        )?;
    }
    Ok(())
}

fn push<'a>(
    src: &'a Source,
    m: Message<'a>,
    out: &mut Vec<Message<'a>>,
    pending: &mut Vec<(u64, u64)>,
) -> Result<()> {
    if m.kind == kind::CONTINUATION {
        let mut c = m.cursor(src);
        let at = c.offset("continuation address")?;
        let len = c.length("continuation length")?;
        // Checked here so that a bogus block fails with its own offset.
        src.bytes(at, len, "object header continuation block")?;
        pending.push((at, len));
    } else if m.kind != 0 {
        out.push(m);
    }
    Ok(())
}
