//! Pictures of what the network computes: the first convolution's filters as colour tiles
//! (as caffe's `vis_square`) and a layer's feature maps as grey tiles.

use strata_plot::{ImageGrid, Tile};
use strata_tensor::Tensor;

use crate::{AppError, AppResult};

/// Scales `values` linearly to `[0, 1]` (a constant input becomes all zeros).
fn normalise(values: &[f32]) -> Vec<f32> {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = hi - lo;
    values
        .iter()
        .map(|&v| if range > 0.0 { (v - lo) / range } else { 0.0 })
        .collect()
}

/// Columns of a square-ish grid of `n` tiles.
fn columns(n: usize) -> usize {
    ((n as f64).sqrt().ceil() as usize).max(1)
}

/// The filters of a first convolution `[filters, 3, kh, kw]` as RGB tiles, normalised
/// together over the whole kernel as `vis_square` does. `bgr` says the input channels are
/// blue, green, red (caffe/Keras weights); they are shown as RGB.
pub fn filter_grid(kernel: &Tensor<f32>, bgr: bool) -> AppResult<ImageGrid> {
    let &[filters, 3, kh, kw] = kernel.shape() else {
        return Err(AppError::Message(format!(
            "the first convolution's kernel should be [filters, 3, kh, kw], found {:?}",
            kernel.shape()
        )));
    };
    let values = normalise(&kernel.to_vec());
    let per = 3 * kh * kw;
    let tiles = values
        .chunks_exact(per)
        .enumerate()
        .map(|(i, f)| {
            let mut rgb = f.to_vec();
            if bgr {
                let plane = kh * kw;
                let (b, rest) = rgb.split_at_mut(plane);
                b.swap_with_slice(&mut rest[plane..]);
            }
            Ok(Tile {
                image: Tensor::from_vec(rgb, &[3, kh, kw])?,
                caption: i.to_string(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ImageGrid {
        tiles,
        columns: columns(filters),
        scale: (48 / kh.max(1)).max(1),
    })
}

/// The feature maps of one image's activations `[1, C, H, W]` as grey tiles, each scaled to
/// `[0, 1]` on its own (so weak maps stay visible); at most `max_maps` maps.
pub fn activation_grid(activations: &Tensor<f32>, max_maps: usize) -> AppResult<ImageGrid> {
    let &[1, c, h, w] = activations.shape() else {
        return Err(AppError::Message(format!(
            "feature maps of one image should be [1, C, H, W], found {:?} (pick a convolution or pooling layer)",
            activations.shape()
        )));
    };
    let values = activations.to_vec();
    let n = c.min(max_maps.max(1));
    let tiles = values
        .chunks_exact((h * w).max(1))
        .take(n)
        .enumerate()
        .map(|(i, map)| {
            Ok(Tile {
                image: Tensor::from_vec(normalise(map), &[1, h, w])?,
                caption: i.to_string(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ImageGrid {
        tiles,
        columns: columns(n),
        scale: (112 / h.max(1)).max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_normalised_together_and_reordered_from_bgr() {
        let k =
            Tensor::from_vec((0..2 * 3 * 4).map(|v| v as f32).collect(), &[2, 3, 2, 2]).unwrap();
        let g = filter_grid(&k, false).unwrap();
        assert_eq!(g.tiles.len(), 2);
        assert_eq!(g.tiles[0].image.to_vec()[0], 0.0);
        assert_eq!(*g.tiles[1].image.to_vec().last().unwrap(), 1.0);
        let g = filter_grid(&k, true).unwrap();
        assert_eq!(g.tiles[0].image.to_vec()[0], 8.0 / 23.0);
        assert!(filter_grid(&Tensor::zeros(&[2, 1, 3, 3]), false).is_err());
    }

    #[test]
    fn maps_are_normalised_one_by_one() {
        let a = Tensor::from_vec(vec![0., 2., 4., 6., 5., 5., 5., 5.], &[1, 2, 2, 2]).unwrap();
        let g = activation_grid(&a, 10).unwrap();
        assert_eq!(g.tiles[0].image.to_vec(), vec![0., 1. / 3., 2. / 3., 1.]);
        assert_eq!(g.tiles[1].image.to_vec(), vec![0.; 4]);
        assert_eq!(activation_grid(&a, 1).unwrap().tiles.len(), 1);
        assert!(activation_grid(&Tensor::zeros(&[1, 10]), 4).is_err());
    }
}
