//! The shapes dataset of the course material: 128×128 RGB images on a white background with
//! one filled circle, square or triangle.
//!
//! For sample `i` under `seed` (its own generator, so generation is parallel and the result
//! does not depend on the thread count): the class is `i % 3` (circle, square, triangle);
//! `xy1` is drawn uniformly from the integers `10..=40`, `xy2` from `60..=100`, and the colour
//! has each channel uniform in `0..=200`. The circle is the ellipse inscribed in the box
//! `(xy1, xy1)-(xy2, xy2)`, the square is that box filled (both corners included), the
//! triangle has the corners `(xy1, xy1)`, `(xy2, xy2)`, `(xy2, xy1)`.

use std::path::Path;

use image::{ImageEncoder, RgbImage};
use rand::RngExt;
use rayon::prelude::*;

use crate::dataset::{check_read, index_error, Dataset, InMemoryDataset};
use crate::error::{DataError, Result};
use crate::fsio::{create_dir_all, write_atomic};
use crate::image_folder::interleaved_to_planar;
use strata_tensor::seed::seeded_rng;

/// Side of a shapes image in pixels.
pub const SHAPES_SIZE: usize = 128;
/// The classes of the shapes dataset, in label order.
pub const SHAPES_CLASSES: [&str; 3] = ["circle", "square", "triangle"];

/// The generator of the shapes dataset: `len` samples under `seed`.
///
/// It is itself a [`Dataset`] that draws sample `i` when it is read (no storage), or it can
/// render everything into memory ([`Shapes::generate`]) or into a folder per class as PNG
/// ([`Shapes::write_folder`]).
///
/// ```
/// use strata_data::{Dataset, Shapes};
/// let shapes = Shapes::new(6, 42);
/// let mut pixels = vec![0.0; 3 * 128 * 128];
/// assert_eq!(shapes.read(4, &mut pixels)?, 1); // sample 4 is a square
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shapes {
    len: usize,
    seed: u64,
    class_names: Vec<String>,
}

impl Shapes {
    /// `len` samples drawn under `seed`.
    pub fn new(len: usize, seed: u64) -> Self {
        Self {
            len,
            seed,
            class_names: SHAPES_CLASSES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Draws the class, corners and colour of sample `index`.
    fn spec(&self, index: usize) -> Spec {
        let mut rng = seeded_rng(self.seed, &[0, index as u64]);
        let xy1: usize = rng.random_range(10..=40);
        let xy2: usize = rng.random_range(60..=100);
        let colour = [
            rng.random_range(0..=200u8),
            rng.random_range(0..=200u8),
            rng.random_range(0..=200u8),
        ];
        Spec {
            class: index % 3,
            xy1,
            xy2,
            colour,
        }
    }

    /// Renders sample `index` as an RGB image (row-major, interleaved) and returns its label.
    pub fn render(&self, index: usize) -> (RgbImage, usize) {
        let spec = self.spec(index);
        let size = SHAPES_SIZE as u32;
        let mut image = RgbImage::from_pixel(size, size, image::Rgb([255; 3]));
        spec.for_each_span(|y, x0, x1| {
            for x in x0..=x1 {
                image.put_pixel(x as u32, y as u32, image::Rgb(spec.colour));
            }
        });
        (image, spec.class)
    }

    /// Renders every sample into memory (in parallel), as `[N, 3, 128, 128]` bytes.
    pub fn generate(&self) -> Result<InMemoryDataset> {
        let per = 3 * SHAPES_SIZE * SHAPES_SIZE;
        let mut pixels = vec![0u8; self.len * per];
        let labels: Vec<usize> = pixels
            .par_chunks_mut(per)
            .enumerate()
            .map(|(i, out)| {
                let (image, label) = self.render(i);
                interleaved_to_planar(image.as_raw(), out);
                label
            })
            .collect();
        InMemoryDataset::new(
            pixels,
            [3, SHAPES_SIZE, SHAPES_SIZE],
            labels,
            self.class_names.clone(),
        )
    }

    /// Writes every sample as `dir/<class>/<class>_<index>.png` (atomically, in parallel),
    /// the layout [`ImageFolder`](crate::ImageFolder) reads back.
    pub fn write_folder(&self, dir: &Path) -> Result<()> {
        for class in SHAPES_CLASSES {
            create_dir_all(&dir.join(class))?;
        }
        (0..self.len).into_par_iter().try_for_each(|i| {
            let (image, label) = self.render(i);
            let class = SHAPES_CLASSES[label];
            let path = dir.join(class).join(format!("{class}_{i:06}.png"));
            let mut png = Vec::new();
            image::codecs::png::PngEncoder::new(&mut png)
                .write_image(
                    image.as_raw(),
                    image.width(),
                    image.height(),
                    image::ExtendedColorType::Rgb8,
                )
                .map_err(|source| DataError::Decode {
                    path: path.clone(),
                    source,
                })?;
            write_atomic(&path, &png)
        })
    }
}

/// One sample's drawing instructions.
struct Spec {
    class: usize,
    xy1: usize,
    xy2: usize,
    colour: [u8; 3],
}

impl Spec {
    /// Whether pixel `(x, y)` is covered by the shape.
    fn inside(&self, x: usize, y: usize) -> bool {
        let (a, b) = (self.xy1, self.xy2);
        let in_box = (a..=b).contains(&x) && (a..=b).contains(&y);
        match self.class {
            0 => {
                let centre = (a + b) as f32 / 2.0;
                let radius = (b - a) as f32 / 2.0;
                let (dx, dy) = (x as f32 - centre, y as f32 - centre);
                dx * dx + dy * dy <= radius * radius
            }
            1 => in_box,
            _ => in_box && y <= x,
        }
    }

    /// Calls `f(y, x0, x1)` for each row's covered pixels `x0..=x1` (the shapes are convex,
    /// so each row's pixels are contiguous; all lie inside the box).
    fn for_each_span(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (a, b) = (self.xy1, self.xy2);
        for y in a..=b {
            let mut xs = (a..=b).filter(|&x| self.inside(x, y));
            if let Some(x0) = xs.next() {
                let x1 = xs.next_back().unwrap_or(x0);
                f(y, x0, x1);
            }
        }
    }
}

impl Dataset for Shapes {
    fn len(&self) -> usize {
        self.len
    }

    fn sample_shape(&self) -> [usize; 3] {
        [3, SHAPES_SIZE, SHAPES_SIZE]
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn read(&self, index: usize, out: &mut [f32]) -> Result<usize> {
        check_read("Shapes::read", self.len, self.sample_shape(), index, out)?;
        let spec = self.spec(index);
        out.fill(1.0);
        let plane = SHAPES_SIZE * SHAPES_SIZE;
        spec.for_each_span(|y, x0, x1| {
            for (c, &v) in spec.colour.iter().enumerate() {
                let row = c * plane + y * SHAPES_SIZE;
                out[row + x0..=row + x1].fill(f32::from(v) / 255.0);
            }
        });
        Ok(spec.class)
    }

    fn label(&self, index: usize) -> Result<usize> {
        if index >= self.len {
            return Err(index_error("Shapes::label", index, self.len));
        }
        Ok(index % 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsio::tests::scratch;

    #[test]
    fn shapes_follow_the_recipe() {
        let shapes = Shapes::new(30, 7);
        for i in 0..30 {
            let (img, label) = shapes.render(i);
            assert_eq!(label, i % 3);
            assert_eq!(img.dimensions(), (128, 128));
            assert_eq!(img.get_pixel(0, 0).0, [255; 3]);
            assert_eq!(img.get_pixel(127, 127).0, [255; 3]);
            assert_eq!(img.get_pixel(5, 120).0, [255; 3]);
            // (50, 50) lies inside every circle, square and triangle: xy1 <= 40, xy2 >= 60.
            let c = img.get_pixel(50, 50).0;
            assert!(c.iter().all(|&v| v <= 200), "{c:?}");
            // Below the diagonal is outside the triangle but inside the square.
            let below = img.get_pixel(41, 59).0;
            match label {
                1 => assert_eq!(below, c),
                2 => assert_eq!(below, [255; 3]),
                _ => {}
            }
            // Circles and squares are symmetric about the diagonal.
            let symmetric =
                (0..128).all(|y| (0..128).all(|x| img.get_pixel(x, y) == img.get_pixel(y, x)));
            assert_eq!(symmetric, label != 2);
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_matches_reading() {
        let a = Shapes::new(9, 3).generate().unwrap();
        assert_eq!(a, Shapes::new(9, 3).generate().unwrap());
        assert_ne!(a, Shapes::new(9, 4).generate().unwrap());
        let mut buf = vec![0.0; 3 * 128 * 128];
        let label = Shapes::new(9, 3).read(5, &mut buf).unwrap();
        assert_eq!(label, 2);
        let bytes: Vec<u8> = buf.iter().map(|v| (v * 255.0).round() as u8).collect();
        assert_eq!(bytes.as_slice(), a.image(5).unwrap());
    }

    #[test]
    fn writes_a_folder_per_class() {
        let dir = scratch("shapes-folder");
        Shapes::new(7, 1).write_folder(&dir).unwrap();
        let count = |c: &str| std::fs::read_dir(dir.join(c)).unwrap().count();
        assert_eq!(
            (count("circle"), count("square"), count("triangle")),
            (3, 2, 2)
        );
        let png = image::open(dir.join("square/square_000004.png"))
            .unwrap()
            .to_rgb8();
        assert_eq!(png, Shapes::new(7, 1).render(4).0);
    }
}
