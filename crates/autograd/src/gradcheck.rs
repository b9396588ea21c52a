//! The gradient checker: analytic gradients against central finite differences in `f64`.

use std::fmt;

use rand::SeedableRng;
use strata_tensor::Tensor;

use crate::error::{AutogradError, Result};
use crate::grad_mode::no_grad;
use crate::var::Var;

/// How close an analytic gradient must be to the finite-difference one: an element passes
/// when `|analytic − numeric| ≤ abs + rel·|numeric|` (the rule of `torch.autograd.gradcheck`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub abs: f64,
    /// Relative tolerance.
    pub rel: f64,
}

impl Tolerance {
    /// A tolerance with the given absolute and relative parts.
    pub fn new(abs: f64, rel: f64) -> Self {
        Self { abs, rel }
    }
}

impl Default for Tolerance {
    /// `abs = 1e-6, rel = 1e-5`: what smooth ops meet in `f64` with `eps = 1e-6` and inputs
    /// of order 1.
    fn default() -> Self {
        Self {
            abs: 1e-6,
            rel: 1e-5,
        }
    }
}

/// One compared gradient element.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementError {
    /// Which input (position in the `inputs` slice).
    pub input: usize,
    /// The element's multi-index in that input.
    pub index: Vec<usize>,
    /// The gradient computed by backward.
    pub analytic: f64,
    /// The central finite difference.
    pub numeric: f64,
    /// `|analytic − numeric|`.
    pub abs_error: f64,
    /// `|analytic − numeric| / max(|analytic|, |numeric|)` (0 when both are 0).
    pub rel_error: f64,
}

impl fmt::Display for ElementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "input {} index {:?} (analytic {:e}, numeric {:e}, abs {:.3e}, rel {:.3e})",
            self.input, self.index, self.analytic, self.numeric, self.abs_error, self.rel_error
        )
    }
}

/// The outcome of [`check_gradients`]: the worst absolute and relative errors and where
/// they occurred. Its `Display` says all of it, for assertion messages.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheckReport {
    /// The element with the largest absolute error (`None` if there were no elements).
    pub worst_abs: Option<ElementError>,
    /// The element with the largest relative error.
    pub worst_rel: Option<ElementError>,
    /// The element furthest outside the tolerance, if any element is outside it.
    pub worst_violation: Option<ElementError>,
    /// The number of gradient elements compared.
    pub checked: usize,
    /// The finite-difference step.
    pub eps: f64,
    /// The tolerance applied.
    pub tolerance: Tolerance,
}

impl GradCheckReport {
    /// Whether every element is within the tolerance.
    pub fn passed(&self) -> bool {
        self.worst_violation.is_none()
    }

    /// The largest absolute error (0 for no elements).
    pub fn max_abs_error(&self) -> f64 {
        self.worst_abs.as_ref().map_or(0.0, |e| e.abs_error)
    }

    /// The largest relative error (0 for no elements).
    pub fn max_rel_error(&self) -> f64 {
        self.worst_rel.as_ref().map_or(0.0, |e| e.rel_error)
    }
}

impl fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        write!(
            f,
            "gradient check {verdict}: {} elements, eps {:e}, tolerance abs {:e} + rel {:e}",
            self.checked, self.eps, self.tolerance.abs, self.tolerance.rel
        )?;
        if let Some(e) = &self.worst_violation {
            write!(f, "; worst violation at {e}")?;
        }
        if let Some(e) = &self.worst_abs {
            write!(f, "; worst absolute error at {e}")?;
        }
        if let Some(e) = &self.worst_rel {
            write!(f, "; worst relative error at {e}")?;
        }
        Ok(())
    }
}

/// Compares the gradients that backward computes for `f` at `inputs` with central finite
/// differences `(f(x + eps) − f(x − eps)) / 2eps`, element by element, in `f64`.
///
/// `f` receives one parameter variable per input. It may return any shape: a non-scalar
/// output `y` is checked through `Σ r ⊙ y` with fixed pseudo-random weights `r` in
/// `[-1, 1)`, so that every output element's gradient counts. The numerical evaluations run
/// in [`no_grad`] mode. Errors from `f` or from backward are returned as they are; a
/// gradient mismatch is not an error but a report whose [`passed`](GradCheckReport::passed)
/// is false.
///
/// ```
/// use strata_autograd::{check_gradients, Tolerance};
/// use strata_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
/// let report = check_gradients(|v| v[0].tanh().mul(&v[0]), &[x], 1e-6, Tolerance::default())?;
/// assert!(report.passed(), "{report}");
/// assert!(report.max_abs_error() < 1e-8);
/// # Ok::<(), strata_autograd::AutogradError>(())
/// ```
pub fn check_gradients<F>(
    f: F,
    inputs: &[Tensor<f64>],
    eps: f64,
    tolerance: Tolerance,
) -> Result<GradCheckReport>
where
    F: Fn(&[Var<f64>]) -> Result<Var<f64>>,
{
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(AutogradError::invalid(
            "check_gradients",
            format!("eps must be positive and finite, found {eps}"),
        ));
    }
    let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::parameter).collect();
    let output = f(&vars)?;
    let out_shape = output.shape().to_vec();
    let weights = if output.value().numel() == 1 {
        Tensor::ones(&out_shape)
    } else {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x6772_6164);
        Tensor::rand_uniform(&out_shape, -1.0, 1.0, &mut rng)?
    };
    let w = weights.to_vec();
    let grads = output.backward_with(&weights)?;
    drop(output);

    let weighted = |values: Vec<Tensor<f64>>| -> Result<f64> {
        let consts: Vec<Var<f64>> = values.into_iter().map(Var::constant).collect();
        let y = no_grad(|| f(&consts))?.value();
        if y.shape() != out_shape.as_slice() {
            return Err(AutogradError::shape(
                "check_gradients",
                format!(
                    "the function's output shape changed from {out_shape:?} to {:?}",
                    y.shape()
                ),
            ));
        }
        Ok(y.to_vec().iter().zip(&w).map(|(a, b)| a * b).sum())
    };

    let mut report = GradCheckReport {
        worst_abs: None,
        worst_rel: None,
        worst_violation: None,
        checked: 0,
        eps,
        tolerance,
    };
    let mut worst_violation = 0.0;
    for (i, input) in inputs.iter().enumerate() {
        let analytic = match grads.get(&vars[i]) {
            Some(g) => g.to_vec(),
            None => vec![0.0; input.numel()],
        };
        let base = input.to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let perturbed = |delta: f64| -> Result<f64> {
                let mut data = base.clone();
                data[j] += delta;
                let mut values: Vec<Tensor<f64>> = inputs.to_vec();
                values[i] = Tensor::from_vec(data, input.shape())?;
                weighted(values)
            };
            let numeric = (perturbed(eps)? - perturbed(-eps)?) / (2.0 * eps);
            let abs_error = (a - numeric).abs();
            let scale = a.abs().max(numeric.abs());
            let rel_error = if scale > 0.0 { abs_error / scale } else { 0.0 };
            let element = ElementError {
                input: i,
                index: unravel(j, input.shape()),
                analytic: a,
                numeric,
                abs_error,
                rel_error,
            };
            report.checked += 1;
            let bound = tolerance.abs + tolerance.rel * numeric.abs();
            // NaN errors fail (the comparison is false) and count as the worst.
            let violation = if abs_error <= bound {
                0.0
            } else if abs_error.is_nan() {
                f64::INFINITY
            } else {
                abs_error / bound.max(f64::MIN_POSITIVE)
            };
            if violation > worst_violation {
                worst_violation = violation;
                report.worst_violation = Some(element.clone());
            }
            if report
                .worst_abs
                .as_ref()
                .is_none_or(|e| worse(abs_error, e.abs_error))
            {
                report.worst_abs = Some(element.clone());
            }
            if report
                .worst_rel
                .as_ref()
                .is_none_or(|e| worse(rel_error, e.rel_error))
            {
                report.worst_rel = Some(element);
            }
        }
    }
    Ok(report)
}

/// Whether error `new` is worse than `old` (NaN is worst).
fn worse(new: f64, old: f64) -> bool {
    new > old || (new.is_nan() && !old.is_nan())
}

/// The multi-index of row-major position `linear` in `shape`.
fn unravel(mut linear: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &dim) in index.iter_mut().zip(shape).rev() {
        if dim > 0 {
            *slot = linear % dim;
            linear /= dim;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::CustomOp;

    /// `y = x²` whose backward wrongly returns `x` instead of `2x`.
    struct WrongSquare;

    impl CustomOp<f64> for WrongSquare {
        fn name(&self) -> &'static str {
            "wrong_square"
        }
        fn forward(&self, inputs: &[&Tensor<f64>]) -> Result<Tensor<f64>> {
            Ok(inputs[0].square())
        }
        fn backward(
            &self,
            inputs: &[&Tensor<f64>],
            _output: &Tensor<f64>,
            grad: &Tensor<f64>,
        ) -> Result<Vec<Option<Tensor<f64>>>> {
            Ok(vec![Some(grad.mul(inputs[0])?)])
        }
    }

    #[test]
    fn a_wrong_gradient_is_reported_with_its_index() {
        let x = Tensor::from_vec(vec![0.0, 1.0, -3.0, 0.5], &[2, 2]).unwrap();
        let report = check_gradients(
            |v| Var::apply(WrongSquare, &[&v[0]])?.sum_all(),
            &[x],
            1e-6,
            Tolerance::default(),
        )
        .unwrap();
        assert!(!report.passed());
        let worst = report.worst_abs.clone().unwrap();
        assert_eq!((worst.input, worst.index.clone()), (0, vec![1, 0]));
        assert!((worst.analytic - -3.0).abs() < 1e-12);
        assert!((worst.numeric - -6.0).abs() < 1e-6);
        assert!(report.to_string().contains("FAILED"), "{report}");
        assert!((report.max_rel_error() - 0.5).abs() < 1e-6);
    }

    #[test]
    fn non_scalar_outputs_are_weighted() {
        let a = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.1, 0.7, -0.2], &[2, 3]).unwrap();
        let b = Tensor::from_vec(vec![1.5, 0.25, -0.5], &[3]).unwrap();
        let report =
            check_gradients(|v| v[0].mul(&v[1]), &[a, b], 1e-6, Tolerance::default()).unwrap();
        assert!(report.passed(), "{report}");
        assert_eq!(report.checked, 9);
    }

    #[test]
    fn inputs_that_do_not_matter_have_zero_gradient() {
        let a = Tensor::from_vec(vec![0.5, -1.0], &[2]).unwrap();
        let report = check_gradients(
            |v| v[0].sum_all(),
            &[a.clone(), a],
            1e-6,
            Tolerance::default(),
        )
        .unwrap();
        assert!(report.passed(), "{report}");
    }

    #[test]
    fn a_bad_eps_is_an_error() {
        let a = Tensor::from_vec(vec![0.5], &[1]).unwrap();
        assert!(check_gradients(|v| Ok(v[0].clone()), &[a], 0.0, Tolerance::default()).is_err());
    }
}
