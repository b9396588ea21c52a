//! Arithmetic: broadcasting `add/sub/mul/div`, `neg`, scalar operands, `powf`, `square`,
//! `exp`, `ln`, `sqrt`.
//!
//! Binary ops broadcast like NumPy; each gradient is summed back to its input's shape.

use strata_tensor::Element;

use super::{lit, sum_to_shape};
use crate::error::Result;
use crate::var::Var;

impl<T: Element> Var<T> {
    /// `self + rhs`, broadcasting. ∂/∂a = g, ∂/∂b = g (each summed to its shape).
    pub fn add(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let (a, b) = (self.value(), rhs.value());
        let out = a.add(&b)?;
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        Ok(Var::record("add", out, &[self, rhs], move |g, needs| {
            Ok(vec![
                needs[0].then(|| sum_to_shape(g, &sa)).transpose()?,
                needs[1].then(|| sum_to_shape(g, &sb)).transpose()?,
            ])
        }))
    }

    /// `self - rhs`, broadcasting. ∂/∂a = g, ∂/∂b = −g.
    pub fn sub(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let (a, b) = (self.value(), rhs.value());
        let out = a.sub(&b)?;
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        Ok(Var::record("sub", out, &[self, rhs], move |g, needs| {
            Ok(vec![
                needs[0].then(|| sum_to_shape(g, &sa)).transpose()?,
                needs[1].then(|| sum_to_shape(&g.neg(), &sb)).transpose()?,
            ])
        }))
    }

    /// `self * rhs`, broadcasting. ∂/∂a = g·b, ∂/∂b = g·a.
    pub fn mul(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let (a, b) = (self.value(), rhs.value());
        let out = a.mul(&b)?;
        Ok(Var::record("mul", out, &[self, rhs], move |g, needs| {
            Ok(vec![
                needs[0]
                    .then(|| sum_to_shape(&g.mul(&b)?, a.shape()))
                    .transpose()?,
                needs[1]
                    .then(|| sum_to_shape(&g.mul(&a)?, b.shape()))
                    .transpose()?,
            ])
        }))
    }

    /// `self / rhs`, broadcasting. ∂/∂a = g/b, ∂/∂b = −g·a/b² = −g·out/b.
    pub fn div(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let (a, b) = (self.value(), rhs.value());
        let out = a.div(&b)?;
        let saved_out = out.clone();
        let sa = a.shape().to_vec();
        Ok(Var::record("div", out, &[self, rhs], move |g, needs| {
            let g_over_b = g.div(&b)?;
            Ok(vec![
                needs[0].then(|| sum_to_shape(&g_over_b, &sa)).transpose()?,
                needs[1]
                    .then(|| sum_to_shape(&g_over_b.mul(&saved_out)?.neg(), b.shape()))
                    .transpose()?,
            ])
        }))
    }

    /// `-self`. ∂ = −g.
    pub fn neg(&self) -> Var<T> {
        self.record_unary("neg", self.value().neg(), |g| Ok(g.neg()))
    }

    /// `self + s` for a scalar `s`. ∂ = g.
    pub fn add_scalar(&self, s: T) -> Var<T> {
        self.record_unary("add_scalar", self.value().add_scalar(s), |g| Ok(g.clone()))
    }

    /// `self · s` for a scalar `s`. ∂ = g·s.
    pub fn mul_scalar(&self, s: T) -> Var<T> {
        self.record_unary("mul_scalar", self.value().mul_scalar(s), move |g| {
            Ok(g.mul_scalar(s))
        })
    }

    /// `self ^ p` for a scalar exponent. ∂ = g·p·x^(p−1).
    pub fn powf(&self, p: T) -> Var<T> {
        let x = self.value();
        self.record_unary("powf", x.powf(p), move |g| {
            Ok(g.mul(&x.powf(p - T::one()).mul_scalar(p))?)
        })
    }

    /// `self²`. ∂ = 2g·x.
    pub fn square(&self) -> Var<T> {
        let x = self.value();
        self.record_unary("square", x.square(), move |g| {
            Ok(g.mul(&x)?.mul_scalar(lit(2.0)))
        })
    }

    /// `eˣ`. ∂ = g·eˣ (the saved output).
    pub fn exp(&self) -> Var<T> {
        let out = self.value().exp();
        let saved = out.clone();
        self.record_unary("exp", out, move |g| Ok(g.mul(&saved)?))
    }

    /// Natural logarithm. ∂ = g/x.
    pub fn ln(&self) -> Var<T> {
        let x = self.value();
        self.record_unary("ln", x.ln(), move |g| Ok(g.div(&x)?))
    }

    /// Square root. ∂ = g / (2√x).
    pub fn sqrt(&self) -> Var<T> {
        let out = self.value().sqrt();
        let saved = out.clone();
        self.record_unary(
            "sqrt",
            out,
            move |g| Ok(g.div(&saved.mul_scalar(lit(2.0)))?),
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{broadcast_shapes, positive_tensor, shape, tensor, tensor_in};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    fn binary_case() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
        broadcast_shapes(3, 3).prop_flat_map(|(a, b)| (tensor(a), tensor(b)))
    }

    /// The divisor stays in `[0.5, 2)` so that `1/b` is smooth at the scale of `eps`.
    fn division_case() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
        broadcast_shapes(3, 3).prop_flat_map(|(a, b)| (tensor(a), tensor_in(b, 0.5, 2.0)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn add_gradient((a, b) in binary_case()) {
            let r = check_gradients(|v| v[0].add(&v[1]), &[a, b], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn sub_gradient((a, b) in binary_case()) {
            let r = check_gradients(|v| v[0].sub(&v[1]), &[a, b], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn mul_gradient((a, b) in binary_case()) {
            let r = check_gradients(|v| v[0].mul(&v[1]), &[a, b], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn div_gradient((a, b) in division_case()) {
            let r = check_gradients(|v| v[0].div(&v[1]), &[a, b], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn neg_and_scalar_ops_gradient(x in shape(3, 4).prop_flat_map(tensor)) {
            let r = check_gradients(
                |v| Ok(v[0].neg().add_scalar(0.5).mul_scalar(-1.5)),
                &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn powf_gradient(x in shape(3, 4).prop_flat_map(positive_tensor), p in -2.0..3.0f64) {
            let r = check_gradients(|v| Ok(v[0].powf(p)), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn square_gradient(x in shape(3, 4).prop_flat_map(tensor)) {
            let r = check_gradients(|v| Ok(v[0].square()), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn exp_gradient(x in shape(3, 4).prop_flat_map(tensor)) {
            let r = check_gradients(|v| Ok(v[0].exp()), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn ln_gradient(x in shape(3, 4).prop_flat_map(positive_tensor)) {
            let r = check_gradients(|v| Ok(v[0].ln()), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn sqrt_gradient(x in shape(3, 4).prop_flat_map(positive_tensor)) {
            let r = check_gradients(|v| Ok(v[0].sqrt()), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn broadcasting_error_names_the_op_and_shapes() {
        let a = Var::parameter(Tensor::<f32>::zeros(&[2, 3]));
        let b = Var::parameter(Tensor::<f32>::zeros(&[4]));
        assert_eq!(
            a.mul(&b).unwrap_err().to_string(),
            "mul: shapes [2, 3] and [4] cannot be broadcast together"
        );
    }

    #[test]
    fn broadcast_gradient_is_summed_to_the_input_shape() {
        let a = Var::parameter(Tensor::<f64>::ones(&[2, 3]));
        let b = Var::parameter(Tensor::<f64>::from_vec(vec![1., 2., 3.], &[3]).unwrap());
        let g = a.mul(&b).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&b).unwrap().shape(), &[3]);
        assert_eq!(g.get(&b).unwrap().to_vec(), vec![2., 2., 2.]);
        assert_eq!(g.get(&a).unwrap().to_vec(), vec![1., 2., 3., 1., 2., 3.]);
    }
}
