//! Losses against values computed by hand (and so against Keras's and PyTorch's formulas).

use strata_autograd::Var;
use strata_layers::loss::Loss;
use strata_layers::Targets;
use strata_tensor::Tensor;

fn var(values: &[f64], shape: &[usize]) -> Var<f64> {
    Var::parameter(Tensor::from_slice(values, shape).unwrap())
}

fn value(loss: &Var<f64>) -> f64 {
    loss.value().item().unwrap()
}

#[test]
fn cross_entropies_from_logits_and_probabilities_agree() {
    let logits = var(&[2.0, 0.5, -1.0, 0.1, 0.2, 3.0], &[2, 3]);
    let sparse = Loss::SparseCategoricalCrossentropy { from_logits: true };
    let from_logits = value(
        &sparse
            .compute(&logits, &Targets::Labels(vec![0, 2]))
            .unwrap(),
    );
    let probs = Var::constant(logits.value().softmax(1).unwrap());
    let from_probs = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let p = value(
        &from_probs
            .compute(&probs, &Targets::Labels(vec![0, 2]))
            .unwrap(),
    );
    assert!((from_logits - p).abs() < 1e-6, "{from_logits} vs {p}");
    let onehot = Tensor::from_vec(vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]).unwrap();
    let categorical = Loss::CategoricalCrossentropy { from_logits: true };
    let c = value(
        &categorical
            .compute(&logits, &Targets::Dense(onehot.clone()))
            .unwrap(),
    );
    assert!((from_logits - c).abs() < 1e-12);
    // By hand: −(ln softmax(row0)[0] + ln softmax(row1)[2]) / 2.
    let lse = |r: &[f64]| r.iter().map(|v| v.exp()).sum::<f64>().ln();
    let expected = -((2.0 - lse(&[2.0, 0.5, -1.0])) + (3.0 - lse(&[0.1, 0.2, 3.0]))) / 2.0;
    assert!((from_logits - expected).abs() < 1e-12);
}

#[test]
fn probabilities_are_clipped_as_keras_does() {
    let probs = var(&[1.0, 0.0], &[1, 2]);
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let l = value(&loss.compute(&probs, &Targets::Labels(vec![1])).unwrap());
    assert!((l - (-(1e-7f64).ln())).abs() < 1e-6, "{l}");
}

#[test]
fn binary_cross_entropy_and_mse() {
    let logits = var(&[0.0, 2.0, -3.0, 50.0], &[4]);
    let targets = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[4]).unwrap();
    let bce = Loss::BinaryCrossentropy { from_logits: true };
    let l = value(
        &bce.compute(&logits, &Targets::Dense(targets.clone()))
            .unwrap(),
    );
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let expected =
        -((sig(0.0)).ln() + (1.0 - sig(2.0)).ln() + (1.0 - sig(-3.0)).ln() + sig(50.0).ln()) / 4.0;
    assert!((l - expected).abs() < 1e-12, "{l} vs {expected}");
    let probs = Var::constant(logits.value().sigmoid());
    let from_probs = Loss::BinaryCrossentropy { from_logits: false };
    let lp = value(
        &from_probs
            .compute(&probs, &Targets::Dense(targets.clone()))
            .unwrap(),
    );
    assert!((lp - expected).abs() < 1e-6);
    let mse = Loss::MeanSquaredError
        .compute(&logits, &Targets::Dense(targets.clone()))
        .unwrap();
    assert!((value(&mse) - (1.0 + 4.0 + 9.0 + 49.0 * 49.0) / 4.0).abs() < 1e-12);
    let grads = mse.backward().unwrap();
    assert_eq!(
        grads.get(&logits).unwrap().to_vec(),
        vec![-0.5, 1.0, -1.5, 24.5]
    );
}

#[test]
fn wrong_targets_are_named() {
    let logits = var(&[0.0, 1.0], &[1, 2]);
    let sparse = Loss::SparseCategoricalCrossentropy { from_logits: true };
    let dense = Tensor::from_vec(vec![0.0, 1.0], &[1, 2]).unwrap();
    assert!(sparse
        .compute(&logits, &Targets::Dense(dense.clone()))
        .is_err());
    assert!(Loss::MeanSquaredError
        .compute(&logits, &Targets::Labels(vec![1]))
        .is_err());
    let wrong = Tensor::from_vec(vec![0.0, 1.0, 0.0], &[1, 3]).unwrap();
    let err = Loss::MeanSquaredError
        .compute(&logits, &Targets::Dense(wrong.clone()))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected shape [1, 2], found [1, 3]"),
        "{err}"
    );
    let err = Loss::SparseCategoricalCrossentropy { from_logits: false }
        .compute(&logits, &Targets::Labels(vec![2]))
        .unwrap_err();
    assert!(err.to_string().contains("label 2"), "{err}");
}
