//! The file's bytes, with every read checked against the file's size.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The "undefined address" of HDF5 (all bits set), whatever the offset size.
pub(crate) const UNDEFINED: u64 = u64::MAX;

/// The whole file in memory plus the sizes the superblock declares.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    data: Vec<u8>,
    /// Size of file addresses in bytes (2, 4 or 8).
    pub(crate) offset_size: u8,
    /// Size of file lengths in bytes (2, 4 or 8).
    pub(crate) length_size: u8,
    /// Absolute position that file addresses are relative to.
    pub(crate) base: u64,
}

impl Source {
    pub(crate) fn new(path: PathBuf, data: Vec<u8>) -> Self {
        Source {
            path,
            data,
            offset_size: 8,
            length_size: 8,
            base: 0,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.data.len() as u64
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `len` bytes at absolute position `pos`.
    pub(crate) fn raw(&self, pos: u64, len: u64, what: &'static str) -> Result<&[u8]> {
        let end = pos.checked_add(len).filter(|&e| e <= self.len());
        match end {
            Some(end) => Ok(&self.data[pos as usize..end as usize]),
            None => Err(self.out_of_bounds(what, pos, len)),
        }
    }

    /// `len` bytes at file address `addr` (relative to the base address).
    pub(crate) fn bytes(&self, addr: u64, len: u64, what: &'static str) -> Result<&[u8]> {
        let pos = self.absolute(addr, what)?;
        self.raw(pos, len, what)
    }

    /// A cursor over `len` bytes at file address `addr`.
    pub(crate) fn cursor(&self, addr: u64, len: u64, what: &'static str) -> Result<Cursor<'_>> {
        let bytes = self.bytes(addr, len, what)?;
        Ok(Cursor {
            src: self,
            bytes,
            pos: 0,
            start: addr,
        })
    }

    /// A cursor from `addr` to the end of the file (for structures whose length is
    /// only known after reading them).
    pub(crate) fn cursor_to_end(&self, addr: u64, what: &'static str) -> Result<Cursor<'_>> {
        let pos = self.absolute(addr, what)?;
        if pos > self.len() {
            return Err(self.out_of_bounds(what, pos, 1));
        }
        self.cursor(addr, self.len() - pos, what)
    }

    fn absolute(&self, addr: u64, what: &'static str) -> Result<u64> {
        if addr == UNDEFINED {
            return Err(self.malformed(what, addr, "a defined address", "the undefined address"));
        }
        self.base
            .checked_add(addr)
            .ok_or_else(|| self.out_of_bounds(what, addr, 0))
    }

    pub(crate) fn out_of_bounds(&self, what: &'static str, offset: u64, len: u64) -> Error {
        Error::OutOfBounds {
            file: self.path.clone(),
            object: String::new(),
            what,
            offset,
            len,
            size: self.len(),
        }
    }

    pub(crate) fn malformed(
        &self,
        what: &'static str,
        offset: u64,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Error {
        Error::Malformed {
            file: self.path.clone(),
            object: String::new(),
            what,
            offset,
            expected: expected.into(),
            found: found.into(),
        }
    }

    pub(crate) fn unsupported(&self, feature: impl Into<String>, offset: u64) -> Error {
        Error::Unsupported {
            file: self.path.clone(),
            object: String::new(),
            feature: feature.into(),
            offset,
        }
    }

    pub(crate) fn cycle(&self, what: &'static str, offset: u64) -> Error {
        Error::Cycle {
            file: self.path.clone(),
            object: String::new(),
            what,
            offset,
        }
    }

    pub(crate) fn too_deep(&self, what: &'static str, limit: usize) -> Error {
        Error::TooDeep {
            file: self.path.clone(),
            object: String::new(),
            what,
            limit,
        }
    }

    pub(crate) fn too_large(&self, what: &'static str, declared: u64, bound: u64) -> Error {
        Error::TooLarge {
            file: self.path.clone(),
            object: String::new(),
            what,
            declared,
            bound,
        }
    }

    /// Checks a count of items, each at least `min_size` bytes long, against the
    /// bytes that remain, so that no allocation exceeds what the file could hold.
    pub(crate) fn check_count(
        &self,
        what: &'static str,
        count: u64,
        min_size: u64,
        room: u64,
    ) -> Result<usize> {
        let need = count.saturating_mul(min_size.max(1));
        if need > room {
            return Err(self.too_large(what, need, room));
        }
        usize::try_from(count).map_err(|_| self.too_large(what, need, room))
    }
}

/// A little-endian reader over a checked byte range.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    pub(crate) src: &'a Source,
    bytes: &'a [u8],
    pos: usize,
    /// File address of `bytes[0]`.
    start: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor over bytes that are not at a known file address (e.g. a heap object).
    pub(crate) fn over(src: &'a Source, bytes: &'a [u8], start: u64) -> Self {
        Cursor {
            src,
            bytes,
            pos: 0,
            start,
        }
    }

    /// File address of the next byte.
    pub(crate) fn addr(&self) -> u64 {
        self.start.saturating_add(self.pos as u64)
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(self.src.out_of_bounds(what, self.addr(), n));
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    pub(crate) fn skip(&mut self, n: u64, what: &'static str) -> Result<()> {
        self.take(n, what).map(|_| ())
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(self.uint(2, what)? as u16)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(self.uint(4, what)? as u32)
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64> {
        self.uint(8, what)
    }

    /// A little-endian unsigned integer of `n` bytes (n <= 8).
    pub(crate) fn uint(&mut self, n: u8, what: &'static str) -> Result<u64> {
        let b = self.take(u64::from(n.min(8)), what)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// A file address; all bits set reads as [`UNDEFINED`].
    pub(crate) fn offset(&mut self, what: &'static str) -> Result<u64> {
        let n = self.src.offset_size;
        let v = self.uint(n, what)?;
        let all = if n >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        Ok(if v == all { UNDEFINED } else { v })
    }

    /// A file length.
    pub(crate) fn length(&mut self, what: &'static str) -> Result<u64> {
        let n = self.src.length_size;
        self.uint(n, what)
    }

    /// Checks a 4-byte signature.
    pub(crate) fn signature(&mut self, sig: &[u8; 4], what: &'static str) -> Result<()> {
        let at = self.addr();
        let found = self.take(4, what)?;
        if found != sig {
            return Err(self.src.malformed(
                what,
                at,
                format!("signature {:?}", String::from_utf8_lossy(sig)),
                format!("{:?}", String::from_utf8_lossy(found)),
            ));
        }
        Ok(())
    }

    /// Checks a version byte against the allowed range.
    pub(crate) fn version(&mut self, what: &'static str, allowed: &[u8]) -> Result<u8> {
        let at = self.addr();
        let v = self.u8(what)?;
        if !allowed.contains(&v) {
            return Err(self
                .src
                .unsupported(format!("{what} version {v} (known: {allowed:?})"), at));
        }
        Ok(v)
    }
}

/// Bytes needed to encode values up to `max` (HDF5's `H5VM_limit_enc_size`).
pub(crate) fn limit_enc_size(max: u64) -> u8 {
    (log2(max) / 8 + 1) as u8
}

/// Floor of log2 (0 for 0).
pub(crate) fn log2(n: u64) -> u32 {
    if n == 0 {
        0
    } else {
        63 - n.leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(bytes: &[u8]) -> Source {
        Source::new(PathBuf::from("t.h5"), bytes.to_vec())
    }

    #[test]
    fn reads_little_endian_and_refuses_to_overrun() {
        let s = src(&[1, 2, 3, 4, 5]);
        let mut c = s.cursor(0, 5, "x").unwrap();
        assert_eq!(c.u16("a").unwrap(), 0x0201);
        assert_eq!(c.u16("b").unwrap(), 0x0403);
        assert!(matches!(c.u16("c"), Err(Error::OutOfBounds { .. })));
        assert!(s.bytes(3, 3, "y").is_err());
        assert!(s.bytes(u64::MAX - 1, 3, "z").is_err());
    }

    #[test]
    fn undefined_address_of_short_offsets() {
        let mut s = src(&[0xff, 0xff, 0xff, 0xff]);
        s.offset_size = 4;
        let mut c = s.cursor(0, 4, "x").unwrap();
        assert_eq!(c.offset("a").unwrap(), UNDEFINED);
    }

    #[test]
    fn encoded_sizes() {
        assert_eq!(limit_enc_size(255), 1);
        assert_eq!(limit_enc_size(256), 2);
        assert_eq!(log2(1), 0);
        assert_eq!(log2(1024), 10);
    }

    #[test]
    fn counts_are_bounded_by_room() {
        let s = src(&[]);
        assert!(s.check_count("n", 10, 8, 80).is_ok());
        assert!(matches!(
            s.check_count("n", u64::MAX, 8, 80),
            Err(Error::TooLarge { .. })
        ));
    }
}
