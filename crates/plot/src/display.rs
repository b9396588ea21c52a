//! Display scaling: feature maps and filtered images of any range turned into pictures in
//! `[0, 1]`, signed single-channel maps in a diverging (blue–white–red) colour map.

use strata_tensor::Tensor;

use super::image::image_dims;
use crate::error::{PlotError, Result};

/// How [`display_image`] mapped values to the picture, for captions and legends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DisplayScale {
    /// Every value already lay in `[0, 1]`: shown as it is.
    AsIs,
    /// Non-negative values above 1: divided by the largest (black 0, white the maximum).
    DividedByMax(f32),
    /// Signed one-channel values: `v / m` in the diverging map with `m` the largest
    /// magnitude (blue `-m`, white 0, red `+m`).
    Diverging(f32),
    /// Colour values outside `[0, 1]`: `(v - min) / (max - min)` over all channels.
    MinMax(f32, f32),
}

impl std::fmt::Display for DisplayScale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::AsIs => write!(f, "values as they are"),
            Self::DividedByMax(m) => write!(f, "0..{m:.3} as black..white"),
            Self::Diverging(m) => write!(f, "-{m:.3}..{m:.3} as blue..white..red"),
            Self::MinMax(lo, hi) => write!(f, "{lo:.3}..{hi:.3} stretched to 0..1"),
        }
    }
}

/// The diverging colour map: `t` in `[-1, 1]` (clamped; NaN reads 0) to RGB in `[0, 1]`,
/// blue at -1, near-white at 0, red at +1, linear in between.
///
/// ```
/// use strata_plot::diverging;
/// assert_eq!(diverging(0.0), [0.97, 0.97, 0.97]);
/// assert!(diverging(1.0)[0] > diverging(1.0)[2]); // red
/// assert!(diverging(-1.0)[2] > diverging(-1.0)[0]); // blue
/// ```
pub fn diverging(t: f32) -> [f32; 3] {
    const BLUE: [f32; 3] = [0.13, 0.40, 0.67];
    const WHITE: [f32; 3] = [0.97, 0.97, 0.97];
    const RED: [f32; 3] = [0.70, 0.09, 0.17];
    let t = if t.is_nan() { 0.0 } else { t.clamp(-1.0, 1.0) };
    let (end, a) = if t < 0.0 { (BLUE, -t) } else { (RED, t) };
    [0, 1, 2].map(|k| WHITE[k] + (end[k] - WHITE[k]) * a)
}

/// The smallest and largest finite values, or `None` when there is none.
fn finite_range(values: &[f32]) -> Option<(f32, f32)> {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Scales an image or feature map (`[H, W]`, `[1, H, W]` or `[3, H, W]`) for display, as a
/// `[1, H, W]` or `[3, H, W]` tensor in `[0, 1]`, and says how ([`DisplayScale`]):
///
/// * values already in `[0, 1]` are kept (a blurred photo looks like the photo);
/// * one channel, non-negative, above 1: divided by the maximum;
/// * one channel with negative values: the diverging map, symmetric about 0, so that the
///   sign of an edge detector's response reads as colour (the result has 3 channels);
/// * three channels outside `[0, 1]`: stretched from their joint minimum to their maximum.
///
/// Non-finite values are ignored when finding the range (and show as black or white).
///
/// ```
/// use strata_plot::{display_image, DisplayScale};
/// use strata_tensor::Tensor;
/// let edges = Tensor::<f32>::from_vec(vec![-2.0, 0.0, 1.0, 2.0], &[1, 2, 2])?;
/// let (picture, scale) = display_image(&edges)?;
/// assert_eq!(scale, DisplayScale::Diverging(2.0));
/// assert_eq!(picture.shape(), &[3, 2, 2]);
/// # Ok::<(), strata_plot::PlotError>(())
/// ```
///
/// # Errors
/// A tensor of another shape.
pub fn display_image(image: &Tensor<f32>) -> Result<(Tensor<f32>, DisplayScale)> {
    let [c, h, w] = image_dims(image, "display_image")?;
    let values = image.to_vec();
    let Some((lo, hi)) = finite_range(&values) else {
        return Ok((image.reshape(&[c, h, w])?, DisplayScale::AsIs));
    };
    if lo >= 0.0 && hi <= 1.0 {
        return Ok((image.reshape(&[c, h, w])?, DisplayScale::AsIs));
    }
    if c == 1 && lo >= 0.0 {
        let scaled = values.iter().map(|v| v / hi).collect();
        return Ok((
            Tensor::from_vec(scaled, &[1, h, w])?,
            DisplayScale::DividedByMax(hi),
        ));
    }
    if c == 1 {
        let m = hi.abs().max(lo.abs());
        let plane = h * w;
        let mut rgb = vec![0.0; 3 * plane];
        for (p, v) in values.iter().enumerate() {
            let colour = diverging(v / m);
            for k in 0..3 {
                rgb[k * plane + p] = colour[k];
            }
        }
        return Ok((
            Tensor::from_vec(rgb, &[3, h, w])?,
            DisplayScale::Diverging(m),
        ));
    }
    let span = hi - lo;
    let scaled = values
        .iter()
        .map(|v| if span > 0.0 { (v - lo) / span } else { 0.0 })
        .collect();
    Ok((
        Tensor::from_vec(scaled, &[3, h, w])?,
        DisplayScale::MinMax(lo, hi),
    ))
}

/// A vector of values (a flattened or dense layer's output) as a picture, scaled as
/// [`display_image`]: up to 64 values as one row of `cell × cell` squares; more wrapped
/// into rows of `ceil(sqrt(n))` one-pixel values, the last row padded with zeros.
///
/// ```
/// use strata_plot::vector_image;
/// let (picture, _) = vector_image(&[0.1, 0.7, 0.2], 10)?;
/// assert_eq!(picture.shape(), &[1, 10, 30]);
/// let (picture, _) = vector_image(&vec![0.5; 100], 10)?;
/// assert_eq!(picture.shape(), &[1, 10, 10]);
/// # Ok::<(), strata_plot::PlotError>(())
/// ```
///
/// # Errors
/// No values, or a zero `cell`.
pub fn vector_image(values: &[f32], cell: usize) -> Result<(Tensor<f32>, DisplayScale)> {
    let n = values.len();
    if n == 0 || cell == 0 {
        return Err(PlotError::invalid(
            "vector_image",
            format!("needs values and a positive cell size, found {n} values and cell {cell}"),
        ));
    }
    let map = if n <= 64 {
        let width = n * cell;
        let row: Vec<f32> = (0..width).map(|x| values[x / cell]).collect();
        let pixels = row.iter().copied().cycle().take(width * cell).collect();
        Tensor::from_vec(pixels, &[1, cell, width])?
    } else {
        let side = (n as f64).sqrt().ceil() as usize;
        let rows = n.div_ceil(side);
        let mut pixels = values.to_vec();
        pixels.resize(rows * side, 0.0);
        Tensor::from_vec(pixels, &[1, rows, side])?
    };
    display_image(&map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_range_gets_its_scaling() {
        let unit = Tensor::from_vec(vec![0.0, 0.5, 1.0, 0.25], &[1, 2, 2]).unwrap();
        let (p, s) = display_image(&unit).unwrap();
        assert_eq!((p.to_vec(), s), (unit.to_vec(), DisplayScale::AsIs));

        let big = Tensor::from_vec(vec![0.0, 2.0, 4.0, f32::INFINITY], &[2, 2]).unwrap();
        let (p, s) = display_image(&big).unwrap();
        assert_eq!(s, DisplayScale::DividedByMax(4.0));
        assert_eq!(&p.to_vec()[..3], &[0.0, 0.5, 1.0]);

        let signed = Tensor::from_vec(vec![-1.0, 0.0, 4.0, -4.0], &[1, 2, 2]).unwrap();
        let (p, s) = display_image(&signed).unwrap();
        assert_eq!(s, DisplayScale::Diverging(4.0));
        let v = p.to_vec();
        let px = |i: usize| [v[i], v[4 + i], v[8 + i]];
        assert_eq!(px(1), diverging(0.0));
        assert_eq!(px(2), diverging(1.0));
        assert_eq!(px(3), diverging(-1.0));
        assert_eq!(px(0), diverging(-0.25));

        let colour = Tensor::from_vec(vec![-1.0, 1.0, 3.0], &[3, 1, 1]).unwrap();
        let (p, s) = display_image(&colour).unwrap();
        assert_eq!(s, DisplayScale::MinMax(-1.0, 3.0));
        assert_eq!(p.to_vec(), vec![0.0, 0.5, 1.0]);

        assert!(display_image(&Tensor::<f32>::zeros(&[2, 1, 1])).is_err());
    }

    #[test]
    fn the_diverging_map_runs_blue_white_red() {
        let [r, _, b] = diverging(-0.5);
        assert!(b > r);
        let [r, _, b] = diverging(0.5);
        assert!(r > b);
        assert_eq!(diverging(f32::NAN), diverging(0.0));
        assert_eq!(diverging(7.0), diverging(1.0));
    }

    #[test]
    fn vectors_become_strips_or_squares() {
        let (p, s) = vector_image(&[-1.0, 1.0], 3).unwrap();
        assert_eq!(p.shape(), &[3, 3, 6]);
        assert_eq!(s, DisplayScale::Diverging(1.0));
        let v = p.to_vec();
        // Red channel: blue-ish on the left, red on the right, on every row.
        assert_eq!(v[0], diverging(-1.0)[0]);
        assert_eq!(v[5], diverging(1.0)[0]);
        assert_eq!(v[2 * 6 + 5], diverging(1.0)[0]);
        let (p, _) = vector_image(&vec![0.5; 65], 3).unwrap();
        assert_eq!(p.shape(), &[1, 8, 9]);
        assert_eq!(p.to_vec()[64], 0.5);
        assert_eq!(p.to_vec()[65], 0.0);
        assert!(vector_image(&[], 3).is_err());
    }
}
