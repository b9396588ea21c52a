//! Max pooling and its backward pass.

use rayon::prelude::*;

use super::{Pool2dParams, PoolGeometry};
use crate::buffer;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shape::numel;
use crate::tensor::Tensor;

/// The result of [`max_pool2d`]: the pooled values and where each came from.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxPool2d<T: Element> {
    /// The maxima, shape `[N, C, OH, OW]`.
    pub output: Tensor<T>,
    /// For each output element (in the output's row-major order), the flat index `h·W + w` of
    /// its maximum within its own input plane `[H, W]` (as PyTorch's `return_indices`).
    pub argmax: Vec<usize>,
}

/// Max pooling of an NCHW `input` over `params.kernel` windows; padding counts as `-∞`. Ties
/// go to the first maximum in row-major window order, and a NaN in a window wins (as in
/// PyTorch).
///
/// ```
/// use strata_tensor::{pool::{max_pool2d, Pool2dParams}, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1., 5., 2., 0., 3., 4., 9., 9.], &[1, 1, 2, 4])?;
/// let r = max_pool2d(&x, &Pool2dParams::new([2, 2]))?;
/// assert_eq!(r.output.to_vec(), vec![5., 9.]);
/// assert_eq!(r.argmax, vec![1, 6]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// An input not of rank 4 or invalid parameters (see [`Pool2dParams::output_size`]).
pub fn max_pool2d<T: Element>(input: &Tensor<T>, params: &Pool2dParams) -> Result<MaxPool2d<T>> {
    let g = PoolGeometry::new("max_pool2d", input.shape(), params)?;
    let x = input.contiguous();
    let x = x.storage();
    let plane_in = g.h * g.w;
    let plane_out = g.oh * g.ow;
    let mut out = buffer::zeroed(numel(&g.output_shape()));
    let mut argmax = vec![0usize; out.len()];
    if plane_out > 0 && plane_in > 0 {
        out.par_chunks_mut(plane_out)
            .zip(argmax.par_chunks_mut(plane_out))
            .enumerate()
            .for_each(|(plane, (out, arg))| {
                let xp = &x[plane * plane_in..(plane + 1) * plane_in];
                for y in 0..g.oh {
                    for xo in 0..g.ow {
                        let ([r0, r1], [c0, c1]) = g.window(y, xo);
                        let mut best_i = r0 * g.w + c0;
                        let mut best = xp[best_i];
                        'window: for r in r0..r1 {
                            for c in c0..c1 {
                                let v = xp[r * g.w + c];
                                if v > best || v.is_nan() {
                                    best = v;
                                    best_i = r * g.w + c;
                                    if v.is_nan() {
                                        break 'window;
                                    }
                                }
                            }
                        }
                        out[y * g.ow + xo] = best;
                        arg[y * g.ow + xo] = best_i;
                    }
                }
            });
    }
    Ok(MaxPool2d {
        output: Tensor::from_contiguous(out, &g.output_shape()),
        argmax,
    })
}

/// The gradient of [`max_pool2d`] with respect to its input: each element of `grad_output`
/// (`[N, C, OH, OW]`) is added to the input position recorded in `argmax` (indices within each
/// `[H, W]` plane of `input_shape`, as [`MaxPool2d::argmax`]).
///
/// ```
/// use strata_tensor::{pool::{max_pool2d, max_pool2d_backward, Pool2dParams}, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1., 5., 2., 0., 3., 4., 9., 9.], &[1, 1, 2, 4])?;
/// let r = max_pool2d(&x, &Pool2dParams::new([2, 2]))?;
/// let dy = Tensor::<f32>::from_vec(vec![10., 20.], &[1, 1, 1, 2])?;
/// let dx = max_pool2d_backward(&dy, &r.argmax, &[1, 1, 2, 4])?;
/// assert_eq!(dx.to_vec(), vec![0., 10., 0., 0., 0., 0., 20., 0.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// Shapes that are not NCHW or disagree in N and C, an `argmax` whose length is not the number
/// of gradient elements, or an index outside the input plane.
pub fn max_pool2d_backward<T: Element>(
    grad_output: &Tensor<T>,
    argmax: &[usize],
    input_shape: &[usize],
) -> Result<Tensor<T>> {
    const OP: &str = "max_pool2d_backward";
    let gs = grad_output.shape();
    if input_shape.len() != 4 || gs.len() != 4 || gs[..2] != input_shape[..2] {
        return Err(TensorError::shape(
            OP,
            format!(
                "grad_output {gs:?} and input shape {input_shape:?} must both be NCHW with the \
                 same N and C"
            ),
        ));
    }
    if argmax.len() != grad_output.numel() {
        return Err(TensorError::shape(
            OP,
            format!(
                "argmax has {} indices, grad_output {gs:?} has {} elements",
                argmax.len(),
                grad_output.numel()
            ),
        ));
    }
    let plane_in = input_shape[2] * input_shape[3];
    if let Some(&bad) = argmax.iter().find(|&&i| i >= plane_in) {
        return Err(TensorError::invalid(
            OP,
            format!("argmax index {bad} lies outside the input plane of shape {input_shape:?}"),
        ));
    }
    let dy = grad_output.contiguous();
    let dy = dy.storage();
    let plane_out = gs[2] * gs[3];
    let mut dx = buffer::zeroed(numel(input_shape));
    if plane_in > 0 && plane_out > 0 {
        dx.par_chunks_mut(plane_in)
            .enumerate()
            .for_each(|(plane, dxp)| {
                let range = plane * plane_out..(plane + 1) * plane_out;
                for (&i, &v) in argmax[range.clone()].iter().zip(&dy[range]) {
                    dxp[i] = dxp[i] + v;
                }
            });
    }
    Ok(Tensor::from_contiguous(dx, input_shape))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conv::{conv2d, Conv2dParams, Padding2d};
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
        let r = max_pool2d(&padded, &Pool2dParams::new([2, 2])).unwrap();
        assert_eq!(r.output.shape(), &[1, 1, 3, 3]);
        let expected = [[510., 255., 510.], [255., 0., 255.], [510., 255., 510.]];
        assert_eq!(r.output.to_vec(), expected.concat());
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
        let y = conv2d(&x, &w, None, &Conv2dParams::default()).unwrap();
        let y = y.pad(&[(0, 0), (0, 0), (1, 1), (1, 1)], 0.0).unwrap();
        let r = max_pool2d(&y, &Pool2dParams::new([2, 2])).unwrap();
        assert_eq!(
            r.output.to_vec(),
            vec![510., 255., 510., 255., 0., 255., 510., 255., 510.]
        );
    }

    #[test]
    fn ties_take_the_first_and_padding_is_minus_infinity() {
        let x = Tensor::<f32>::from_vec(vec![-5., -5., -5., -5.], &[1, 1, 2, 2]).unwrap();
        let p = Pool2dParams::new([2, 2])
            .with_stride([1, 1])
            .with_padding(Padding2d::uniform(1));
        let r = max_pool2d(&x, &p).unwrap();
        assert!(r.output.to_vec().iter().all(|&v| v == -5.0));
        assert_eq!(r.argmax, vec![0, 0, 1, 0, 0, 1, 2, 2, 3]);
        let x = Tensor::<f32>::from_vec(vec![1., f32::NAN, 3., 2.], &[1, 1, 2, 2]).unwrap();
        let r = max_pool2d(&x, &Pool2dParams::new([2, 2])).unwrap();
        assert!(r.output.to_vec()[0].is_nan());
        assert_eq!(r.argmax, vec![1]);
    }

    #[test]
    fn backward_errors() {
        let dy = Tensor::<f32>::ones(&[1, 1, 1, 2]);
        assert!(max_pool2d_backward(&dy, &[0], &[1, 1, 2, 4]).is_err());
        assert!(max_pool2d_backward(&dy, &[0, 8], &[1, 1, 2, 4]).is_err());
        assert!(max_pool2d_backward(&dy, &[0, 1], &[1, 2, 2, 4]).is_err());
        assert!(max_pool2d_backward(&dy, &[0, 1], &[1, 1, 8]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn max_pool_matches_reference(case in reference::case_strategy(), seed in 0u64..1000) {
            let (x, dy) = case.data(seed);
            let r = max_pool2d(&x, &case.params).unwrap();
            let (out, arg) = reference::max_pool(&x.to_vec(), case.shape(), &case.params);
            prop_assert_eq!(r.output.to_vec(), out);
            prop_assert_eq!(&r.argmax, &arg);
            let dx = max_pool2d_backward(&dy, &r.argmax, &case.shape()).unwrap();
            prop_assert_eq!(dx.to_vec(), reference::max_pool_backward(&dy.to_vec(), &arg, case.shape()));
        }
    }
}
