//! Average pooling and its backward pass.

use rayon::prelude::*;

use super::{Pool2dOptions, PoolGeometry};
use crate::buffer;
use crate::element::Element;
use crate::error::Result;
use crate::shape::numel;
use crate::tensor::Tensor;

/// The geometry of an average pooling, which has no dilation (PyTorch's neither).
fn avg_geometry(op: &'static str, input: &[usize], params: &Pool2dOptions) -> Result<PoolGeometry> {
    if params.dilation != [1, 1] {
        return Err(crate::error::TensorError::invalid(
            op,
            format!(
                "average pooling takes no dilation (as PyTorch's avg_pool2d), found {:?}",
                params.dilation
            ),
        ));
    }
    PoolGeometry::new(op, input, params)
}

/// The divisor of the window of output `(y, x)`.
#[inline]
fn divisor<T: Element>(
    g: &PoolGeometry,
    rows: [usize; 2],
    cols: [usize; 2],
    count_include_pad: bool,
) -> T {
    let count = if count_include_pad {
        g.params.kernel[0] * g.params.kernel[1]
    } else {
        (rows[1] - rows[0]) * (cols[1] - cols[0])
    };
    T::from_usize(count).unwrap_or_else(T::nan)
}

/// Average pooling of an NCHW `input` over `params.kernel` windows. Padding counts as zero;
/// with `count_include_pad` (PyTorch's default) every window is divided by `kh·kw`, without it
/// (Keras `same`) by the number of input elements it covers.
///
/// ```
/// use strata_tensor::{conv::Padding2d, pool::{avg_pool2d, Pool2dOptions}, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1., 2., 3., 4.], &[1, 1, 2, 2])?;
/// let p = Pool2dOptions::new([2, 2]).with_padding(Padding2d { top: 0, bottom: 0, left: 0, right: 1 });
/// assert_eq!(avg_pool2d(&x, &p, true)?.to_vec(), vec![2.5]);
/// let p = p.with_stride([1, 1]);
/// assert_eq!(avg_pool2d(&x, &p, true)?.to_vec(), vec![2.5, 1.5]);
/// assert_eq!(avg_pool2d(&x, &p, false)?.to_vec(), vec![2.5, 3.0]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// An input not of rank 4 or invalid parameters (see [`Pool2dOptions::output_size`]).
pub fn avg_pool2d<T: Element>(
    input: &Tensor<T>,
    params: &Pool2dOptions,
    count_include_pad: bool,
) -> Result<Tensor<T>> {
    let g = avg_geometry("avg_pool2d", input.shape(), params)?;
    let x = input.contiguous();
    let x = x.storage();
    let plane_in = g.h * g.w;
    let plane_out = g.oh * g.ow;
    let mut out = buffer::zeroed(numel(&g.output_shape()));
    if plane_out > 0 && plane_in > 0 && g.params.is_general() {
        super::general::avg_pool(&g, x, &mut out, count_include_pad);
    } else if plane_out > 0 && plane_in > 0 {
        out.par_chunks_mut(plane_out)
            .enumerate()
            .for_each(|(plane, out)| {
                let xp = &x[plane * plane_in..(plane + 1) * plane_in];
                for y in 0..g.oh {
                    for xo in 0..g.ow {
                        let (rows, cols) = g.window(y, xo);
                        let mut s = T::zero();
                        for r in rows[0]..rows[1] {
                            for v in &xp[r * g.w + cols[0]..r * g.w + cols[1]] {
                                s = s + *v;
                            }
                        }
                        out[y * g.ow + xo] = s / divisor::<T>(&g, rows, cols, count_include_pad);
                    }
                }
            });
    }
    Ok(Tensor::from_contiguous(out, &g.output_shape()))
}

/// The gradient of [`avg_pool2d`] with respect to its input (`input_shape`, NCHW), given the
/// gradient of its output and the same parameters: each output gradient, divided by its
/// window's divisor, is added to every input element of the window.
///
/// ```
/// use strata_tensor::{pool::{avg_pool2d_backward, Pool2dOptions}, Tensor};
/// let dy = Tensor::<f32>::from_vec(vec![4., 8.], &[1, 1, 1, 2])?;
/// let dx = avg_pool2d_backward(&dy, &[1, 1, 2, 4], &Pool2dOptions::new([2, 2]), true)?;
/// assert_eq!(dx.to_vec(), vec![1., 1., 2., 2., 1., 1., 2., 2.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// An input shape not of rank 4, invalid parameters, or a `grad_output` whose shape is not
/// the pooling's output shape.
pub fn avg_pool2d_backward<T: Element>(
    grad_output: &Tensor<T>,
    input_shape: &[usize],
    params: &Pool2dOptions,
    count_include_pad: bool,
) -> Result<Tensor<T>> {
    const OP: &str = "avg_pool2d_backward";
    let g = avg_geometry(OP, input_shape, params)?;
    g.check_grad_output(OP, grad_output.shape())?;
    let dy = grad_output.contiguous();
    let dy = dy.storage();
    let plane_in = g.h * g.w;
    let plane_out = g.oh * g.ow;
    let mut dx = buffer::zeroed(numel(&g.input_shape()));
    if plane_out > 0 && plane_in > 0 && g.params.is_general() {
        super::general::avg_pool_backward(&g, dy, &mut dx, count_include_pad);
    } else if plane_out > 0 && plane_in > 0 {
        dx.par_chunks_mut(plane_in)
            .enumerate()
            .for_each(|(plane, dxp)| {
                let dyp = &dy[plane * plane_out..(plane + 1) * plane_out];
                for y in 0..g.oh {
                    for xo in 0..g.ow {
                        let (rows, cols) = g.window(y, xo);
                        let v =
                            dyp[y * g.ow + xo] / divisor::<T>(&g, rows, cols, count_include_pad);
                        for r in rows[0]..rows[1] {
                            for d in &mut dxp[r * g.w + cols[0]..r * g.w + cols[1]] {
                                *d = *d + v;
                            }
                        }
                    }
                }
            });
    }
    Ok(Tensor::from_contiguous(dx, &g.input_shape()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::pool::reference;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn avg_pool_matches_reference(
            case in reference::case_strategy(),
            seed in 0u64..1000,
            include in any::<bool>(),
        ) {
            let (x, dy) = case.data(seed);
            let y = avg_pool2d(&x, &case.params, include).unwrap();
            prop_assert_eq!(y.to_vec(), reference::avg_pool(&x.to_vec(), case.shape(), &case.params, include));
            let dx = avg_pool2d_backward(&dy, &case.shape(), &case.params, include).unwrap();
            prop_assert_eq!(
                dx.to_vec(),
                reference::avg_pool_backward(&dy.to_vec(), case.shape(), &case.params, include)
            );
        }
    }

    #[test]
    fn pooling_does_not_depend_on_thread_count() {
        use crate::conv::Padding2d;
        use crate::pool::{max_pool2d_backward, max_pool2d_with_indices};
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let shape = [3, 5, 17, 13];
                    let x: Vec<f32> = (0..shape.iter().product::<usize>())
                        .map(|i| ((i * 7919) % 1000) as f32 * 0.013)
                        .collect();
                    let x = Tensor::from_vec(x, &shape).unwrap();
                    let p = Pool2dOptions::new([3, 3])
                        .with_stride([2, 2])
                        .with_padding(Padding2d::uniform(1));
                    let y = avg_pool2d(&x, &p, false).unwrap();
                    let dx = avg_pool2d_backward(&y, &shape, &p, false).unwrap();
                    let (m, at) = max_pool2d_with_indices(&x, &p).unwrap();
                    let dm = max_pool2d_backward(&y, &at).unwrap();
                    [y.to_vec(), dx.to_vec(), m.to_vec(), dm.to_vec()]
                        .concat()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<u32>>()
                })
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn backward_checks_the_gradient_shape() {
        let dy = Tensor::<f32>::ones(&[1, 1, 2, 2]);
        let err =
            avg_pool2d_backward(&dy, &[1, 1, 2, 4], &Pool2dOptions::new([2, 2]), true).unwrap_err();
        assert!(err.to_string().contains("[1, 1, 1, 2]"), "{err}");
    }
}
