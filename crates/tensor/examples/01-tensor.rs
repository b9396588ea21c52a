//! A tour of the tensor crate: views, broadcasting, reductions and softmax.
//!
//! Run with `cargo run --release -p strata-tensor --example 01-tensor`.

use rand::SeedableRng;
use strata_tensor::{Tensor, TensorError};

fn main() -> Result<(), TensorError> {
    let x = Tensor::<f32>::arange(0., 12., 1.)?.reshape(&[3, 4])?;
    println!("x = {x:?}");

    // Views share storage: a transpose and a narrow copy nothing.
    let xt = x.t()?;
    println!(
        "x.t() = {:?} (strides {:?}, shares storage: {})",
        xt,
        xt.strides(),
        xt.shares_storage_with(&x)
    );
    let middle = x.narrow(1, 1, 2)?;
    println!("x[:, 1:3] = {middle:?}");

    // Broadcasting: a row of column means subtracted from every row.
    let centred = x.sub(&x.mean_axes(&[0], true)?)?;
    println!("x - mean(x, axis 0) = {centred:?}");

    // A softmax classifier's last step on random logits.
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let logits = Tensor::<f32>::rand_normal(&[4, 3], 0., 2., &mut rng)?;
    let probs = logits.softmax(1)?;
    println!("softmax rows = {probs:?}");
    println!("predicted classes = {:?}", probs.argmax(1)?);

    // Errors name the op and the shapes.
    if let Err(e) = x.add(&Tensor::zeros(&[3])) {
        println!("error, as expected: {e}");
    }
    Ok(())
}
