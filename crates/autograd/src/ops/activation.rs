//! Activations and clips: `relu`, `leaky_relu`, `sigmoid`, `tanh`, `clamp`.
//!
//! At the kink of relu and leaky relu (x = 0) the gradient taken is the left one (0 and
//! `slope`), as in PyTorch.

use strata_tensor::Element;

use crate::error::Result;
use crate::var::Var;

impl<T: Element> Var<T> {
    /// `max(x, 0)`. ∂ = g where x > 0, else 0.
    pub fn relu(&self) -> Var<T> {
        let x = self.value();
        self.record_unary("relu", x.relu(), move |g| {
            // One fused pass (no mask tensor): the same products g·1 and g·0 as
            // `g.mul(&x.gt_scalar_mask(0))`, so the same bits. A NaN input passes the
            // gradient on, as PyTorch's `threshold_backward` (`x <= 0 ? 0 : g`) does.
            Ok(g.zip_map(&x, "relu_backward", |g, x| {
                g * if x > T::zero() || x.is_nan() {
                    T::one()
                } else {
                    T::zero()
                }
            })?)
        })
    }

    /// `x` for x > 0, `slope·x` otherwise. ∂ = g where x > 0, `slope·g` otherwise.
    pub fn leaky_relu(&self, slope: T) -> Var<T> {
        let x = self.value();
        self.record_unary("leaky_relu", x.leaky_relu(slope), move |g| {
            let factor = x.map(|v| if v > T::zero() { T::one() } else { slope });
            Ok(g.mul(&factor)?)
        })
    }

    /// The logistic function `1/(1 + e⁻ˣ)`. ∂ = g·σ·(1 − σ) from the saved output σ.
    pub fn sigmoid(&self) -> Var<T> {
        let out = self.value().sigmoid();
        let s = out.clone();
        self.record_unary("sigmoid", out, move |g| {
            Ok(g.mul(&s.map(|v| v * (T::one() - v)))?)
        })
    }

    /// `min(max(x, low), high)` (`torch.clamp`, `tf.clip_by_value`). ∂ = g where
    /// `low ≤ x ≤ high` (the bounds included, as both frameworks), else 0. Keras's
    /// cross-entropies from probabilities clip with it to `[1e-7, 1 − 1e-7]`.
    ///
    /// ```
    /// use strata_autograd::Var;
    /// use strata_tensor::Tensor;
    /// let p = Var::parameter(Tensor::<f64>::from_vec(vec![0.0, 0.5, 1.0], &[3])?);
    /// let g = p.clamp(0.1, 1.0)?.sum_all()?.backward()?;
    /// assert_eq!(g.get(&p).unwrap().to_vec(), vec![0.0, 1.0, 1.0]);
    /// # Ok::<(), strata_autograd::AutogradError>(())
    /// ```
    ///
    /// A NaN stays NaN (and passes its gradient on); `low > high` is an error.
    pub fn clamp(&self, low: T, high: T) -> Result<Var<T>> {
        let x = self.value();
        let out = x.clamp(low, high)?;
        Ok(self.record_unary("clamp", out, move |g| {
            Ok(g.zip_map(&x, "clamp_backward", |g, x| {
                if x < low || x > high {
                    T::zero()
                } else {
                    g
                }
            })?)
        }))
    }

    /// Hyperbolic tangent. ∂ = g·(1 − tanh²) from the saved output.
    pub fn tanh(&self) -> Var<T> {
        let out = self.value().tanh();
        let t = out.clone();
        self.record_unary("tanh", out, move |g| {
            Ok(g.mul(&t.map(|v| T::one() - v * v))?)
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{shape, tensor_away_from_zero, tensor_in};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn relu_gradient(x in shape(3, 4).prop_flat_map(|s| tensor_away_from_zero(s, 0.01))) {
            let r = check_gradients(|v| Ok(v[0].relu()), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn leaky_relu_gradient(
            x in shape(3, 4).prop_flat_map(|s| tensor_away_from_zero(s, 0.01)),
            slope in 0.0..0.5f64,
        ) {
            let r = check_gradients(|v| Ok(v[0].leaky_relu(slope)), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn sigmoid_gradient(x in shape(3, 4).prop_flat_map(|s| tensor_in(s, -6.0, 6.0))) {
            let r = check_gradients(|v| Ok(v[0].sigmoid()), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn clamp_gradient(
            x in shape(3, 4).prop_flat_map(|s| tensor_in(s, -2.0, 2.0)),
            low in -1.5..-0.5f64,
            high in 0.5..1.5f64,
        ) {
            // Keep every element 1e-3 from a bound: the rule is not differentiable there.
            let x = x.map(|v| if (v - low).abs() < 1e-3 || (v - high).abs() < 1e-3 { 0.0 } else { v });
            let r = check_gradients(|v| v[0].clamp(low, high), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn tanh_gradient(x in shape(3, 4).prop_flat_map(|s| tensor_in(s, -4.0, 4.0))) {
            let r = check_gradients(|v| Ok(v[0].tanh()), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn relu_at_zero_takes_the_left_gradient() {
        let x = Var::parameter(Tensor::<f64>::from_vec(vec![-1., 0., 2.], &[3]).unwrap());
        let g = x.relu().sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec(), vec![0., 0., 1.]);
        let g = x.leaky_relu(0.1).sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec(), vec![0.1, 0.1, 1.]);
    }
}
