//! The backward rules let a NaN through wherever PyTorch's do: a NaN in the upstream
//! gradient reaches every input gradient that reads it, and a NaN input makes the loss and
//! the gradients of the parameters it touches NaN (so a divergence is seen, not masked).

use proptest::prelude::*;
use strata_autograd::{Result, Var};
use strata_tensor::conv::{Conv2dOptions, Padding2d};
use strata_tensor::pool::Pool2dOptions;
use strata_tensor::Tensor;

/// Finite values of `[2, 2, 4, 4]`, away from relu's kink.
fn finite() -> impl Strategy<Value = Tensor<f64>> {
    prop::collection::vec((0.1..2.0f64, any::<bool>()), 64).prop_map(|v| {
        let v = v
            .into_iter()
            .map(|(x, neg)| if neg { -x } else { x })
            .collect();
        Tensor::from_vec(v, &[2, 2, 4, 4]).unwrap()
    })
}

type Op = fn(&Var<f64>) -> Result<Var<f64>>;

/// Element-wise ops: a NaN upstream at position i reaches the input gradient at i (for relu
/// only where the unit is active, as PyTorch's `threshold_backward`, or everywhere: ours
/// multiplies by the 0/1 mask, so NaN·0 stays NaN).
fn element_wise() -> Vec<(&'static str, Op)> {
    vec![
        ("relu", |v| Ok(v.relu())),
        ("leaky_relu", |v| Ok(v.leaky_relu(0.1))),
        ("sigmoid", |v| Ok(v.sigmoid())),
        ("tanh", |v| Ok(v.tanh())),
        ("exp", |v| Ok(v.exp())),
        ("square", |v| Ok(v.square())),
        ("mul_scalar", |v| Ok(v.mul_scalar(2.0))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_nan_upstream_gradient_reaches_the_input(x in finite(), at in 0usize..64) {
        let mut upstream = vec![1.0; 64];
        upstream[at] = f64::NAN;
        let upstream = Tensor::from_vec(upstream, &[2, 2, 4, 4]).unwrap();
        for (name, op) in element_wise() {
            let v = Var::parameter(x.clone());
            let grads = op(&v).unwrap().backward_with(&upstream).unwrap();
            let g = grads.get(&v).unwrap().to_vec();
            prop_assert!(g[at].is_nan(), "{name}: gradient {} at the NaN", g[at]);
        }
        // Dense rules: the NaN reaches the whole run (softmax) or every input read.
        let v = Var::parameter(x.clone());
        for axis in 0..4 {
            for (name, out) in [("softmax", v.softmax(axis).unwrap()), ("log_softmax", v.log_softmax(axis).unwrap())] {
                let g = out.backward_with(&upstream).unwrap().get(&v).unwrap().to_vec();
                prop_assert!(g[at].is_nan(), "{name} along {axis}");
            }
        }
        let w = Var::parameter(Tensor::from_vec((0..36).map(|i| f64::from(i % 5) - 2.0).collect(), &[2, 2, 3, 3]).unwrap());
        let params = Conv2dOptions { padding: Padding2d::uniform(1), ..Conv2dOptions::default() };
        let out = v.conv2d(&w, None, &params).unwrap();
        let grads = out.backward_with(&upstream).unwrap();
        prop_assert!(grads.get(&w).unwrap().to_vec().iter().any(|g| g.is_nan()), "conv2d weight");
        prop_assert!(grads.get(&v).unwrap().to_vec().iter().any(|g| g.is_nan()), "conv2d input");
    }

    #[test]
    fn a_nan_input_gives_a_nan_loss_and_nan_gradients(x in finite(), at in 0usize..64) {
        let mut values = x.to_vec();
        values[at] = f64::NAN;
        let input = Var::constant(Tensor::from_vec(values, &[2, 2, 4, 4]).unwrap());
        let w = Var::parameter(Tensor::from_vec((0..36).map(|i| f64::from(i % 7) * 0.1 - 0.3).collect(), &[2, 2, 3, 3]).unwrap());
        let dense = Var::parameter(Tensor::from_vec((0..24).map(|i| f64::from(i % 5) * 0.1).collect(), &[8, 3]).unwrap());
        let params = Conv2dOptions { padding: Padding2d::uniform(1), ..Conv2dOptions::default() };
        let loss = input
            .conv2d_relu(&w, None, &params).unwrap()
            .max_pool2d(&Pool2dOptions::new([2, 2])).unwrap()
            .flatten(1, 3).unwrap()
            .matmul(&dense).unwrap()
            .cross_entropy(&[0, 2]).unwrap();
        prop_assert!(loss.value().to_vec()[0].is_nan(), "loss {:?}", loss.value().to_vec());
        let grads = loss.backward().unwrap();
        prop_assert!(grads.get(&w).unwrap().to_vec().iter().any(|g| g.is_nan()), "conv weight gradient");
        prop_assert!(grads.get(&dense).unwrap().to_vec().iter().any(|g| g.is_nan()), "dense gradient");
    }
}

#[test]
fn relu_passes_the_gradient_at_a_nan_input_as_pytorch() {
    // torch.relu backward is threshold_backward(grad, result, 0): `result <= 0 ? 0 : grad`,
    // and NaN <= 0 is false.
    let x = Var::parameter(Tensor::<f64>::from_vec(vec![f64::NAN, -1.0, 2.0], &[3]).unwrap());
    let g = x.relu().sum_all().unwrap().backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec(), vec![1.0, 0.0, 1.0]);
    // A max over a run holding a NaN sends the gradient to the NaN (torch.max picks it).
    let m = Var::parameter(Tensor::<f64>::from_vec(vec![1.0, f64::NAN, 3.0], &[1, 3]).unwrap());
    let g = m
        .max(1, false)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(g.get(&m).unwrap().to_vec(), vec![0.0, 1.0, 0.0]);
}
