//! Every layer of the crate, built through the public API (`Sequential` of one layer),
//! with the gradients of its input and of each of its parameters checked against central
//! finite differences in `f64`, in training and in inference mode.
//!
//! The input gradient goes through [`check_gradients`]; a parameter's is checked the same
//! way by hand: each element is moved by ±eps with `Var::set_value` and the weighted output
//! re-evaluated.

mod common {
    pub mod scale_shift;
}

use common::scale_shift::ScaleShiftConfig;
use strata_autograd::{check_gradients, no_grad, Tolerance, Var};
use strata_layers::layer::{
    Activation, AvgPool2dConfig, BatchNorm1dConfig, BatchNorm2dConfig, Conv2dConfig,
    CustomLayerConfig, DenseConfig, Dropout2dConfig, DropoutConfig, FlattenConfig,
    GlobalAvgPool2dConfig, GlobalMaxPool2dConfig, LayerConfig, MaxPool2dConfig, Padding,
    ZeroPadding2dConfig,
};
use strata_layers::{ForwardContext, Sequential};
use strata_tensor::Tensor;

const EPS: f64 = 1e-6;
const BATCH: usize = 2;

/// Distinct values, none within 0.01 of 0 and no two within 1e-3 of each other, so that
/// relu's kink and max pooling's ties stay further than `EPS` away.
fn input(sample: &[usize]) -> Tensor<f64> {
    let shape: Vec<usize> = std::iter::once(BATCH)
        .chain(sample.iter().copied())
        .collect();
    let n: usize = shape.iter().product();
    let values = (0..n)
        .map(|i| {
            let v = ((i * 37 + 11) % n) as f64 / n as f64 * 4.0 - 2.0;
            if v.abs() < 0.01 {
                v + 0.02
            } else {
                v
            }
        })
        .collect();
    Tensor::from_vec(values, &shape).unwrap()
}

/// The same pseudo-random output weights for every evaluation.
fn weights(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    Tensor::from_vec(
        (0..n).map(|i| ((i * 13 + 5) as f64 * 0.77).sin()).collect(),
        shape,
    )
    .unwrap()
}

fn context(training: bool) -> ForwardContext {
    if training {
        ForwardContext::train(42)
    } else {
        ForwardContext::eval()
    }
}

/// Checks the input and parameter gradients of `layer` on samples of `sample` shape.
fn check_layer(layer: impl Into<LayerConfig>, sample: &[usize], training: bool) {
    let layer = layer.into();
    let model = Sequential::<f64>::builder(sample)
        .add(layer.clone())
        .build()
        .unwrap();
    let what = format!("{layer:?} (training: {training})");
    let x = input(sample);

    let report = check_gradients(
        |v| {
            model
                .forward(&v[0], &mut context(training))
                .map_err(|e| strata_autograd::AutogradError::invalid("forward", e.to_string()))
        },
        std::slice::from_ref(&x),
        EPS,
        Tolerance::default(),
    )
    .unwrap();
    assert!(report.passed(), "{what}: input gradient: {report}");
    assert!(report.checked > 0);

    let xv = Var::constant(x.clone());
    let out = model.forward(&xv, &mut context(training)).unwrap();
    let w = weights(out.shape());
    let grads = out.backward_with(&w).unwrap();
    let weighted = || -> f64 {
        let y = no_grad(|| model.forward(&xv, &mut context(training))).unwrap();
        y.value()
            .to_vec()
            .iter()
            .zip(w.to_vec())
            .map(|(a, b)| a * b)
            .sum()
    };
    for (name, p) in model.parameters() {
        let analytic = grads
            .get(&p)
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; p.value().numel()]);
        let base = p.value();
        let values = base.to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let mut moved = values.clone();
            moved[j] = values[j] + EPS;
            p.set_value(Tensor::from_vec(moved.clone(), base.shape()).unwrap())
                .unwrap();
            let up = weighted();
            moved[j] = values[j] - EPS;
            p.set_value(Tensor::from_vec(moved, base.shape()).unwrap())
                .unwrap();
            let down = weighted();
            p.set_value(base.clone()).unwrap();
            let numeric = (up - down) / (2.0 * EPS);
            assert!(
                (a - numeric).abs() <= 1e-6 + 1e-5 * numeric.abs(),
                "{what}: {name}[{j}]: analytic {a:e}, numeric {numeric:e}"
            );
        }
    }
}

/// Both modes.
fn check_both(layer: impl Into<LayerConfig>, sample: &[usize]) {
    let layer = layer.into();
    check_layer(layer.clone(), sample, true);
    check_layer(layer, sample, false);
}

#[test]
fn conv2d() {
    check_both(Conv2dConfig::new(3, 3), &[2, 5, 5]);
    check_both(
        Conv2dConfig::new(4, 3)
            .stride(2)
            .padding(Padding::Explicit {
                top: 1,
                bottom: 0,
                left: 2,
                right: 1,
            })
            .dilation(2)
            .groups(2)
            .activation(Activation::Tanh),
        &[2, 7, 6],
    );
    check_both(
        Conv2dConfig::new(2, 2)
            .padding(Padding::Same)
            .use_bias(false),
        &[3, 4, 5],
    );
}

#[test]
fn dense() {
    check_both(DenseConfig::new(3), &[5]);
    check_both(DenseConfig::new(4).activation(Activation::Softmax), &[3]);
}

#[test]
fn pooling() {
    check_both(MaxPool2dConfig::new(2), &[2, 4, 5]);
    check_both(
        MaxPool2dConfig::new(3).stride(2).padding(Padding::Same),
        &[1, 5, 6],
    );
    check_both(AvgPool2dConfig::new(2), &[2, 4, 5]);
    check_both(
        AvgPool2dConfig::new(3)
            .stride(2)
            .padding(Padding::uniform(1)),
        &[1, 5, 6],
    );
    check_both(GlobalAvgPool2dConfig::new(), &[3, 3, 2]);
    check_both(GlobalMaxPool2dConfig::new(), &[3, 3, 2]);
}

#[test]
fn shape_layers() {
    check_both(
        ZeroPadding2dConfig {
            top: 1,
            bottom: 0,
            left: 2,
            right: 1,
        },
        &[2, 3, 3],
    );
    check_both(FlattenConfig::new(), &[2, 3, 2]);
}

#[test]
fn dropout() {
    // Training draws the same mask in every evaluation (the same seed), so the function
    // being differentiated is fixed.
    check_both(DropoutConfig::new(0.4), &[3, 4]);
    check_both(Dropout2dConfig::new(0.5), &[4, 2, 3]);
}

#[test]
fn activations() {
    for a in [
        Activation::Linear,
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.2 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
    ] {
        check_both(a, &[3, 2]);
    }
}

#[test]
fn batch_norm() {
    check_both(BatchNorm2dConfig::default(), &[2, 3, 2]);
    check_both(BatchNorm2dConfig::torch(), &[3, 2, 2]);
    check_both(BatchNorm1dConfig::default(), &[3]);
    check_both(BatchNorm1dConfig::pytorch(), &[2, 4]);
}

#[test]
fn a_user_defined_layer() {
    let layer = CustomLayerConfig::new(&ScaleShiftConfig { initial_scale: 0.7 }).unwrap();
    check_both(layer.clone(), &[3, 2, 2]);
    check_both(layer, &[4]);
}
