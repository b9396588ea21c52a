//! The bias gradient of a convolution, and the pass that also applies a fused relu's mask.
//!
//! Both sum each `OH×OW` plane of the output gradient in [`LANES`] independent partial sums
//! (so the adds vectorise; a single running sum is one dependent add per element), then
//! add the planes of a channel in image order. The order is a function of the shape alone,
//! so the result does not depend on the number of threads, and both functions give the
//! same bits for the same (masked) gradient.

use rayon::prelude::*;

use crate::buffer;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// Partial sums per plane.
const LANES: usize = 16;

/// Elements per parallel work item, at least (small planes are taken several at a time).
const MIN_ITEM: usize = 1 << 13;

/// The gradient of [`conv2d`](super::conv2d) with respect to its bias: `grad_output`
/// (`[N, O, OH, OW]`) summed over N, OH and OW, shape `[O]`.
///
/// ```
/// use strata_tensor::{conv::conv2d_backward_bias, Tensor};
/// let dy = Tensor::<f32>::from_vec((0..8).map(|v| v as f32).collect(), &[2, 2, 1, 2])?;
/// assert_eq!(conv2d_backward_bias(&dy)?.to_vec(), vec![0. + 1. + 4. + 5., 2. + 3. + 6. + 7.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// A `grad_output` that is not of rank 4.
pub fn conv2d_backward_bias<T: Element>(grad_output: &Tensor<T>) -> Result<Tensor<T>> {
    let (c, plane) = planes("conv2d_backward_bias", grad_output.shape())?;
    let dy = grad_output.contiguous();
    let sums: Vec<T> = if plane == 0 {
        Vec::new()
    } else {
        dy.storage()
            .par_chunks(plane)
            .with_min_len(MIN_ITEM.div_ceil(plane))
            .map(plane_sum)
            .collect()
    };
    Ok(Tensor::from_contiguous(channel_sums(&sums, c), &[c]))
}

/// The backward pass of [`conv2d_relu`](super::conv2d_relu) up to the convolution: from the
/// gradient `grad_output` of its output and the `output` itself (both `[N, O, OH, OW]`),
/// the gradient of the pre-activation, `grad_output · [output > 0]` (NaN outputs pass the
/// gradient on, as relu's own backward pass), and the bias gradient (that gradient summed
/// over N, OH and OW, shape `[O]`) from the same pass.
///
/// The same bits as masking first and then calling [`conv2d_backward_bias`], one pass over
/// the gradient fewer.
///
/// ```
/// use strata_tensor::{conv::conv2d_relu_backward_bias, Tensor};
/// let dy = Tensor::<f32>::from_vec(vec![1., 2., 3., 4.], &[1, 2, 1, 2])?;
/// let y = Tensor::<f32>::from_vec(vec![0.5, 0., 2., -0.], &[1, 2, 1, 2])?;
/// let (masked, db) = conv2d_relu_backward_bias(&dy, &y)?;
/// assert_eq!(masked.to_vec(), vec![1., 0., 3., 0.]);
/// assert_eq!(db.to_vec(), vec![1., 3.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// Tensors not of rank 4, or of different shapes.
pub fn conv2d_relu_backward_bias<T: Element>(
    grad_output: &Tensor<T>,
    output: &Tensor<T>,
) -> Result<(Tensor<T>, Tensor<T>)> {
    const OP: &str = "conv2d_relu_backward_bias";
    let shape = grad_output.shape();
    if output.shape() != shape {
        return Err(TensorError::shape(
            OP,
            format!(
                "grad_output {shape:?} and output {:?} must have the same shape",
                output.shape()
            ),
        ));
    }
    let (c, plane) = planes(OP, shape)?;
    let (dy, y) = (grad_output.contiguous(), output.contiguous());
    let mut masked = buffer::dirty(dy.numel());
    let sums: Vec<T> = if plane == 0 {
        Vec::new()
    } else {
        masked
            .par_chunks_mut(plane)
            .zip(dy.storage().par_chunks(plane))
            .zip(y.storage().par_chunks(plane))
            .with_min_len(MIN_ITEM.div_ceil(plane))
            .map(|((out, g), y)| {
                for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                    // The same products as relu's backward pass (g·1 or g·0), so the same
                    // bits.
                    *o = g * if y > T::zero() || y.is_nan() {
                        T::one()
                    } else {
                        T::zero()
                    };
                }
                plane_sum(out)
            })
            .collect()
    };
    Ok((
        Tensor::from_contiguous(masked, shape),
        Tensor::from_contiguous(channel_sums(&sums, c), &[c]),
    ))
}

/// Channels and plane size of an NCHW shape.
fn planes(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() != 4 {
        return Err(TensorError::shape(
            op,
            format!("grad_output must be NCHW (rank 4), got shape {shape:?}"),
        ));
    }
    Ok((shape[1], shape[2] * shape[3]))
}

/// The sum of one plane: [`LANES`] partial sums over its elements in order, then the lanes
/// and the remainder added in order.
fn plane_sum<T: Element>(v: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = *a + x;
        }
    }
    acc.iter().chain(rest).fold(T::zero(), |s, &x| s + x)
}

/// Per channel, the sums of its planes (`sums[n·c + channel]`) added in image order.
fn channel_sums<T: Element>(sums: &[T], c: usize) -> Vec<T> {
    let mut db = vec![T::zero(); c];
    for image in sums.chunks_exact(c.max(1)) {
        for (d, &s) in db.iter_mut().zip(image) {
            *d = *d + s;
        }
    }
    db
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::conv::reference::backward_bias;

    /// Whole numbers in [-8, 8] (zeros and NaN-free), so every sum is exact.
    fn whole(len: usize, seed: u64) -> Vec<f64> {
        (0..len as u64)
            .map(|i| ((i.wrapping_mul(2654435761).wrapping_add(seed * 97)) % 17) as f64 - 8.0)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn bias_and_masked_gradient_match_the_naive_loops(
            n in 0usize..4, c in 0usize..5, h in 0usize..9, w in 0usize..9, seed in 0u64..1000,
        ) {
            let shape = [n, c, h, w];
            let len = n * c * h * w;
            let dy = Tensor::from_vec(whole(len, seed), &shape).unwrap();
            let y = Tensor::from_vec(whole(len, seed + 1), &shape).unwrap();
            let db = conv2d_backward_bias(&dy).unwrap();
            prop_assert_eq!(db.to_vec(), backward_bias(&dy.to_vec(), shape));
            let (masked, db) = conv2d_relu_backward_bias(&dy, &y).unwrap();
            let expected: Vec<f64> = dy
                .to_vec()
                .iter()
                .zip(y.to_vec())
                .map(|(&g, y)| if y > 0.0 { g } else { 0.0 })
                .collect();
            prop_assert_eq!(masked.to_vec(), expected.clone());
            prop_assert_eq!(db.to_vec(), backward_bias(&expected, shape));
        }
    }

    #[test]
    fn nan_outputs_pass_the_gradient_on_and_shapes_are_checked() {
        let dy = Tensor::<f32>::from_vec(vec![1., 2., 3.], &[1, 1, 1, 3]).unwrap();
        let y = Tensor::<f32>::from_vec(vec![f32::NAN, -1., 1.], &[1, 1, 1, 3]).unwrap();
        let (masked, db) = conv2d_relu_backward_bias(&dy, &y).unwrap();
        assert_eq!(masked.to_vec(), vec![1., 0., 3.]);
        assert_eq!(db.to_vec(), vec![4.]);
        let err = conv2d_relu_backward_bias(&dy, &dy.reshape(&[1, 1, 3, 1]).unwrap()).unwrap_err();
        assert!(err.to_string().contains("[1, 1, 3, 1]"), "{err}");
        assert!(conv2d_relu_backward_bias(&dy.reshape(&[3]).unwrap(), &y).is_err());
    }

    #[test]
    fn fused_and_separate_passes_agree_to_the_bit_for_any_thread_count() {
        // Random-looking non-integer values, planes of 900 and of 9 (grouped items).
        for shape in [[5, 6, 30, 30], [300, 4, 3, 3]] {
            let len: usize = shape.iter().product();
            let values =
                |k: f32| -> Vec<f32> { (0..len).map(|i| ((i as f32) * k).sin() * 3.7).collect() };
            let dy = Tensor::from_vec(values(0.37), &shape).unwrap();
            let y = Tensor::from_vec(values(0.11), &shape).unwrap();
            let run = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        let (masked, db) = conv2d_relu_backward_bias(&dy, &y).unwrap();
                        let separate = conv2d_backward_bias(&masked).unwrap();
                        assert_eq!(bits(&db), bits(&separate));
                        (bits(&masked), bits(&db))
                    })
            };
            let one = run(1);
            for threads in [2, 3] {
                assert_eq!(one, run(threads), "{threads} threads, {shape:?}");
            }
        }
    }

    fn bits(t: &Tensor<f32>) -> Vec<u32> {
        t.to_vec().iter().map(|v| v.to_bits()).collect()
    }
}
