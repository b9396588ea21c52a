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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn convnet_loss_gradient_matches_finite_differences(
        inputs in shapes().into_iter().map(tensor).collect::<Vec<_>>(),
        labels in prop::collection::vec(0..3usize, 2),
    ) {
        // relu and max pool have kinks; inputs within eps of one are rare enough at this
        // size, and a failure would name the element.
        let report = check_gradients(
            |v| network(v, &labels), &inputs, 1e-6, Tolerance::new(1e-6, 1e-4))?;
        prop_assert!(report.passed(), "{}", report);
        prop_assert_eq!(report.checked, inputs.iter().map(Tensor::numel).sum::<usize>());
    }
}
