//! Naive loop implementations of the convolution kernels, the ground truth of the tests.

use proptest::prelude::*;

use super::params::{output_size_for, Conv2dOptions, Padding2d};
use crate::element::Element;
use crate::tensor::Tensor;

/// The input position read by output position `o` and kernel tap `k`, if inside the input.
fn source(o: usize, k: usize, stride: usize, dil: usize, pad: usize, len: usize) -> Option<usize> {
    let i = (o * stride + k * dil) as isize - pad as isize;
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    cg: usize,
    og: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
}

fn dims(input: [usize; 4], weight: [usize; 4], p: &Conv2dOptions) -> Dims {
    let [oh, ow] = output_size_for("reference", [input[2], input[3]], [weight[2], weight[3]], p)
        .expect("reference: valid geometry");
    Dims {
        n: input[0],
        c: input[1],
        h: input[2],
        w: input[3],
        o: weight[0],
        cg: weight[1],
        og: weight[0] / p.groups,
        kh: weight[2],
        kw: weight[3],
        oh,
        ow,
    }
}

/// Visits every (input index, weight index, output index) triple that the convolution
/// multiplies, in a plain nested-loop order.
fn for_each_tap(
    input: [usize; 4],
    weight: [usize; 4],
    p: &Conv2dOptions,
    mut f: impl FnMut(usize, usize, usize),
) {
    let d = dims(input, weight, p);
    for n in 0..d.n {
        for o in 0..d.o {
            let grp = o / d.og;
            for y in 0..d.oh {
                for x in 0..d.ow {
                    let oi = ((n * d.o + o) * d.oh + y) * d.ow + x;
                    for c in 0..d.cg {
                        let ci = grp * d.cg + c;
                        for i in 0..d.kh {
                            let Some(iy) =
                                source(y, i, p.stride[0], p.dilation[0], p.padding.top, d.h)
                            else {
                                continue;
                            };
                            for j in 0..d.kw {
                                let Some(ix) =
                                    source(x, j, p.stride[1], p.dilation[1], p.padding.left, d.w)
                                else {
                                    continue;
                                };
                                let xi = ((n * d.c + ci) * d.h + iy) * d.w + ix;
                                let wi = ((o * d.cg + c) * d.kh + i) * d.kw + j;
                                f(xi, wi, oi);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Naive forward convolution.
pub fn conv2d<T: Element>(
    x: &[T],
    xs: [usize; 4],
    w: &[T],
    ws: [usize; 4],
    bias: Option<&[T]>,
    p: &Conv2dOptions,
) -> Vec<T> {
    let d = dims(xs, ws, p);
    let mut out = vec![T::zero(); d.n * d.o * d.oh * d.ow];
    for_each_tap(xs, ws, p, |xi, wi, oi| out[oi] = out[oi] + x[xi] * w[wi]);
    if let Some(b) = bias {
        for (i, v) in out.iter_mut().enumerate() {
            *v = *v + b[(i / (d.oh * d.ow)) % d.o];
        }
    }
    out
}

/// Naive gradient with respect to the input.
pub fn backward_input<T: Element>(
    dy: &[T],
    w: &[T],
    xs: [usize; 4],
    ws: [usize; 4],
    p: &Conv2dOptions,
) -> Vec<T> {
    let mut dx = vec![T::zero(); xs.iter().product()];
    for_each_tap(xs, ws, p, |xi, wi, oi| dx[xi] = dx[xi] + dy[oi] * w[wi]);
    dx
}

/// Naive gradient with respect to the weight.
pub fn backward_weight<T: Element>(
    x: &[T],
    dy: &[T],
    xs: [usize; 4],
    ws: [usize; 4],
    p: &Conv2dOptions,
) -> Vec<T> {
    let mut dw = vec![T::zero(); ws.iter().product()];
    for_each_tap(xs, ws, p, |xi, wi, oi| dw[wi] = dw[wi] + dy[oi] * x[xi]);
    dw
}

/// Naive bias gradient: sum of `dy` over N, H, W.
pub fn backward_bias<T: Element>(dy: &[T], shape: [usize; 4]) -> Vec<T> {
    let [n, c, h, w] = shape;
    let mut db = vec![T::zero(); c];
    for ni in 0..n {
        for (ci, v) in db.iter_mut().enumerate() {
            for k in 0..h * w {
                *v = *v + dy[(ni * c + ci) * h * w + k];
            }
        }
    }
    db
}

/// Small whole numbers in `-3..=3` from a seed (exact in f32 and f64 for the test sizes).
pub fn whole_numbers<T: Element>(len: usize, seed: u64) -> Vec<T> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            T::from_f64_lossy(((s >> 33) % 7) as f64 - 3.0)
        })
        .collect()
}

/// One random convolution problem.
#[derive(Debug, Clone)]
pub struct Case {
    pub n: usize,
    pub groups: usize,
    pub cin_g: usize,
    pub cout_g: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub params: Conv2dOptions,
}

impl Case {
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.groups * self.cin_g, self.h, self.w]
    }

    pub fn weight_shape(&self) -> [usize; 4] {
        [self.groups * self.cout_g, self.cin_g, self.kh, self.kw]
    }

    pub fn output_shape(&self) -> [usize; 4] {
        let [oh, ow] = output_size_for("case", [self.h, self.w], [self.kh, self.kw], &self.params)
            .expect("case: valid");
        [self.n, self.groups * self.cout_g, oh, ow]
    }

    /// Input, weight, bias and output gradient filled with whole numbers.
    pub fn data<T: Element>(&self, seed: u64) -> (Tensor<T>, Tensor<T>, Tensor<T>, Tensor<T>) {
        let xs = self.input_shape();
        let ws = self.weight_shape();
        let ys = self.output_shape();
        let t = |shape: [usize; 4], s| {
            Tensor::from_vec(whole_numbers(shape.iter().product(), s), &shape).expect("data")
        };
        let b = Tensor::from_vec(whole_numbers(ws[0], seed + 2), &[ws[0]]).expect("bias");
        (t(xs, seed), t(ws, seed + 1), b, t(ys, seed + 3))
    }

    pub fn check_forward<T: Element>(&self, seed: u64) {
        let (x, w, b, _) = self.data::<T>(seed);
        let y = super::conv2d(&x, &w, Some(&b), &self.params).expect("conv2d");
        let r = conv2d(
            &x.to_vec(),
            self.input_shape(),
            &w.to_vec(),
            self.weight_shape(),
            Some(&b.to_vec()),
            &self.params,
        );
        assert_eq!(y.shape(), self.output_shape());
        assert_eq!(y.to_vec(), r, "{self:?}");
        let y = super::conv2d_relu(&x, &w, Some(&b), &self.params).expect("conv2d_relu");
        let r: Vec<T> = r.iter().map(|&v| v.max(T::zero())).collect();
        assert_eq!(y.to_vec(), r, "relu {self:?}");
    }

    pub fn check_backward<T: Element>(&self, seed: u64) {
        let (x, w, _, dy) = self.data::<T>(seed);
        let dx = super::conv2d_backward_input(&dy, &w, &self.input_shape(), &self.params)
            .expect("backward_input");
        let r = backward_input(
            &dy.to_vec(),
            &w.to_vec(),
            self.input_shape(),
            self.weight_shape(),
            &self.params,
        );
        assert_eq!(dx.shape(), self.input_shape());
        assert_eq!(dx.to_vec(), r, "input gradient {self:?}");
        let dw = super::conv2d_backward_weight(&x, &dy, &self.weight_shape(), &self.params)
            .expect("backward_weight");
        let r = backward_weight(
            &x.to_vec(),
            &dy.to_vec(),
            self.input_shape(),
            self.weight_shape(),
            &self.params,
        );
        assert_eq!(dw.shape(), self.weight_shape());
        assert_eq!(dw.to_vec(), r, "weight gradient {self:?}");
        let db = super::conv2d_backward_bias(&dy).expect("backward_bias");
        assert_eq!(
            db.to_vec(),
            backward_bias(&dy.to_vec(), self.output_shape())
        );
    }
}

/// Random convolution problems: batch 1-2, groups 1-3, 1-3 channels per group, kernels up to
/// 4×4, strides and dilations up to 3, asymmetric padding up to 3; the image is made large
/// enough for the kernel.
pub fn case_strategy() -> impl Strategy<Value = Case> {
    (
        (1usize..3, 1usize..4, 1usize..4, 1usize..4),
        (
            1usize..5,
            1usize..5,
            1usize..4,
            1usize..4,
            1usize..4,
            1usize..4,
        ),
        (0usize..4, 0usize..4, 0usize..4, 0usize..4),
        (0usize..6, 0usize..6),
    )
        .prop_map(
            |(
                (n, groups, cin_g, cout_g),
                (kh, kw, sh, sw, dh, dw),
                (top, bottom, left, right),
                (eh, ew),
            )| {
                let span_h = (kh - 1) * dh + 1;
                let span_w = (kw - 1) * dw + 1;
                let h = span_h.saturating_sub(top + bottom).max(1) + eh;
                let w = span_w.saturating_sub(left + right).max(1) + ew;
                Case {
                    n,
                    groups,
                    cin_g,
                    cout_g,
                    h,
                    w,
                    kh,
                    kw,
                    params: Conv2dOptions {
                        stride: [sh, sw],
                        padding: Padding2d {
                            top,
                            bottom,
                            left,
                            right,
                        },
                        dilation: [dh, dw],
                        groups,
                    },
                }
            },
        )
}
