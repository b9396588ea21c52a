//! A differentiable op of your own: forward and backward in one `CustomOp`, used like a
//! built-in op and checked with `check_gradients`.
//!
//! `cargo run -p strata --example 03_custom_op`

use strata::autograd::{check_gradients, CustomOp, Tolerance, Var};
use strata::tensor::Tensor;

/// Mish: `x · tanh(softplus(x))`, with its derivative
/// `tanh(sp) + x · sigmoid(x) · (1 − tanh²(sp))` where `sp = ln(1 + eˣ)`.
struct Mish;

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl CustomOp<f64> for Mish {
    fn name(&self) -> &'static str {
        "mish"
    }

    fn forward(&self, inputs: &[&Tensor<f64>]) -> strata::autograd::Result<Tensor<f64>> {
        Ok(inputs[0].map(|x| x * softplus(x).tanh()))
    }

    fn backward(
        &self,
        inputs: &[&Tensor<f64>],
        _output: &Tensor<f64>,
        grad: &Tensor<f64>,
    ) -> strata::autograd::Result<Vec<Option<Tensor<f64>>>> {
        let derivative = inputs[0].map(|x| {
            let t = softplus(x).tanh();
            let sigmoid = 1.0 / (1.0 + (-x).exp());
            t + x * sigmoid * (1.0 - t * t)
        });
        Ok(vec![Some(grad.mul(&derivative)?)])
    }
}

fn main() -> strata::Result<()> {
    let x = Var::parameter(Tensor::<f64>::from_vec(
        vec![-2.0, -0.5, 0.0, 0.7, 3.0],
        &[5],
    )?);
    let y = Var::apply(Mish, &[&x])?;
    let grads = y.sum_all()?.backward()?;
    println!("mish(x) = {:?}", y.value().to_vec());
    println!(
        "dmish/dx = {:?}",
        grads.get(&x).expect("x is a parameter").to_vec()
    );

    let report = check_gradients(
        |v| Var::apply(Mish, &[&v[0]]),
        &[x.value()],
        1e-6,
        Tolerance::default(),
    )?;
    println!("{report}");
    assert!(report.passed());
    Ok(())
}
