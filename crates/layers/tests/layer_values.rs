//! The values of the layers that have no kernel of their own to test: Dropout2d (whole
//! channels dropped, the rest scaled), ZeroPadding2d (where every value goes) and each
//! activation layer, against formulas written out here, through the public API.

use strata_autograd::Var;
use strata_layers::layer::{Activation, Dropout2dConfig, LayerConfig, ZeroPadding2dConfig};
use strata_layers::{ForwardContext, Sequential};
use strata_tensor::Tensor;

fn one_layer(layer: impl Into<LayerConfig>, sample: &[usize]) -> Sequential<f64> {
    Sequential::<f64>::builder(sample)
        .add(layer)
        .build()
        .unwrap()
}

#[test]
fn dropout2d_drops_whole_channels_and_scales_the_rest() {
    let (n, c, h, w) = (8, 16, 3, 3);
    let model = one_layer(Dropout2dConfig::new(0.25), &[c, h, w]);
    let x = Var::parameter(Tensor::<f64>::ones(&[n, c, h, w]));
    let y = model.forward(&x, &mut ForwardContext::train(3)).unwrap();
    let values = y.value().to_vec();
    let mut dropped = 0;
    for plane in values.chunks(h * w) {
        // Every plane is all zero or all 1 / (1 − rate).
        let first = plane[0];
        assert!(
            plane.iter().all(|&v| v == first),
            "a plane mixed kept and dropped values: {plane:?}"
        );
        if first == 0.0 {
            dropped += 1;
        } else {
            assert!((first - 1.0 / 0.75).abs() < 1e-15, "kept value {first}");
        }
    }
    // 128 planes, each dropped with probability 1/4: 32 expected, σ ≈ 4.9.
    assert!(
        (12..=52).contains(&dropped),
        "{dropped} of 128 planes dropped"
    );
    // The gradient is the same mask.
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), values);
    // Another seed, another mask; the same seed, the same mask.
    let again = model.forward(&x, &mut ForwardContext::train(3)).unwrap();
    assert_eq!(again.value().to_vec(), values);
    let other = model.forward(&x, &mut ForwardContext::train(4)).unwrap();
    assert_ne!(other.value().to_vec(), values);
    // Inference and rate 0: the identity.
    let eval = model.forward(&x, &mut ForwardContext::eval()).unwrap();
    assert_eq!(eval.value().to_vec(), vec![1.0; n * c * h * w]);
    let none = one_layer(Dropout2dConfig::new(0.0), &[c, h, w]);
    let kept = none.forward(&x, &mut ForwardContext::train(3)).unwrap();
    assert_eq!(kept.value().to_vec(), vec![1.0; n * c * h * w]);
}

#[test]
fn dropout2d_rejects_bad_rates_and_shapes() {
    for rate in [-0.1, 1.0, f64::NAN] {
        let built = Sequential::<f64>::builder(&[2, 3, 3])
            .add(Dropout2dConfig::new(rate))
            .build();
        assert!(built.is_err(), "rate {rate} accepted");
    }
    let module = Dropout2dConfig::new(0.5).build().unwrap();
    let flat = Var::constant(Tensor::<f64>::ones(&[2, 6]));
    let e = strata_layers::Module::<f64>::forward(&module, &flat, &mut ForwardContext::train(1));
    assert!(e.unwrap_err().to_string().contains("[2, 6]"));
}

#[test]
fn zero_padding2d_places_every_value() {
    let (top, bottom, left, right) = (1, 2, 0, 3);
    let model = one_layer(
        ZeroPadding2dConfig {
            top,
            bottom,
            left,
            right,
        },
        &[2, 2, 3],
    );
    assert_eq!(model.output_shape(), &[2, 5, 6]);
    let x: Vec<f64> = (1..=24).map(f64::from).collect();
    let y = model
        .forward(
            &Var::constant(Tensor::from_vec(x.clone(), &[2, 2, 2, 3]).unwrap()),
            &mut ForwardContext::eval(),
        )
        .unwrap();
    assert_eq!(y.shape(), &[2, 2, 5, 6]);
    let y = y.value().to_vec();
    for plane in 0..4 {
        for r in 0..5 {
            for c in 0..6 {
                let got = y[(plane * 5 + r) * 6 + c];
                let inside = (top..top + 2).contains(&r) && (left..left + 3).contains(&c);
                let expected = if inside {
                    x[(plane * 2 + r - top) * 3 + c - left]
                } else {
                    0.0
                };
                assert_eq!(got, expected, "plane {plane} row {r} col {c}");
            }
        }
    }
}

/// Values from −30 to 30 (and 0) in a `[2, 3, 2]` batch.
fn wide_input() -> Vec<f64> {
    vec![
        -30.0, -4.0, -1.0, -0.25, 0.0, 0.25, 1.0, 4.0, 30.0, 0.5, -0.5, 2.0,
    ]
}

#[test]
fn each_activation_layer_computes_its_formula() {
    let x = wide_input();
    let input = Var::constant(Tensor::from_vec(x.clone(), &[2, 3, 2]).unwrap());
    type Formula = Box<dyn Fn(f64) -> f64>;
    let cases: Vec<(Activation, Formula)> = vec![
        (Activation::Linear, Box::new(|v| v)),
        (Activation::Relu, Box::new(|v: f64| v.max(0.0))),
        (
            Activation::LeakyRelu { slope: 0.3 },
            Box::new(|v| if v > 0.0 { v } else { 0.3 * v }),
        ),
        (
            Activation::Sigmoid,
            Box::new(|v: f64| 1.0 / (1.0 + (-v).exp())),
        ),
        (Activation::Tanh, Box::new(f64::tanh)),
    ];
    for (activation, f) in cases {
        let model = one_layer(activation, &[3, 2]);
        let y = model
            .forward(&input, &mut ForwardContext::eval())
            .unwrap()
            .value()
            .to_vec();
        for (&xi, &yi) in x.iter().zip(&y) {
            let expected = f(xi);
            assert!(
                (yi - expected).abs() <= 1e-15 * (1.0 + expected.abs()),
                "{activation:?}({xi}) = {yi}, expected {expected}"
            );
        }
    }
}

#[test]
fn softmax_layer_normalises_over_axis_1() {
    let x = wide_input();
    let model = one_layer(Activation::Softmax, &[3, 2]);
    let input = Var::constant(Tensor::from_vec(x.clone(), &[2, 3, 2]).unwrap());
    let y = model
        .forward(&input, &mut ForwardContext::eval())
        .unwrap()
        .value()
        .to_vec();
    // Index [n, c, k] = (n·3 + c)·2 + k; softmax over c for each (n, k).
    for n in 0..2 {
        for k in 0..2 {
            let at = |c: usize| (n * 3 + c) * 2 + k;
            let max = (0..3).map(|c| x[at(c)]).fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = (0..3).map(|c| (x[at(c)] - max).exp()).sum();
            for c in 0..3 {
                let expected = (x[at(c)] - max).exp() / total;
                assert!(
                    (y[at(c)] - expected).abs() < 1e-15,
                    "[{n}, {c}, {k}]: {} vs {expected}",
                    y[at(c)]
                );
            }
        }
    }
}

#[test]
fn leaky_relu_rejects_a_non_finite_slope() {
    let built = Sequential::<f64>::builder(&[3])
        .add(Activation::LeakyRelu { slope: f64::NAN })
        .build();
    assert!(built.err().unwrap().to_string().contains("slope"));
}
