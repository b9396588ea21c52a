//! The gradients of a 2-D convolution with respect to its input, weight and bias.

use rayon::prelude::*;

use super::gemm::gemm;
use super::geometry::Geometry;
use super::im2col::{col2im, im2col_block, short_row_sources, Block, Blocks};
use super::params::Conv2dOptions;
use crate::buffer;
use crate::element::Element;
use crate::error::Result;
use crate::scratch::with_scratch;
use crate::shape::numel;
use crate::shared_mut::SharedMut;
use crate::tensor::Tensor;

/// Input channels per task of the input gradient: a fixed block, so that the work split never
/// depends on the number of threads.
const INPUT_CHANNEL_BLOCK: usize = 16;

/// At most this many partial weight gradients are summed (fixed, shape-independent order).
const MAX_WEIGHT_PARTIALS: usize = 16;

/// Byte budget of all partial weight gradients together.
const WEIGHT_PARTIAL_BYTES: usize = 64 << 20;

/// The gradient of [`conv2d`](super::conv2d) with respect to its input, given the gradient
/// `grad_output` (`[N, O, OH, OW]`) of its output, the `weight` (`[O, C / groups, kh, kw]`),
/// the input's shape `[N, C, H, W]` and the same parameters (a transposed convolution,
/// computed as GEMM + col2im).
///
/// ```
/// use strata_tensor::{conv::{conv2d_backward_input, Conv2dOptions}, Tensor};
/// let dy = Tensor::<f64>::ones(&[1, 1, 2, 2]);
/// let w = Tensor::<f64>::ones(&[1, 1, 2, 2]);
/// let dx = conv2d_backward_input(&dy, &w, &[1, 1, 3, 3], &Conv2dOptions::default())?;
/// assert_eq!(dx.to_vec(), vec![1., 2., 1., 2., 4., 2., 1., 2., 1.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// As [`conv2d`](super::conv2d) for the input shape and weight, and a `grad_output` whose
/// shape is not the convolution's output shape.
pub fn conv2d_backward_input<T: Element>(
    grad_output: &Tensor<T>,
    weight: &Tensor<T>,
    input_shape: &[usize],
    params: &Conv2dOptions,
) -> Result<Tensor<T>> {
    const OP: &str = "conv2d_backward_input";
    let g = Geometry::new(OP, input_shape, weight.shape(), params)?;
    g.check_grad_output(OP, grad_output.shape())?;
    let dy = grad_output.contiguous();
    let w = weight.contiguous();
    let len = numel(&g.input_shape());
    if len == 0 || g.oh * g.ow == 0 || g.c_out == 0 {
        return Ok(Tensor::from_contiguous(
            buffer::zeroed(len),
            &g.input_shape(),
        ));
    }
    // Every plane is zeroed by the task that accumulates into it (see `input_grad_into`).
    let mut dx = buffer::dirty(len);
    input_grad_into(&g, dy.storage(), w.storage(), &mut dx);
    Ok(Tensor::from_contiguous(dx, &g.input_shape()))
}

/// Writes the input gradient into `dx` (of the input's size; its old contents are never
/// read: each task zeroes its own planes before it accumulates into them, in parallel and
/// while they are about to be in cache, instead of a serial fill of the whole buffer first).
fn input_grad_into<T: Element>(g: &Geometry, dy: &[T], w: &[T], dx: &mut [T]) {
    let k = g.col_rows();
    let taps = g.kh * g.kw;
    let plane_in = g.h * g.w;
    let plane_out = g.oh * g.ow;
    let channel_blocks = g.cin_g.div_ceil(INPUT_CHANNEL_BLOCK);
    let pointwise = g.is_pointwise();
    let blocks = Blocks::new::<T>(g, INPUT_CHANNEL_BLOCK.min(g.cin_g) * taps, !pointwise);
    let tiles = blocks.tiles.count;
    // The tiles of one image add into overlapping input rows: one task takes them all.
    let image_groups = blocks.count() / tiles;
    let dx_ptr = SharedMut(dx.as_mut_ptr());
    (0..image_groups * g.groups * channel_blocks)
        .into_par_iter()
        .for_each(|task| {
            let (ig, rest) = (
                task / (g.groups * channel_blocks),
                task % (g.groups * channel_blocks),
            );
            let (grp, cb) = (rest / channel_blocks, rest % channel_blocks);
            let c0 = cb * INPUT_CHANNEL_BLOCK;
            let channels = INPUT_CHANNEL_BLOCK.min(g.cin_g - c0);
            // The planes of this task's channels in image `n`.
            let dx_planes = |n: usize| {
                let first_channel = n * g.c_in + grp * g.cin_g + c0;
                // SAFETY: the planes of `channels` input channels starting at
                // `first_channel` lie inside `dx` and belong to this task only.
                unsafe {
                    std::slice::from_raw_parts_mut(
                        dx_ptr.get().add(first_channel * plane_in),
                        channels * plane_in,
                    )
                }
            };
            // A[r, o] = weight[grp·cout_g + o, c0 + r / taps, tap r % taps]: the transposed
            // weight rows of this channel block.
            let a = w[grp * g.cout_g * k + c0 * taps..].as_ptr();
            let dy_at = |n: usize, o: usize| (n * g.c_out + grp * g.cout_g + o) * plane_out;
            let first = blocks.block(ig * tiles);
            for n in first.n0..first.n0 + first.images {
                dx_planes(n).fill(T::zero());
            }
            for t in 0..tiles {
                let block = blocks.block(ig * tiles + t);
                let Block {
                    n0, images, oh0, ..
                } = block;
                let p = block.pixels(g.ow);
                let p_all = images * p;
                let rows_c = channels * taps;
                // C ← Aᵀ-rows · B for B = dY [cout_g, p_all] with row stride `rsb`.
                let multiply = |b: *const T, rsb: usize, c: *mut T, rsc: usize, m: usize| {
                    // SAFETY: A is [m, cout_g] with strides (1, k) inside `w`, B is inside
                    // `dy` or the gathered scratch, C is this task's own block of `dx` or
                    // the column buffer.
                    unsafe {
                        gemm(m, g.cout_g, p_all, a, 1, k, b, rsb, 1, T::zero(), c, rsc);
                    }
                };
                if pointwise {
                    let c = dx_planes(n0)[oh0 * g.w..].as_mut_ptr();
                    multiply(
                        dy[dy_at(n0, 0) + oh0 * g.ow..].as_ptr(),
                        plane_out,
                        c,
                        plane_in,
                        channels,
                    );
                    continue;
                }
                with_scratch(rows_c * p_all, |col: &mut [T]| {
                    if images == 1 {
                        let b = dy[dy_at(n0, 0) + oh0 * g.ow..].as_ptr();
                        multiply(b, plane_out, col.as_mut_ptr(), p_all, rows_c);
                    } else {
                        with_scratch(g.cout_g * p_all, |b: &mut [T]| {
                            gather_block(dy, dy_at, g.cout_g, &block, p, b);
                            multiply(b.as_ptr(), p_all, col.as_mut_ptr(), p_all, rows_c);
                        });
                    }
                    for i in 0..images {
                        col2im(
                            g,
                            &col[i * p..],
                            p_all,
                            channels,
                            (oh0, block.rows),
                            dx_planes(n0 + i),
                        );
                    }
                });
            }
        });
}

/// Copies the output-gradient rows of a block's images side by side into `dst`
/// (`[cout_g, images · p]`): row `o` of image `n` starts at `dy_at(n, o)` in `dy`.
fn gather_block<T: Element>(
    dy: &[T],
    dy_at: impl Fn(usize, usize) -> usize,
    cout_g: usize,
    block: &Block,
    p: usize,
    dst: &mut [T],
) {
    let p_all = block.images * p;
    for o in 0..cout_g {
        for i in 0..block.images {
            dst[o * p_all + i * p..][..p].copy_from_slice(&dy[dy_at(block.n0 + i, o)..][..p]);
        }
    }
}

/// The gradient of [`conv2d`](super::conv2d) with respect to its weight, given the `input`
/// (`[N, C, H, W]`), the gradient `grad_output` of the output (`[N, O, OH, OW]`), the weight's
/// shape `[O, C / groups, kh, kw]` and the same parameters.
///
/// The sum over the batch and the output pixels is split into a number of fixed chunks that
/// depends only on the shapes; the partial sums are added in chunk order, so the result is the
/// same for any number of threads.
///
/// ```
/// use strata_tensor::{conv::{conv2d_backward_weight, Conv2dOptions}, Tensor};
/// let x = Tensor::<f64>::from_vec((1..=9).map(f64::from).collect(), &[1, 1, 3, 3])?;
/// let dy = Tensor::<f64>::ones(&[1, 1, 2, 2]);
/// let dw = conv2d_backward_weight(&x, &dy, &[1, 1, 2, 2], &Conv2dOptions::default())?;
/// assert_eq!(dw.to_vec(), vec![12., 16., 24., 28.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// As [`conv2d`](super::conv2d) for the input and weight shape, and a `grad_output` whose
/// shape is not the convolution's output shape.
pub fn conv2d_backward_weight<T: Element>(
    input: &Tensor<T>,
    grad_output: &Tensor<T>,
    weight_shape: &[usize],
    params: &Conv2dOptions,
) -> Result<Tensor<T>> {
    const OP: &str = "conv2d_backward_weight";
    let g = Geometry::new(OP, input.shape(), weight_shape, params)?;
    g.check_grad_output(OP, grad_output.shape())?;
    let x = input.contiguous();
    let dy = grad_output.contiguous();
    let dw = weight_grad(&g, x.storage(), dy.storage());
    Ok(Tensor::from_contiguous(dw, weight_shape))
}

fn weight_grad<T: Element>(g: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    let k = g.col_rows();
    let size = g.c_out * k;
    let pointwise = g.is_pointwise();
    let blocks = Blocks::new::<T>(g, k, !pointwise);
    let sources = short_row_sources(g, g.cin_g, &blocks);
    let items = blocks.count();
    if size == 0 || items == 0 || g.oh * g.ow == 0 {
        return vec![T::zero(); size];
    }
    let by_memory = (WEIGHT_PARTIAL_BYTES / (size * std::mem::size_of::<T>())).max(1);
    let chunks = items.min(MAX_WEIGHT_PARTIALS).min(by_memory);
    let per_chunk = items.div_ceil(chunks);
    let chunks = items.div_ceil(per_chunk);
    let image_in = g.c_in * g.h * g.w;
    let plane_in = g.h * g.w;
    let plane_out = g.oh * g.ow;
    let partials: Vec<Vec<T>> = (0..chunks)
        .into_par_iter()
        .map(|chunk| {
            let mut acc = vec![T::zero(); size];
            for item in chunk * per_chunk..((chunk + 1) * per_chunk).min(items) {
                let block = blocks.block(item);
                let Block {
                    n0, images, oh0, ..
                } = block;
                let p = block.pixels(g.ow);
                let p_all = images * p;
                for grp in 0..g.groups {
                    let xg = |n: usize| {
                        &x[n * image_in + grp * g.cin_g * plane_in..][..g.cin_g * plane_in]
                    };
                    // Row `o` of this group's output gradient in image `n`, this block's pixels.
                    let dy_at = |n: usize, o: usize| {
                        (n * g.c_out + grp * g.cout_g + o) * plane_out + oh0 * g.ow
                    };
                    let acc_g = acc[grp * g.cout_g * k..].as_mut_ptr();
                    // A = dY [cout_g, p_all] with row stride `rsa`; B = colᵀ: [p_all, k]
                    // with strides (1, `csb`).
                    let multiply = |a: *const T, rsa: usize, b: *const T, csb: usize| {
                        // SAFETY: A inside `dy` or the gathered scratch, B inside `x` or the
                        // column buffer, C = this group's [cout_g, k] block of the task's
                        // own accumulator.
                        unsafe {
                            gemm(g.cout_g, p_all, k, a, rsa, 1, b, 1, csb, T::one(), acc_g, k);
                        }
                    };
                    if pointwise {
                        multiply(
                            dy[dy_at(n0, 0)..].as_ptr(),
                            plane_out,
                            xg(n0)[oh0 * g.w..].as_ptr(),
                            plane_in,
                        );
                        continue;
                    }
                    with_scratch(k * p_all, |col: &mut [T]| {
                        im2col_block(g, xg, g.cin_g, (&block, sources.as_deref()), col);
                        if images == 1 {
                            multiply(dy[dy_at(n0, 0)..].as_ptr(), plane_out, col.as_ptr(), p_all);
                            return;
                        }
                        with_scratch(g.cout_g * p_all, |a: &mut [T]| {
                            gather_block(dy, dy_at, g.cout_g, &block, p, a);
                            multiply(a.as_ptr(), p_all, col.as_ptr(), p_all);
                        });
                    });
                }
            }
            acc
        })
        .collect();
    let mut iter = partials.into_iter();
    let mut total = iter.next().unwrap_or_else(|| vec![T::zero(); size]);
    let rest: Vec<Vec<T>> = iter.collect();
    if !rest.is_empty() {
        total.par_chunks_mut(4096).enumerate().for_each(|(i, out)| {
            for part in &rest {
                for (o, v) in out.iter_mut().zip(&part[i * 4096..]) {
                    *o = *o + *v;
                }
            }
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conv::reference::{self, Case};
    use crate::conv::{conv2d, conv2d_backward_bias, Padding2d};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn backward_matches_reference(case in reference::case_strategy(), seed in 0u64..1000) {
            case.check_backward::<f64>(seed);
            case.check_backward::<f32>(seed);
        }
    }

    fn case(n: usize, cin: usize, cout: usize, hw: usize, k: usize, params: Conv2dOptions) -> Case {
        Case {
            n,
            groups: params.groups,
            cin_g: cin / params.groups,
            cout_g: cout / params.groups,
            h: hw,
            w: hw,
            kh: k,
            kw: k,
            params,
        }
    }

    #[test]
    fn pointwise_and_multi_tile_backward() {
        case(2, 4, 6, 9, 1, Conv2dOptions::default()).check_backward::<f64>(5);
        // 40 input channels: three channel blocks; 130×130 with 40·9 column rows: several
        // tiles per image; three images: several weight partials.
        let p = Conv2dOptions::default().with_padding(Padding2d::uniform(1));
        case(3, 40, 3, 130, 3, p).check_backward::<f64>(6);
    }

    #[test]
    fn input_gradient_never_reads_a_reused_buffer_s_old_values() {
        // A buffer of NaNs of exactly the input gradient's size goes to the buffer cache
        // first; the kernel takes it as its output and must overwrite every element.
        let c = case(2, 40, 3, 130, 3, Conv2dOptions::default());
        let len: usize = c.input_shape().iter().product();
        drop(Tensor::<f64>::from_vec(vec![f64::NAN; len], &c.input_shape()).unwrap());
        c.check_backward::<f64>(7);
    }

    #[test]
    fn grad_output_shape_is_checked() {
        let w = Tensor::<f64>::ones(&[2, 1, 3, 3]);
        let dy = Tensor::<f64>::ones(&[1, 2, 3, 3]);
        let err =
            conv2d_backward_input(&dy, &w, &[1, 1, 6, 6], &Conv2dOptions::default()).unwrap_err();
        assert!(err.to_string().contains("[1, 2, 4, 4]"), "{err}");
        let x = Tensor::<f64>::ones(&[1, 1, 6, 6]);
        assert!(conv2d_backward_weight(&x, &dy, &[2, 1, 3, 3], &Conv2dOptions::default()).is_err());
        assert!(conv2d_backward_bias(&Tensor::<f64>::ones(&[2, 3])).is_err());
    }

    fn all_kernels(seed: u64) -> Vec<Vec<f32>> {
        // Random (non-integer) values, so that summation order shows in the bits.
        let c = case(
            5,
            32,
            8,
            70,
            3,
            Conv2dOptions::default().with_padding(Padding2d::uniform(1)),
        );
        let (x, w, b, dy) = c.data::<f32>(seed);
        let scale = |t: &Tensor<f32>| {
            Tensor::from_vec(
                t.to_vec()
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * 0.37 + (i % 13) as f32 * 0.011)
                    .collect(),
                t.shape(),
            )
            .unwrap()
        };
        let (x, w, dy) = (scale(&x), scale(&w), scale(&dy));
        vec![
            conv2d(&x, &w, Some(&b), &c.params).unwrap().to_vec(),
            conv2d_backward_input(&dy, &w, &c.input_shape(), &c.params)
                .unwrap()
                .to_vec(),
            conv2d_backward_weight(&x, &dy, &c.weight_shape(), &c.params)
                .unwrap()
                .to_vec(),
            conv2d_backward_bias(&dy).unwrap().to_vec(),
        ]
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| all_kernels(11))
        };
        let one = run(1);
        for threads in [2, 3] {
            let other = run(threads);
            for (a, b) in one.iter().zip(&other) {
                let a: Vec<u32> = a.iter().map(|v| v.to_bits()).collect();
                let b: Vec<u32> = b.iter().map(|v| v.to_bits()).collect();
                assert_eq!(a, b, "{threads} threads");
            }
        }
    }
}
