//! Reductions: `sum` and `mean` over axes (or all), `max` over an axis.

use strata_tensor::{Element, Tensor};

use super::lit;
use crate::error::Result;
use crate::var::Var;

/// The input's shape with the reduced axes set to 1 (the `keep_dims` shape).
fn kept_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let mut kept = shape.to_vec();
    for &a in axes {
        if let Some(d) = kept.get_mut(a) {
            *d = 1;
        }
    }
    kept
}

/// Spreads the gradient of a reduction back over the reduced axes.
fn spread<T: Element>(g: &Tensor<T>, kept: &[usize], shape: &[usize]) -> Result<Tensor<T>> {
    Ok(g.reshape(kept)?.broadcast_to(shape)?.contiguous())
}

impl<T: Element> Var<T> {
    /// Sum over `axes` (kept as size 1 with `keep_dims`), like
    /// `torch.sum(x, dim=axes, keepdim=keep_dims)`. ∂ = g spread over the reduced axes.
    pub fn sum(&self, axes: &[usize], keep_dims: bool) -> Result<Var<T>> {
        let x = self.value();
        let out = x.sum_axes(axes, keep_dims)?;
        let shape = x.shape().to_vec();
        let kept = kept_shape(&shape, axes);
        Ok(self.record_unary("sum", out, move |g| spread(g, &kept, &shape)))
    }

    /// The sum of all elements, as a rank-0 tensor. ∂ = g everywhere.
    pub fn sum_all(&self) -> Result<Var<T>> {
        let x = self.value();
        let shape = x.shape().to_vec();
        Ok(
            self.record_unary("sum_all", Tensor::scalar(x.sum_all()), move |g| {
                Ok(Tensor::full(&shape, g.item()?))
            }),
        )
    }

    /// Mean over `axes`. ∂ = g / n spread over the reduced axes (n = elements per mean).
    pub fn mean(&self, axes: &[usize], keep_dims: bool) -> Result<Var<T>> {
        let x = self.value();
        let out = x.mean_axes(axes, keep_dims)?;
        let shape = x.shape().to_vec();
        let kept = kept_shape(&shape, axes);
        let n: usize = axes.iter().map(|&a| shape[a]).product();
        let scale = T::one() / lit(n as f64);
        Ok(self.record_unary("mean", out, move |g| {
            spread(&g.mul_scalar(scale), &kept, &shape)
        }))
    }

    /// The mean of all elements, as a rank-0 tensor. ∂ = g / numel everywhere.
    pub fn mean_all(&self) -> Result<Var<T>> {
        let x = self.value();
        let shape = x.shape().to_vec();
        let n: T = lit(x.numel() as f64);
        Ok(
            self.record_unary("mean_all", Tensor::scalar(x.mean_all()), move |g| {
                Ok(Tensor::full(&shape, g.item()? / n))
            }),
        )
    }

    /// Maximum over one axis (`torch.amax(x, dim=axis)`). ∂: the whole gradient goes to the
    /// first position of the maximum in each run (ties are not split).
    pub fn max(&self, axis: usize, keep_dims: bool) -> Result<Var<T>> {
        let x = self.value();
        let out = x.max_axes(&[axis], keep_dims)?;
        Ok(self.record_unary("max", out, move |g| {
            let shape = x.shape();
            let argmax = x.argmax(axis)?;
            let dim = shape[axis];
            let inner: usize = shape[axis + 1..].iter().product();
            let mut grad = vec![T::zero(); x.numel()];
            let g = g.contiguous().to_vec();
            for (k, (&best, &gk)) in argmax.iter().zip(&g).enumerate() {
                let (outer, within) = (k / inner, k % inner);
                grad[(outer * dim + best) * inner + within] = gk;
            }
            Ok(Tensor::from_vec(grad, shape)?)
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{axes, distinct_tensor, shape, tensor};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    fn tensor_and_axes() -> impl Strategy<Value = (Tensor<f64>, Vec<usize>)> {
        shape(4, 3).prop_flat_map(|s| {
            let rank = s.len();
            (tensor(s), axes(rank))
        })
    }

    fn distinct_and_axis() -> impl Strategy<Value = (Tensor<f64>, usize)> {
        shape(4, 4)
            .prop_filter("rank ≥ 1", |s| !s.is_empty())
            .prop_flat_map(|s| {
                let rank = s.len();
                (distinct_tensor(s), 0..rank)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn sum_gradient((x, axes) in tensor_and_axes(), keep in any::<bool>()) {
            let r = check_gradients(|v| v[0].sum(&axes, keep), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn mean_gradient((x, axes) in tensor_and_axes(), keep in any::<bool>()) {
            let r = check_gradients(|v| v[0].mean(&axes, keep), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn sum_all_and_mean_all_gradient(x in shape(3, 4).prop_flat_map(tensor)) {
            let r = check_gradients(
                |v| v[0].sum_all()?.add(&v[0].mean_all()?.mul_scalar(3.0)),
                &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn max_gradient((x, axis) in distinct_and_axis(), keep in any::<bool>()) {
            let r = check_gradients(|v| v[0].max(axis, keep), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn max_ties_send_the_gradient_to_the_first() {
        let x = Var::parameter(Tensor::<f64>::from_vec(vec![1., 3., 3., 0.], &[2, 2]).unwrap());
        let g = x
            .max(0, false)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec(), vec![0., 1., 1., 0.]);
    }

    #[test]
    fn bad_axes_are_errors() {
        let x = Var::parameter(Tensor::<f64>::zeros(&[2, 3]));
        assert_eq!(
            x.max(2, false).unwrap_err().to_string(),
            "max: axis 2 is out of range for a tensor of shape [2, 3]"
        );
        assert!(x.sum(&[0, 0], false).is_err());
        assert!(x.mean(&[5], true).is_err());
    }
}
