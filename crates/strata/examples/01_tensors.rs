//! Tensors: shapes, broadcasting, views without copies, reductions and a matrix multiply.
//!
//! `cargo run -p strata --example 01_tensors`

use strata::tensor::Tensor;

fn main() -> strata::Result<()> {
    // A 2×3 matrix and a bias of 3: the bias broadcasts over the rows (NumPy's rules).
    let x = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    let bias = Tensor::<f32>::from_vec(vec![0.5, -0.5, 0.], &[3])?;
    let shifted = x.add(&bias)?;
    println!(
        "x + bias = {:?} (shape {:?})",
        shifted.to_vec(),
        shifted.shape()
    );

    // Views share storage: a transpose and a row of it copy nothing.
    let xt = x.t()?;
    let column = xt.select(0, 1)?;
    assert!(column.shares_storage_with(&x));
    println!("column 1 of x, through a view of xᵀ: {:?}", column.to_vec());

    // Shapes that cannot broadcast give an error naming the op and both shapes.
    let wrong = Tensor::<f32>::zeros(&[4]);
    match x.add(&wrong) {
        Err(e) => println!("as expected: {e}"),
        Ok(_) => unreachable!("[2, 3] + [4] must not broadcast"),
    }

    // Reductions along axes, a stable softmax, argmax.
    let row_sums = x.sum_axes(&[1], false)?;
    let probs = x.softmax(1)?;
    println!(
        "row sums {:?}; softmax rows sum to 1: {:?}",
        row_sums.to_vec(),
        probs.sum_axes(&[1], false)?.to_vec()
    );
    println!("argmax of each row: {:?}", probs.argmax(1)?);

    // A cache-blocked, parallel matrix multiply: [2, 3] · [3, 2] = [2, 2].
    let product = x.matmul(&xt.contiguous())?;
    println!("x · xᵀ = {:?}", product.to_vec());
    assert_eq!(product.to_vec(), vec![14., 32., 32., 77.]);
    Ok(())
}
