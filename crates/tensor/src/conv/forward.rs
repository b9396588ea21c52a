//! The forward pass of a 2-D convolution: im2col over blocks of images or output rows + GEMM.

use rayon::prelude::*;

use super::gemm::gemm;
use super::geometry::Geometry;
use super::im2col::{im2col_block, short_row_sources, Block, Blocks};
use super::params::Conv2dOptions;
use crate::buffer;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::scratch::with_scratch;
use crate::shared_mut::SharedMut;
use crate::tensor::Tensor;

/// Two-dimensional convolution (cross-correlation, no kernel flip) of an NCHW `input` with an
/// OIHW `weight` (`[O, C / groups, kh, kw]`) and an optional `bias` of shape `[O]`; the output
/// is `[N, O, OH, OW]` with the sizes of [`conv2d_output_size`](super::conv2d_output_size).
///
/// `out[n, o, y, x] = bias[o] + Σ_{c, i, j} input[n, g·C/groups + c, y·sh + i·dh - top,
/// x·sw + j·dw - left] · weight[o, c, i, j]` where `g = o / (O / groups)` and positions in the
/// padding read zero.
///
/// ```
/// use strata_tensor::{conv::{conv2d, Conv2dOptions}, Tensor};
/// let x = Tensor::<f32>::from_vec((0..9).map(|v| v as f32).collect(), &[1, 1, 3, 3])?;
/// let w = Tensor::<f32>::from_vec(vec![1., 0., 0., -1.], &[1, 1, 2, 2])?;
/// let y = conv2d(&x, &w, None, &Conv2dOptions::default())?;
/// assert_eq!(y.shape(), &[1, 1, 2, 2]);
/// assert_eq!(y.to_vec(), vec![-4., -4., -4., -4.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// Inputs or weights not of rank 4, zero stride, dilation or groups, channel counts that the
/// groups do not divide or that disagree between input and weight, a bias not of shape
/// `[O]`, or a dilated kernel larger than the padded input.
pub fn conv2d<T: Element>(
    input: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    params: &Conv2dOptions,
) -> Result<Tensor<T>> {
    convolve("conv2d", input, weight, bias, params, false)
}

/// [`conv2d`] followed by relu (`max(x, 0)`, as [`Tensor::relu`]), applied while each block
/// of the output is in cache: the same values as `conv2d(..)?.relu()` without a second pass
/// over the output.
///
/// ```
/// use strata_tensor::{conv::{conv2d, conv2d_relu, Conv2dOptions}, Tensor};
/// let x = Tensor::<f32>::from_vec((0..9).map(|v| v as f32).collect(), &[1, 1, 3, 3])?;
/// let w = Tensor::<f32>::from_vec(vec![1., 0., 0., -1.], &[2, 1, 1, 2])?;
/// let p = Conv2dOptions::default();
/// let y = conv2d_relu(&x, &w, None, &p)?;
/// assert_eq!(y.to_vec(), conv2d(&x, &w, None, &p)?.relu().to_vec());
/// assert_eq!(y.to_vec(), vec![0., 1., 3., 4., 6., 7., 0., 0., 0., 0., 0., 0.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// As [`conv2d`].
pub fn conv2d_relu<T: Element>(
    input: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    params: &Conv2dOptions,
) -> Result<Tensor<T>> {
    convolve("conv2d_relu", input, weight, bias, params, true)
}

/// [`conv2d`], with relu applied to the output when `relu`.
fn convolve<T: Element>(
    op: &'static str,
    input: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    params: &Conv2dOptions,
    relu: bool,
) -> Result<Tensor<T>> {
    let g = Geometry::new(op, input.shape(), weight.shape(), params)?;
    if let Some(b) = bias {
        if b.shape() != [g.c_out] {
            return Err(TensorError::shape(
                op,
                format!(
                    "bias {:?} must have shape [{}] for weight {:?}",
                    b.shape(),
                    g.c_out,
                    weight.shape()
                ),
            ));
        }
    }
    let x = input.contiguous();
    let w = weight.contiguous();
    let len = g.n * g.c_out * g.oh * g.ow;
    // With k > 0 the GEMMs write every output element (beta = 0); a zero-sized kernel
    // window writes nothing and leaves zeros.
    let mut out = if g.col_rows() > 0 {
        buffer::dirty(len)
    } else {
        buffer::zeroed(len)
    };
    if !out.is_empty() {
        let bias = bias.map(Tensor::to_vec);
        let epilogue = Epilogue {
            bias: bias.as_deref(),
            relu,
        };
        forward_into(&g, x.storage(), w.storage(), epilogue, &mut out);
    }
    Ok(Tensor::from_contiguous(out, &g.output_shape()))
}

/// What is applied to each output value after the GEMM: the bias, then relu.
#[derive(Clone, Copy)]
struct Epilogue<'a, T> {
    bias: Option<&'a [T]>,
    relu: bool,
}

impl<T: Element> Epilogue<'_, T> {
    /// Whether the epilogue changes anything.
    fn is_identity(&self) -> bool {
        self.bias.is_none() && !self.relu
    }

    /// Writes the final values of one output row of channel `o` into `row`: from `src`
    /// when given (a scratch matrix's row), else from `row` itself.
    #[inline(always)]
    fn finish_row(&self, row: &mut [T], src: Option<&[T]>, o: usize) {
        let b = self.bias.map_or(T::zero(), |b| b[o]);
        let has_bias = self.bias.is_some();
        // As `Tensor::relu`: negative values become zero, NaN stays.
        let act = |v: T| {
            let v = if has_bias { v + b } else { v };
            if self.relu && v < T::zero() {
                T::zero()
            } else {
                v
            }
        };
        match src {
            Some(src) => row.iter_mut().zip(src).for_each(|(d, &s)| *d = act(s)),
            None => row.iter_mut().for_each(|d| *d = act(*d)),
        }
    }
}

/// Writes the convolution of contiguous `x` and `w`, with the `epilogue` applied, into
/// `out` (`[N, O, OH, OW]`, non-empty).
///
/// Each block (see [`Blocks`]) is one GEMM `W·col` over the column matrices of its images
/// side by side. A block of one image (or tile) is multiplied straight into the output; a
/// block of several goes through a scratch matrix, copied out image by image. The epilogue
/// is applied to each block's output while it is in cache.
fn forward_into<T: Element>(
    g: &Geometry,
    x: &[T],
    w: &[T],
    epilogue: Epilogue<'_, T>,
    out: &mut [T],
) {
    let k = g.col_rows();
    let pointwise = g.is_pointwise();
    let blocks = Blocks::new::<T>(g, k, !pointwise);
    let sources = short_row_sources(g, g.cin_g, &blocks);
    let group_in = g.cin_g * g.h * g.w;
    let image_in = g.c_in * g.h * g.w;
    let image_out = g.c_out * g.oh * g.ow;
    let plane_out = g.oh * g.ow;
    let out_ptr = SharedMut(out.as_mut_ptr());
    (0..blocks.count()).into_par_iter().for_each(|b| {
        let block = blocks.block(b);
        let Block {
            n0, images, oh0, ..
        } = block;
        let p = block.pixels(g.ow);
        let p_all = images * p;
        for grp in 0..g.groups {
            let wg = &w[grp * g.cout_g * k..(grp + 1) * g.cout_g * k];
            let xg = |n: usize| &x[n * image_in + grp * group_in..][..group_in];
            // Where row `o` of this block's group in image `n` starts in `out`.
            let out_at =
                |n: usize, o: usize| n * image_out + (grp * g.cout_g + o) * plane_out + oh0 * g.ow;
            let multiply = |b: *const T, rsb: usize, c: *mut T, rsc: usize| {
                // SAFETY: `wg` is [cout_g, k] row-major; `b` addresses k rows of p_all
                // values with row stride `rsb` inside `x` or the column buffer; `c` is
                // either this block's own rows of `out` (images == 1, row stride OH·OW) or
                // a scratch matrix [cout_g, p_all].
                unsafe {
                    gemm(
                        g.cout_g,
                        k,
                        p_all,
                        wg.as_ptr(),
                        k,
                        1,
                        b,
                        rsb,
                        1,
                        T::zero(),
                        c,
                        rsc,
                    );
                }
            };
            // Row `o` of image `n` of this block's output: written by this task only.
            let out_row = |n: usize, o: usize| {
                // SAFETY: the p values at `out_at(n, o)` lie inside `out` and belong to
                // this block and group alone.
                unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(out_at(n, o)), p) }
            };
            let finish = |n: usize| {
                if !epilogue.is_identity() {
                    for o in 0..g.cout_g {
                        epilogue.finish_row(out_row(n, o), None, grp * g.cout_g + o);
                    }
                }
            };
            if pointwise {
                // The column matrix is the input itself (row stride H·W); one image per block.
                let c = out_ptr.get().wrapping_add(out_at(n0, 0));
                multiply(xg(n0)[oh0 * g.w..].as_ptr(), g.h * g.w, c, plane_out);
                finish(n0);
                continue;
            }
            with_scratch(k * p_all, |col: &mut [T]| {
                im2col_block(g, xg, g.cin_g, (&block, sources.as_deref()), col);
                if images == 1 {
                    let c = out_ptr.get().wrapping_add(out_at(n0, 0));
                    multiply(col.as_ptr(), p_all, c, plane_out);
                    finish(n0);
                    return;
                }
                with_scratch(g.cout_g * p_all, |c: &mut [T]| {
                    multiply(col.as_ptr(), p_all, c.as_mut_ptr(), p_all);
                    for i in 0..images {
                        for o in 0..g.cout_g {
                            let src = &c[o * p_all + i * p..][..p];
                            epilogue.finish_row(out_row(n0 + i, o), Some(src), grp * g.cout_g + o);
                        }
                    }
                });
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conv::reference;
    use crate::conv::Padding2d;

    fn t(data: Vec<f64>, shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data, shape).unwrap()
    }

    #[test]
    fn vertical_edge_example() {
        let img = [
            [255., 255., 255., 255., 255., 255.],
            [255., 255., 0., 0., 255., 255.],
            [255., 0., 0., 0., 0., 255.],
            [255., 0., 0., 0., 0., 255.],
            [255., 255., 0., 0., 255., 255.],
            [255., 255., 255., 255., 255., 255.],
        ];
        let x = t(img.concat(), &[1, 1, 6, 6]);
        let w = t(vec![0., 1., 0., 0., 1., 0., 0., 1., 0.], &[1, 1, 3, 3]);
        let y = conv2d(&x, &w, None, &Conv2dOptions::default()).unwrap();
        assert_eq!(y.shape(), &[1, 1, 4, 4]);
        let expected = [
            [510., 255., 255., 510.],
            [255., 0., 0., 255.],
            [255., 0., 0., 255.],
            [510., 255., 255., 510.],
        ];
        assert_eq!(y.to_vec(), expected.concat());
    }

    #[test]
    fn horizontal_edge_example() {
        let mut img = vec![200.0f32; 15];
        img.extend(vec![0.0f32; 15]);
        let x = Tensor::from_vec(img, &[1, 1, 6, 5]).unwrap();
        let w = Tensor::from_vec(
            vec![10., 10., 10., 0., 0., 0., -10., -10., -10.],
            &[1, 1, 3, 3],
        )
        .unwrap();
        let y = conv2d(&x, &w, None, &Conv2dOptions::default()).unwrap();
        assert_eq!(y.shape(), &[1, 1, 4, 3]);
        let expected = [
            [0., 0., 0.],
            [6000., 6000., 6000.],
            [6000., 6000., 6000.],
            [0., 0., 0.],
        ];
        assert_eq!(y.to_vec(), expected.concat());
    }

    #[test]
    fn bias_and_shape_errors() {
        let x = t(vec![1.; 2 * 3 * 4 * 4], &[2, 3, 4, 4]);
        let w = t(vec![1.; 5 * 3 * 3 * 3], &[5, 3, 3, 3]);
        let b = t(vec![1.; 4], &[4]);
        let err = conv2d(&x, &w, Some(&b), &Conv2dOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("bias [4] must have shape [5]"),
            "{err}"
        );
        let b = t(vec![0.5; 5], &[5]);
        let y = conv2d(&x, &w, Some(&b), &Conv2dOptions::default()).unwrap();
        assert!(y.to_vec().iter().all(|&v| v == 27.5));
        let w = t(vec![1.; 5 * 3 * 9 * 9], &[5, 3, 9, 9]);
        assert!(conv2d(&x, &w, None, &Conv2dOptions::default()).is_err());
    }

    #[test]
    fn empty_batch_gives_empty_output() {
        let x = t(vec![], &[0, 2, 4, 4]);
        let w = t(vec![1.; 3 * 2 * 3 * 3], &[3, 2, 3, 3]);
        let y = conv2d(&x, &w, None, &Conv2dOptions::default()).unwrap();
        assert_eq!(y.shape(), &[0, 3, 2, 2]);
    }

    #[test]
    fn non_contiguous_input_is_accepted() {
        let x = t((0..2 * 3 * 5 * 4).map(f64::from).collect(), &[2, 3, 5, 4]);
        let xt = x.transpose(2, 3).unwrap();
        let w = t((0..2 * 3 * 2 * 2).map(f64::from).collect(), &[2, 3, 2, 2]);
        let p = Conv2dOptions::default();
        let y = conv2d(&xt, &w, None, &p).unwrap();
        let y2 = conv2d(&xt.contiguous(), &w, None, &p).unwrap();
        assert_eq!(y.to_vec(), y2.to_vec());
    }

    #[test]
    fn pointwise_large_image_uses_tiles() {
        // 1×1 convolution of a 2-channel 700×700 image: tiles of rows, exact against the
        // reference.
        let case = reference::Case {
            n: 1,
            groups: 1,
            cin_g: 2,
            cout_g: 3,
            h: 700,
            w: 700,
            kh: 1,
            kw: 1,
            params: Conv2dOptions::default(),
        };
        case.check_forward::<f64>(3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn forward_matches_reference(case in reference::case_strategy(), seed in 0u64..1000) {
            case.check_forward::<f64>(seed);
            case.check_forward::<f32>(seed);
        }
    }

    #[test]
    fn asymmetric_padding_regression() {
        let case = reference::Case {
            n: 1,
            groups: 1,
            cin_g: 1,
            cout_g: 1,
            h: 3,
            w: 4,
            kh: 2,
            kw: 3,
            params: Conv2dOptions::default()
                .with_padding(Padding2d {
                    top: 0,
                    bottom: 2,
                    left: 3,
                    right: 1,
                })
                .with_stride([2, 1]),
        };
        case.check_forward::<f64>(1);
    }
}
