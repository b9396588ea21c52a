//! Losses: cross-entropies (from logits, fused and stable, or from probabilities as Keras
//! allows), binary cross-entropy and mean squared error.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::{Element, Tensor};

use crate::error::{LayersError, Result};
use crate::targets::Targets;

/// A loss function; every loss is the mean over the batch (Keras's and PyTorch's default
/// reduction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "loss", rename_all = "snake_case")]
pub enum Loss {
    /// Cross-entropy against integer labels: Keras `SparseCategoricalCrossentropy(from_logits)`;
    /// with logits, PyTorch's `nn.CrossEntropyLoss`.
    SparseCategoricalCrossentropy {
        /// Whether the output is logits (fused with log-softmax: stable for any values) or
        /// probabilities (clipped to `[1e-7, 1 − 1e-7]` before the logarithm, as Keras).
        from_logits: bool,
    },
    /// Cross-entropy against one-hot or probability targets: Keras
    /// `CategoricalCrossentropy(from_logits)`.
    CategoricalCrossentropy {
        /// Logits or probabilities, as above.
        from_logits: bool,
    },
    /// Binary cross-entropy of independent outputs against targets in `[0, 1]`: Keras
    /// `BinaryCrossentropy(from_logits)`; with logits, PyTorch's `nn.BCEWithLogitsLoss`.
    BinaryCrossentropy {
        /// Logits ([`Var::binary_cross_entropy_with_logits`]: `max(x, 0) − x·t + ln(1 + e^−|x|)`,
        /// stable and accurate for any logits) or clipped probabilities.
        from_logits: bool,
    },
    /// Mean of squared differences over all elements: Keras `MeanSquaredError`, PyTorch
    /// `nn.MSELoss`.
    MeanSquaredError,
}

/// Keras's `epsilon()`: probabilities are clipped to `[EPSILON, 1 − EPSILON]`.
const EPSILON: f64 = 1e-7;

impl Loss {
    /// The loss of `output` against `targets`, as a scalar variable.
    pub fn compute<T: Element>(&self, output: &Var<T>, targets: &Targets<T>) -> Result<Var<T>> {
        match (*self, targets) {
            (
                Self::SparseCategoricalCrossentropy { from_logits: true },
                Targets::Labels(labels),
            ) => Ok(output.cross_entropy(labels)?),
            (
                Self::SparseCategoricalCrossentropy { from_logits: false },
                Targets::Labels(labels),
            ) => {
                let onehot = one_hot::<T>(labels, output.shape())?;
                cross_entropy_from_probs(output, &onehot)
            }
            (Self::CategoricalCrossentropy { from_logits }, Targets::Dense(t)) => {
                check_same_shape("categorical cross-entropy", output, t)?;
                if from_logits {
                    Ok(output.cross_entropy_with_probs(&Var::constant(t.clone()))?)
                } else {
                    cross_entropy_from_probs(output, t)
                }
            }
            (Self::BinaryCrossentropy { from_logits }, Targets::Dense(t)) => {
                check_same_shape("binary cross-entropy", output, t)?;
                let t = Var::constant(t.clone());
                if from_logits {
                    return Ok(output.binary_cross_entropy_with_logits(&t)?);
                }
                let p = clip_probabilities(output)?;
                let q = clip_probabilities(&output.neg().add_scalar(T::one()))?;
                let one_minus_t = t.neg().add_scalar(T::one());
                let per_element = t.mul(&p.ln())?.add(&one_minus_t.mul(&q.ln())?)?.neg();
                Ok(per_element.mean_all()?)
            }
            (Self::MeanSquaredError, Targets::Dense(t)) => {
                check_same_shape("mean squared error", output, t)?;
                Ok(output.sub(&Var::constant(t.clone()))?.square().mean_all()?)
            }
            (loss, Targets::Labels(_)) => Err(LayersError::config(
                format!("{loss:?}"),
                "needs dense targets of the output's shape, not integer labels",
            )),
            (loss, Targets::Dense(_)) => Err(LayersError::config(
                format!("{loss:?}"),
                "needs integer labels, not dense targets",
            )),
        }
    }

    /// Whether the loss takes integer labels (otherwise dense targets).
    pub fn takes_labels(&self) -> bool {
        matches!(self, Self::SparseCategoricalCrossentropy { .. })
    }
}

fn check_same_shape<T: Element>(loss: &str, output: &Var<T>, targets: &Tensor<T>) -> Result<()> {
    if output.shape() != targets.shape() {
        return Err(LayersError::ShapeMismatch {
            name: format!("{loss} targets"),
            expected: output.shape().to_vec(),
            found: targets.shape().to_vec(),
        });
    }
    Ok(())
}

/// One-hot rows for `labels`, checked against the output `[batch, classes]`.
fn one_hot<T: Element>(labels: &[usize], output: &[usize]) -> Result<Tensor<T>> {
    let &[n, c] = output else {
        return Err(LayersError::config(
            "cross-entropy",
            format!("expects outputs [batch, classes], found {output:?}"),
        ));
    };
    if labels.len() != n {
        return Err(LayersError::config(
            "cross-entropy",
            format!("{} labels for {n} outputs", labels.len()),
        ));
    }
    let mut data = vec![T::zero(); n * c];
    for (i, &label) in labels.iter().enumerate() {
        if label >= c {
            return Err(LayersError::config(
                "cross-entropy",
                format!("label {label} at position {i} is out of range for {c} classes"),
            ));
        }
        data[i * c + label] = T::one();
    }
    Ok(Tensor::from_vec(data, &[n, c])?)
}

/// `−mean over rows of Σ t · ln(clip(p))`.
fn cross_entropy_from_probs<T: Element>(probs: &Var<T>, targets: &Tensor<T>) -> Result<Var<T>> {
    if probs.rank() != 2 {
        return Err(LayersError::config(
            "cross-entropy",
            format!(
                "expects probabilities [batch, classes], found {:?}",
                probs.shape()
            ),
        ));
    }
    let log_p = clip_probabilities(probs)?.ln();
    let picked = log_p
        .mul(&Var::constant(targets.clone()))?
        .sum(&[1], false)?;
    Ok(picked.mean_all()?.neg())
}

/// `clip(p, ε, 1 − ε)`, with zero gradient where clipped (as `tf.clip_by_value`; the rule is
/// [`Var::clamp`]'s).
fn clip_probabilities<T: Element>(p: &Var<T>) -> Result<Var<T>> {
    Ok(p.clamp(T::from_f64_lossy(EPSILON), T::from_f64_lossy(1.0 - EPSILON))?)
}
