//! A grid of small images, each with a caption (misclassified digits, sample images).

use std::path::Path;

use plotters::prelude::*;
use strata_tensor::Tensor;

use super::{register_bundled_font, save_rgb_png};
use crate::error::{LayersError, Result};

/// One image of a grid: `[1, H, W]` (greyscale) or `[3, H, W]` (RGB) values in `[0, 1]`,
/// and its caption.
#[derive(Debug, Clone)]
pub struct Tile {
    /// The image.
    pub image: Tensor<f32>,
    /// Text under the image.
    pub caption: String,
}

/// Images laid out in rows, each scaled up by a whole factor and captioned.
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
const CAPTION: usize = 18;
/// Space around each tile.
const GAP: usize = 6;

impl ImageGrid {
    /// The picture's size in pixels.
    fn size(&self) -> Result<(usize, usize, usize, usize)> {
        let first = self
            .tiles
            .first()
            .ok_or_else(|| LayersError::config("image grid", "no images to draw"))?;
        let &[_, h, w] = first.image.shape() else {
            return Err(LayersError::config(
                "image grid",
                format!("images must be [C, H, W], found {:?}", first.image.shape()),
            ));
        };
        if self.columns == 0 || self.scale == 0 {
            return Err(LayersError::config(
                "image grid",
                "columns and scale must be positive",
            ));
        }
        let (tile_w, tile_h) = (w * self.scale + GAP, h * self.scale + CAPTION + GAP);
        let rows = self.tiles.len().div_ceil(self.columns);
        Ok((
            tile_w * self.columns.min(self.tiles.len()) + GAP,
            tile_h * rows + GAP,
            tile_w,
            tile_h,
        ))
    }

    /// Draws the grid into an RGB buffer; returns it with its width and height.
    pub fn render(&self) -> Result<(Vec<u8>, u32, u32)> {
        register_bundled_font();
        let (width, height, tile_w, tile_h) = self.size()?;
        let mut buffer = vec![255u8; width * height * 3];
        let shape = self.tiles[0].image.shape().to_vec();
        {
            let draw_error =
                |e: &dyn std::fmt::Display| LayersError::config("image grid", e.to_string());
            let root = BitMapBackend::with_buffer(&mut buffer, (width as u32, height as u32))
                .into_drawing_area();
            for (i, tile) in self.tiles.iter().enumerate() {
                if tile.image.shape() != shape.as_slice() || !(shape[0] == 1 || shape[0] == 3) {
                    return Err(LayersError::config(
                        "image grid",
                        format!("image {i} has shape {:?}; all must be [1 or 3, H, W] like the first, {shape:?}", tile.image.shape()),
                    ));
                }
                let (x0, y0) = (
                    GAP + (i % self.columns) * tile_w,
                    GAP + (i / self.columns) * tile_h,
                );
                let (c, h, w) = (shape[0], shape[1], shape[2]);
                let values = tile.image.to_vec();
                let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                for y in 0..h * self.scale {
                    for x in 0..w * self.scale {
                        let p = (y / self.scale) * w + x / self.scale;
                        let rgb = if c == 1 {
                            let g = byte(values[p]);
                            RGBColor(g, g, g)
                        } else {
                            RGBColor(
                                byte(values[p]),
                                byte(values[h * w + p]),
                                byte(values[2 * h * w + p]),
                            )
                        };
                        root.draw_pixel(((x0 + x) as i32, (y0 + y) as i32), &rgb)
                            .map_err(|e| draw_error(&e))?;
                    }
                }
                root.draw(&Text::new(
                    tile.caption.clone(),
                    (x0 as i32, (y0 + h * self.scale + 3) as i32),
                    ("sans-serif", 13).into_font().color(&BLACK),
                ))
                .map_err(|e| draw_error(&e))?;
            }
            root.present().map_err(|e| draw_error(&e))?;
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

    #[test]
    fn draws_scaled_tiles_and_checks_shapes() {
        let white = Tensor::<f32>::ones(&[1, 2, 2]);
        let red = Tensor::from_vec(
            vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            &[3, 2, 2],
        )
        .unwrap();
        let grid = ImageGrid {
            tiles: vec![Tile {
                image: red.clone(),
                caption: "red".into(),
            }],
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
        let mixed = ImageGrid {
            tiles: vec![
                Tile {
                    image: red,
                    caption: String::new(),
                },
                Tile {
                    image: white,
                    caption: String::new(),
                },
            ],
            columns: 2,
            scale: 1,
        };
        assert!(mixed.render().is_err());
        assert!(ImageGrid {
            tiles: vec![],
            columns: 1,
            scale: 1
        }
        .render()
        .is_err());
    }
}
