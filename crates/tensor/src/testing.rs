//! Proptest strategies shared by the crate's own tests.

use proptest::prelude::*;

use crate::shape::numel;
use crate::Tensor;

/// Shapes of rank `0..=max_rank` with dimensions in `1..=max_dim`.
pub fn shape(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..=max_dim, 0..=max_rank)
}

/// A tensor of `shape` holding small whole numbers, so that sums and products are exact.
pub fn int_tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    let n = numel(&shape);
    prop::collection::vec(-8i32..=8, n).prop_map(move |v| {
        Tensor::from_vec(v.into_iter().map(f64::from).collect(), &shape).unwrap()
    })
}

/// Pairs of shapes for binary operations: mostly broadcast-compatible (a common shape with
/// dimensions set to 1 or leading axes dropped on either side), sometimes arbitrary.
pub fn layouts_for(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    let compatible = shape(max_rank, 4).prop_flat_map(|full| {
        let rank = full.len();
        (
            Just(full),
            prop::collection::vec(any::<bool>(), rank),
            prop::collection::vec(any::<bool>(), rank),
            0..=rank,
            0..=rank,
        )
            .prop_map(|(full, ones_a, ones_b, drop_a, drop_b)| {
                let derive = |ones: &[bool], drop: usize| -> Vec<usize> {
                    full.iter()
                        .zip(ones)
                        .skip(drop)
                        .map(|(&d, &one)| if one { 1 } else { d })
                        .collect()
                };
                (derive(&ones_a, drop_a), derive(&ones_b, drop_b))
            })
    });
    prop_oneof![4 => compatible, 1 => (shape(max_rank, 3), shape(max_rank, 3))]
}
