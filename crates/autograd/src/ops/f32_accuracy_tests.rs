//! The `f32` losses and their gradients against an `f64` reference on the same inputs, for
//! small logits and for logits of magnitude ~250, held to about PyTorch's `f32` accuracy.
//!
//! The reference is written out here in plain `f64` loops, independently of the kernels.
//! Relative errors are measured per element where the exact value is at least
//! [`NORMAL_FLOOR`] (smaller values are subnormal or zero in `f32` and are compared
//! absolutely against that floor).

use rand::{RngExt, SeedableRng};
use strata_tensor::Tensor;

use crate::Var;

/// Below this, an `f32` result has lost its significant digits to underflow.
const NORMAL_FLOOR: f64 = 1e-30;

/// The largest relative error (absolute below the floor) of `got` against `exact`.
fn worst_error(got: &[f32], exact: &[f64]) -> f64 {
    got.iter()
        .zip(exact)
        .map(|(&g, &e)| {
            let diff = (f64::from(g) - e).abs();
            if e.abs() >= NORMAL_FLOOR {
                diff / e.abs()
            } else {
                diff / NORMAL_FLOOR
            }
        })
        .fold(0.0, f64::max)
}

/// `[rows, classes]` logits: each row a random centre in `±centre` plus spread `±spread`.
fn logits(rows: usize, classes: usize, centre: f64, spread: f64, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(rows * classes);
    for _ in 0..rows {
        let c = rng.random_range(-centre..=centre);
        for _ in 0..classes {
            out.push((c + rng.random_range(-spread..=spread)) as f32);
        }
    }
    out
}

/// Exact log-softmax of each row, in `f64`.
fn log_softmax_rows(x: &[f64], classes: usize) -> Vec<f64> {
    x.chunks(classes)
        .flat_map(|row| {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            row.iter().map(move |v| (v - max) - lse).collect::<Vec<_>>()
        })
        .collect()
}

/// The cases: (name, logits, rows, classes).
fn cases() -> Vec<(&'static str, Vec<f32>, usize, usize)> {
    vec![
        ("small", logits(64, 10, 3.0, 3.0, 1), 64, 10),
        (
            "row 250, 249.3, …, 243.7",
            (0..640).map(|i| 250.0 - (i % 10) as f32 * 0.7).collect(),
            64,
            10,
        ),
        (
            "centre ±250, spread 4",
            logits(64, 10, 250.0, 4.0, 3),
            64,
            10,
        ),
        ("±250 mixed", logits(32, 100, 0.0, 250.0, 4), 32, 100),
    ]
}

/// PyTorch's `f32` cross-entropy meets about this on the same inputs.
const TOLERANCE: f64 = 1e-5;

#[test]
fn cross_entropy_loss_and_gradient_match_f64() {
    for (name, x, n, c) in cases() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..c)).collect();
        let v = Var::parameter(Tensor::from_vec(x.clone(), &[n, c]).unwrap());
        let loss = v.cross_entropy(&labels).unwrap();
        let grad = loss.backward().unwrap().get(&v).unwrap().to_vec();

        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let lp = log_softmax_rows(&x64, c);
        let exact_loss = -labels
            .iter()
            .enumerate()
            .map(|(i, &l)| lp[i * c + l])
            .sum::<f64>()
            / n as f64;
        let mut exact_grad: Vec<f64> = lp.iter().map(|v| v.exp() / n as f64).collect();
        for (i, &l) in labels.iter().enumerate() {
            exact_grad[i * c + l] -= 1.0 / n as f64;
        }
        let loss_err = worst_error(&[loss.value().item().unwrap()], &[exact_loss]);
        let grad_err = worst_error(&grad, &exact_grad);
        println!(
            "cross_entropy {name}: loss rel {loss_err:.2e}, gradient worst rel {grad_err:.2e}"
        );
        assert!(
            loss_err <= TOLERANCE,
            "{name}: loss relative error {loss_err:e}"
        );
        assert!(
            grad_err <= TOLERANCE,
            "{name}: gradient relative error {grad_err:e}"
        );
    }
}

#[test]
fn log_softmax_and_softmax_match_f64() {
    for (name, x, n, c) in cases() {
        let t = Tensor::from_vec(x.clone(), &[n, c]).unwrap();
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let lp = log_softmax_rows(&x64, c);
        let p: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
        let lp_err = worst_error(&t.log_softmax(1).unwrap().to_vec(), &lp);
        let p_err = worst_error(&t.softmax(1).unwrap().to_vec(), &p);
        println!("{name}: log_softmax worst rel {lp_err:.2e}, softmax worst rel {p_err:.2e}");
        assert!(
            lp_err <= TOLERANCE,
            "{name}: log_softmax relative error {lp_err:e}"
        );
        assert!(
            p_err <= TOLERANCE,
            "{name}: softmax relative error {p_err:e}"
        );
    }
}

#[test]
fn cross_entropy_with_probability_targets_matches_f64() {
    for (name, x, n, c) in cases() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let raw: Vec<f32> = (0..n * c).map(|_| rng.random_range(0.0..1.0f32)).collect();
        // Rows that sum to 1, as soft labels do.
        let targets: Vec<f32> = raw
            .chunks(c)
            .flat_map(|r| {
                let s: f32 = r.iter().sum();
                r.iter().map(move |v| v / s).collect::<Vec<_>>()
            })
            .collect();
        let v = Var::parameter(Tensor::from_vec(x.clone(), &[n, c]).unwrap());
        let t = Var::constant(Tensor::from_vec(targets.clone(), &[n, c]).unwrap());
        let loss = v.cross_entropy_with_probs(&t).unwrap();
        let grad = loss.backward().unwrap().get(&v).unwrap().to_vec();

        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let t64: Vec<f64> = targets.iter().map(|&v| f64::from(v)).collect();
        let lp = log_softmax_rows(&x64, c);
        let exact_loss = -lp.iter().zip(&t64).map(|(l, t)| l * t).sum::<f64>() / n as f64;
        let mass: Vec<f64> = t64.chunks(c).map(|r| r.iter().sum()).collect();
        let exact_grad: Vec<f64> = (0..n * c)
            .map(|k| (lp[k].exp() * mass[k / c] - t64[k]) / n as f64)
            .collect();
        let loss_err = worst_error(&[loss.value().item().unwrap()], &[exact_loss]);
        let grad_err = worst_error(&grad, &exact_grad);
        println!("cross_entropy_with_probs {name}: loss rel {loss_err:.2e}, gradient worst rel {grad_err:.2e}");
        assert!(
            loss_err <= TOLERANCE,
            "{name}: loss relative error {loss_err:e}"
        );
        // Soft targets: the gradient is a difference of two terms of size 1/N, so its
        // error is relative to those terms, not to the (possibly tiny) difference.
        let abs_err = grad
            .iter()
            .zip(&exact_grad)
            .map(|(&g, e)| (f64::from(g) - e).abs())
            .fold(0.0, f64::max);
        assert!(
            abs_err * n as f64 <= TOLERANCE,
            "{name}: gradient error {abs_err:e}"
        );
    }
}

#[test]
fn binary_cross_entropy_with_logits_matches_f64() {
    for (name, x, n, c) in cases() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let targets: Vec<f32> = (0..n * c)
            .map(|_| if rng.random_bool(0.5) { 1.0 } else { 0.0 })
            .collect();
        let v = Var::parameter(Tensor::from_vec(x.clone(), &[n, c]).unwrap());
        let t = Var::constant(Tensor::from_vec(targets.clone(), &[n, c]).unwrap());
        let loss = v.binary_cross_entropy_with_logits(&t).unwrap();
        let grad = loss.backward().unwrap().get(&v).unwrap().to_vec();

        let m = (n * c) as f64;
        let per: Vec<(f64, f64)> = x
            .iter()
            .zip(&targets)
            .map(|(&x, &t)| {
                let (x, t) = (f64::from(x), f64::from(t));
                let l = x.max(0.0) - x * t + (-x.abs()).exp().ln_1p();
                // σ(x) − t without f64's own cancellation where σ(x) rounds to 1.
                let sigma = |v: f64| 1.0 / (1.0 + (-v).exp());
                (l, ((1.0 - t) * sigma(x) - t * sigma(-x)) / m)
            })
            .collect();
        let exact_loss = per.iter().map(|p| p.0).sum::<f64>() / m;
        let exact_grad: Vec<f64> = per.iter().map(|p| p.1).collect();
        let loss_err = worst_error(&[loss.value().item().unwrap()], &[exact_loss]);
        let grad_err = worst_error(&grad, &exact_grad);
        println!("binary_cross_entropy_with_logits {name}: loss rel {loss_err:.2e}, gradient worst rel {grad_err:.2e}");
        assert!(
            loss_err <= TOLERANCE,
            "{name}: loss relative error {loss_err:e}"
        );
        assert!(
            grad_err <= TOLERANCE,
            "{name}: gradient relative error {grad_err:e}"
        );
    }
}
