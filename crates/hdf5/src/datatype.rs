//! Datatype messages: the element types this reader can decode.

use crate::error::Result;
use crate::source::{Cursor, Source};

/// The element type of a dataset or attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datatype {
    /// A two's-complement or unsigned integer of `size` bytes.
    Integer {
        /// Size in bytes (1, 2, 4 or 8).
        size: u32,
        /// Whether values are signed.
        signed: bool,
        /// Byte order.
        big_endian: bool,
    },
    /// An IEEE 754 binary floating-point number of `size` bytes (2, 4 or 8).
    Float {
        /// Size in bytes.
        size: u32,
        /// Byte order.
        big_endian: bool,
    },
    /// A fixed-length string of `size` bytes, padded with NULs or spaces.
    FixedString {
        /// Length in bytes.
        size: u32,
    },
    /// A variable-length string stored in the global heap.
    VarString,
    /// Any other class (compound, enum, array, reference, ...): its values cannot be
    /// read by this reader, but the object that holds it can still be opened.
    Other {
        /// The HDF5 datatype class number.
        class: u8,
        /// Size of one element in bytes.
        size: u32,
    },
}

impl Datatype {
    /// Size in bytes of one element as stored in the file. For a variable-length
    /// string this is the size of its in-file reference (length, global heap
    /// collection address, index) with 8-byte addresses.
    pub fn size(&self) -> u64 {
        match self {
            Datatype::Integer { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::FixedString { size }
            | Datatype::Other { size, .. } => u64::from(*size),
            // Length (4) + global heap collection address + object index (4); the
            // address size is added by the caller, see `stored_size`.
            Datatype::VarString => 16,
        }
    }

    /// Size of one element as stored, with the file's address size.
    pub(crate) fn stored_size(&self, src: &Source) -> u64 {
        match self {
            Datatype::VarString => 8 + u64::from(src.offset_size),
            other => other.size(),
        }
    }

    /// A short name for messages ("f32", "i64", "string", ...).
    pub fn describe(&self) -> String {
        match self {
            Datatype::Integer {
                size,
                signed,
                big_endian,
            } => {
                format!(
                    "{}{}{}",
                    if *signed { "i" } else { "u" },
                    size * 8,
                    if *big_endian { " big-endian" } else { "" }
                )
            }
            Datatype::Float { size, big_endian } => {
                format!(
                    "f{}{}",
                    size * 8,
                    if *big_endian { " big-endian" } else { "" }
                )
            }
            Datatype::FixedString { size } => format!("fixed-length string of {size} bytes"),
            Datatype::VarString => "variable-length string".to_string(),
            Datatype::Other { class, size } => format!("datatype class {class} of {size} bytes"),
        }
    }
}

/// Parses a datatype message body.
pub(crate) fn parse(src: &Source, c: &mut Cursor<'_>) -> Result<Datatype> {
    let at = c.addr();
    let head = c.u8("datatype class and version")?;
    let class = head & 0x0f;
    let version = head >> 4;
    if !(1..=5).contains(&version) {
        return Err(src.malformed("datatype version", at, "1 to 5", version.to_string()));
    }
    let bits = c.take(3, "datatype bit field")?;
    let (b0, b1) = (bits[0], bits[1]);
    let size = c.u32("datatype size")?;
    match class {
        0 => {
            c.skip(4, "fixed-point properties")?;
            if ![1, 2, 4, 8].contains(&size) {
                return Err(src.unsupported(format!("integer of {size} bytes"), at));
            }
            Ok(Datatype::Integer {
                size,
                signed: b0 & 0x08 != 0,
                big_endian: b0 & 0x01 != 0,
            })
        }
        1 => {
            if b0 & 0x40 != 0 {
                return Err(src.unsupported("VAX-order floating point", at));
            }
            let big_endian = b0 & 0x01 != 0;
            let _offset = c.u16("float bit offset")?;
            let precision = c.u16("float precision")?;
            let _exp_at = c.u8("float exponent location")?;
            let exp_size = c.u8("float exponent size")?;
            let _man_at = c.u8("float mantissa location")?;
            let man_size = c.u8("float mantissa size")?;
            let _bias = c.u32("float exponent bias")?;
            let ieee = matches!(
                (size, precision, exp_size, man_size),
                (2, 16, 5, 10) | (4, 32, 8, 23) | (8, 64, 11, 52)
            );
            if !ieee {
                return Err(src.unsupported(
                    format!("floating point of {size} bytes with {exp_size} exponent and {man_size} mantissa bits"),
                    at,
                ));
            }
            Ok(Datatype::Float { size, big_endian })
        }
        3 => Ok(Datatype::FixedString { size }),
        9 => {
            let vlen_type = b0 & 0x0f;
            if vlen_type == 1 {
                Ok(Datatype::VarString)
            } else {
                let _ = b1;
                Ok(Datatype::Other { class, size })
            }
        }
        2 | 4..=8 | 10 => Ok(Datatype::Other { class, size }),
        _ => Err(src.malformed("datatype class", at, "0 to 10", class.to_string())),
    }
}

/// Decodes `n` numbers of type `dt` from `raw` as f64.
pub(crate) fn to_f64(dt: &Datatype, raw: &[u8]) -> Option<Vec<f64>> {
    match *dt {
        Datatype::Float { size, big_endian } => {
            let s = size as usize;
            Some(raw.chunks_exact(s).map(|b| float(b, big_endian)).collect())
        }
        Datatype::Integer {
            size,
            signed,
            big_endian,
        } => {
            let s = size as usize;
            Some(
                raw.chunks_exact(s)
                    .map(|b| int(b, signed, big_endian) as f64)
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Decodes the values of `raw` as f32 (converting f16 and f64, and integers).
pub(crate) fn to_f32(dt: &Datatype, raw: &[u8]) -> Option<Vec<f32>> {
    match *dt {
        Datatype::Float {
            size: 4,
            big_endian,
        } => Some(
            raw.chunks_exact(4)
                .map(|b| {
                    let a = [b[0], b[1], b[2], b[3]];
                    if big_endian {
                        f32::from_be_bytes(a)
                    } else {
                        f32::from_le_bytes(a)
                    }
                })
                .collect(),
        ),
        _ => to_f64(dt, raw).map(|v| v.into_iter().map(|x| x as f32).collect()),
    }
}

/// Decodes integers of `raw` as i64 (unsigned 64-bit values above i64::MAX wrap).
pub(crate) fn to_i64(dt: &Datatype, raw: &[u8]) -> Option<Vec<i64>> {
    match *dt {
        Datatype::Integer {
            size,
            signed,
            big_endian,
        } => Some(
            raw.chunks_exact(size as usize)
                .map(|b| int(b, signed, big_endian))
                .collect(),
        ),
        _ => None,
    }
}

fn ordered(b: &[u8], big_endian: bool) -> [u8; 8] {
    let mut w = [0u8; 8];
    if big_endian {
        for (i, &x) in b.iter().rev().enumerate() {
            w[i] = x;
        }
    } else {
        w[..b.len()].copy_from_slice(b);
    }
    w
}

fn int(b: &[u8], signed: bool, big_endian: bool) -> i64 {
    let w = ordered(b, big_endian);
    let v = u64::from_le_bytes(w);
    let bits = 8 * b.len() as u32;
    if signed && bits < 64 && v >> (bits - 1) & 1 == 1 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

fn float(b: &[u8], big_endian: bool) -> f64 {
    let w = ordered(b, big_endian);
    match b.len() {
        2 => f16_to_f32(u16::from_le_bytes([w[0], w[1]])) as f64,
        4 => f32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
        _ => f64::from_le_bytes(w),
    }
}

/// IEEE binary16 to binary32, exactly (every f16 is representable as f32).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24.
            let v = m as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_conversions() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }

    #[test]
    fn integers_of_both_orders_and_signs() {
        assert_eq!(int(&[0xff, 0xff], true, false), -1);
        assert_eq!(int(&[0xff, 0xff], false, false), 65535);
        assert_eq!(int(&[0x01, 0x00], false, true), 256);
        assert_eq!(int(&[0x80, 0, 0, 0], true, true), i32::MIN as i64);
    }

    #[test]
    fn floats_of_both_orders() {
        let be = 1.5f64.to_be_bytes();
        let dt = Datatype::Float {
            size: 8,
            big_endian: true,
        };
        assert_eq!(to_f32(&dt, &be).unwrap(), vec![1.5]);
        let le = (-0.25f32).to_le_bytes();
        assert_eq!(
            to_f32(
                &Datatype::Float {
                    size: 4,
                    big_endian: false
                },
                &le
            )
            .unwrap(),
            vec![-0.25]
        );
    }
}
