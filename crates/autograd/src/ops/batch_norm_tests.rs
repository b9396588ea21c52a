//! Batch normalisation: gradients against finite differences in `f64`, values against a
//! naive per-channel loop and against the same formula composed from primitive ops.

use proptest::prelude::*;
use strata_tensor::Tensor;

use crate::testing::tensor_in;
use crate::{check_gradients, Tolerance, Var};

const EPS: f64 = 1e-6;

/// `[N, C, …]` shapes of rank 2 to 4 (BatchNorm1d's `[N, C]` and `[N, C, L]`, BatchNorm2d's
/// `[N, C, H, W]`) with at least two values per channel.
fn input_shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..4usize, 2..=4).prop_filter("≥ 2 values per channel", |s| {
        s[0] * s[2..].iter().product::<usize>() >= 2
    })
}

/// An input with gamma and beta for its channels.
fn case() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    input_shape().prop_flat_map(|s| {
        let c = s[1];
        (
            tensor_in(s, -2.0, 2.0),
            tensor_in(vec![c], 0.5, 2.0),
            tensor_in(vec![c], -1.0, 1.0),
        )
    })
}

/// Naive per-channel loop: (output, mean, biased variance).
fn reference(
    x: &Tensor<f64>,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let shape = x.shape();
    let (n, c) = (shape[0], shape[1]);
    let s: usize = shape[2..].iter().product();
    let v = x.to_vec();
    let at = |i: usize, ch: usize, k: usize| v[(i * c + ch) * s + k];
    let mut out = vec![0.0; v.len()];
    let (mut means, mut vars) = (vec![0.0; c], vec![0.0; c]);
    for ch in 0..c {
        let vals: Vec<f64> = (0..n)
            .flat_map(|i| (0..s).map(move |k| (i, k)))
            .map(|(i, k)| at(i, ch, k))
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / vals.len() as f64;
        for i in 0..n {
            for k in 0..s {
                out[(i * c + ch) * s + k] =
                    gamma[ch] * (at(i, ch, k) - mean) / (var + eps).sqrt() + beta[ch];
            }
        }
        means[ch] = mean;
        vars[ch] = var;
    }
    (out, means, vars)
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn training_gradient_matches_finite_differences((x, g, b) in case(), eps in prop::sample::select(vec![1e-5, 1e-3])) {
        let r = check_gradients(
            |v| Ok(v[0].batch_norm_train(&v[1], &v[2], eps)?.0),
            &[x, g, b], EPS, Tolerance::new(1e-5, 1e-5))?;
        prop_assert!(r.passed(), "{}", r);
    }

    #[test]
    fn training_forward_and_statistics_match_the_naive_loop((x, g, b) in case()) {
        let (y, stats) = Var::constant(x.clone())
            .batch_norm_train(&Var::constant(g.clone()), &Var::constant(b.clone()), 1e-3).unwrap();
        let (out, mean, var) = reference(&x, &g.to_vec(), &b.to_vec(), 1e-3);
        prop_assert!(close(&y.value().to_vec(), &out, 1e-12));
        prop_assert!(close(&stats.mean.to_vec(), &mean, 1e-12));
        prop_assert!(close(&stats.var.to_vec(), &var, 1e-12));
        prop_assert_eq!(stats.count, x.shape()[0] * x.shape()[2..].iter().product::<usize>());
    }

    #[test]
    fn training_gradient_matches_the_composed_formula((x, g, b) in case()) {
        // (x − mean) / sqrt(var + eps) · γ + β from primitive ops, each with its own rule.
        let c = x.shape()[1];
        let mut per_channel = vec![1; x.rank()];
        per_channel[1] = c;
        let axes: Vec<usize> = (0..x.rank()).filter(|&a| a != 1).collect();
        let (xv, gv, bv) = (Var::parameter(x.clone()), Var::parameter(g), Var::parameter(b));
        let mean = xv.mean(&axes, true).unwrap();
        let centred = xv.sub(&mean).unwrap();
        let var = centred.square().mean(&axes, true).unwrap();
        let composed = centred.div(&var.add_scalar(1e-3).sqrt()).unwrap()
            .mul(&gv.reshape(&per_channel).unwrap()).unwrap()
            .add(&bv.reshape(&per_channel).unwrap()).unwrap();
        let (fused, _) = xv.batch_norm_train(&gv, &bv, 1e-3).unwrap();
        let w = Tensor::from_vec((0..x.numel()).map(|i| (i as f64 * 0.37).sin()).collect(), x.shape()).unwrap();
        let ga = composed.backward_with(&w).unwrap();
        let gb = fused.backward_with(&w).unwrap();
        for v in [&xv, &gv, &bv] {
            prop_assert!(close(&ga.get(v).unwrap().to_vec(), &gb.get(v).unwrap().to_vec(), 1e-10));
        }
    }

    #[test]
    fn eval_gradient_matches_finite_differences((x, g, b) in case()) {
        let c = x.shape()[1];
        let mean = Tensor::from_vec((0..c).map(|i| 0.3 * i as f64 - 0.2).collect(), &[c]).unwrap();
        let var = Tensor::from_vec((0..c).map(|i| 0.5 + 0.25 * i as f64).collect(), &[c]).unwrap();
        let r = check_gradients(
            |v| v[0].batch_norm_eval(&v[1], &v[2], &mean, &var, 1e-3),
            &[x, g, b], EPS, Tolerance::default())?;
        prop_assert!(r.passed(), "{}", r);
    }

    #[test]
    fn eval_with_the_batch_statistics_equals_training((x, g, b) in case()) {
        let (xv, gv, bv) = (Var::constant(x), Var::constant(g), Var::constant(b));
        let (train, stats) = xv.batch_norm_train(&gv, &bv, 1e-5).unwrap();
        let eval = xv.batch_norm_eval(&gv, &bv, &stats.mean, &stats.var, 1e-5).unwrap();
        prop_assert!(close(&train.value().to_vec(), &eval.value().to_vec(), 1e-12));
    }
}

#[test]
fn bad_shapes_are_errors_that_name_them() {
    let x = Var::parameter(Tensor::<f64>::zeros(&[2, 3, 2, 2]));
    let (g, b) = (
        Var::parameter(Tensor::ones(&[3])),
        Var::parameter(Tensor::zeros(&[3])),
    );
    let wrong = Var::parameter(Tensor::<f64>::ones(&[4]));
    let e = x
        .batch_norm_train(&wrong, &b, 1e-5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[4]") && e.contains("[2, 3, 2, 2]"), "{e}");
    let flat = Var::parameter(Tensor::<f64>::zeros(&[3]));
    assert!(flat.batch_norm_train(&g, &b, 1e-5).is_err());
    let empty = Var::parameter(Tensor::<f64>::zeros(&[0, 3]));
    assert!(empty
        .batch_norm_train(&g, &b, 1e-5)
        .unwrap_err()
        .to_string()
        .contains("no values"));
    let e = x
        .batch_norm_eval(&g, &b, &Tensor::zeros(&[2]), &Tensor::ones(&[3]), 1e-5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2]"), "{e}");
}

#[test]
fn a_constant_channel_normalises_to_beta() {
    // Zero variance: x̂ = 0, so y = β, and ∂x = γ/sqrt(eps) · (g − mean g), finite.
    let x = Var::parameter(Tensor::<f64>::full(&[4, 1, 2, 2], 3.0));
    let (g, b) = (
        Var::parameter(Tensor::full(&[1], 2.0)),
        Var::parameter(Tensor::full(&[1], 0.5)),
    );
    let (y, stats) = x.batch_norm_train(&g, &b, 1e-4).unwrap();
    assert!(y.value().to_vec().iter().all(|&v| v == 0.5));
    assert_eq!(stats.var.to_vec(), vec![0.0]);
    let w: Vec<f64> = (0..16).map(|i| i as f64).collect();
    let grads = y
        .backward_with(&Tensor::from_vec(w.clone(), &[4, 1, 2, 2]).unwrap())
        .unwrap();
    let expected: Vec<f64> = w.iter().map(|v| 2.0 / 1e-4f64.sqrt() * (v - 7.5)).collect();
    assert!(close(&grads.get(&x).unwrap().to_vec(), &expected, 1e-12));
    assert_eq!(grads.get(&g).unwrap().to_vec(), vec![0.0]);
    assert_eq!(grads.get(&b).unwrap().to_vec(), vec![120.0]);
}
