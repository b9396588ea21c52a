//! The named filters of the course's first lessons.

use crate::error::{FilterError, Result};

/// A convolution filter: `[H, W]` (one plane, applied to every channel of an image on its
/// own) or `[C, H, W]` (one value per channel, summed over the channels into one map).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// `[H, W]` or `[C, H, W]`.
    pub shape: Vec<usize>,
    /// The values, row-major (channel, row, column).
    pub values: Vec<f32>,
}

impl Filter {
    /// A plane filter from its rows (all of one length; checked by the callers' data).
    fn plane(rows: &[&[f32]]) -> Self {
        Self {
            shape: vec![rows.len(), rows[0].len()],
            values: rows.iter().flat_map(|r| r.iter().copied()).collect(),
        }
    }

    /// The number of channels of a `[C, H, W]` filter, `None` for a plane.
    pub fn channels(&self) -> Option<usize> {
        (self.shape.len() == 3).then(|| self.shape[0])
    }

    /// The kernel's `[H, W]`.
    pub fn size(&self) -> [usize; 2] {
        let n = self.shape.len();
        [self.shape[n - 2], self.shape[n - 1]]
    }

    /// The plane filter with rows and columns exchanged.
    fn transposed(&self) -> Self {
        let [h, w] = self.size();
        let values = (0..w)
            .flat_map(|c| (0..h).map(move |r| (r, c)))
            .map(|(r, c)| self.values[r * w + c])
            .collect();
        Self {
            shape: vec![w, h],
            values,
        }
    }

    /// The plane filter with its rows in reverse order.
    fn rows_flipped(&self) -> Self {
        let [_, w] = self.size();
        let values = self.values.chunks(w).rev().flatten().copied().collect();
        Self {
            shape: self.shape.clone(),
            values,
        }
    }
}

/// The names [`named_filter`] knows, in the order `filters list` prints them.
pub const FILTER_NAMES: [&str; 17] = [
    "horizontal",
    "vertical",
    "prewitt-x",
    "prewitt-x-t",
    "prewitt-x-flip",
    "prewitt-y",
    "prewitt-y-t",
    "prewitt-y-flip",
    "sobel-x",
    "sobel-y",
    "laplacian",
    "sharpen",
    "box",
    "box5",
    "gaussian",
    "gaussian5",
    "brown",
];

/// One line of description per named filter, for `--help` and the README.
pub fn describe(name: &str) -> &'static str {
    match name {
        "horizontal" => "horizontal line detector: a bright row between dark rows",
        "vertical" => "vertical line detector: a bright column between dark columns",
        "prewitt-x" => "Prewitt x: columns +1, 0, -1 (responds to vertical edges)",
        "prewitt-x-t" => "Prewitt x transposed",
        "prewitt-x-flip" => "Prewitt x with its rows in reverse order",
        "prewitt-y" => "Prewitt y: rows +1, 0, -1 (responds to horizontal edges)",
        "prewitt-y-t" => "Prewitt y transposed",
        "prewitt-y-flip" => "Prewitt y with its rows in reverse order (the sign flips)",
        "sobel-x" => "Sobel x: Prewitt x with the middle row weighted 2",
        "sobel-y" => "Sobel y: Prewitt y with the middle column weighted 2",
        "laplacian" => "Laplacian: 4-neighbour second derivative",
        "sharpen" => "sharpen: 5 in the middle, -1 on the 4 neighbours",
        "box" => "3×3 box blur (mean)",
        "box5" => "5×5 box blur (mean)",
        "gaussian" => "3×3 Gaussian blur (binomial 1 2 1, /16)",
        "gaussian5" => "5×5 Gaussian blur (binomial 1 4 6 4 1, /256)",
        "brown" => "3×3×3 colour filter: +red, +half green, -blue (brown and orange glow)",
        _ => "",
    }
}

/// The named filter `name` (one of [`FILTER_NAMES`]).
///
/// ```
/// use filters::named_filter;
/// let f = named_filter("sobel-x")?;
/// assert_eq!(f.shape, vec![3, 3]);
/// assert_eq!(f.values, vec![1., 0., -1., 2., 0., -2., 1., 0., -1.]);
/// # Ok::<(), filters::FilterError>(())
/// ```
///
/// # Errors
/// An unknown name; the message lists the known ones.
pub fn named_filter(name: &str) -> Result<Filter> {
    let prewitt_x = Filter::plane(&[&[1., 0., -1.], &[1., 0., -1.], &[1., 0., -1.]]);
    let prewitt_y = Filter::plane(&[&[1., 1., 1.], &[0., 0., 0.], &[-1., -1., -1.]]);
    let binomial = |b: &[f32]| {
        let total: f32 = b.iter().sum::<f32>().powi(2);
        let rows: Vec<Vec<f32>> = b
            .iter()
            .map(|r| b.iter().map(|c| r * c / total).collect())
            .collect();
        let rows: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        Filter::plane(&rows)
    };
    let boxed = |n: usize| Filter {
        shape: vec![n, n],
        values: vec![1.0 / (n * n) as f32; n * n],
    };
    Ok(match name {
        "horizontal" => Filter::plane(&[&[-1., -1., -1.], &[2., 2., 2.], &[-1., -1., -1.]]),
        "vertical" => Filter::plane(&[&[-1., 2., -1.], &[-1., 2., -1.], &[-1., 2., -1.]]),
        "prewitt-x" => prewitt_x,
        "prewitt-x-t" => prewitt_x.transposed(),
        "prewitt-x-flip" => prewitt_x.rows_flipped(),
        "prewitt-y" => prewitt_y,
        "prewitt-y-t" => prewitt_y.transposed(),
        "prewitt-y-flip" => prewitt_y.rows_flipped(),
        "sobel-x" => Filter::plane(&[&[1., 0., -1.], &[2., 0., -2.], &[1., 0., -1.]]),
        "sobel-y" => Filter::plane(&[&[1., 2., 1.], &[0., 0., 0.], &[-1., -2., -1.]]),
        "laplacian" => Filter::plane(&[&[0., 1., 0.], &[1., -4., 1.], &[0., 1., 0.]]),
        "sharpen" => Filter::plane(&[&[0., -1., 0.], &[-1., 5., -1.], &[0., -1., 0.]]),
        "box" => boxed(3),
        "box5" => boxed(5),
        "gaussian" => binomial(&[1., 2., 1.]),
        "gaussian5" => binomial(&[1., 4., 6., 4., 1.]),
        "brown" => {
            let mut values = vec![1.0 / 9.0; 9];
            values.extend([0.5 / 9.0; 9]);
            values.extend([-1.0 / 9.0; 9]);
            Filter {
                shape: vec![3, 3, 3],
                values,
            }
        }
        _ => {
            return Err(FilterError::invalid(
                "--filter",
                format!(
                    "no filter named {name:?} and no such file; named filters: {}",
                    FILTER_NAMES.join(", ")
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_known_and_the_derived_ones_are_what_they_say() {
        for name in FILTER_NAMES {
            let f = named_filter(name).unwrap();
            assert_eq!(f.values.len(), f.shape.iter().product::<usize>(), "{name}");
            assert!(!describe(name).is_empty(), "{name}");
        }
        let x = named_filter("prewitt-x").unwrap();
        assert_eq!(
            named_filter("prewitt-x-t").unwrap(),
            named_filter("prewitt-y").unwrap()
        );
        assert_eq!(named_filter("prewitt-x-flip").unwrap(), x);
        let y_flip = named_filter("prewitt-y-flip").unwrap();
        assert_eq!(y_flip.values[..3], [-1., -1., -1.]);
        let g = named_filter("gaussian5").unwrap();
        assert!((g.values.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(named_filter("brown").unwrap().channels(), Some(3));
        let err = named_filter("blurry").unwrap_err().to_string();
        assert!(err.contains("blurry") && err.contains("sobel-x"), "{err}");
    }
}
