//! A sheet: titled grids stacked top to bottom in one picture (a network's stages).

use std::path::Path;

use super::grid::{ImageGrid, CAPTION, GAP};
use super::{draw_texts, save_rgb_png};
use crate::error::{PlotError, Result};

/// Grids stacked vertically, each under its title (no title line when the title is empty),
/// on a white background as wide as the widest grid.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    /// The sections, top to bottom: a title and its grid.
    pub sections: Vec<(String, ImageGrid)>,
}

impl Sheet {
    /// Draws the sheet into an RGB buffer; returns it with its width and height.
    pub fn render(&self) -> Result<(Vec<u8>, u32, u32)> {
        if self.sections.is_empty() {
            return Err(PlotError::invalid("sheet", "no sections to draw"));
        }
        let mut parts = Vec::with_capacity(self.sections.len());
        for (title, grid) in &self.sections {
            let (pixels, w, h) = grid.render().map_err(|e| {
                PlotError::invalid(format!("sheet section {title:?}"), e.to_string())
            })?;
            parts.push((title, pixels, w as usize, h as usize));
        }
        let width = parts.iter().map(|p| p.2).max().unwrap_or(0);
        let title_h = |t: &str| if t.is_empty() { 0 } else { CAPTION + GAP };
        let height: usize = parts.iter().map(|p| title_h(p.0) + p.3).sum();
        if width.checked_mul(height).is_none_or(|p| p > 1 << 28) {
            return Err(PlotError::invalid(
                "sheet",
                "the picture would be too large",
            ));
        }
        let mut buffer = vec![255u8; width * height * 3];
        let mut titles = Vec::new();
        let mut y = 0;
        for (title, pixels, w, h) in &parts {
            if !title.is_empty() {
                titles.push(((*title).clone(), y + GAP));
                y += title_h(title);
            }
            for row in 0..*h {
                let src = &pixels[row * w * 3..(row + 1) * w * 3];
                buffer[((y + row) * width) * 3..][..w * 3].copy_from_slice(src);
            }
            y += h;
        }
        let titles = titles.iter().map(|(title, ty)| (title.as_str(), GAP, *ty));
        draw_texts(&mut buffer, (width, height), 15, "sheet", titles)?;
        Ok((buffer, width as u32, height as u32))
    }

    /// Draws the sheet and writes it as a PNG file, atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let (pixels, width, height) = self.render()?;
        save_rgb_png(path, &pixels, width, height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tile;
    use strata_tensor::Tensor;

    #[test]
    fn sections_stack_under_their_titles() {
        let grid = |w: usize| ImageGrid {
            tiles: vec![Tile {
                image: Tensor::<f32>::zeros(&[1, 2, w]),
                caption: String::new(),
            }],
            columns: 1,
            scale: 1,
        };
        let sheet = Sheet {
            sections: vec![("first".into(), grid(2)), (String::new(), grid(5))],
        };
        let (pixels, w, h) = sheet.render().unwrap();
        assert_eq!(w as usize, 5 + 2 * GAP);
        assert_eq!(h as usize, (CAPTION + GAP) + 2 * (2 + 2 * GAP));
        // The second grid's image starts right below the first grid.
        let y = (CAPTION + GAP) + (2 + 2 * GAP) + GAP;
        assert_eq!(&pixels[(y * w as usize + GAP + 4) * 3..][..3], [0, 0, 0]);
        // The first section's title is drawn above its grid.
        let title_rows = &pixels[..(CAPTION + GAP) * w as usize * 3];
        assert!(title_rows.iter().any(|&v| v < 128), "no title drawn");
        assert!(Sheet::default().render().is_err());
    }
}
