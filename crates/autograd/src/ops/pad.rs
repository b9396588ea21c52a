//! Constant padding of any axes.

use strata_tensor::Element;

use crate::error::Result;
use crate::var::Var;

impl<T: Element> Var<T> {
    /// Adds `pads[axis] = (before, after)` elements of `value` around each axis (one pair
    /// per axis), like `numpy.pad(mode="constant")` or `torch.nn.functional.pad`.
    /// ∂ = g with the padding cut off.
    pub fn pad(&self, pads: &[(usize, usize)], value: T) -> Result<Var<T>> {
        let out = self.value().pad(pads, value)?;
        let pads = pads.to_vec();
        Ok(self.record_unary("pad", out, move |g| Ok(g.unpad(&pads)?.contiguous())))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{shape, tensor};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn pad_gradient(
            (x, pads) in shape(4, 3).prop_flat_map(|s| {
                let rank = s.len();
                (tensor(s), prop::collection::vec((0..3usize, 0..3usize), rank))
            }),
            value in -1.0..1.0f64,
        ) {
            let r = check_gradients(|v| v[0].pad(&pads, value), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn a_wrong_number_of_pairs_is_an_error() {
        let x = Var::parameter(Tensor::<f32>::zeros(&[2, 2]));
        let err = x.pad(&[(1, 1)], 0.0).unwrap_err();
        assert!(err.to_string().starts_with("pad"), "{err}");
    }
}
