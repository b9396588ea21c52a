//! Max pooling and its backward pass.
//!
//! The forward kernels run over each output row tap by tap (one pass per window position
//! over all the row's windows), with branch-free selects, so that random data costs no
//! mispredicted branches; windows clipped by padding go through a plain per-window loop.
//! Training saves each maximum's position (32-bit, in a recycled buffer) for the backward
//! pass; inference computes the maxima only.

use std::fmt;
use std::ops::Range;

use rayon::prelude::*;

use super::{Pool2dOptions, PoolGeometry};
use crate::buffer::{self, Storage};
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shape::numel;
use crate::tensor::Tensor;

/// Where each maximum of a [`max_pool2d_with_indices`] came from: for each output element
/// (in the output's row-major order), the flat index `h·W + w` of its maximum within its own
/// input plane `[H, W]` (as PyTorch's `return_indices`).
pub struct PoolIndices {
    indices: Storage<u32>,
    input_shape: [usize; 4],
    output_shape: [usize; 4],
}

impl PoolIndices {
    /// The indices, one per output element.
    pub fn as_slice(&self) -> &[u32] {
        &self.indices
    }

    /// The shape `[N, C, H, W]` of the pooled input.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The shape `[N, C, OH, OW]` of the pooling's output.
    pub fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }
}

impl fmt::Debug for PoolIndices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolIndices")
            .field("input_shape", &self.input_shape)
            .field("output_shape", &self.output_shape)
            .field("indices", &self.as_slice())
            .finish()
    }
}

/// Max pooling of an NCHW `input` over `params.kernel` windows; padding counts as `-∞`. Ties
/// go to the first maximum in row-major window order, and a NaN in a window wins (as in
/// PyTorch).
///
/// ```
/// use strata_tensor::{pool::{max_pool2d, Pool2dOptions}, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1., 5., 2., 0., 3., 4., 9., 9.], &[1, 1, 2, 4])?;
/// let y = max_pool2d(&x, &Pool2dOptions::new([2, 2]))?;
/// assert_eq!(y.to_vec(), vec![5., 9.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// An input not of rank 4 or invalid parameters (see [`Pool2dOptions::output_size`]).
pub fn max_pool2d<T: Element>(input: &Tensor<T>, params: &Pool2dOptions) -> Result<Tensor<T>> {
    let g = PoolGeometry::new("max_pool2d", input.shape(), params)?;
    let x = input.contiguous();
    let mut out = buffer::dirty(numel(&g.output_shape()));
    if g.oh * g.ow > 0 && g.h * g.w > 0 {
        match g.params.kernel[1] {
            _ if g.params.is_general() => super::general::max_pool(&g, x.storage(), &mut out, None),
            2 => pool_planes::<T, 2>(&g, x.storage(), &mut out, None),
            3 => pool_planes::<T, 3>(&g, x.storage(), &mut out, None),
            _ => pool_planes::<T, 0>(&g, x.storage(), &mut out, None),
        }
    }
    Ok(Tensor::from_contiguous(out, &g.output_shape()))
}

/// [`max_pool2d`], also returning where each maximum came from (for
/// [`max_pool2d_backward`]).
///
/// ```
/// use strata_tensor::{pool::{max_pool2d_with_indices, Pool2dOptions}, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1., 5., 2., 0., 3., 4., 9., 9.], &[1, 1, 2, 4])?;
/// let (y, indices) = max_pool2d_with_indices(&x, &Pool2dOptions::new([2, 2]))?;
/// assert_eq!(y.to_vec(), vec![5., 9.]);
/// assert_eq!(indices.as_slice(), &[1, 6]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// As [`max_pool2d`]; also input planes of more than `u32::MAX` elements.
pub fn max_pool2d_with_indices<T: Element>(
    input: &Tensor<T>,
    params: &Pool2dOptions,
) -> Result<(Tensor<T>, PoolIndices)> {
    const OP: &str = "max_pool2d_with_indices";
    let g = PoolGeometry::new(OP, input.shape(), params)?;
    if u32::try_from(g.h * g.w).is_err() {
        return Err(TensorError::invalid(
            OP,
            format!(
                "input planes of {}×{} elements are too large for 32-bit indices",
                g.h, g.w
            ),
        ));
    }
    let x = input.contiguous();
    let len = numel(&g.output_shape());
    let mut out = buffer::dirty(len);
    let mut indices = buffer::dirty::<u32>(len);
    if g.oh * g.ow > 0 && g.h * g.w > 0 {
        let at = Some(indices.as_mut_slice());
        match g.params.kernel[1] {
            _ if g.params.is_general() => super::general::max_pool(&g, x.storage(), &mut out, at),
            2 => pool_planes::<T, 2>(&g, x.storage(), &mut out, at),
            3 => pool_planes::<T, 3>(&g, x.storage(), &mut out, at),
            _ => pool_planes::<T, 0>(&g, x.storage(), &mut out, at),
        }
    }
    let indices = PoolIndices {
        indices: Storage::new(indices),
        input_shape: g.input_shape(),
        output_shape: g.output_shape(),
    };
    Ok((Tensor::from_contiguous(out, &g.output_shape()), indices))
}

/// Planes per parallel task: a plane is a few microseconds of work.
const PLANES_PER_TASK: usize = 16;

/// The parallel loop of the forward kernels over planes, for windows `KW` wide (0: any
/// width, read from the geometry): the maxima into `out` and, when given, their indices.
fn pool_planes<T: Element, const KW: usize>(
    g: &PoolGeometry,
    x: &[T],
    out: &mut [T],
    indices: Option<&mut [u32]>,
) {
    let interior = interior_columns(g);
    let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
    let planes = out
        .par_chunks_mut(plane_out)
        .zip(x.par_chunks(plane_in))
        .with_min_len(PLANES_PER_TASK);
    match indices {
        None => planes.for_each(|(out, xp)| {
            for (y, out_row) in out.chunks_exact_mut(g.ow).enumerate() {
                row_max::<T, KW>(g, &interior, xp, y, out_row);
            }
        }),
        Some(indices) => {
            planes
                .zip(indices.par_chunks_mut(plane_out))
                .for_each(|((out, xp), at)| {
                    let rows = out.chunks_exact_mut(g.ow).zip(at.chunks_exact_mut(g.ow));
                    for (y, (out_row, at_row)) in rows.enumerate() {
                        row_argmax::<T, KW>(g, &interior, xp, y, out_row, at_row);
                    }
                })
        }
    }
}

/// `v` takes the place of the best value `a` so far when it is larger, or a NaN while `a`
/// is not: "the first maximum, a NaN wins".
#[inline(always)]
fn takes_over<T: Element>(v: T, a: T) -> bool {
    #[allow(clippy::eq_op)]
    let (a_is_number, v_is_nan) = (a == a, v != v);
    // `&` and `|`, not `&&` and `||`: nothing to branch on.
    a_is_number & ((v > a) | v_is_nan)
}

/// The window's width: `KW` when it is not 0 (the common widths get their own compiled
/// copy of the row kernels, with the window loops unrolled), the geometry's otherwise.
#[inline(always)]
fn window_width<const KW: usize>(g: &PoolGeometry) -> usize {
    if KW == 0 {
        g.params.kernel[1]
    } else {
        KW
    }
}

/// The output columns whose windows lie wholly inside the input (no clipping): the row
/// kernels run over them tap by tap; the others go through [`window_max`].
fn interior_columns(g: &PoolGeometry) -> Range<usize> {
    let (sw, pl, kw) = (
        g.params.stride[1],
        g.params.padding.left,
        g.params.kernel[1],
    );
    let inside = |xo: usize| xo * sw >= pl && xo * sw - pl + kw <= g.w;
    let lo = (0..g.ow).find(|&xo| inside(xo)).unwrap_or(g.ow);
    let hi = (lo..g.ow).find(|&xo| !inside(xo)).unwrap_or(g.ow);
    lo..hi
}

/// Where the interior windows of one output row read: input rows `rows`, the first window
/// from column `first_col`, windows `stride` apart and `width` wide.
struct InteriorRow {
    rows: Range<usize>,
    first_col: usize,
    stride: usize,
    width: usize,
}

impl InteriorRow {
    /// The span of output row `y`'s `interior` windows (`None` when there are none), for
    /// windows `KW` wide (0: any width).
    #[inline(always)]
    fn of<const KW: usize>(g: &PoolGeometry, interior: &Range<usize>, y: usize) -> Option<Self> {
        if interior.is_empty() {
            return None;
        }
        let ([r0, r1], _) = g.window(y, 0);
        let stride = g.params.stride[1];
        Some(Self {
            rows: r0..r1,
            first_col: interior.start * stride - g.params.padding.left,
            stride,
            width: window_width::<KW>(g),
        })
    }

    /// Whether the windows tile the row (stride = width = `KW`, see [`tiled_rows`]).
    #[inline(always)]
    fn is_tiled<const KW: usize>(&self) -> bool {
        KW != 0 && self.stride == KW
    }
}

/// The maxima of output row `y` of one plane `xp` into `out_row`.
#[inline(always)]
fn row_max<T: Element, const KW: usize>(
    g: &PoolGeometry,
    interior: &Range<usize>,
    xp: &[T],
    y: usize,
    out_row: &mut [T],
) {
    for xo in (0..interior.start).chain(interior.end..g.ow) {
        out_row[xo] = window_max(g, xp, y, xo).0;
    }
    let Some(span) = InteriorRow::of::<KW>(g, interior, y) else {
        return;
    };
    let best = &mut out_row[interior.clone()];
    if span.is_tiled::<KW>() {
        tiled_rows::<T, KW>(xp, g.w, &span, best, None);
    } else {
        interior_max(xp, g.w, &span, best);
    }
}

/// [`row_max`], also writing each maximum's flat index in the plane into `at_row`.
///
/// Windows that tile the row go through [`tiled_rows`]. For others the maxima are found
/// first; then each window is scanned backwards for the first element equal to its maximum.
/// The compares are independent of each other, so the scan is not one long chain of
/// dependent selects.
#[inline(always)]
fn row_argmax<T: Element, const KW: usize>(
    g: &PoolGeometry,
    interior: &Range<usize>,
    xp: &[T],
    y: usize,
    out_row: &mut [T],
    at_row: &mut [u32],
) {
    // The caller checked that plane indices fit in 32 bits.
    for xo in (0..interior.start).chain(interior.end..g.ow) {
        let (value, at) = window_max(g, xp, y, xo);
        (out_row[xo], at_row[xo]) = (value, at as u32);
    }
    let Some(span) = InteriorRow::of::<KW>(g, interior, y) else {
        return;
    };
    let best = &mut out_row[interior.clone()];
    let best_at = &mut at_row[interior.clone()];
    if span.is_tiled::<KW>() {
        tiled_rows::<T, KW>(xp, g.w, &span, best, Some(best_at));
        return;
    }
    interior_max(xp, g.w, &span, best);
    for (k, (&best, best_at)) in best.iter().zip(best_at.iter_mut()).enumerate() {
        let c = span.first_col + k * span.stride;
        #[allow(clippy::eq_op)]
        let best_is_nan = best != best;
        let mut at = span.rows.start * g.w + c;
        // Last tap first, so that the first match wins.
        for r in span.rows.clone().rev() {
            let row = r * g.w + c;
            let taps = &xp[row..row + span.width];
            for j in (0..span.width).rev() {
                let v = taps[j];
                #[allow(clippy::eq_op)]
                let hit = (v == best) | ((v != v) & best_is_nan);
                at = if hit { row + j } else { at };
            }
        }
        // The caller checked that plane indices fit in 32 bits.
        *best_at = at as u32;
    }
}

/// The maxima of the interior windows of one output row (any stride), window by window.
#[inline(always)]
fn interior_max<T: Element>(xp: &[T], w: usize, span: &InteriorRow, best: &mut [T]) {
    for (k, b) in best.iter_mut().enumerate() {
        let c = span.first_col + k * span.stride;
        let mut max = xp[span.rows.start * w + c];
        for r in span.rows.clone() {
            let row = r * w + c;
            for &v in &xp[row..row + span.width] {
                max = if takes_over(v, max) { v } else { max };
            }
        }
        *b = max;
    }
}

/// The interior windows of one output row when they tile the input row (stride = width =
/// `KW`): each input row of the windows is read once, in consecutive `KW`-wide chunks; each
/// chunk's first maximum is folded into the running `best` (a later row takes over only when
/// strictly larger, so ties keep row-major order). `at`, when given, receives the maxima's
/// flat indices in the plane.
#[inline(always)]
fn tiled_rows<T: Element, const KW: usize>(
    xp: &[T],
    w: usize,
    span: &InteriorRow,
    best: &mut [T],
    mut at: Option<&mut [u32]>,
) {
    let n = best.len();
    for r in span.rows.clone() {
        let start = r * w + span.first_col;
        let chunks = xp[start..start + n * KW].chunks_exact(KW);
        let first = r == span.rows.start;
        match at.as_deref_mut() {
            None => {
                for (b, chunk) in best.iter_mut().zip(chunks) {
                    let v = chunk_max::<T, KW>(chunk).0;
                    *b = if first | takes_over(v, *b) { v } else { *b };
                }
            }
            Some(at) => {
                let lanes = best.iter_mut().zip(at.iter_mut());
                for (k, ((b, a), chunk)) in lanes.zip(chunks).enumerate() {
                    let (v, j) = chunk_max::<T, KW>(chunk);
                    let take = first | takes_over(v, *b);
                    *b = if take { v } else { *b };
                    // The caller checked that plane indices fit in 32 bits.
                    *a = if take {
                        (start + k * KW + j) as u32
                    } else {
                        *a
                    };
                }
            }
        }
    }
}

/// The first maximum of a `KW`-element chunk (a NaN wins) and its position.
#[inline(always)]
fn chunk_max<T: Element, const KW: usize>(chunk: &[T]) -> (T, usize) {
    let mut best = chunk[0];
    let mut at = 0;
    for (j, &v) in chunk.iter().enumerate().take(KW).skip(1) {
        let take = takes_over(v, best);
        best = if take { v } else { best };
        at = if take { j } else { at };
    }
    (best, at)
}

/// The maximum of output `(y, x)`'s window in the plane `xp` and its flat index `h·W + w`:
/// the first maximum in row-major order, or the first NaN.
fn window_max<T: Element>(g: &PoolGeometry, xp: &[T], y: usize, x: usize) -> (T, usize) {
    let ([r0, r1], [c0, c1]) = g.window(y, x);
    let mut best_i = r0 * g.w + c0;
    let mut best = xp[best_i];
    for r in r0..r1 {
        for (i, &v) in xp.iter().enumerate().take(r * g.w + c1).skip(r * g.w + c0) {
            if takes_over(v, best) {
                best = v;
                best_i = i;
            }
        }
    }
    (best, best_i)
}

/// The gradient of max pooling with respect to its input: each element of `grad_output`
/// (`[N, C, OH, OW]`) is added to the input position recorded in `indices` (gradients of
/// overlapping windows add up).
///
/// ```
/// use strata_tensor::{pool::{max_pool2d_backward, max_pool2d_with_indices, Pool2dOptions}, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1., 5., 2., 0., 3., 4., 9., 9.], &[1, 1, 2, 4])?;
/// let (_, indices) = max_pool2d_with_indices(&x, &Pool2dOptions::new([2, 2]))?;
/// let dy = Tensor::<f32>::from_vec(vec![10., 20.], &[1, 1, 1, 2])?;
/// let dx = max_pool2d_backward(&dy, &indices)?;
/// assert_eq!(dx.to_vec(), vec![0., 10., 0., 0., 0., 0., 20., 0.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// A `grad_output` not of the pooling's output shape.
pub fn max_pool2d_backward<T: Element>(
    grad_output: &Tensor<T>,
    indices: &PoolIndices,
) -> Result<Tensor<T>> {
    if grad_output.shape() != indices.output_shape {
        return Err(TensorError::shape(
            "max_pool2d_backward",
            format!(
                "grad_output {:?} does not match the pooling's output shape {:?} for input {:?}",
                grad_output.shape(),
                indices.output_shape,
                indices.input_shape
            ),
        ));
    }
    let [_, _, h, w] = indices.input_shape;
    let [_, _, oh, ow] = indices.output_shape;
    let (plane_in, plane_out) = (h * w, oh * ow);
    let dy = grad_output.contiguous();
    let dy = dy.storage();
    // Each plane is zeroed just before its gradients are added, while it is in cache.
    let mut dx = buffer::dirty(numel(&indices.input_shape));
    if plane_in > 0 && plane_out > 0 {
        dx.par_chunks_mut(plane_in)
            .zip(dy.par_chunks(plane_out))
            .zip(indices.as_slice().par_chunks(plane_out))
            .with_min_len(PLANES_PER_TASK)
            .for_each(|((dxp, dyp), at)| {
                dxp.fill(T::zero());
                for (&i, &d) in at.iter().zip(dyp) {
                    let i = i as usize;
                    dxp[i] = dxp[i] + d;
                }
            });
    } else {
        dx.fill(T::zero());
    }
    Ok(Tensor::from_contiguous(dx, &indices.input_shape))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conv::{conv2d, Conv2dOptions, Padding2d};
    use crate::pool::reference;

    #[test]
    fn padded_edge_map_example() {
        let map = [
            [510., 255., 255., 510.],
            [255., 0., 0., 255.],
            [255., 0., 0., 255.],
            [510., 255., 255., 510.],
        ];
        let x = Tensor::<f64>::from_vec(map.concat(), &[1, 1, 4, 4]).unwrap();
        let padded = x.pad(&[(0, 0), (0, 0), (1, 1), (1, 1)], 0.0).unwrap();
        let r = max_pool2d(&padded, &Pool2dOptions::new([2, 2])).unwrap();
        assert_eq!(r.shape(), &[1, 1, 3, 3]);
        let expected = [[510., 255., 510.], [255., 0., 255.], [510., 255., 510.]];
        assert_eq!(r.to_vec(), expected.concat());
    }

    #[test]
    fn edge_map_from_the_convolution() {
        // The whole chain: the 6×6 image, the vertical-edge kernel, pad 1, 2×2 max pool.
        let img = [
            [255., 255., 255., 255., 255., 255.],
            [255., 255., 0., 0., 255., 255.],
            [255., 0., 0., 0., 0., 255.],
            [255., 0., 0., 0., 0., 255.],
            [255., 255., 0., 0., 255., 255.],
            [255., 255., 255., 255., 255., 255.],
        ];
        let x = Tensor::<f32>::from_vec(img.concat(), &[1, 1, 6, 6]).unwrap();
        let w = Tensor::<f32>::from_vec(vec![0., 1., 0., 0., 1., 0., 0., 1., 0.], &[1, 1, 3, 3])
            .unwrap();
        let y = conv2d(&x, &w, None, &Conv2dOptions::default()).unwrap();
        let y = y.pad(&[(0, 0), (0, 0), (1, 1), (1, 1)], 0.0).unwrap();
        let r = max_pool2d(&y, &Pool2dOptions::new([2, 2])).unwrap();
        assert_eq!(
            r.to_vec(),
            vec![510., 255., 510., 255., 0., 255., 510., 255., 510.]
        );
    }

    #[test]
    fn ties_take_the_first_and_padding_is_minus_infinity() {
        let x = Tensor::<f32>::from_vec(vec![-5., -5., -5., -5.], &[1, 1, 2, 2]).unwrap();
        let p = Pool2dOptions::new([2, 2])
            .with_stride([1, 1])
            .with_padding(Padding2d::uniform(1));
        let r = max_pool2d(&x, &p).unwrap();
        assert!(r.to_vec().iter().all(|&v| v == -5.0));
        // Windows (3×3 outputs) hit positions 0, 0, 1, 0, 0, 1, 2, 2, 3.
        let (_, at) = max_pool2d_with_indices(&x, &p).unwrap();
        assert_eq!(at.as_slice(), &[0, 0, 1, 0, 0, 1, 2, 2, 3]);
        let dx = max_pool2d_backward(&Tensor::<f32>::ones(&[1, 1, 3, 3]), &at).unwrap();
        assert_eq!(dx.to_vec(), vec![4., 2., 2., 1.]);
        let x = Tensor::<f32>::from_vec(vec![1., f32::NAN, 3., f32::NAN], &[1, 1, 2, 2]).unwrap();
        let p = Pool2dOptions::new([2, 2]);
        assert!(max_pool2d(&x, &p).unwrap().to_vec()[0].is_nan());
        let (_, at) = max_pool2d_with_indices(&x, &p).unwrap();
        let dx = max_pool2d_backward(&Tensor::<f32>::ones(&[1, 1, 1, 1]), &at).unwrap();
        assert_eq!(dx.to_vec(), vec![0., 1., 0., 0.]);
    }

    #[test]
    fn backward_errors() {
        let p = Pool2dOptions::new([2, 2]);
        let (_, at) = max_pool2d_with_indices(&Tensor::<f32>::ones(&[1, 1, 2, 4]), &p).unwrap();
        assert!(max_pool2d_backward(&Tensor::<f32>::ones(&[1, 1, 1, 2]), &at).is_ok());
        let err = max_pool2d_backward(&Tensor::<f32>::ones(&[1, 2, 1, 2]), &at).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(max_pool2d_with_indices(&Tensor::<f32>::ones(&[1, 1, 8]), &p).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn max_pool_matches_reference(case in reference::case_strategy(), seed in 0u64..1000) {
            let (x, dy) = case.data(seed);
            let r = max_pool2d(&x, &case.params).unwrap();
            let (out, arg) = reference::max_pool(&x.to_vec(), case.shape(), &case.params);
            prop_assert_eq!(r.to_vec(), out.clone());
            let (r, at) = max_pool2d_with_indices(&x, &case.params).unwrap();
            prop_assert_eq!(r.to_vec(), out);
            let at_usize: Vec<usize> = at.as_slice().iter().map(|&i| i as usize).collect();
            prop_assert_eq!(&at_usize, &arg);
            let dx = max_pool2d_backward(&dy, &at).unwrap();
            prop_assert_eq!(dx.to_vec(), reference::max_pool_backward(&dy.to_vec(), &arg, case.shape()));
        }
    }
}
