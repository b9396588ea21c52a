//! Parity with PyTorch: convolutions (asymmetric padding, stride, dilation, groups),
//! pooling with padding, dilation and `ceil_mode`, every loss, BatchNorm2d and BatchNorm1d
//! in training and inference, and a whole small model's loss and gradients, against
//! `fixtures/torch_parity.safetensors` (written by `fixtures/torch_parity.py`, whose top
//! comment says how to regenerate it). No Python runs here.
//!
//! Every case runs in `f64` and in `f32` from the same inputs (which the script rounds to
//! `f32` values, so that the `f32` run measures only its own arithmetic). A result passes
//! when its largest difference from PyTorch's is within the tolerance times the largest
//! magnitude of PyTorch's tensor: [`F64_TOLERANCE`] and [`F32_TOLERANCE`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use strata_autograd::Var;
use strata_layers::io::load_tensors;
use strata_layers::layer::{
    Activation, BatchNorm1dConfig, BatchNorm2dConfig, Conv2dConfig, DenseConfig, FlattenConfig,
    MaxPool2dConfig, Padding,
};
use strata_layers::loss::Loss;
use strata_layers::{ForwardContext, Sequential, Targets};
use strata_tensor::conv::{Conv2dOptions, Padding2d};
use strata_tensor::pool::Pool2dOptions;
use strata_tensor::{Element, Tensor};

/// f64 results agree with PyTorch's float64 to this, relative to the tensor's scale (worst
/// measured: 8.2e-16, the small model's dense weight gradient).
const F64_TOLERANCE: f64 = 1e-13;
/// f32 results agree with PyTorch's float64 to this (worst measured: 3.6e-7, the small
/// model's convolution bias gradient; most are below 2e-7).
const F32_TOLERANCE: f64 = 2e-6;

type Fixture<T> = BTreeMap<String, Tensor<T>>;

fn fixture<T: Element>() -> Fixture<T> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_parity.safetensors");
    load_tensors::<T>(&path).unwrap().0
}

fn tolerance<T: Element>() -> f64 {
    if T::NAME == "f64" {
        F64_TOLERANCE
    } else {
        F32_TOLERANCE
    }
}

/// Asserts that `ours` matches PyTorch's `theirs` (same shape), relative to the largest
/// magnitude of `theirs`, and returns the relative error.
fn assert_close<T: Element>(what: &str, ours: &Tensor<T>, theirs: &Tensor<f64>) -> f64 {
    let scale = theirs.to_vec().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close_at(what, ours, theirs, scale)
}

/// [`assert_close`] relative to a given `scale`.
fn assert_close_at<T: Element>(
    what: &str,
    ours: &Tensor<T>,
    theirs: &Tensor<f64>,
    scale: f64,
) -> f64 {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shape");
    let (a, b) = (ours.to_vec(), theirs.to_vec());
    let scale = scale.max(1e-300);
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x.to_f64().unwrap_or(f64::NAN) - y).abs())
        .fold(0.0f64, |m, d| if d.is_nan() || d > m { d } else { m });
    let rel = worst / scale;
    println!(
        "{} {what}: largest difference {rel:.2e} of scale {scale:.2e}",
        T::NAME
    );
    assert!(
        rel <= tolerance::<T>(),
        "{} {what}: {rel:e} > {:e}",
        T::NAME,
        tolerance::<T>()
    );
    rel
}

fn ints(t: &Tensor<f64>) -> Vec<usize> {
    t.to_vec().iter().map(|&v| v as usize).collect()
}

fn grad<T: Element>(loss: &Var<T>, of: &Var<T>, gy: Option<&Tensor<T>>) -> Tensor<T> {
    let grads = match gy {
        Some(gy) => loss.backward_with(gy).unwrap(),
        None => loss.backward().unwrap(),
    };
    grads.get(of).unwrap().clone()
}

fn convolutions<T: Element>() {
    let (ours, theirs) = (fixture::<T>(), fixture::<f64>());
    for case in ["conv_asym", "conv_depthwise", "conv_dilated"] {
        let k = |name: &str| format!("{case}.{name}");
        let o = ints(&theirs[&k("options")]);
        let options = Conv2dOptions {
            stride: [o[0], o[1]],
            dilation: [o[2], o[3]],
            groups: o[4],
            padding: Padding2d {
                top: o[5],
                bottom: o[6],
                left: o[7],
                right: o[8],
            },
        };
        let x = Var::parameter(ours[&k("x")].clone());
        let w = Var::parameter(ours[&k("w")].clone());
        let b = Var::parameter(ours[&k("b")].clone());
        let y = x.conv2d(&w, Some(&b), &options).unwrap();
        assert_close(&k("y"), &y.value(), &theirs[&k("y")]);
        let grads = y.backward_with(&ours[&k("gy")]).unwrap();
        assert_close(&k("dx"), grads.get(&x).unwrap(), &theirs[&k("dx")]);
        assert_close(&k("dw"), grads.get(&w).unwrap(), &theirs[&k("dw")]);
        assert_close(&k("db"), grads.get(&b).unwrap(), &theirs[&k("db")]);
    }
}

fn pooling<T: Element>() {
    let (ours, theirs) = (fixture::<T>(), fixture::<f64>());
    for case in [
        "max_pool_pad",
        "max_pool_rect",
        "avg_pool_pad_counted",
        "avg_pool_pad_uncounted",
        "max_pool_ceil",
        "max_pool_dilated",
        "max_pool_dilated_ceil",
        "avg_pool_ceil_counted",
        "avg_pool_ceil_uncounted",
    ] {
        let k = |name: &str| format!("{case}.{name}");
        let o = ints(&theirs[&k("options")]);
        let options = Pool2dOptions {
            kernel: [o[0], o[1]],
            stride: [o[2], o[3]],
            padding: Padding2d {
                top: o[4],
                bottom: o[4],
                left: o[5],
                right: o[5],
            },
            dilation: [o[6], o[7]],
            ceil_mode: o[8] == 1,
        };
        let x = Var::parameter(ours[&k("x")].clone());
        let y = match case {
            "avg_pool_pad_counted" | "avg_pool_ceil_counted" => x.avg_pool2d(&options, true),
            "avg_pool_pad_uncounted" | "avg_pool_ceil_uncounted" => x.avg_pool2d(&options, false),
            _ => x.max_pool2d(&options),
        }
        .unwrap();
        assert_close(&k("y"), &y.value(), &theirs[&k("y")]);
        assert_close(
            &k("dx"),
            &grad(&y, &x, Some(&ours[&k("gy")])),
            &theirs[&k("dx")],
        );
    }
}

fn losses<T: Element>() {
    let (ours, theirs) = (fixture::<T>(), fixture::<f64>());
    let cases = [
        (
            "ce_labels",
            Loss::SparseCategoricalCrossentropy { from_logits: true },
        ),
        (
            "ce_large",
            Loss::SparseCategoricalCrossentropy { from_logits: true },
        ),
        (
            "ce_from_probs",
            Loss::SparseCategoricalCrossentropy { from_logits: false },
        ),
        (
            "ce_probs",
            Loss::CategoricalCrossentropy { from_logits: true },
        ),
        ("bce_logits", Loss::BinaryCrossentropy { from_logits: true }),
        ("bce_probs", Loss::BinaryCrossentropy { from_logits: false }),
        ("mse", Loss::MeanSquaredError),
    ];
    for (case, loss) in cases {
        let k = |name: &str| format!("{case}.{name}");
        let x = Var::parameter(ours[&k("x")].clone());
        let targets = if loss.takes_labels() {
            Targets::Labels(ints(&theirs[&k("labels")]))
        } else {
            Targets::Dense(ours[&k("t")].clone())
        };
        let l = loss.compute(&x, &targets).unwrap();
        assert_close(&k("loss"), &l.value(), &theirs[&k("loss")]);
        assert_close(&k("dx"), &grad(&l, &x, None), &theirs[&k("dx")]);
    }
}

fn batch_norm<T: Element>() {
    let model = Sequential::<T>::builder(&[3, 3, 2])
        .add(BatchNorm2dConfig::torch())
        .build()
        .unwrap();
    batch_norm_case("batch_norm", &model);
    let model = Sequential::<T>::builder(&[4])
        .add(BatchNorm1dConfig::pytorch())
        .build()
        .unwrap();
    batch_norm_case("batch_norm1d_2", &model);
    let model = Sequential::<T>::builder(&[2, 5])
        .add(BatchNorm1dConfig::pytorch())
        .build()
        .unwrap();
    batch_norm_case("batch_norm1d_3", &model);
}

/// One batch-norm layer's training step and inference against the fixture's `case`.
fn batch_norm_case<T: Element>(case: &str, model: &Sequential<T>) {
    let (ours, theirs) = (fixture::<T>(), fixture::<f64>());
    let k = |name: &str| format!("{case}.{name}");
    let mut state = model.state_dict();
    state.insert(
        "batch_normalization.weight".into(),
        ours[&k("weight")].clone(),
    );
    state.insert("batch_normalization.bias".into(), ours[&k("bias")].clone());
    model
        .load_state_dict(state, "torch_parity.safetensors")
        .unwrap();
    let x = Var::parameter(ours[&k("x")].clone());
    let y = model.forward(&x, &mut ForwardContext::train(0)).unwrap();
    assert_close(&k("y"), &y.value(), &theirs[&k("y")]);
    let grads = y.backward_with(&ours[&k("gy")]).unwrap();
    assert_close(&k("dx"), grads.get(&x).unwrap(), &theirs[&k("dx")]);
    let params: BTreeMap<String, Var<T>> = model.parameters().into_iter().collect();
    assert_close(
        &k("dweight"),
        grads.get(&params["batch_normalization.weight"]).unwrap(),
        &theirs[&k("dweight")],
    );
    assert_close(
        &k("dbias"),
        grads.get(&params["batch_normalization.bias"]).unwrap(),
        &theirs[&k("dbias")],
    );
    let state = model.state_dict();
    assert_close(
        &k("running_mean"),
        &state["batch_normalization.running_mean"],
        &theirs[&k("running_mean")],
    );
    assert_close(
        &k("running_var"),
        &state["batch_normalization.running_var"],
        &theirs[&k("running_var")],
    );
    let y_eval = model
        .forward(
            &Var::constant(ours[&k("x_eval")].clone()),
            &mut ForwardContext::eval(),
        )
        .unwrap();
    assert_close(&k("y_eval"), &y_eval.value(), &theirs[&k("y_eval")]);
}

fn small_model<T: Element>() {
    let (ours, theirs) = (fixture::<T>(), fixture::<f64>());
    let model = Sequential::<T>::builder(&[2, 6, 6])
        .add(Conv2dConfig::new(4, 3).padding(Padding::uniform(1)))
        .add(Activation::Relu)
        .add(MaxPool2dConfig::new(2))
        .add(BatchNorm2dConfig::torch())
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3))
        .build()
        .unwrap();
    let state = model
        .state_dict()
        .into_keys()
        .map(|name| {
            let value = ours[&format!("model.{name}")].clone();
            (name, value)
        })
        .collect();
    model
        .load_state_dict(state, "torch_parity.safetensors")
        .unwrap();
    let x = Var::constant(ours["model.x"].clone());
    let logits = model.forward(&x, &mut ForwardContext::train(0)).unwrap();
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true }
        .compute(&logits, &Targets::Labels(ints(&theirs["model.labels"])))
        .unwrap();
    assert_close("model.loss", &loss.value(), &theirs["model.loss"]);
    let grads = loss.backward().unwrap();
    let params = model.parameters();
    assert_eq!(params.len(), 6);
    // The gradients are compared at the scale of the largest of them: the convolution's
    // bias gradient, which batch norm all but cancels (its terms are of the weight
    // gradient's size, their sum a hundred times smaller), cannot be more accurate than
    // its terms in either framework.
    let theirs_of = |name: &str| &theirs[&format!("model.grad.{name}")];
    let scale = params
        .iter()
        .flat_map(|(name, _)| theirs_of(name).to_vec())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    for (name, p) in &params {
        assert_close_at(
            &format!("model.grad.{name}"),
            grads.get(p).unwrap(),
            theirs_of(name),
            scale,
        );
    }
    for (name, value) in model.state_dict() {
        if name.contains("running") {
            assert_close(&name, &value, &theirs[&format!("model.after.{name}")]);
        }
    }
}

#[test]
fn convolutions_f64() {
    convolutions::<f64>();
}

#[test]
fn convolutions_f32() {
    convolutions::<f32>();
}

#[test]
fn pooling_f64() {
    pooling::<f64>();
}

#[test]
fn pooling_f32() {
    pooling::<f32>();
}

#[test]
fn losses_f64() {
    losses::<f64>();
}

#[test]
fn losses_f32() {
    losses::<f32>();
}

#[test]
fn batch_norm_f64() {
    batch_norm::<f64>();
}

#[test]
fn batch_norm_f32() {
    batch_norm::<f32>();
}

#[test]
fn small_model_f64() {
    small_model::<f64>();
}

#[test]
fn small_model_f32() {
    small_model::<f32>();
}
