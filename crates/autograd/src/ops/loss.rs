//! Cross-entropy from logits, fused with log-softmax so that it is stable for any logits.

use strata_tensor::{Element, Tensor};

use super::lit;
use crate::error::{AutogradError, Result};
use crate::var::Var;

/// Checks that logits are `[batch, classes]` with a non-empty batch; returns the two sizes.
fn batch_and_classes(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    match *shape {
        [n, c] if n > 0 && c > 0 => Ok((n, c)),
        _ => Err(AutogradError::shape(
            op,
            format!("expected logits of shape [batch, classes] with both > 0, found {shape:?}"),
        )),
    }
}

impl<T: Element> Var<T> {
    /// The mean cross-entropy of `[batch, classes]` logits against integer class labels
    /// (`torch.nn.functional.cross_entropy` with `reduction="mean"`):
    /// `−(1/N) Σᵢ log_softmax(xᵢ)[labelᵢ]`.
    ///
    /// ∂/∂x = (softmax(x) − onehot(label)) · g / N. Labels are checked: one per row, each
    /// smaller than the number of classes.
    ///
    /// ```
    /// use strata_autograd::Var;
    /// use strata_tensor::Tensor;
    /// let logits = Var::parameter(Tensor::<f64>::from_vec(vec![2., 0., 0., 0., 0., 2.], &[2, 3])?);
    /// let loss = logits.cross_entropy(&[0, 2])?;
    /// assert!((loss.value().item()? - 0.2395447).abs() < 1e-6);
    /// assert!(logits.cross_entropy(&[0, 3]).is_err()); // 3 classes: labels 0..3
    /// # Ok::<(), strata_autograd::AutogradError>(())
    /// ```
    pub fn cross_entropy(&self, labels: &[usize]) -> Result<Var<T>> {
        const OP: &str = "cross_entropy";
        let (n, c) = batch_and_classes(OP, self.shape())?;
        if labels.len() != n {
            return Err(AutogradError::shape(
                OP,
                format!(
                    "{} labels for logits of shape {:?} (expected {n})",
                    labels.len(),
                    self.shape()
                ),
            ));
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= c) {
            return Err(AutogradError::LabelOutOfRange {
                op: OP,
                label,
                index,
                classes: c,
            });
        }
        let log_probs = self.value().log_softmax(1)?;
        let lp = log_probs.to_vec();
        let picked: Vec<T> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| lp[i * c + l])
            .collect();
        // Pairwise, as every other sum: the mean's rounding grows with log N, not N.
        let total = Tensor::from_vec(picked, &[n])?.sum_all();
        let loss = Tensor::scalar(-total / lit(n as f64));
        let labels = labels.to_vec();
        Ok(self.record_unary(OP, loss, move |g| {
            let scale = g.item()? / lit(n as f64);
            let mut grad: Vec<T> = lp.iter().map(|&v| v.exp() * scale).collect();
            for (i, &l) in labels.iter().enumerate() {
                grad[i * c + l] = grad[i * c + l] - scale;
            }
            Ok(Tensor::from_vec(grad, &[n, c])?)
        }))
    }

    /// The mean cross-entropy of `[batch, classes]` logits against target distributions of
    /// the same shape (one-hot or soft labels): `−(1/N) Σᵢ Σ_c t_ic · log_softmax(xᵢ)_c`, like
    /// `torch.nn.functional.cross_entropy` with probability targets.
    ///
    /// ∂/∂x = (softmax(x) · Σ_c t_c − t) · g / N, ∂/∂t = −log_softmax(x) · g / N (targets
    /// may themselves be computed, as in distillation).
    pub fn cross_entropy_with_probs(&self, targets: &Var<T>) -> Result<Var<T>> {
        const OP: &str = "cross_entropy_with_probs";
        let (n, _) = batch_and_classes(OP, self.shape())?;
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
        let log_probs = self.value().log_softmax(1)?;
        let t = targets.value();
        let total: T = t.mul(&log_probs)?.sum_all();
        let loss = Tensor::scalar(-total / lit(n as f64));
        Ok(Var::record(OP, loss, &[self, targets], move |g, needs| {
            let scale = g.item()? / lit(n as f64);
            let d_logits = if needs[0] {
                let mass = t.sum_axes(&[1], true)?;
                let probs = log_probs.exp();
                Some(probs.mul(&mass)?.sub(&t)?.mul_scalar(scale))
            } else {
                None
            };
            let d_targets = needs[1].then(|| log_probs.mul_scalar(-scale));
            Ok(vec![d_logits, d_targets])
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::tensor_in;
    use crate::{check_gradients, AutogradError, Tolerance, Var};

    const EPS: f64 = 1e-6;

    fn logits_and_labels() -> impl Strategy<Value = (Tensor<f64>, Vec<usize>)> {
        (1..5usize, 1..6usize).prop_flat_map(|(n, c)| {
            (
                tensor_in(vec![n, c], -4.0, 4.0),
                prop::collection::vec(0..c, n),
            )
        })
    }

    fn logits_and_targets() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
        (1..5usize, 1..6usize).prop_flat_map(|(n, c)| {
            (
                tensor_in(vec![n, c], -4.0, 4.0),
                tensor_in(vec![n, c], 0.0, 1.0),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn cross_entropy_gradient((x, labels) in logits_and_labels()) {
            let r = check_gradients(|v| v[0].cross_entropy(&labels), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn cross_entropy_with_probs_gradient((x, t) in logits_and_targets()) {
            let r = check_gradients(
                |v| v[0].cross_entropy_with_probs(&v[1]), &[x, t], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn labels_and_one_hot_targets_agree((x, labels) in logits_and_labels()) {
            let (n, c) = (x.shape()[0], x.shape()[1]);
            let mut one_hot = vec![0.0; n * c];
            for (i, &l) in labels.iter().enumerate() {
                one_hot[i * c + l] = 1.0;
            }
            let t = Var::constant(Tensor::from_vec(one_hot, &[n, c]).unwrap());
            let logits = Var::parameter(x);
            let a = logits.cross_entropy(&labels).unwrap();
            let b = logits.cross_entropy_with_probs(&t).unwrap();
            prop_assert!((a.value().item().unwrap() - b.value().item().unwrap()).abs() < 1e-12);
            let ga = a.backward().unwrap().get(&logits).unwrap().to_vec();
            let gb = b.backward().unwrap().get(&logits).unwrap().to_vec();
            for (p, q) in ga.iter().zip(&gb) {
                prop_assert!((p - q).abs() < 1e-12);
            }
        }

        #[test]
        fn cross_entropy_matches_the_composition((x, labels) in logits_and_labels()) {
            // −mean(log_softmax(x)[label]) built from differentiable pieces.
            let logits = Var::parameter(x);
            let fused = logits.cross_entropy(&labels).unwrap().value().item().unwrap();
            let lsm = logits.log_softmax(1).unwrap().value().to_vec();
            let c = logits.shape()[1];
            let reference = -labels.iter().enumerate().map(|(i, &l)| lsm[i * c + l]).sum::<f64>()
                / labels.len() as f64;
            prop_assert!((fused - reference).abs() < 1e-12);
        }
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        let x = Var::parameter(Tensor::<f32>::from_vec(vec![1e4, -1e4, 0., 0.], &[2, 2]).unwrap());
        let loss = x.cross_entropy(&[1, 0]).unwrap();
        assert!((loss.value().item().unwrap() - (2e4 + 2f32.ln()) / 2.0).abs() < 1.0);
        let g = loss.backward().unwrap();
        assert!(g.get(&x).unwrap().to_vec().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_labels_and_shapes_are_errors() {
        let x = Var::parameter(Tensor::<f64>::zeros(&[2, 3]));
        assert_eq!(
            x.cross_entropy(&[1, 3]).unwrap_err(),
            AutogradError::LabelOutOfRange {
                op: "cross_entropy",
                label: 3,
                index: 1,
                classes: 3
            }
        );
        assert_eq!(
            x.cross_entropy(&[1, 3]).unwrap_err().to_string(),
            "cross_entropy: label 3 at batch index 1 is out of range for 3 classes"
        );
        assert!(x
            .cross_entropy(&[1])
            .unwrap_err()
            .to_string()
            .contains("1 labels"));
        let flat = Var::parameter(Tensor::<f64>::zeros(&[6]));
        assert!(flat
            .cross_entropy(&[0])
            .unwrap_err()
            .to_string()
            .contains("[6]"));
        let t = Var::constant(Tensor::<f64>::zeros(&[3, 2]));
        assert!(x.cross_entropy_with_probs(&t).is_err());
    }
}
