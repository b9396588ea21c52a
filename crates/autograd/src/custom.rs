//! User-defined differentiable operations.

use std::sync::Arc;

use strata_tensor::{Element, Tensor};

use crate::error::Result;
use crate::var::Var;

/// A differentiable operation defined outside the crate: a forward computation on tensors
/// and its backward rule.
///
/// The forward receives the inputs' values; the backward receives the same values, the
/// output and the gradient of the loss with respect to the output, and returns one
/// gradient per input (`None` where an input gets none). The engine checks that each
/// gradient has its input's shape and reports a mismatch naming [`CustomOp::name`]. Check
/// the rule with [`check_gradients`](crate::check_gradients).
///
/// ```
/// use strata_autograd::{check_gradients, CustomOp, Result, Tolerance, Var};
/// use strata_tensor::Tensor;
///
/// /// softplus(x) = ln(1 + eˣ), whose derivative is the sigmoid.
/// struct Softplus;
///
/// impl CustomOp<f64> for Softplus {
///     fn name(&self) -> &'static str { "softplus" }
///     fn forward(&self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>> {
///         Ok(inputs[0].map(|x| x.max(0.0) + (-x.abs()).exp().ln_1p()))
///     }
///     fn backward(&self, inputs: &[&Tensor<f64>], _output: &Tensor<f64>, grad: &Tensor<f64>)
///         -> Result<Vec<Option<Tensor<f64>>>> {
///         Ok(vec![Some(grad.mul(&inputs[0].sigmoid())?)])
///     }
/// }
///
/// let x = Tensor::from_vec(vec![-3.0, 0.2, 4.0], &[3])?;
/// let report = check_gradients(|v| Var::apply(Softplus, &[&v[0]]), &[x], 1e-6, Tolerance::default())?;
/// assert!(report.passed(), "{report}");
/// # Ok::<(), strata_autograd::AutogradError>(())
/// ```
pub trait CustomOp<T: Element>: Send + Sync + 'static {
    /// The op's name, used in error messages.
    fn name(&self) -> &'static str;

    /// Computes the output from the inputs' values.
    fn forward(&self, inputs: &[&Tensor<T>]) -> Result<Tensor<T>>;

    /// Computes one gradient per input from the gradient of the output.
    fn backward(
        &self,
        inputs: &[&Tensor<T>],
        output: &Tensor<T>,
        grad_output: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>>;
}

impl<T: Element> Var<T> {
    /// Applies a user-defined op to variables, recording it like a built-in one.
    pub fn apply<O: CustomOp<T>>(op: O, inputs: &[&Var<T>]) -> Result<Var<T>> {
        let values: Vec<Tensor<T>> = inputs.iter().map(|v| v.value()).collect();
        let refs: Vec<&Tensor<T>> = values.iter().collect();
        let output = op.forward(&refs)?;
        let saved_output = output.clone();
        let op = Arc::new(op);
        let name = op.name();
        Ok(Var::record(name, output, inputs, move |g, _needs| {
            let refs: Vec<&Tensor<T>> = values.iter().collect();
            op.backward(&refs, &saved_output, g)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AutogradError;

    struct BadShape;

    impl CustomOp<f64> for BadShape {
        fn name(&self) -> &'static str {
            "bad_shape"
        }
        fn forward(&self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>> {
            Ok(inputs[0].clone())
        }
        fn backward(
            &self,
            _inputs: &[&Tensor<f64>],
            _output: &Tensor<f64>,
            _grad: &Tensor<f64>,
        ) -> Result<Vec<Option<Tensor<f64>>>> {
            Ok(vec![Some(Tensor::zeros(&[5]))])
        }
    }

    #[test]
    fn a_gradient_of_the_wrong_shape_names_the_op() {
        let x = Var::parameter(Tensor::<f64>::ones(&[2, 2]));
        let y = Var::apply(BadShape, &[&x]).unwrap().sum_all().unwrap();
        let err = y.backward().unwrap_err();
        assert!(matches!(
            err,
            AutogradError::GradientShape {
                op: "bad_shape",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "bad_shape: backward returned a gradient of shape [5] for input 0, whose shape is [2, 2]"
        );
    }
}
