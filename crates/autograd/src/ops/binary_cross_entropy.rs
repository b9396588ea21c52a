//! Binary cross-entropy from logits, fused so that it is stable and accurate for any logits.

use strata_tensor::{Element, Tensor};

use super::lit;
use crate::error::{AutogradError, Result};
use crate::var::Var;

impl<T: Element> Var<T> {
    /// The mean binary cross-entropy of logits against targets in `[0, 1]` of the same
    /// shape (`torch.nn.functional.binary_cross_entropy_with_logits`, Keras
    /// `BinaryCrossentropy(from_logits=True)`): the mean over all elements of
    /// `max(x, 0) − x·t + ln(1 + e^−|x|)`, the last term by `ln_1p` so that it keeps its
    /// precision when `e^−|x|` is far below the unit round-off.
    ///
    /// ∂/∂x = (σ(x) − t) · g / numel, formed as `(1 − t)·σ(x) − t·σ(−x)` so that a hard
    /// target keeps the gradient's precision where σ(x) rounds to 1; ∂/∂t = −x · g / numel.
    ///
    /// ```
    /// use strata_autograd::Var;
    /// use strata_tensor::Tensor;
    /// let x = Var::parameter(Tensor::<f32>::from_vec(vec![30., -30.], &[2])?);
    /// let t = Var::constant(Tensor::from_vec(vec![1., 0.], &[2])?);
    /// let loss = x.binary_cross_entropy_with_logits(&t)?.value().item()?;
    /// assert!((loss - (-30f32).exp()).abs() < 1e-18); // not 0: ln(1 + e⁻³⁰) kept
    /// # Ok::<(), strata_autograd::AutogradError>(())
    /// ```
    pub fn binary_cross_entropy_with_logits(&self, targets: &Var<T>) -> Result<Var<T>> {
        const OP: &str = "binary_cross_entropy_with_logits";
        if targets.shape() != self.shape() {
            return Err(AutogradError::shape(
                OP,
                format!(
                    "targets of shape {:?} do not match logits of shape {:?}",
                    targets.shape(),
                    self.shape()
                ),
            ));
        }
        let (x, t) = (self.value(), targets.value());
        let per_element = x.zip_map(&t, OP, |x, t| {
            x.max(T::zero()) - x * t + (-x.abs()).exp().ln_1p()
        })?;
        let n: T = lit(x.numel() as f64);
        let loss = Tensor::scalar(per_element.sum_all() / n);
        Ok(Var::record(OP, loss, &[self, targets], move |g, needs| {
            let scale = g.item()? / n;
            let d_logits = if needs[0] {
                // σ(−x) = 1 − σ(x) without the rounding of the subtraction.
                let (pos, neg) = (x.sigmoid(), x.map(|v| -v).sigmoid());
                let one_minus_t_pos = t.zip_map(&pos, OP, |t, p| (T::one() - t) * p)?;
                let t_neg = t.zip_map(&neg, OP, |t, q| t * q)?;
                Some(one_minus_t_pos.zip_map(&t_neg, OP, move |a, b| (a - b) * scale)?)
            } else {
                None
            };
            let d_targets = needs[1].then(|| x.mul_scalar(-scale));
            Ok(vec![d_logits, d_targets])
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{shape, tensor_in};
    use crate::{check_gradients, Tolerance, Var};

    fn logits_and_targets() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
        shape(3, 4).prop_flat_map(|s| (tensor_in(s.clone(), -6.0, 6.0), tensor_in(s, 0.0, 1.0)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn gradient_matches_finite_differences((x, t) in logits_and_targets()) {
            let r = check_gradients(
                |v| v[0].binary_cross_entropy_with_logits(&v[1]), &[x, t], 1e-6, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn matches_the_naive_formula((x, t) in logits_and_targets()) {
            // −mean(t·ln σ(x) + (1 − t)·ln(1 − σ(x))), fine in f64 for |x| ≤ 6.
            let (xs, ts) = (x.to_vec(), t.to_vec());
            let naive = -xs.iter().zip(&ts).map(|(&x, &t)| {
                let s = 1.0 / (1.0 + (-x).exp());
                t * s.ln() + (1.0 - t) * (1.0 - s).ln()
            }).sum::<f64>() / xs.len() as f64;
            let fused = Var::constant(x).binary_cross_entropy_with_logits(&Var::constant(t))
                .unwrap().value().item().unwrap();
            prop_assert!((fused - naive).abs() < 1e-12 * (1.0 + naive.abs()), "{fused} vs {naive}");
        }
    }

    #[test]
    fn large_logits_keep_their_precision_in_f32() {
        // Against f64 with the same (f32-representable) inputs.
        let xs = [-250.0f32, -40.0, -17.5, -1e-3, 0.0, 2.5, 17.5, 40.0, 250.0];
        let ts = [0.0f32, 1.0, 0.3, 0.5, 1.0, 0.0, 1.0, 0.25, 1.0];
        for (&x, &t) in xs.iter().zip(&ts) {
            let v32 = Var::parameter(Tensor::from_vec(vec![x], &[1]).unwrap());
            let t32 = Var::constant(Tensor::from_vec(vec![t], &[1]).unwrap());
            let l32 = v32.binary_cross_entropy_with_logits(&t32).unwrap();
            let g32 = l32.backward().unwrap().get(&v32).unwrap().to_vec()[0];
            let (x, t) = (f64::from(x), f64::from(t));
            let l64 = x.max(0.0) - x * t + (-x.abs()).exp().ln_1p();
            let sigma = |v: f64| 1.0 / (1.0 + (-v).exp());
            let g64 = (1.0 - t) * sigma(x) - t * sigma(-x);
            // A soft target near σ(x) cancels: then the error is relative to the terms.
            let floor = if t == 0.0 || t == 1.0 { 1e-38 } else { 1e-7 };
            let l = f64::from(l32.value().item().unwrap());
            // 1e-38: e^−250 is below f32's smallest normal number.
            assert!(
                (l - l64).abs() <= 2e-7 * l64.abs() + 1e-38,
                "x {x} t {t}: loss {l} vs {l64}"
            );
            let g = f64::from(g32);
            assert!(
                (g - g64).abs() <= 1e-6 * g64.abs() + floor,
                "x {x} t {t}: grad {g} vs {g64}"
            );
        }
    }

    #[test]
    fn mismatched_targets_are_an_error() {
        let x = Var::parameter(Tensor::<f64>::zeros(&[2, 3]));
        let t = Var::constant(Tensor::<f64>::zeros(&[3, 2]));
        let e = x
            .binary_cross_entropy_with_logits(&t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[3, 2]") && e.contains("[2, 3]"), "{e}");
    }
}
