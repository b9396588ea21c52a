//! Plain per-window loops for the windows the tuned kernels do not handle: dilated windows
//! (max pooling) and `ceil_mode`'s partial last windows (max and average pooling).

use rayon::prelude::*;

use super::PoolGeometry;
use crate::element::Element;

/// The input positions along one axis of the window of output `o`: taps `o·s − pad + j·d`
/// for `j < k` that fall inside `0..len`.
fn taps(
    o: usize,
    s: usize,
    pad: usize,
    k: usize,
    d: usize,
    len: usize,
) -> impl Iterator<Item = usize> {
    let start = (o * s) as isize - pad as isize;
    (0..k)
        .map(move |j| start + (j * d) as isize)
        .filter(move |&i| i >= 0 && (i as usize) < len)
        .map(|i| i as usize)
}

/// The rows and the columns of the window of output `(y, x)`.
fn window(g: &PoolGeometry, y: usize, x: usize) -> (Vec<usize>, Vec<usize>) {
    let p = &g.params;
    (
        taps(
            y,
            p.stride[0],
            p.padding.top,
            p.kernel[0],
            p.dilation[0],
            g.h,
        )
        .collect(),
        taps(
            x,
            p.stride[1],
            p.padding.left,
            p.kernel[1],
            p.dilation[1],
            g.w,
        )
        .collect(),
    )
}

/// PyTorch's divisor of an (undilated) average window: with `count_include_pad`, the part
/// of the window inside the padded input (all of it but a `ceil_mode` overhang), else the
/// input elements it covers.
fn divisor<T: Element>(
    g: &PoolGeometry,
    y: usize,
    x: usize,
    rows: usize,
    cols: usize,
    include: bool,
) -> T {
    let p = &g.params;
    let inside = |o: usize, s: usize, before: usize, k: usize, after: usize, len: usize| {
        let start = o * s; // in padded coordinates
        (start + k).min(len + before + after) - start
    };
    let count = if include {
        inside(
            y,
            p.stride[0],
            p.padding.top,
            p.kernel[0],
            p.padding.bottom,
            g.h,
        ) * inside(
            x,
            p.stride[1],
            p.padding.left,
            p.kernel[1],
            p.padding.right,
            g.w,
        )
    } else {
        rows * cols
    };
    T::from_usize(count).unwrap_or_else(T::nan)
}

/// Max pooling of every plane: the first maximum in row-major window order, a NaN winning;
/// with `indices`, each maximum's flat position in its plane.
pub(super) fn max_pool<T: Element>(
    g: &PoolGeometry,
    x: &[T],
    out: &mut [T],
    indices: Option<&mut [u32]>,
) {
    let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
    let one_plane = |xp: &[T], out: &mut [T], mut at: Option<&mut [u32]>| {
        for y in 0..g.oh {
            for xo in 0..g.ow {
                let (rows, cols) = window(g, y, xo);
                let (mut best, mut best_at) = (T::neg_infinity(), rows[0] * g.w + cols[0]);
                let mut first = true;
                for &r in &rows {
                    for &c in &cols {
                        let v = xp[r * g.w + c];
                        if first || (!best.is_nan() && (v > best || v.is_nan())) {
                            (best, best_at, first) = (v, r * g.w + c, false);
                        }
                    }
                }
                out[y * g.ow + xo] = best;
                if let Some(at) = at.as_deref_mut() {
                    at[y * g.ow + xo] = best_at as u32;
                }
            }
        }
    };
    match indices {
        None => out
            .par_chunks_mut(plane_out)
            .zip(x.par_chunks(plane_in))
            .for_each(|(out, xp)| one_plane(xp, out, None)),
        Some(indices) => out
            .par_chunks_mut(plane_out)
            .zip(x.par_chunks(plane_in))
            .zip(indices.par_chunks_mut(plane_out))
            .for_each(|((out, xp), at)| one_plane(xp, out, Some(at))),
    }
}

/// Average pooling of every plane (undilated windows).
pub(super) fn avg_pool<T: Element>(g: &PoolGeometry, x: &[T], out: &mut [T], include: bool) {
    let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
    out.par_chunks_mut(plane_out)
        .zip(x.par_chunks(plane_in))
        .for_each(|(out, xp)| {
            for y in 0..g.oh {
                for xo in 0..g.ow {
                    let (rows, cols) = window(g, y, xo);
                    let mut s = T::zero();
                    for &r in &rows {
                        for &c in &cols {
                            s = s + xp[r * g.w + c];
                        }
                    }
                    out[y * g.ow + xo] =
                        s / divisor::<T>(g, y, xo, rows.len(), cols.len(), include);
                }
            }
        });
}

/// The input gradient of [`avg_pool`]: each output gradient over its divisor, added to every
/// element of its window.
pub(super) fn avg_pool_backward<T: Element>(
    g: &PoolGeometry,
    dy: &[T],
    dx: &mut [T],
    include: bool,
) {
    let (plane_in, plane_out) = (g.h * g.w, g.oh * g.ow);
    dx.par_chunks_mut(plane_in)
        .zip(dy.par_chunks(plane_out))
        .for_each(|(dxp, dyp)| {
            for y in 0..g.oh {
                for xo in 0..g.ow {
                    let (rows, cols) = window(g, y, xo);
                    let v = dyp[y * g.ow + xo]
                        / divisor::<T>(g, y, xo, rows.len(), cols.len(), include);
                    for &r in &rows {
                        for &c in &cols {
                            dxp[r * g.w + c] = dxp[r * g.w + c] + v;
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
#[path = "general_tests.rs"]
mod tests;
