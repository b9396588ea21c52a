//! Matrix multiplication with `torch.matmul` semantics (batched, broadcasting).

use strata_tensor::shape::broadcast_shapes;
use strata_tensor::{Element, Tensor};

use super::sum_to_shape;
use crate::error::Result;
use crate::var::Var;

/// A 1-D left operand as a `[1, k]` matrix, a 1-D right operand as `[k, 1]`.
fn as_matrix<T: Element>(t: &Tensor<T>, left: bool) -> Result<Tensor<T>> {
    Ok(match (t.rank(), left) {
        (1, true) => t.unsqueeze(0)?,
        (1, false) => t.unsqueeze(1)?,
        _ => t.clone(),
    })
}

/// `t` with its last two axes swapped (a view).
fn mt<T: Element>(t: &Tensor<T>) -> Result<Tensor<T>> {
    let r = t.rank();
    Ok(t.transpose(r - 2, r - 1)?)
}

impl<T: Element> Var<T> {
    /// The matrix product, as `torch.matmul`: `[.., m, k] × [.., k, n] → [.., m, n]` with
    /// broadcast batch dimensions, and 1-D operands treated as a row (left) or column
    /// (right) that the result drops.
    ///
    /// With both operands as matrices A, B and g the output gradient:
    /// ∂/∂A = g·Bᵀ, ∂/∂B = Aᵀ·g, each summed over the batch dimensions it was broadcast
    /// along.
    pub fn matmul(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let (a, b) = (self.value(), rhs.value());
        let out = a.matmul(&b)?;
        Ok(Var::record("matmul", out, &[self, rhs], move |g, needs| {
            let (a2, b2) = (as_matrix(&a, true)?, as_matrix(&b, false)?);
            let (ra, rb) = (a2.rank(), b2.rank());
            // The product's shape with the 1-D operands' dimensions kept.
            let mut full =
                broadcast_shapes("matmul", &a2.shape()[..ra - 2], &b2.shape()[..rb - 2])?;
            full.extend([a2.shape()[ra - 2], b2.shape()[rb - 1]]);
            let g2 = g.reshape(&full)?;
            let da = needs[0]
                .then(|| -> Result<Tensor<T>> {
                    let d = g2.matmul(&mt(&b2)?)?;
                    Ok(sum_to_shape(&d, a2.shape())?.reshape(a.shape())?)
                })
                .transpose()?;
            let db = needs[1]
                .then(|| -> Result<Tensor<T>> {
                    if a.rank() == 2 && b.rank() == 2 && b.t()?.is_contiguous() {
                        // B is the transposed view of a contiguous matrix (a dense layer's
                        // Wᵀ): computing (gᵀ·A)ᵀ gives the gradient in B's own memory
                        // order, so the transpose's backward needs no copy. Copying the
                        // gradient back into W's order was a serial strided gather of the
                        // whole weight, most of the CIFAR-10 model's dense backward pass.
                        return Ok(mt(&g2)?.matmul(&a2)?.t()?);
                    }
                    let d = mt(&a2)?.matmul(&g2)?;
                    Ok(sum_to_shape(&d, b2.shape())?.reshape(b.shape())?)
                })
                .transpose()?;
            Ok(vec![da, db])
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{broadcast_shapes, tensor};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    /// Operand shapes for every case of `torch.matmul`: 1-D or matrices, with batch
    /// dimensions that broadcast.
    fn matmul_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        (
            broadcast_shapes(2, 3),
            1..4usize,
            1..4usize,
            1..4usize,
            0..4u8,
        )
            .prop_map(|((ba, bb), m, k, n, kind)| match kind {
                0 => (vec![k], vec![k]),
                1 => (vec![k], [bb, vec![k, n]].concat()),
                2 => ([ba, vec![m, k]].concat(), vec![k]),
                _ => ([ba, vec![m, k]].concat(), [bb, vec![k, n]].concat()),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matmul_gradient((a, b) in matmul_shapes().prop_flat_map(|(a, b)| (tensor(a), tensor(b)))) {
            let r = check_gradients(|v| v[0].matmul(&v[1]), &[a, b], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn a_transposed_view_operand_gets_the_right_gradient() {
        let a =
            Var::parameter(Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap());
        let at = a.transpose(0, 1).unwrap();
        let y = at.matmul(&a).unwrap().sum_all().unwrap(); // Σ (AᵀA)
        let g = y.backward().unwrap();
        // ∂/∂A Σ_ij (AᵀA)_ij = A·1 + A·1 (both uses): 2 × row sums of A broadcast.
        let expected: Vec<f64> = vec![12., 12., 12., 30., 30., 30.];
        assert_eq!(g.get(&a).unwrap().to_vec(), expected);
    }

    #[test]
    fn the_gradient_of_a_transposed_weight_keeps_the_weight_s_memory_order() {
        // x·Wᵀ as a dense layer computes it: W's gradient comes back contiguous, with the
        // values of the plain product gᵀ·x.
        let x = Var::constant(
            Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[2, 3]).unwrap(),
        );
        let w = Var::parameter(
            Tensor::<f64>::from_vec((0..12).map(|v| f64::from(v) * 0.5 - 2.0).collect(), &[4, 3])
                .unwrap(),
        );
        let y = x.matmul(&w.transpose(0, 1).unwrap()).unwrap();
        let g = y.square().sum_all().unwrap().backward().unwrap();
        let dw = g.get(&w).unwrap();
        assert!(dw.is_contiguous());
        let dy = y.value().mul_scalar(2.0);
        let expected = dy.t().unwrap().matmul(&x.value()).unwrap();
        assert_eq!(dw.to_vec(), expected.to_vec());
    }

    #[test]
    fn mismatched_inner_dimensions_name_the_op_and_shapes() {
        let a = Var::parameter(Tensor::<f32>::zeros(&[2, 3]));
        let err = a.matmul(&a).unwrap_err().to_string();
        assert!(err.starts_with("matmul") && err.contains("[2, 3]"), "{err}");
    }
}
