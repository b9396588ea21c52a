//! Dropout: the random mask is drawn in the forward pass and kept by the op.

use rand::Rng;
use strata_tensor::{Element, Tensor};

use super::lit;
use crate::error::{AutogradError, Result};
use crate::var::Var;

impl<T: Element> Var<T> {
    /// Inverted dropout (`torch.nn.functional.dropout` in training mode): each element is
    /// zeroed with probability `p` and the others are scaled by `1/(1 − p)`, so that the
    /// expectation is unchanged. The mask comes from `rng` (pass a seeded generator for
    /// reproducible runs) and is saved: ∂ = g ⊙ mask.
    ///
    /// Use it only in training; at inference a model skips dropout. `p` must be in `[0, 1]`.
    pub fn dropout<R: Rng + ?Sized>(&self, p: f64, rng: &mut R) -> Result<Var<T>> {
        if !(0.0..=1.0).contains(&p) {
            return Err(AutogradError::invalid(
                "dropout",
                format!("probability {p} is outside [0, 1]"),
            ));
        }
        if p == 0.0 {
            return Ok(self.clone());
        }
        let x = self.value();
        let scale: T = if p < 1.0 {
            lit(1.0 / (1.0 - p))
        } else {
            T::zero()
        };
        let threshold: T = lit(p);
        let uniform = Tensor::<T>::rand_uniform(x.shape(), 0.0, 1.0, rng)?;
        let mask = uniform.map(|u| if u >= threshold { scale } else { T::zero() });
        let out = x.mul(&mask)?;
        Ok(self.record_unary("dropout", out, move |g| Ok(g.mul(&mask)?)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use strata_tensor::Tensor;

    use crate::testing::{shape, tensor};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn dropout_gradient(x in shape(3, 5).prop_flat_map(tensor), p in 0.0..0.9f64, seed in any::<u64>()) {
            // A fresh generator from the same seed gives every evaluation the same mask.
            let r = check_gradients(
                |v| v[0].dropout(p, &mut StdRng::seed_from_u64(seed)),
                &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn the_gradient_is_the_saved_mask() {
        let x = Var::parameter(Tensor::<f64>::ones(&[1000]));
        let mut rng = StdRng::seed_from_u64(3);
        let y = x.dropout(0.25, &mut rng).unwrap();
        let out = y.value().to_vec();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec(), out);
        let kept = out.iter().filter(|&&v| v != 0.0).count();
        assert!((700..800).contains(&kept), "{kept}");
        assert!(out
            .iter()
            .all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-12));
    }

    #[test]
    fn bad_probabilities_are_errors_and_extremes_work() {
        let x = Var::parameter(Tensor::<f32>::ones(&[4]));
        let mut rng = StdRng::seed_from_u64(0);
        assert!(x.dropout(1.5, &mut rng).is_err());
        assert!(x.dropout(-0.1, &mut rng).is_err());
        assert_eq!(
            x.dropout(1.0, &mut rng).unwrap().value().to_vec(),
            vec![0.0; 4]
        );
        assert_eq!(
            x.dropout(0.0, &mut rng).unwrap().value().to_vec(),
            vec![1.0; 4]
        );
    }
}
