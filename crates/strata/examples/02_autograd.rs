//! Reverse-mode differentiation: record a computation, call `backward`, read the gradients,
//! and prove them right against central finite differences with `check_gradients`.
//!
//! `cargo run -p strata --example 02_autograd`

use strata::autograd::{check_gradients, no_grad, Tolerance, Var};
use strata::tensor::Tensor;

fn main() -> strata::Result<()> {
    // A tiny linear classifier: logits = x·w, loss = cross-entropy against labels 0 and 1.
    let w = Var::parameter(Tensor::<f64>::from_vec(
        vec![0.5, -1.0, 0.25, 2.0],
        &[2, 2],
    )?);
    let x = Var::constant(Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?);
    let loss = x.matmul(&w)?.cross_entropy(&[0, 1])?;
    let grads = loss.backward()?;
    let dw = grads.get(&w).expect("w is a parameter of the loss");
    println!(
        "loss {:.6}, dloss/dw {:?}",
        loss.value().item()?,
        dw.to_vec()
    );

    // In `no_grad`, nothing is recorded (inference).
    let y = no_grad(|| x.matmul(&w))?;
    assert!(y.is_leaf());

    // The gradient checker compares every analytic gradient with central differences.
    let report = check_gradients(
        |v| v[0].matmul(&v[1])?.tanh().cross_entropy(&[0, 1]),
        &[x.value(), w.value()],
        1e-6,
        Tolerance::default(),
    )?;
    println!("{report}");
    assert!(report.passed());
    Ok(())
}
