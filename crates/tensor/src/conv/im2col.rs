//! im2col and col2im over tiles of output rows, and the tile size that bounds the column
//! buffer.

use super::geometry::Geometry;
use crate::element::Element;

/// The byte budget of one column buffer (one per running task): 1 MiB, so that the buffer the
/// im2col writes is still in the core's L2 cache (2 MiB here) when the GEMM packs it.
///
/// The column matrix of a whole image can be huge (VGG-16's conv1_2 on a 224×224 image: 576 ×
/// 50 176 values, 115 MB in `f32` per image); the kernels therefore process tiles of output
/// rows whose column matrix fits this budget.
pub const COL_BUFFER_BYTES: usize = 1 << 20;

/// The number of output rows per tile of a convolution whose column matrix has `col_rows`
/// rows (`channels · kh · kw`) for an output of `out_h × out_w` pixels, with elements of
/// `elem_bytes` bytes.
///
/// The tile is the largest that keeps `col_rows · rows · out_w · elem_bytes` within
/// [`COL_BUFFER_BYTES`] (at least one row), evened out so that all tiles of an image have
/// nearly the same height. It depends only on the shapes, never on the number of threads.
///
/// ```
/// use strata_tensor::conv::{im2col_tile_rows, COL_BUFFER_BYTES};
/// // VGG-16 conv1_2 in f32: 64 channels · 3 · 3 = 576 column rows, 224 × 224 output.
/// let rows = im2col_tile_rows(576, 224, 224, 4);
/// assert!(576 * rows * 224 * 4 <= COL_BUFFER_BYTES);
/// ```
pub fn im2col_tile_rows(col_rows: usize, out_h: usize, out_w: usize, elem_bytes: usize) -> usize {
    tile_rows(col_rows, out_h, out_w, elem_bytes, 0)
}

/// The most columns a tile is guaranteed: the GEMM packs the weights (`cout_g × col_rows`)
/// once per tile, so a tile of few pixels and many output channels spends more time
/// packing weights than multiplying (VGG-16's 28×28 layers at batch 1 had tiles of 56
/// pixels and 512 channels: 9.4 MB of weights packed for every 56 columns).
pub(super) const MIN_TILE_PIXELS: usize = 512;

/// [`im2col_tile_rows`], with tiles of at least `min_pixels` output pixels (whole rows, at
/// most the image) even where that exceeds [`COL_BUFFER_BYTES`].
fn tile_rows(
    col_rows: usize,
    out_h: usize,
    out_w: usize,
    elem_bytes: usize,
    min_pixels: usize,
) -> usize {
    let per_row = col_rows.max(1) * out_w.max(1) * elem_bytes.max(1);
    let max_rows = (COL_BUFFER_BYTES / per_row)
        .max(min_pixels.div_ceil(out_w.max(1)))
        .clamp(1, out_h.max(1));
    let tiles = out_h.max(1).div_ceil(max_rows);
    out_h.max(1).div_ceil(tiles)
}

/// Images with fewer output pixels than this are grouped into blocks: a GEMM with fewer
/// columns than the micro-kernel's 64-wide tile wastes most of it (the MNIST model's last
/// convolution has 9 output pixels per image). Larger images are not: gathering their
/// gradients and copying their outputs cost more than the GEMM gains (measured on the
/// MNIST model's 11×11 layer).
const GROUP_BELOW_PIXELS: usize = 64;

/// The units of work of the convolution kernels: several whole images when images are
/// small (see [`GROUP_BELOW_PIXELS`]), else tiles of output rows of one image. Both depend
/// only on the shapes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Blocks {
    /// Images per block (the last block may have fewer); 1 when images are tiled.
    pub images: usize,
    /// The row tiles of one image (a single tile when blocks hold whole images).
    pub tiles: Tiles,
    n: usize,
}

/// One block: images `n0..n0 + images`, output rows `oh0..oh0 + rows` of each.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub n0: usize,
    pub images: usize,
    pub oh0: usize,
    pub rows: usize,
}

impl Block {
    /// Output pixels per image: the columns of one image's column matrix.
    pub fn pixels(&self, ow: usize) -> usize {
        self.rows * ow
    }
}

impl Blocks {
    /// Blocks whose column matrices (`col_rows` rows) fit [`COL_BUFFER_BYTES`]; images
    /// are grouped only when `group_images` (kernels that cannot gather images pass false),
    /// and then so that the column matrix and the block's `[cout_g, pixels]` output (or
    /// output gradient) fit together.
    pub fn new<T: Element>(g: &Geometry, col_rows: usize, group_images: bool) -> Self {
        let tiles = Tiles::new::<T>(g, col_rows);
        let per_image =
            (col_rows + g.cout_g).max(1) * (g.oh * g.ow).max(1) * std::mem::size_of::<T>();
        let pixels = g.oh * g.ow;
        let images = if group_images && tiles.count == 1 && pixels < GROUP_BELOW_PIXELS && g.n > 0 {
            let most = (COL_BUFFER_BYTES / per_image).clamp(1, g.n);
            g.n.div_ceil(g.n.div_ceil(most))
        } else {
            1
        };
        Self {
            images,
            tiles,
            n: g.n,
        }
    }

    /// The number of blocks.
    pub fn count(&self) -> usize {
        self.n.div_ceil(self.images) * self.tiles.count
    }

    /// Block `b`.
    pub fn block(&self, b: usize) -> Block {
        let (group, t) = (b / self.tiles.count, b % self.tiles.count);
        let n0 = group * self.images;
        let (oh0, rows) = self.tiles.range(t);
        Block {
            n0,
            images: self.images.min(self.n - n0),
            oh0,
            rows,
        }
    }
}

/// The tiles of output rows of one image: `count` tiles of `rows` rows (the last may be
/// shorter).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tiles {
    pub rows: usize,
    pub count: usize,
    out_h: usize,
}

impl Tiles {
    /// Tiles of at least `min(MIN_TILE_PIXELS, 2·cout_g)` pixels: the weights' packing is
    /// spread over at least twice as many columns as it has rows.
    pub fn new<T: Element>(g: &Geometry, col_rows: usize) -> Self {
        let min_pixels = MIN_TILE_PIXELS.min(2 * g.cout_g);
        let rows = tile_rows(col_rows, g.oh, g.ow, std::mem::size_of::<T>(), min_pixels);
        Self {
            rows,
            count: g.oh.div_ceil(rows),
            out_h: g.oh,
        }
    }

    /// First output row and number of rows of tile `t`.
    pub fn range(&self, t: usize) -> (usize, usize) {
        let start = t * self.rows;
        (start, self.rows.min(self.out_h - start))
    }
}

/// The output positions `o` in `0..out_len` whose input coordinate
/// `o·stride + tap - pad` lies in `0..in_len`, as a range `lo..hi` (possibly empty).
#[inline]
pub(super) fn valid_range(
    out_len: usize,
    stride: usize,
    tap: usize,
    pad: usize,
    in_len: usize,
) -> (usize, usize) {
    if in_len == 0 {
        return (0, 0);
    }
    let lo = if pad > tap {
        (pad - tap).div_ceil(stride)
    } else {
        0
    };
    let hi = if tap > pad + in_len - 1 {
        0
    } else {
        (pad + in_len - 1 - tap) / stride + 1
    };
    let hi = hi.min(out_len);
    (lo.min(hi), hi)
}

/// Fills `col` (`channels·kh·kw` rows of `rows·ow` values, one row every `ld` elements)
/// with the input windows of output rows `oh0..oh0 + rows`; `x` holds `channels` input
/// planes of `h×w`.
pub(super) fn im2col<T: Element>(
    g: &Geometry,
    x: &[T],
    channels: usize,
    (oh0, rows): (usize, usize),
    col: &mut [T],
    ld: usize,
) {
    let plane = g.h * g.w;
    let p = rows * g.ow;
    let zero = T::zero();
    for c in 0..channels {
        let xc = &x[c * plane..(c + 1) * plane];
        for ki in 0..g.kh {
            let (r_lo, r_hi) = valid_range(g.oh, g.sh, ki * g.dh, g.pt, g.h);
            for kj in 0..g.kw {
                let (lo, hi) = valid_range(g.ow, g.sw, kj * g.dw, g.pl, g.w);
                let row = (c * g.kh + ki) * g.kw + kj;
                let dst = &mut col[row * ld..row * ld + p];
                for (r, drow) in dst.chunks_exact_mut(g.ow).enumerate() {
                    let oh = oh0 + r;
                    if oh < r_lo || oh >= r_hi || lo >= hi {
                        drow.fill(zero);
                        continue;
                    }
                    let ih = oh * g.sh + ki * g.dh - g.pt;
                    let src = &xc[ih * g.w..(ih + 1) * g.w];
                    drow[..lo].iter_mut().for_each(|d| *d = zero);
                    drow[hi..].iter_mut().for_each(|d| *d = zero);
                    let iw0 = lo * g.sw + kj * g.dw - g.pl;
                    if g.sw == 1 {
                        drow[lo..hi].copy_from_slice(&src[iw0..iw0 + (hi - lo)]);
                    } else {
                        for (d, s) in drow[lo..hi].iter_mut().zip(src[iw0..].iter().step_by(g.sw)) {
                            *d = *s;
                        }
                    }
                }
            }
        }
    }
}

/// The column matrices of a block's images side by side in `col` (rows `images · p` apart,
/// image `i`'s columns from `i · p`, `p` its output pixels); `image(n)` gives image `n`'s
/// `channels` input planes. `sources`, from [`short_row_sources`], gathers instead of
/// copying row by row.
pub(super) fn im2col_block<'a, T: Element + 'a>(
    g: &Geometry,
    image: impl Fn(usize) -> &'a [T],
    channels: usize,
    (block, sources): (&Block, Option<&[usize]>),
    col: &mut [T],
) {
    let p = block.pixels(g.ow);
    let ld = block.images * p;
    for i in 0..block.images {
        let x = image(block.n0 + i);
        match sources {
            Some(sources) => gather_columns(sources, x, &mut col[i * p..], p, ld),
            None => im2col(
                g,
                x,
                channels,
                (block.oh0, block.rows),
                &mut col[i * p..],
                ld,
            ),
        }
    }
}

/// The source table of [`im2col_block`] when output rows are short and blocks hold whole
/// images (so one table serves every block); `None` otherwise, and for 1×1 convolutions,
/// whose column matrix is the input itself.
pub(super) fn short_row_sources(
    g: &Geometry,
    channels: usize,
    blocks: &Blocks,
) -> Option<Vec<usize>> {
    (g.ow < SHORT_ROW && blocks.tiles.count == 1 && !g.is_pointwise())
        .then(|| im2col_sources(g, channels, (0, g.oh)))
}

/// Output rows narrower than this are gathered through a table of source positions
/// ([`im2col_sources`]) instead of copied row by row: copying a row of a few values (3 in
/// the MNIST model's last convolution) costs a `memcpy` call per row.
const SHORT_ROW: usize = 8;

/// Where each element of the column matrix of output rows `oh0..oh0 + rows` comes from: its
/// position in the `channels` input planes, or `usize::MAX` for padding (read as zero).
/// Laid out as the column matrix (`channels·kh·kw` rows of `rows·ow`).
pub(super) fn im2col_sources(
    g: &Geometry,
    channels: usize,
    (oh0, rows): (usize, usize),
) -> Vec<usize> {
    let plane = g.h * g.w;
    let mut sources = Vec::with_capacity(channels * g.kh * g.kw * rows * g.ow);
    for c in 0..channels {
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                for oh in oh0..oh0 + rows {
                    let ih = (oh * g.sh + ki * g.dh)
                        .checked_sub(g.pt)
                        .filter(|&i| i < g.h);
                    for ow in 0..g.ow {
                        let iw = (ow * g.sw + kj * g.dw)
                            .checked_sub(g.pl)
                            .filter(|&i| i < g.w);
                        sources.push(match (ih, iw) {
                            (Some(ih), Some(iw)) => c * plane + ih * g.w + iw,
                            _ => usize::MAX,
                        });
                    }
                }
            }
        }
    }
    sources
}

/// Fills a column matrix (rows of `p` values, `ld` apart) from `x` through `sources` (see
/// [`im2col_sources`]).
pub(super) fn gather_columns<T: Element>(
    sources: &[usize],
    x: &[T],
    col: &mut [T],
    p: usize,
    ld: usize,
) {
    for (row, from) in sources.chunks_exact(p).enumerate() {
        for (d, &k) in col[row * ld..row * ld + p].iter_mut().zip(from) {
            *d = x.get(k).copied().unwrap_or_else(T::zero);
        }
    }
}

/// Adds `col` (laid out as [`im2col`] writes it, rows `ld` apart) back into the `channels`
/// input planes `dx`: the adjoint of [`im2col`].
pub(super) fn col2im<T: Element>(
    g: &Geometry,
    col: &[T],
    ld: usize,
    channels: usize,
    (oh0, rows): (usize, usize),
    dx: &mut [T],
) {
    let plane = g.h * g.w;
    let p = rows * g.ow;
    for c in 0..channels {
        let dxc = &mut dx[c * plane..(c + 1) * plane];
        for ki in 0..g.kh {
            let (r_lo, r_hi) = valid_range(g.oh, g.sh, ki * g.dh, g.pt, g.h);
            for kj in 0..g.kw {
                let (lo, hi) = valid_range(g.ow, g.sw, kj * g.dw, g.pl, g.w);
                if lo >= hi {
                    continue;
                }
                let row = (c * g.kh + ki) * g.kw + kj;
                let src = &col[row * ld..row * ld + p];
                for (r, srow) in src.chunks_exact(g.ow).enumerate() {
                    let oh = oh0 + r;
                    if oh < r_lo || oh >= r_hi {
                        continue;
                    }
                    let ih = oh * g.sh + ki * g.dh - g.pt;
                    let drow = &mut dxc[ih * g.w..(ih + 1) * g.w];
                    let iw0 = lo * g.sw + kj * g.dw - g.pl;
                    if g.sw == 1 {
                        for (d, s) in drow[iw0..iw0 + (hi - lo)].iter_mut().zip(&srow[lo..hi]) {
                            *d = *d + *s;
                        }
                    } else {
                        for (d, s) in drow[iw0..].iter_mut().step_by(g.sw).zip(&srow[lo..hi]) {
                            *d = *d + *s;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg_tile_keeps_the_column_buffer_bounded() {
        // conv1_2: 64 → 64, 3×3, pad 1 on 224×224.
        for elem in [4, 8] {
            let rows = im2col_tile_rows(64 * 9, 224, 224, elem);
            let bytes = 64 * 9 * rows * 224 * elem;
            assert!(bytes <= COL_BUFFER_BYTES, "{rows} rows need {bytes} bytes");
            assert!((1..224).contains(&rows));
        }
        // The whole-image column matrix would be 115 MB in f32: several tiles per image.
        assert!(224_usize.div_ceil(im2col_tile_rows(64 * 9, 224, 224, 4)) >= 8);
        // conv3_1: 128 → 256 on 56×56; tiles are evened out.
        let rows = im2col_tile_rows(128 * 9, 56, 56, 4);
        assert!(128 * 9 * rows * 56 * 4 <= COL_BUFFER_BYTES);
        assert_eq!(56 % rows, 0);
        // Small layers take the whole image in one tile.
        assert_eq!(im2col_tile_rows(9, 26, 26, 4), 26);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn gathered_columns_match_copied_rows(
            case in crate::conv::reference::case_strategy(),
            seed in 0u64..1000,
        ) {
            let (x, w, _, _) = case.data::<f32>(seed);
            let g = Geometry::new("test", x.shape(), w.shape(), &case.params).unwrap();
            let x = x.to_vec();
            let image = &x[..case.groups * case.cin_g * case.h * case.w];
            let tiles = Tiles::new::<f32>(&g, g.col_rows());
            for t in 0..tiles.count {
                let (oh0, rows) = tiles.range(t);
                let p = rows * g.ow;
                let k = case.cin_g * g.kh * g.kw;
                let mut copied = vec![f32::NAN; k * p];
                im2col(&g, image, case.cin_g, (oh0, rows), &mut copied, p);
                let mut gathered = vec![f32::NAN; k * p];
                let sources = im2col_sources(&g, case.cin_g, (oh0, rows));
                gather_columns(&sources, image, &mut gathered, p, p);
                proptest::prop_assert_eq!(copied, gathered);
            }
        }
    }

    #[test]
    fn valid_range_matches_brute_force() {
        for out_len in 0..7 {
            for stride in 1..4 {
                for tap in 0..6 {
                    for pad in 0..4 {
                        for in_len in 1..7 {
                            let ok: Vec<usize> = (0..out_len)
                                .filter(|&o| {
                                    let i = (o * stride + tap) as isize - pad as isize;
                                    i >= 0 && (i as usize) < in_len
                                })
                                .collect();
                            let (lo, hi) = valid_range(out_len, stride, tap, pad, in_len);
                            assert_eq!(ok, (lo..hi).collect::<Vec<_>>());
                        }
                    }
                }
            }
        }
    }
}
