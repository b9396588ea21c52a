//! A grid of images, with or without captions (misclassified digits, feature maps).

use std::path::Path;

use strata_tensor::Tensor;

use super::image::{image_dims, unit_byte};
use super::{draw_texts, save_rgb_png};
use crate::error::{PlotError, Result};

/// One image of a grid: `[1, H, W]` (greyscale) or `[3, H, W]` (RGB) values in `[0, 1]`,
/// and its caption (empty for none).
#[derive(Debug, Clone)]
pub struct Tile {
    /// The image.
    pub image: Tensor<f32>,
    /// Text under the image.
    pub caption: String,
}

/// Images laid out in rows, each scaled up by a whole factor and, when any has a caption,
/// captioned. Images may differ in size and channels: every cell is as large as the largest
/// image, and smaller images sit in its top-left corner.
#[derive(Debug, Clone)]
pub struct ImageGrid {
    /// The images, row by row.
    pub tiles: Vec<Tile>,
    /// Images per row.
    pub columns: usize,
    /// Each image pixel becomes `scale × scale` pixels.
    pub scale: usize,
}

/// Height of a caption line in pixels.
pub(super) const CAPTION: usize = 18;
/// Space around each tile.
pub(super) const GAP: usize = 6;
/// The largest picture drawn, in pixels (a guard against absurd sizes).
const MAX_PIXELS: usize = 1 << 28;

/// The geometry of a grid picture.
struct Layout {
    width: usize,
    height: usize,
    cell_w: usize,
    cell_h: usize,
    caption: usize,
}

impl ImageGrid {
    /// The picture's geometry, after checking every tile.
    fn layout(&self) -> Result<Layout> {
        if self.tiles.is_empty() {
            return Err(PlotError::invalid("image grid", "no images to draw"));
        }
        if self.columns == 0 || self.scale == 0 {
            return Err(PlotError::invalid(
                "image grid",
                "columns and scale must be positive",
            ));
        }
        let (mut max_h, mut max_w) = (0, 0);
        for (i, tile) in self.tiles.iter().enumerate() {
            let [c, h, w] = image_dims(&tile.image, "image grid")?;
            if tile.image.rank() != 3 || !(c == 1 || c == 3) {
                return Err(PlotError::invalid(
                    "image grid",
                    format!(
                        "image {i} has shape {:?}; images must be [1 or 3, H, W]",
                        tile.image.shape()
                    ),
                ));
            }
            max_h = max_h.max(h);
            max_w = max_w.max(w);
        }
        let caption = if self.tiles.iter().any(|t| !t.caption.is_empty()) {
            CAPTION
        } else {
            0
        };
        let too_large = || PlotError::invalid("image grid", "the picture would be too large");
        let cell_w = max_w.checked_mul(self.scale).ok_or_else(too_large)? + GAP;
        let cell_h = max_h.checked_mul(self.scale).ok_or_else(too_large)? + caption + GAP;
        let rows = self.tiles.len().div_ceil(self.columns);
        let width = cell_w * self.columns.min(self.tiles.len()) + GAP;
        let height = cell_h * rows + GAP;
        if width.checked_mul(height).is_none_or(|p| p > MAX_PIXELS) {
            return Err(too_large());
        }
        Ok(Layout {
            width,
            height,
            cell_w,
            cell_h,
            caption,
        })
    }

    /// Draws the grid into an RGB buffer; returns it with its width and height.
    pub fn render(&self) -> Result<(Vec<u8>, u32, u32)> {
        let layout = self.layout()?;
        let (width, height) = (layout.width, layout.height);
        let mut buffer = vec![255u8; width * height * 3];
        for (i, tile) in self.tiles.iter().enumerate() {
            let x0 = GAP + (i % self.columns) * layout.cell_w;
            let y0 = GAP + (i / self.columns) * layout.cell_h;
            let [c, h, w] = image_dims(&tile.image, "image grid")?;
            let values = tile.image.to_vec();
            let plane = h * w;
            for y in 0..h * self.scale {
                let row = &mut buffer[((y0 + y) * width + x0) * 3..];
                for x in 0..w * self.scale {
                    let p = (y / self.scale) * w + x / self.scale;
                    let px = &mut row[x * 3..x * 3 + 3];
                    for (k, out) in px.iter_mut().enumerate() {
                        let channel = if c == 1 { 0 } else { k };
                        *out = unit_byte(values[channel * plane + p]);
                    }
                }
            }
        }
        if layout.caption > 0 {
            let captions = self.tiles.iter().enumerate().map(|(i, tile)| {
                let x0 = GAP + (i % self.columns) * layout.cell_w;
                let y0 = GAP + (i / self.columns) * layout.cell_h;
                let text_y = y0 + layout.cell_h - GAP - layout.caption + 3;
                (tile.caption.as_str(), x0, text_y)
            });
            draw_texts(&mut buffer, (width, height), 13, "image grid", captions)?;
        }
        Ok((buffer, width as u32, height as u32))
    }

    /// Draws the grid and writes it as a PNG file, atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let (pixels, width, height) = self.render()?;
        save_rgb_png(path, &pixels, width, height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(image: Tensor<f32>, caption: &str) -> Tile {
        Tile {
            image,
            caption: caption.into(),
        }
    }

    #[test]
    fn draws_scaled_tiles_and_checks_shapes() {
        let red = Tensor::from_vec(
            vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            &[3, 2, 2],
        )
        .unwrap();
        let grid = ImageGrid {
            tiles: vec![tile(red.clone(), "red")],
            columns: 4,
            scale: 3,
        };
        let (pixels, w, h) = grid.render().unwrap();
        assert_eq!(
            (w as usize, h as usize),
            // One tile (the scaled image and a gap) plus the outer gap.
            (2 * 3 + GAP + GAP, 2 * 3 + CAPTION + GAP + GAP)
        );
        let at = |x: usize, y: usize| &pixels[(y * w as usize + x) * 3..][..3];
        assert_eq!(at(GAP, GAP), [255, 0, 0]);
        assert_eq!(at(GAP + 5, GAP + 5), [255, 0, 0]);
        let bad = ImageGrid {
            tiles: vec![tile(red, ""), tile(Tensor::<f32>::ones(&[2, 2, 2]), "")],
            columns: 2,
            scale: 1,
        };
        let err = bad.render().unwrap_err().to_string();
        assert!(err.contains("[2, 2, 2]"), "{err}");
        assert!(ImageGrid {
            tiles: vec![],
            columns: 1,
            scale: 1
        }
        .render()
        .is_err());
    }

    #[test]
    fn mixed_sizes_share_the_largest_cell_and_captions_are_optional() {
        let big = Tensor::<f32>::zeros(&[1, 4, 3]);
        let small = Tensor::<f32>::ones(&[3, 2, 1]);
        let grid = ImageGrid {
            tiles: vec![tile(big, ""), tile(small, "")],
            columns: 2,
            scale: 1,
        };
        let (pixels, w, h) = grid.render().unwrap();
        // No caption row: cells are 3+GAP wide and 4+GAP high.
        assert_eq!((w as usize, h as usize), (2 * (3 + GAP) + GAP, 4 + 2 * GAP));
        let at = |x: usize, y: usize| &pixels[(y * w as usize + x) * 3..][..3];
        assert_eq!(at(GAP, GAP), [0, 0, 0]);
        let x1 = GAP + 3 + GAP;
        assert_eq!(at(x1, GAP + 1), [255, 255, 255]);
        // Below the small image the cell stays background.
        assert_eq!(at(x1, GAP + 3), [255, 255, 255]);
        assert_eq!(at(x1 + 1, GAP), [255, 255, 255]);
        let captioned = ImageGrid {
            tiles: vec![tile(Tensor::<f32>::zeros(&[1, 4, 3]), "a")],
            columns: 1,
            scale: 1,
        };
        let (pixels, w, h) = captioned.render().unwrap();
        assert_eq!(h as usize, 4 + CAPTION + 2 * GAP);
        // The caption is drawn: its row, below the image, holds dark pixels.
        let caption_row = &pixels[(GAP + 4) * w as usize * 3..];
        assert!(caption_row.iter().any(|&v| v < 128), "no caption drawn");
    }
}
