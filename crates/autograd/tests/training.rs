//! End to end: a two-layer network learns XOR with plain gradient descent.

use rand::rngs::StdRng;
use rand::SeedableRng;
use strata_autograd::{no_grad, Result, Var};
use strata_tensor::Tensor;

/// `x·w + b`.
fn dense(x: &Var<f64>, w: &Var<f64>, b: &Var<f64>) -> Result<Var<f64>> {
    x.matmul(w)?.add(b)
}

#[test]
fn a_two_layer_network_learns_xor() -> Result<()> {
    let mut rng = StdRng::seed_from_u64(42);
    let x = Var::constant(Tensor::from_vec(
        vec![0., 0., 0., 1., 1., 0., 1., 1.],
        &[4, 2],
    )?);
    let labels = [0, 1, 1, 0];
    let params = [
        Var::parameter(Tensor::rand_uniform(&[2, 8], -1.0, 1.0, &mut rng)?),
        Var::parameter(Tensor::zeros(&[8])),
        Var::parameter(Tensor::rand_uniform(&[8, 2], -1.0, 1.0, &mut rng)?),
        Var::parameter(Tensor::zeros(&[2])),
    ];
    let forward = |p: &[Var<f64>]| -> Result<Var<f64>> {
        let h = dense(&x, &p[0], &p[1])?.tanh();
        dense(&h, &p[2], &p[3])
    };
    let mut loss_value = f64::INFINITY;
    for _ in 0..1000 {
        let loss = forward(&params)?.cross_entropy(&labels)?;
        loss_value = loss.value().item()?;
        let grads = loss.backward()?;
        for p in &params {
            if let Some(g) = grads.get(p) {
                p.set_value(p.value().sub(&g.mul_scalar(0.5))?)?;
            }
        }
    }
    assert!(loss_value < 0.05, "final loss {loss_value}");
    let logits = no_grad(|| forward(&params))?.value();
    let predicted = logits.argmax(1)?;
    assert_eq!(predicted, vec![0, 1, 1, 0]);
    Ok(())
}
