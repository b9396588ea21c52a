//! End to end: the gradient of a cross-entropy loss through a small conv → pool → dense
//! network, with respect to every parameter, matches central finite differences.

use proptest::prelude::*;
use strata_autograd::testing::tensor;
use strata_autograd::{check_gradients, Result, Tolerance, Var};
use strata_tensor::conv::{Conv2dOptions, Padding2d};
use strata_tensor::pool::Pool2dOptions;
use strata_tensor::Tensor;

/// conv 2 → 3 (3×3, padding 1) relu → max pool 2 → conv 3 → 4 (2×2)
/// (padding 0 rows, 1 column) tanh → avg pool 2 → flatten → dense 8 → 3, on a batch of 2
/// images 2×6×6.
fn network(v: &[Var<f64>], labels: &[usize]) -> Result<Var<f64>> {
    let [x, w1, b1, w2, b2, w3, b3] = v else {
        unreachable!("seven inputs")
    };
    let conv1 = Conv2dOptions {
        padding: Padding2d::uniform(1),
        ..Conv2dOptions::default()
    };
    let conv2 = Conv2dOptions {
        padding: Padding2d::symmetric(0, 1),
        ..Conv2dOptions::default()
    };
    let h = x
        .conv2d(w1, Some(b1), &conv1)?
        .relu()
        .max_pool2d(&Pool2dOptions::new([2, 2]))?
        .conv2d(w2, Some(b2), &conv2)?
        .tanh()
        .avg_pool2d(&Pool2dOptions::new([2, 2]), true)?
        .flatten(1, 3)?;
    h.matmul(w3)?.add(b3)?.cross_entropy(labels)
}

fn shapes() -> Vec<Vec<usize>> {
    vec![
        vec![2, 2, 6, 6],
        vec![3, 2, 3, 3],
        vec![3],
        vec![4, 3, 2, 2],
        vec![4],
        vec![8, 3],
        vec![3],
    ]
}

/// Whether every pre-activation of the first convolution is at least `margin` from zero and
/// every 2×2 pooling window of its relu has a maximum at least `margin` above the runner-up
/// (or is all zero, where the gradient is zero on both sides).
fn clear_of_kinks(inputs: &[Tensor<f64>], margin: f64) -> Result<bool> {
    let v: Vec<Var<f64>> = inputs.iter().cloned().map(Var::constant).collect();
    let conv1 = Conv2dOptions {
        padding: Padding2d::uniform(1),
        ..Conv2dOptions::default()
    };
    let pre = v[0].conv2d(&v[1], Some(&v[2]), &conv1)?.value();
    if pre.to_vec().iter().any(|x| x.abs() < margin) {
        return Ok(false);
    }
    let shape = pre.shape().to_vec();
    let (h, w) = (shape[2], shape[3]);
    let values = pre.to_vec();
    for plane in values.chunks_exact(h * w) {
        for y in (0..h - 1).step_by(2) {
            for x in (0..w - 1).step_by(2) {
                let mut window = [
                    plane[y * w + x],
                    plane[y * w + x + 1],
                    plane[(y + 1) * w + x],
                    plane[(y + 1) * w + x + 1],
                ]
                .map(|p| p.max(0.0));
                window.sort_by(|a, b| b.total_cmp(a));
                if window[0] > 0.0 && window[0] - window[1] < margin {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn convnet_loss_gradient_matches_finite_differences(
        inputs in shapes().into_iter().map(tensor).collect::<Vec<_>>(),
        labels in prop::collection::vec(0..3usize, 2),
    ) {
        // Central differences are meaningless at relu's kink and at a max-pool tie: keep
        // only cases whose first-layer values are clear of both (rejecting, not hoping).
        prop_assume!(clear_of_kinks(&inputs, 1e-3)?);
        let report = check_gradients(
            |v| network(v, &labels), &inputs, 1e-6, Tolerance::new(1e-6, 1e-4))?;
        prop_assert!(report.passed(), "{}", report);
        prop_assert_eq!(report.checked, inputs.iter().map(Tensor::numel).sum::<usize>());
    }
}
