//! BatchNorm2d as a layer: the running-statistics update in PyTorch's and Keras's
//! conventions, and inference with the running estimates, against plain loops. (The op's
//! gradients are tested beside it in `strata_autograd`; the layer's, through the public
//! API, in `tests/layer_gradients.rs`.)

use strata_autograd::Var;
use strata_tensor::Tensor;

use super::BatchNorm2dConfig;
use crate::module::ForwardContext;
use crate::Sequential;

const SHAPE: [usize; 4] = [3, 2, 2, 3];

/// A batch of [`SHAPE`] with channel means far from 0 and variances far from 1.
fn batch(step: usize) -> Tensor<f64> {
    let n: usize = SHAPE.iter().product();
    let values = (0..n)
        .map(|i| {
            let channel = (i / 6) % 2;
            let wobble = ((i * 7 + step * 3) as f64 * 0.91).sin();
            [2.0, -1.5][channel] + [0.5, 3.0][channel] * wobble
        })
        .collect();
    Tensor::from_vec(values, &SHAPE).unwrap()
}

/// Per channel: (mean, biased variance, unbiased variance) of a `[N, C, H, W]` batch.
fn channel_stats(x: &Tensor<f64>) -> Vec<(f64, f64, f64)> {
    let v = x.to_vec();
    let (n, c, s) = (SHAPE[0], SHAPE[1], SHAPE[2] * SHAPE[3]);
    (0..c)
        .map(|ch| {
            let vals: Vec<f64> = (0..n)
                .flat_map(|i| v[(i * c + ch) * s..(i * c + ch + 1) * s].to_vec())
                .collect();
            let m = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / m;
            let ss = vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
            (mean, ss / m, ss / (m - 1.0))
        })
        .collect()
}

fn model(config: BatchNorm2dConfig) -> Sequential<f64> {
    Sequential::<f64>::builder(&SHAPE[1..])
        .add(config)
        .build()
        .unwrap()
}

fn buffer(model: &Sequential<f64>, name: &str) -> Vec<f64> {
    let (_, var) = model
        .buffers()
        .into_iter()
        .find(|(n, _)| n.ends_with(name))
        .unwrap();
    var.value().to_vec()
}

/// Three training steps, then the running estimates against the update rule written out
/// with `new_weight` the weight of each batch's statistic.
fn check_running_statistics(config: BatchNorm2dConfig, new_weight: f64, unbiased: bool) {
    let m = model(config);
    let (mut mean, mut var) = (vec![0.0; 2], vec![1.0; 2]);
    for step in 0..3 {
        let x = batch(step);
        m.forward(&Var::constant(x.clone()), &mut ForwardContext::train(1))
            .unwrap();
        for (ch, (bm, biased, unbiased_var)) in channel_stats(&x).into_iter().enumerate() {
            let bv = if unbiased { unbiased_var } else { biased };
            mean[ch] = (1.0 - new_weight) * mean[ch] + new_weight * bm;
            var[ch] = (1.0 - new_weight) * var[ch] + new_weight * bv;
        }
        let (got_mean, got_var) = (buffer(&m, "running_mean"), buffer(&m, "running_var"));
        for ch in 0..2 {
            assert!(
                (got_mean[ch] - mean[ch]).abs() < 1e-12,
                "step {step}: {got_mean:?} vs {mean:?}"
            );
            assert!(
                (got_var[ch] - var[ch]).abs() < 1e-12,
                "step {step}: {got_var:?} vs {var:?}"
            );
        }
    }
}

#[test]
fn running_statistics_follow_pytorch() {
    // nn.BatchNorm2d(C): momentum=0.1 is the weight of the batch; the unbiased variance.
    check_running_statistics(BatchNorm2dConfig::torch(), 0.1, true);
}

#[test]
fn running_statistics_follow_keras() {
    // layers.BatchNormalization(): momentum=0.99 is the weight of the old value; the
    // biased variance (tf.nn.moments).
    check_running_statistics(BatchNorm2dConfig::default(), 0.01, false);
}

#[test]
fn inference_uses_the_running_statistics_and_leaves_them_alone() {
    let m = model(BatchNorm2dConfig::torch());
    for step in 0..2 {
        m.forward(&Var::constant(batch(step)), &mut ForwardContext::train(1))
            .unwrap();
    }
    let (mean, var) = (buffer(&m, "running_mean"), buffer(&m, "running_var"));
    let x = batch(5);
    let y = m
        .forward(&Var::constant(x.clone()), &mut ForwardContext::eval())
        .unwrap()
        .value()
        .to_vec();
    let s = SHAPE[2] * SHAPE[3];
    for (i, (&xi, &yi)) in x.to_vec().iter().zip(&y).enumerate() {
        let ch = (i / s) % 2;
        let expected = (xi - mean[ch]) / (var[ch] + 1e-5).sqrt();
        assert!(
            (yi - expected).abs() < 1e-12,
            "element {i}: {yi} vs {expected}"
        );
    }
    assert_eq!(buffer(&m, "running_mean"), mean);
    assert_eq!(buffer(&m, "running_var"), var);
}

#[test]
fn training_normalises_with_the_batch_statistics() {
    let m = model(BatchNorm2dConfig::default());
    let x = batch(0);
    let y = m
        .forward(&Var::constant(x.clone()), &mut ForwardContext::train(1))
        .unwrap()
        .value()
        .to_vec();
    let stats = channel_stats(&x);
    let s = SHAPE[2] * SHAPE[3];
    for (i, (&xi, &yi)) in x.to_vec().iter().zip(&y).enumerate() {
        let (mean, var, _) = stats[(i / s) % 2];
        let expected = (xi - mean) / (var + 1e-3).sqrt();
        assert!(
            (yi - expected).abs() < 1e-12,
            "element {i}: {yi} vs {expected}"
        );
    }
}

#[test]
fn bad_configurations_and_inputs_are_errors() {
    let bad = BatchNorm2dConfig {
        momentum: 1.5,
        ..BatchNorm2dConfig::default()
    };
    let e = Sequential::<f64>::builder(&[2, 2, 2])
        .add(bad)
        .build()
        .err()
        .unwrap();
    assert!(e.to_string().contains("momentum 1.5"), "{e}");
    let m = model(BatchNorm2dConfig::default());
    let wrong = Var::constant(Tensor::<f64>::zeros(&[1, 3, 2, 3]));
    let e = m
        .forward(&wrong, &mut ForwardContext::train(1))
        .unwrap_err();
    assert!(e.to_string().contains("[1, 3, 2, 3]"), "{e}");
}

#[test]
fn batch_norm1d_normalises_each_feature_over_the_batch() {
    use super::BatchNorm1dConfig;
    let m = Sequential::<f64>::builder(&[2])
        .add(BatchNorm1dConfig::keras())
        .build()
        .unwrap();
    // Feature 0: 1, 2, 3, 6 (mean 3, variance 3.5); feature 1: −4 four times.
    let x = Tensor::from_vec(vec![1.0, -4.0, 2.0, -4.0, 3.0, -4.0, 6.0, -4.0], &[4, 2]).unwrap();
    let y = m
        .forward(&Var::constant(x), &mut ForwardContext::train(1))
        .unwrap()
        .value()
        .to_vec();
    for (i, v) in [1.0, 2.0, 3.0, 6.0].iter().enumerate() {
        let expected = (v - 3.0) / (3.5f64 + 1e-3).sqrt();
        assert!((y[2 * i] - expected).abs() < 1e-12, "{y:?}");
        assert_eq!(y[2 * i + 1], 0.0);
    }
    let mean = buffer(&m, "running_mean");
    assert!(
        (mean[0] - 0.03).abs() < 1e-15 && (mean[1] + 0.04).abs() < 1e-15,
        "{mean:?}"
    );
    assert!((buffer(&m, "running_var")[0] - (0.99 + 0.01 * 3.5)).abs() < 1e-15);
    // Samples of rank 3 are BatchNorm2d's; a batch of the wrong rank is an error.
    assert!(Sequential::<f64>::builder(&[2, 3, 3])
        .add(BatchNorm1dConfig::pytorch())
        .build()
        .is_err());
    let wrong = Var::constant(Tensor::<f64>::zeros(&[4, 2, 3]));
    assert!(m.forward(&wrong, &mut ForwardContext::eval()).is_err());
}
