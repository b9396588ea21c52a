//! `softmax` and `log_softmax` along an axis.

use strata_tensor::Element;

use crate::error::Result;
use crate::var::Var;

impl<T: Element> Var<T> {
    /// Softmax along `axis`, computed stably. With y the output,
    /// ∂ = y ⊙ (g − Σ_axis g ⊙ y).
    pub fn softmax(&self, axis: usize) -> Result<Var<T>> {
        let out = self.value().softmax(axis)?;
        let y = out.clone();
        Ok(self.record_unary("softmax", out, move |g| {
            let dot = g.mul(&y)?.sum_axes(&[axis], true)?;
            Ok(y.mul(&g.sub(&dot)?)?)
        }))
    }

    /// Log-softmax along `axis`, computed stably. With y the output,
    /// ∂ = g − eʸ ⊙ Σ_axis g.
    pub fn log_softmax(&self, axis: usize) -> Result<Var<T>> {
        let out = self.value().log_softmax(axis)?;
        let y = out.clone();
        Ok(self.record_unary("log_softmax", out, move |g| {
            let total = g.sum_axes(&[axis], true)?;
            Ok(g.sub(&y.exp().mul(&total)?)?)
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{shape, tensor_in};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    fn tensor_and_axis() -> impl Strategy<Value = (Tensor<f64>, usize)> {
        shape(3, 4)
            .prop_filter("rank ≥ 1", |s| !s.is_empty())
            .prop_flat_map(|s| {
                let rank = s.len();
                (tensor_in(s, -5.0, 5.0), 0..rank)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn softmax_gradient((x, axis) in tensor_and_axis()) {
            let r = check_gradients(|v| v[0].softmax(axis), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn log_softmax_gradient((x, axis) in tensor_and_axis()) {
            let r = check_gradients(|v| v[0].log_softmax(axis), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn log_softmax_gradient_is_finite_for_huge_logits() {
        let x = Var::parameter(Tensor::<f32>::from_vec(vec![1000., -1000., 0.], &[1, 3]).unwrap());
        let y = x.log_softmax(1).unwrap().sum_all().unwrap();
        let g = y.backward().unwrap();
        assert!(g.get(&x).unwrap().to_vec().iter().all(|v| v.is_finite()));
    }
}
