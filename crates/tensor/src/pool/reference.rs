//! Naive pooling loops over the padded window, the ground truth of the tests.

use proptest::prelude::*;

use super::Pool2dOptions;
use crate::conv::Padding2d;
use crate::tensor::Tensor;

pub use crate::conv::reference::whole_numbers;

/// One random pooling problem.
#[derive(Debug, Clone)]
pub struct Case {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub params: Pool2dOptions,
}

impl Case {
    pub fn shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }

    /// Whole-number input (many ties) and output gradient.
    pub fn data(&self, seed: u64) -> (Tensor<f64>, Tensor<f64>) {
        let [oh, ow] = self
            .params
            .output_size([self.h, self.w])
            .expect("case: valid");
        let s = self.shape();
        let x = Tensor::from_vec(whole_numbers(s.iter().product(), seed), &s).expect("x");
        let ys = [self.n, self.c, oh, ow];
        let dy = Tensor::from_vec(whole_numbers(ys.iter().product(), seed + 1), &ys).expect("dy");
        (x, dy)
    }
}

pub fn case_strategy() -> impl Strategy<Value = Case> {
    (
        (
            1usize..3,
            1usize..3,
            1usize..5,
            1usize..5,
            1usize..4,
            1usize..4,
        ),
        (
            0usize..4,
            0usize..4,
            0usize..4,
            0usize..4,
            0usize..5,
            0usize..5,
        ),
    )
        .prop_map(|((n, c, kh, kw, sh, sw), (t, b, l, r, eh, ew))| {
            let padding = Padding2d {
                top: t % kh,
                bottom: b % kh,
                left: l % kw,
                right: r % kw,
            };
            let h = kh.saturating_sub(padding.top + padding.bottom).max(1) + eh;
            let w = kw.saturating_sub(padding.left + padding.right).max(1) + ew;
            Case {
                n,
                c,
                h,
                w,
                params: Pool2dOptions {
                    kernel: [kh, kw],
                    stride: [sh, sw],
                    padding,
                    dilation: [1, 1],
                    ceil_mode: false,
                },
            }
        })
}

/// The input position of window tap `(i, j)` of output `(y, x)`, if not padding.
fn tap(
    p: &Pool2dOptions,
    h: usize,
    w: usize,
    y: usize,
    x: usize,
    i: usize,
    j: usize,
) -> Option<usize> {
    let r = (y * p.stride[0] + i) as isize - p.padding.top as isize;
    let c = (x * p.stride[1] + j) as isize - p.padding.left as isize;
    (r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w).then(|| r as usize * w + c as usize)
}

fn out_size(shape: [usize; 4], p: &Pool2dOptions) -> (usize, usize) {
    let [oh, ow] = p
        .output_size([shape[2], shape[3]])
        .expect("reference: valid");
    (oh, ow)
}

/// Naive max pooling: values and argmax within each plane.
pub fn max_pool(x: &[f64], shape: [usize; 4], p: &Pool2dOptions) -> (Vec<f64>, Vec<usize>) {
    let [n, c, h, w] = shape;
    let (oh, ow) = out_size(shape, p);
    let (mut out, mut arg) = (Vec::new(), Vec::new());
    for plane in 0..n * c {
        for y in 0..oh {
            for xo in 0..ow {
                let mut best = (f64::NEG_INFINITY, usize::MAX);
                for i in 0..p.kernel[0] {
                    for j in 0..p.kernel[1] {
                        if let Some(pos) = tap(p, h, w, y, xo, i, j) {
                            let v = x[plane * h * w + pos];
                            if best.1 == usize::MAX || v > best.0 {
                                best = (v, pos);
                            }
                        }
                    }
                }
                out.push(best.0);
                arg.push(best.1);
            }
        }
    }
    (out, arg)
}

pub fn max_pool_backward(dy: &[f64], arg: &[usize], shape: [usize; 4]) -> Vec<f64> {
    let [n, c, h, w] = shape;
    let mut dx = vec![0.0; n * c * h * w];
    let per_plane = dy.len() / (n * c);
    for (k, (&g, &a)) in dy.iter().zip(arg).enumerate() {
        dx[k / per_plane * h * w + a] += g;
    }
    dx
}

fn count(p: &Pool2dOptions, h: usize, w: usize, y: usize, x: usize, include: bool) -> f64 {
    if include {
        return (p.kernel[0] * p.kernel[1]) as f64;
    }
    let mut k = 0;
    for i in 0..p.kernel[0] {
        for j in 0..p.kernel[1] {
            k += usize::from(tap(p, h, w, y, x, i, j).is_some());
        }
    }
    k as f64
}

pub fn avg_pool(x: &[f64], shape: [usize; 4], p: &Pool2dOptions, include: bool) -> Vec<f64> {
    let [n, c, h, w] = shape;
    let (oh, ow) = out_size(shape, p);
    let mut out = Vec::new();
    for plane in 0..n * c {
        for y in 0..oh {
            for xo in 0..ow {
                let mut s = 0.0;
                for i in 0..p.kernel[0] {
                    for j in 0..p.kernel[1] {
                        if let Some(pos) = tap(p, h, w, y, xo, i, j) {
                            s += x[plane * h * w + pos];
                        }
                    }
                }
                out.push(s / count(p, h, w, y, xo, include));
            }
        }
    }
    out
}

pub fn avg_pool_backward(
    dy: &[f64],
    shape: [usize; 4],
    p: &Pool2dOptions,
    include: bool,
) -> Vec<f64> {
    let [n, c, h, w] = shape;
    let (oh, ow) = out_size(shape, p);
    let mut dx = vec![0.0; n * c * h * w];
    for plane in 0..n * c {
        for y in 0..oh {
            for xo in 0..ow {
                let g = dy[(plane * oh + y) * ow + xo] / count(p, h, w, y, xo, include);
                for i in 0..p.kernel[0] {
                    for j in 0..p.kernel[1] {
                        if let Some(pos) = tap(p, h, w, y, xo, i, j) {
                            dx[plane * h * w + pos] += g;
                        }
                    }
                }
            }
        }
    }
    dx
}
