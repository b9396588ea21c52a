//! Element conversions to `f32`: half precision, bfloat16, double, either byte order.

use crate::pickle::Dtype;

/// An IEEE 754 half-precision value's bits as `f32` (exact: every f16 is an f32).
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exp = u32::from((bits >> 10) & 0x1f);
    let mant = u32::from(bits & 0x3ff);
    let magnitude = match (exp, mant) {
        (0, 0) => 0,
        // Subnormal: mant · 2⁻²⁴, exact in f32.
        (0, m) => (m as f32 * f32::from_bits(0x3380_0000)).to_bits(),
        (0x1f, m) => 0x7f80_0000 | (m << 13),
        (e, m) => ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(sign | magnitude)
}

/// A bfloat16 value's bits as `f32` (the upper half of an f32).
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// Appends the `f32` values of `bytes`, elements of `dtype` in little- or big-endian order,
/// to `out`. `bytes.len()` must be a multiple of the element size (a partial tail is
/// ignored).
pub fn decode_into(bytes: &[u8], dtype: Dtype, big_endian: bool, out: &mut Vec<f32>) {
    macro_rules! each {
        ($n:literal, $conv:expr) => {
            out.extend(bytes.chunks_exact($n).map(|c| {
                let mut a = [0u8; $n];
                a.copy_from_slice(c);
                if big_endian {
                    a.reverse();
                }
                $conv(a)
            }))
        };
    }
    match dtype {
        Dtype::F32 => each!(4, f32::from_le_bytes),
        Dtype::F16 => each!(2, |a| f16_to_f32(u16::from_le_bytes(a))),
        Dtype::BF16 => each!(2, |a| bf16_to_f32(u16::from_le_bytes(a))),
        Dtype::F64 => each!(8, |a| f64::from_le_bytes(a) as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc049), -3.140625);
    }

    #[test]
    fn half_matches_a_naive_formula_everywhere() {
        for bits in 0..=u16::MAX {
            let (e, m) = (i32::from((bits >> 10) & 0x1f), f64::from(bits & 0x3ff));
            if e == 0x1f {
                continue;
            }
            let s = if bits >> 15 == 1 { -1.0 } else { 1.0 };
            let v = if e == 0 {
                s * m * 2f64.powi(-24)
            } else {
                s * (1.0 + m / 1024.0) * 2f64.powi(e - 15)
            };
            assert_eq!(f16_to_f32(bits) as f64, v, "{bits:#06x}");
        }
    }

    #[test]
    fn decodes_both_byte_orders() {
        let mut out = Vec::new();
        decode_into(&1.5f32.to_le_bytes(), Dtype::F32, false, &mut out);
        decode_into(&1.5f32.to_be_bytes(), Dtype::F32, true, &mut out);
        decode_into(&(-0.25f64).to_be_bytes(), Dtype::F64, true, &mut out);
        decode_into(&[0x00, 0x3c, 0x80, 0x3f], Dtype::F16, false, &mut out);
        assert_eq!(out, vec![1.5, 1.5, -0.25, 1.0, 1.875]);
    }
}
