//! The notebook's first cells: the pixel values of a region, and the region as a picture.

use strata_tensor::Tensor;

use crate::error::{FilterError, Result};

/// Parses `A:B` (rows or columns `A` to `B`, `B` excluded, as NumPy) within `0..=size`.
///
/// # Errors
/// Not two numbers, `A >= B`, or `B > size`.
pub fn parse_range(text: &str, size: usize, what: &str) -> Result<(usize, usize)> {
    let bad = |m: String| FilterError::invalid(what, m);
    let (a, b) = text
        .split_once(':')
        .ok_or_else(|| bad(format!("{text:?} is not A:B")))?;
    let a: usize = a
        .trim()
        .parse()
        .map_err(|_| bad(format!("{a:?} is not a number")))?;
    let b: usize = b
        .trim()
        .parse()
        .map_err(|_| bad(format!("{b:?} is not a number")))?;
    if a >= b || b > size {
        return Err(bad(format!(
            "{a}:{b} is not a non-empty range within 0:{size}"
        )));
    }
    Ok((a, b))
}

/// The region rows `r.0..r.1`, columns `c.0..c.1` of an image `[C, H, W]`.
///
/// # Errors
/// A range outside the image.
pub fn crop(image: &Tensor<f32>, r: (usize, usize), c: (usize, usize)) -> Result<Tensor<f32>> {
    let view = image.narrow(1, r.0, r.1 - r.0)?.narrow(2, c.0, c.1 - c.0)?;
    let shape = view.shape().to_vec();
    Ok(Tensor::from_vec(view.to_vec(), &shape)?)
}

/// The region's values as bytes `0..=255` in a table (a header of column numbers, each row
/// led by its number), one table per channel.
pub fn region_table(region: &Tensor<f32>, r0: usize, c0: usize) -> String {
    let shape = region.shape();
    let (ch, h, w) = (shape[0], shape[1], shape[2]);
    let values = region.to_vec();
    let names = ["red", "green", "blue"];
    let mut out = String::new();
    for k in 0..ch {
        if ch == 3 {
            out.push_str(&format!("{}:\n", names[k]));
        }
        out.push_str("     ");
        for x in 0..w {
            out.push_str(&format!("{:>4}", c0 + x));
        }
        out.push('\n');
        for y in 0..h {
            out.push_str(&format!("{:>4} ", r0 + y));
            for x in 0..w {
                let v = (values[(k * h + y) * w + x].clamp(0.0, 1.0) * 255.0).round();
                out.push_str(&format!("{v:>4}"));
            }
            out.push('\n');
        }
    }
    out
}
