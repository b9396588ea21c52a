//! A NaN input gives a NaN output wherever IEEE arithmetic and PyTorch give one: in every
//! element-wise op at its position, in every reduction, softmax and pooling window that
//! covers it, and in every matmul and convolution output that reads it. Inputs also hold
//! infinities, so that a NaN beside `inf` or `-inf` (where a NaN-skipping `max` would
//! decide) is covered.

use proptest::prelude::*;
use strata_tensor::conv::{conv2d, conv2d_relu, Conv2dOptions, Padding2d};
use strata_tensor::pool::{avg_pool2d, max_pool2d, Pool2dOptions};
use strata_tensor::Tensor;

/// Values of `[2, 3, 4, 4]`: finite, infinite, and at least one NaN.
fn with_nans() -> impl Strategy<Value = Tensor<f64>> {
    let n = 2 * 3 * 4 * 4;
    let value = prop_oneof![
        8 => -3.0..3.0f64,
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::NAN),
    ];
    (prop::collection::vec(value, n), 0..n).prop_map(move |(mut v, at)| {
        v[at] = f64::NAN;
        Tensor::from_vec(v, &[2, 3, 4, 4]).unwrap()
    })
}

/// Row-major index of `[n, c, y, x]` in `[2, 3, 4, 4]`.
fn at(n: usize, c: usize, y: usize, x: usize) -> usize {
    ((n * 3 + c) * 4 + y) * 4 + x
}

fn nan_positions(t: &Tensor<f64>) -> Vec<bool> {
    t.to_vec().iter().map(|v| v.is_nan()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn element_wise_ops_keep_nan_in_place(x in with_nans()) {
        let nan = nan_positions(&x);
        let outputs = [
            ("relu", x.relu()),
            ("leaky_relu", x.leaky_relu(0.1)),
            ("sigmoid", x.sigmoid()),
            ("tanh", x.tanh()),
            ("exp", x.exp()),
            ("abs", x.abs()),
            ("neg", x.neg()),
            ("signum", x.signum()),
            ("clamp", x.clamp(-1.0, 1.0).unwrap()),
            ("maximum", x.maximum(&Tensor::zeros(&[1])).unwrap()),
            ("minimum", x.minimum(&Tensor::zeros(&[1])).unwrap()),
            ("mul_scalar", x.mul_scalar(0.0)),
        ];
        for (name, out) in outputs {
            for (i, v) in out.to_vec().iter().enumerate() {
                if nan[i] {
                    prop_assert!(v.is_nan(), "{name} turned NaN at {i} into {v}");
                }
            }
        }
    }

    #[test]
    fn reductions_and_softmax_over_a_nan_are_nan(x in with_nans(), axis in 0usize..4) {
        let shape = x.shape().to_vec();
        let values = x.to_vec();
        // For each output position (the input's index with `axis` set to 0), whether its
        // run along `axis` holds a NaN.
        let strides = [48usize, 16, 4, 1];
        let run_has_nan = |i: usize| {
            let base = i - (i / strides[axis] % shape[axis]) * strides[axis];
            (0..shape[axis]).any(|k| values[base + k * strides[axis]].is_nan())
        };
        let reduced_index = |i: usize| {
            // The position of input `i` in the keep-dims reduction.
            let mut idx = [i / 48, i / 16 % 3, i / 4 % 4, i % 4];
            idx[axis] = 0;
            let dims: Vec<usize> = (0..4).map(|a| if a == axis { 1 } else { shape[a] }).collect();
            ((idx[0] * dims[1] + idx[1]) * dims[2] + idx[2]) * dims[3] + idx[3]
        };
        let reductions = [
            ("sum", x.sum_axes(&[axis], true).unwrap()),
            ("mean", x.mean_axes(&[axis], true).unwrap()),
            ("max", x.max_axes(&[axis], true).unwrap()),
            ("min", x.min_axes(&[axis], true).unwrap()),
            ("log_sum_exp", x.log_sum_exp(axis, true).unwrap()),
        ];
        for (name, out) in &reductions {
            let out = out.to_vec();
            for i in 0..values.len() {
                if run_has_nan(i) {
                    prop_assert!(out[reduced_index(i)].is_nan(), "{name} over axis {axis} skipped a NaN");
                }
            }
        }
        for (name, out) in [("softmax", x.softmax(axis).unwrap()), ("log_softmax", x.log_softmax(axis).unwrap())] {
            for (i, v) in out.to_vec().iter().enumerate() {
                if run_has_nan(i) {
                    prop_assert!(v.is_nan(), "{name} along {axis}: {v} at {i} beside a NaN");
                }
            }
        }
    }

    #[test]
    fn pooling_windows_over_a_nan_are_nan(x in with_nans()) {
        let values = x.to_vec();
        let params = Pool2dOptions::new([2, 2]);
        for (name, out) in [
            ("max_pool2d", max_pool2d(&x, &params).unwrap()),
            ("avg_pool2d", avg_pool2d(&x, &params, true).unwrap()),
        ] {
            let out = out.to_vec();
            for n in 0..2 { for c in 0..3 { for y in 0..2 { for xx in 0..2 {
                let window = (0..2).any(|dy| (0..2).any(|dx| values[at(n, c, 2 * y + dy, 2 * xx + dx)].is_nan()));
                let o = out[((n * 3 + c) * 2 + y) * 2 + xx];
                if window {
                    prop_assert!(o.is_nan(), "{name} window ({n},{c},{y},{xx}) gave {o}");
                }
            }}}}
        }
    }

    #[test]
    fn matmul_and_convolution_outputs_that_read_a_nan_are_nan(x in with_nans(), w in prop::collection::vec(-1.0..1.0f64, 2 * 3 * 9)) {
        let values = x.to_vec();
        // [96 / 16 = 6, 16] rows times a finite [16, 5] matrix (zeros included).
        let a = x.reshape(&[6, 16]).unwrap();
        let b = Tensor::from_vec((0..80).map(|i| f64::from(i % 3) - 1.0).collect(), &[16, 5]).unwrap();
        let product = a.matmul(&b).unwrap().to_vec();
        for row in 0..6 {
            if values[row * 16..(row + 1) * 16].iter().any(|v| v.is_nan()) {
                prop_assert!(product[row * 5..(row + 1) * 5].iter().all(|v| v.is_nan()), "matmul row {row}");
            }
        }
        let weight = Tensor::from_vec(w, &[2, 3, 3, 3]).unwrap();
        let params = Conv2dOptions { padding: Padding2d::uniform(1), ..Conv2dOptions::default() };
        for (name, out) in [
            ("conv2d", conv2d(&x, &weight, None, &params).unwrap()),
            ("conv2d_relu", conv2d_relu(&x, &weight, None, &params).unwrap()),
        ] {
            let out = out.to_vec();
            for n in 0..2 { for o in 0..2 { for y in 0..4 { for xx in 0..4 {
                let reads_nan = (0..3).any(|c| (0..3).any(|dy| (0..3).any(|dx| {
                    let (iy, ix) = (y + dy, xx + dx);
                    (1..=4).contains(&iy) && (1..=4).contains(&ix) && values[at(n, c, iy - 1, ix - 1)].is_nan()
                })));
                let v = out[((n * 2 + o) * 4 + y) * 4 + xx];
                if reads_nan {
                    prop_assert!(v.is_nan(), "{name} output ({n},{o},{y},{xx}) = {v}");
                }
            }}}}
        }
    }
}

#[test]
fn clamp_keeps_nan_and_log_sum_exp_sees_it_beside_infinity() {
    let x = Tensor::<f32>::from_vec(vec![f32::NAN, -5.0, 5.0], &[3]).unwrap();
    let c = x.clamp(-1.0, 1.0).unwrap().to_vec();
    assert!(c[0].is_nan(), "clamp gave {}", c[0]);
    assert_eq!(&c[1..], &[-1.0, 1.0]);
    for other in [f64::INFINITY, f64::NEG_INFINITY] {
        let t = Tensor::<f64>::from_vec(vec![f64::NAN, other], &[2]).unwrap();
        assert!(
            t.log_sum_exp(0, false).unwrap().to_vec()[0].is_nan(),
            "beside {other}"
        );
        assert!(t
            .log_softmax(0)
            .unwrap()
            .to_vec()
            .iter()
            .all(|v| v.is_nan()));
    }
}
