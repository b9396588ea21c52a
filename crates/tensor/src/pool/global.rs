//! Global average pooling: the mean of each channel plane.

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// Global average pooling: `[N, C, H, W]` → `[N, C]`, the mean of each `H×W` plane.
///
/// ```
/// use strata_tensor::{pool::global_avg_pool2d, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1., 2., 3., 6., 0., 0., 0., 4.], &[1, 2, 2, 2])?;
/// assert_eq!(global_avg_pool2d(&x)?.to_vec(), vec![3., 1.]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// An input not of rank 4 or with empty planes.
pub fn global_avg_pool2d<T: Element>(input: &Tensor<T>) -> Result<Tensor<T>> {
    let s = input.shape();
    let (plane, count) = plane_size("global_avg_pool2d", s)?;
    let x = input.contiguous();
    let out: Vec<T> = x
        .storage()
        .par_chunks(plane)
        .map(|p| p.iter().fold(T::zero(), |a, &v| a + v) / count)
        .collect();
    Ok(Tensor::from_contiguous(out, &[s[0], s[1]]))
}

/// The gradient of [`global_avg_pool2d`] with respect to its input (`input_shape`, NCHW):
/// each `grad_output[n, c]` divided by `H·W`, spread over its plane.
///
/// # Errors
/// An input shape not of rank 4 or with empty planes, or a `grad_output` not of shape `[N, C]`.
pub fn global_avg_pool2d_backward<T: Element>(
    grad_output: &Tensor<T>,
    input_shape: &[usize],
) -> Result<Tensor<T>> {
    const OP: &str = "global_avg_pool2d_backward";
    let (plane, count) = plane_size(OP, input_shape)?;
    if grad_output.shape() != &input_shape[..2] {
        return Err(TensorError::shape(
            OP,
            format!(
                "grad_output {:?} must have shape {:?} for input {input_shape:?}",
                grad_output.shape(),
                &input_shape[..2]
            ),
        ));
    }
    let dy = grad_output.to_vec();
    let mut dx = vec![T::zero(); input_shape.iter().product()];
    dx.par_chunks_mut(plane)
        .zip(dy.par_iter())
        .for_each(|(p, &g)| p.fill(g / count));
    Ok(Tensor::from_contiguous(dx, input_shape))
}

fn plane_size<T: Element>(op: &'static str, s: &[usize]) -> Result<(usize, T)> {
    if s.len() != 4 || s[2] * s[3] == 0 {
        return Err(TensorError::shape(
            op,
            format!("input must be NCHW (rank 4) with non-empty planes, got shape {s:?}"),
        ));
    }
    let plane = s[2] * s[3];
    Ok((plane, T::from_usize(plane).unwrap_or_else(T::nan)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::pool::reference::whole_numbers;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn global_pool_matches_reference(
            shape in prop::collection::vec(1usize..5, 4),
            seed in 0u64..1000,
        ) {
            let n: usize = shape.iter().product();
            let x = Tensor::<f64>::from_vec(whole_numbers(n, seed), &shape).unwrap();
            let y = global_avg_pool2d(&x).unwrap();
            let plane = shape[2] * shape[3];
            let xs = x.to_vec();
            let expected: Vec<f64> =
                xs.chunks(plane).map(|p| p.iter().sum::<f64>() / plane as f64).collect();
            prop_assert_eq!(y.to_vec(), expected);
            let dx = global_avg_pool2d_backward(&y, &shape).unwrap();
            let expected: Vec<f64> =
                y.to_vec().iter().flat_map(|&g| vec![g / plane as f64; plane]).collect();
            prop_assert_eq!(dx.to_vec(), expected);
        }
    }

    #[test]
    fn errors() {
        assert!(global_avg_pool2d(&Tensor::<f32>::ones(&[2, 3])).is_err());
        assert!(global_avg_pool2d(&Tensor::<f32>::ones(&[2, 3, 0, 2])).is_err());
        let dy = Tensor::<f32>::ones(&[2, 4]);
        assert!(global_avg_pool2d_backward(&dy, &[2, 3, 2, 2]).is_err());
    }
}
