//! Classification metrics: accuracy, top-k accuracy and the confusion matrix.
//!
//! Each takes scores `[batch, classes]` (logits or probabilities: only their order matters)
//! and integer labels.

use std::fmt;

use strata_tensor::{Element, Tensor};

use crate::error::{LayersError, Result};

/// Checks scores `[batch, classes]` against `labels` and returns `(batch, classes)`.
fn check<T: Element>(what: &str, scores: &Tensor<T>, labels: &[usize]) -> Result<(usize, usize)> {
    let &[batch, classes] = scores.shape() else {
        return Err(LayersError::config(
            what,
            format!(
                "scores must be [batch, classes], found {:?}",
                scores.shape()
            ),
        ));
    };
    if batch != labels.len() {
        return Err(LayersError::config(
            what,
            format!("{batch} rows of scores but {} labels", labels.len()),
        ));
    }
    if let Some((i, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(LayersError::config(
            what,
            format!("label {label} at position {i} is out of range for {classes} classes"),
        ));
    }
    Ok((batch, classes))
}

/// The fraction of rows whose highest score is at the label (0 for an empty batch).
///
/// ```
/// use strata_tensor::Tensor;
/// let scores = Tensor::<f32>::from_vec(vec![0.9, 0.1, 0.3, 0.7], &[2, 2])?;
/// assert_eq!(strata_layers::metrics::accuracy(&scores, &[0, 0])?, 0.5);
/// # Ok::<(), strata_layers::LayersError>(())
/// ```
pub fn accuracy<T: Element>(scores: &Tensor<T>, labels: &[usize]) -> Result<f64> {
    let (batch, _) = check("accuracy", scores, labels)?;
    if batch == 0 {
        return Ok(0.0);
    }
    let predicted = scores.argmax(1)?;
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    Ok(correct as f64 / batch as f64)
}

/// The fraction of rows whose label is among the `k` highest scores (ties broken towards
/// the lower class index, as `torch.topk` on CPU).
pub fn top_k_accuracy<T: Element>(scores: &Tensor<T>, labels: &[usize], k: usize) -> Result<f64> {
    let (batch, classes) = check("top_k_accuracy", scores, labels)?;
    if k == 0 {
        return Err(LayersError::config(
            "top_k_accuracy",
            "k must be at least 1",
        ));
    }
    if batch == 0 {
        return Ok(0.0);
    }
    let values = scores.to_vec();
    let hits = values
        .chunks(classes)
        .zip(labels)
        .filter(|(row, &label)| {
            let target = row[label];
            // The label's rank: classes scoring higher, or equal with a lower index.
            let ahead = row
                .iter()
                .enumerate()
                .filter(|&(c, &v)| v > target || (v == target && c < label))
                .count();
            ahead < k
        })
        .count();
    Ok(hits as f64 / batch as f64)
}

/// Counts of (true class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// Adds a batch of scores `[batch, classes]` and their labels.
    pub fn add<T: Element>(&mut self, scores: &Tensor<T>, labels: &[usize]) -> Result<()> {
        let (_, classes) = check("confusion matrix", scores, labels)?;
        if classes != self.classes {
            return Err(LayersError::config(
                "confusion matrix",
                format!("built for {} classes, scores have {classes}", self.classes),
            ));
        }
        for (predicted, &label) in scores.argmax(1)?.into_iter().zip(labels) {
            self.counts[label * self.classes + predicted] += 1;
        }
        Ok(())
    }

    /// How many samples of class `truth` were predicted as `predicted`.
    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        if truth < self.classes && predicted < self.classes {
            self.counts[truth * self.classes + predicted]
        } else {
            0
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Overall accuracy (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().sum();
        let correct: u64 = (0..self.classes).map(|c| self.count(c, c)).sum();
        if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        }
    }

    /// Accuracy within each true class (`None` for a class with no samples).
    pub fn per_class_accuracy(&self) -> Vec<Option<f64>> {
        (0..self.classes)
            .map(|c| {
                let row: u64 = (0..self.classes).map(|p| self.count(c, p)).sum();
                (row > 0).then(|| self.count(c, c) as f64 / row as f64)
            })
            .collect()
    }
}

impl fmt::Display for ConfusionMatrix {
    /// Rows are true classes, columns predicted classes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .counts
            .iter()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1)
            .max(self.classes.saturating_sub(1).to_string().len());
        write!(f, "{:>5} |", "true")?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f)?;
        for t in 0..self.classes {
            write!(f, "{t:>5} |")?;
            for p in 0..self.classes {
                write!(f, " {:>width$}", self.count(t, p))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores() -> Tensor<f64> {
        Tensor::from_vec(
            vec![0.1, 0.7, 0.2, 0.5, 0.3, 0.2, 0.2, 0.2, 0.6, 0.3, 0.3, 0.4],
            &[4, 3],
        )
        .unwrap()
    }

    #[test]
    fn accuracy_and_top_k() {
        let labels = [1, 1, 2, 0];
        assert_eq!(accuracy(&scores(), &labels).unwrap(), 0.5);
        assert_eq!(top_k_accuracy(&scores(), &labels, 1).unwrap(), 0.5);
        // Row 1: label 1 is second; row 3: label 0 ties with class 1 and wins on index.
        assert_eq!(top_k_accuracy(&scores(), &labels, 2).unwrap(), 1.0);
        assert_eq!(top_k_accuracy(&scores(), &labels, 3).unwrap(), 1.0);
    }

    #[test]
    fn confusion_matrix_counts_pairs() {
        let mut cm = ConfusionMatrix::new(3);
        cm.add(&scores(), &[1, 1, 2, 0]).unwrap();
        assert_eq!(cm.count(1, 0), 1);
        assert_eq!(cm.count(0, 2), 1);
        assert_eq!(cm.accuracy(), 0.5);
        assert_eq!(
            cm.per_class_accuracy(),
            vec![Some(0.0), Some(0.5), Some(1.0)]
        );
        assert!(cm.to_string().contains("true |"));
    }

    #[test]
    fn bad_inputs_are_named() {
        let err = accuracy(&scores(), &[0, 1, 3, 0]).unwrap_err().to_string();
        assert_eq!(
            err,
            "accuracy: label 3 at position 2 is out of range for 3 classes"
        );
        assert!(accuracy(&scores(), &[0]).is_err());
        assert!(top_k_accuracy(&scores(), &[0, 0, 0, 0], 0).is_err());
        assert!(ConfusionMatrix::new(2)
            .add(&scores(), &[0, 0, 0, 0])
            .is_err());
    }
}
