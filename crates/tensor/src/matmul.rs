//! Matrix multiplication of tensors with `torch.matmul` semantics.

use rayon::prelude::*;

use crate::buffer;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::gemm::{gemm, MatRef};
use crate::shape::{broadcast_shapes, numel};
use crate::tensor::Tensor;

const OP: &str = "matmul";

impl<T: Element> Tensor<T> {
    /// The matrix product, with the semantics of `torch.matmul`:
    ///
    /// - 2-D × 2-D: `[m, k] × [k, n] → [m, n]`;
    /// - rank ≥ 3 on either side: a batch of matrix products over the leading dimensions,
    ///   which broadcast under NumPy's rules (`[b, 1, m, k] × [c, k, n] → [b, c, m, n]`);
    /// - a 1-D left operand `[k]` is treated as `[1, k]` and a 1-D right operand `[k]` as
    ///   `[k, 1]`, and the added dimension is removed from the result (so 1-D × 1-D is the
    ///   dot product, a rank-0 tensor).
    ///
    /// Strided views (transposes, narrowed or permuted tensors, broadcast batches) are
    /// multiplied in place, without copying. The result is contiguous and bitwise the same
    /// for any number of threads.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// let c = a.matmul(&a.t()?)?; // [2, 3] × [3, 2]
    /// assert_eq!(c.shape(), &[2, 2]);
    /// assert_eq!(c.to_vec(), vec![14., 32., 32., 77.]);
    /// let v = Tensor::<f32>::from_vec(vec![1., 0., -1.], &[3])?;
    /// assert_eq!(a.matmul(&v)?.to_vec(), vec![-2., -2.]);
    /// assert!(a.matmul(&a).is_err()); // inner dimensions 3 and 2 differ
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        let (lhs_shape, rhs_shape) = (self.shape(), other.shape());
        if lhs_shape.is_empty() || rhs_shape.is_empty() {
            return Err(TensorError::shape(
                OP,
                format!("both operands need at least one dimension: {lhs_shape:?} × {rhs_shape:?}"),
            ));
        }
        let a = if self.rank() == 1 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        let b = if other.rank() == 1 {
            other.unsqueeze(1)?
        } else {
            other.clone()
        };
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
        let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
        if k != k2 {
            return Err(TensorError::shape(
                OP,
                format!("inner dimensions differ: {lhs_shape:?} × {rhs_shape:?}"),
            ));
        }
        let (batch_a, batch_b) = (&a.shape()[..ra - 2], &b.shape()[..rb - 2]);
        let batch = broadcast_shapes(OP, batch_a, batch_b).map_err(|_| {
            TensorError::shape(
                OP,
                format!(
                    "batch dimensions {batch_a:?} and {batch_b:?} cannot be broadcast: \
                     {lhs_shape:?} × {rhs_shape:?}"
                ),
            )
        })?;
        let data = batched_product(&a, &b, &batch, m, k, n)?;
        let mut shape = batch;
        if self.rank() > 1 {
            shape.push(m);
        }
        if other.rank() > 1 {
            shape.push(n);
        }
        Ok(Self::from_contiguous(data, &shape))
    }
}

/// The row-major `batch × m × n` products of `a` (`[.., m, k]`) and `b` (`[.., k, n]`),
/// whose leading dimensions broadcast to `batch`.
///
/// Every matrix of a batch is addressed in place by an offset and two strides (a broadcast
/// batch dimension has stride 0), so no operand is ever copied: any strided view can be
/// addressed this way, and the copy fallback a stride-based GEMM sometimes needs is never
/// required here.
fn batched_product<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Result<Vec<T>> {
    let count = numel(batch);
    // Every element is written below (k = 0 included: the GEMM then fills zeros).
    let mut out = buffer::dirty(count * m * n);
    if out.is_empty() {
        return Ok(out);
    }
    let full = |t: &Tensor<T>, rows: usize, cols: usize| {
        let mut shape = batch.to_vec();
        shape.extend([rows, cols]);
        t.layout().broadcast_to(&shape)
    };
    let (la, lb) = (full(a, m, k)?, full(b, k, n)?);
    let r = batch.len();
    let (sa, sb) = (la.strides(), lb.strides());

    // One matrix B for the whole batch, and A's batch rows addressable as one strided
    // [count·m, k] matrix: a single product with more rows parallelises better.
    if sb[..r].iter().all(|&s| s == 0) {
        if let Some(merged) = la.reshaped(&[count * m, k]) {
            let ma = MatRef::new(
                OP,
                a.storage(),
                merged.offset(),
                count * m,
                k,
                merged.strides()[0],
                merged.strides()[1],
            )?;
            let mb = MatRef::new(OP, b.storage(), lb.offset(), k, n, sb[r], sb[r + 1])?;
            gemm(ma, mb, &mut out, false)?;
            return Ok(out);
        }
    }

    let offsets = batch_offsets(batch, &sa[..r], &sb[..r], la.offset(), lb.offset());
    // Each batch item is a fixed block of work (and `gemm` splits large ones further by
    // shape alone), so results do not depend on the thread count.
    out.par_chunks_mut(m * n)
        .zip(offsets.par_iter())
        .try_for_each(|(c, &(oa, ob))| {
            let ma = MatRef::new(OP, a.storage(), oa, m, k, sa[r], sa[r + 1])?;
            let mb = MatRef::new(OP, b.storage(), ob, k, n, sb[r], sb[r + 1])?;
            gemm(ma, mb, c, false)
        })?;
    Ok(out)
}

/// The storage offsets of A's and B's matrix for each batch index, in row-major order.
fn batch_offsets(
    batch: &[usize],
    strides_a: &[usize],
    strides_b: &[usize],
    offset_a: usize,
    offset_b: usize,
) -> Vec<(usize, usize)> {
    let count = numel(batch);
    let mut offsets = Vec::with_capacity(count);
    let mut index = vec![0usize; batch.len()];
    let (mut oa, mut ob) = (offset_a, offset_b);
    for _ in 0..count {
        offsets.push((oa, ob));
        // Advance the odometer, last dimension fastest.
        for d in (0..batch.len()).rev() {
            index[d] += 1;
            oa += strides_a[d];
            ob += strides_b[d];
            if index[d] < batch[d] {
                break;
            }
            oa -= strides_a[d] * batch[d];
            ob -= strides_b[d] * batch[d];
            index[d] = 0;
        }
    }
    offsets
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    /// Whole numbers in [-4, 4]: every product and sum below is exact.
    fn whole<T: Element>(shape: &[usize], seed: u64) -> Tensor<T> {
        let mut rng = StdRng::seed_from_u64(seed);
        let data = (0..numel(shape))
            .map(|_| T::from_f64_lossy(f64::from(rng.random_range(-4i32..=4))))
            .collect();
        Tensor::from_vec(data, shape).unwrap()
    }

    /// A tensor of `shape` laid out in one of several strided ways (`kind` 0..5):
    /// contiguous, all axes reversed (a permuted view), the last two axes transposed,
    /// narrowed out of a larger tensor, or broadcast along the first axis (stride 0).
    fn view_of<T: Element>(shape: &[usize], kind: u8, seed: u64) -> Tensor<T> {
        let r = shape.len();
        match kind % 5 {
            1 => {
                let rev: Vec<usize> = shape.iter().rev().copied().collect();
                let axes: Vec<usize> = (0..r).rev().collect();
                whole::<T>(&rev, seed).permute(&axes).unwrap()
            }
            2 => {
                let mut swapped = shape.to_vec();
                swapped.swap(r - 2, r - 1);
                whole::<T>(&swapped, seed).transpose(r - 2, r - 1).unwrap()
            }
            3 => {
                let bigger: Vec<usize> = shape.iter().map(|d| d + 2).collect();
                let mut t = whole::<T>(&bigger, seed);
                for (axis, &d) in shape.iter().enumerate() {
                    t = t.narrow(axis, 1, d).unwrap();
                }
                t
            }
            4 if shape[0] != 1 => {
                let mut one = shape.to_vec();
                one[0] = 1;
                whole::<T>(&one, seed).broadcast_to(shape).unwrap()
            }
            _ => whole::<T>(shape, seed),
        }
    }

    /// The naive reference for operands of rank ≥ 2: broadcast the batch, then a triple
    /// loop per batch matrix through `get`.
    fn naive<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> (Vec<T>, Vec<usize>) {
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
        let batch = broadcast_shapes("test", &a.shape()[..ra - 2], &b.shape()[..rb - 2]).unwrap();
        let with = |rows, cols| {
            let mut s = batch.clone();
            s.extend([rows, cols]);
            s
        };
        let (af, bf) = (
            a.broadcast_to(&with(m, k)).unwrap(),
            b.broadcast_to(&with(k, n)).unwrap(),
        );
        let mut out = Vec::new();
        for bi in 0..numel(&batch) {
            let mut idx = vec![0; batch.len()];
            let mut rest = bi;
            for d in (0..batch.len()).rev() {
                idx[d] = rest % batch[d];
                rest /= batch[d];
            }
            let at = |i: usize, j: usize| {
                let mut v = idx.clone();
                v.extend([i, j]);
                v
            };
            for i in 0..m {
                for j in 0..n {
                    let mut sum = T::zero();
                    for p in 0..k {
                        sum = sum + af.get(&at(i, p)).unwrap() * bf.get(&at(p, j)).unwrap();
                    }
                    out.push(sum);
                }
            }
        }
        (out, with(m, n))
    }

    fn check<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> std::result::Result<(), TestCaseError> {
        let (expected, shape) = naive(a, b);
        let got = a.matmul(b).unwrap();
        prop_assert_eq!(got.shape(), &shape[..]);
        prop_assert_eq!(got.to_vec(), expected);
        Ok(())
    }

    /// Batch shapes for A and B that broadcast: each dimension of the common batch is kept,
    /// set to 1, or (for leading dimensions) dropped on one side.
    fn batch_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        (
            prop::collection::vec(1usize..4, 0..3),
            any::<u32>(),
            0usize..3,
            0usize..3,
        )
            .prop_map(|(batch, bits, drop_a, drop_b)| {
                let pick = |shift: u32, drop: usize| -> Vec<usize> {
                    batch
                        .iter()
                        .enumerate()
                        .skip(drop.min(batch.len()))
                        .map(|(i, &d)| {
                            if bits >> (shift + i as u32) & 1 == 1 {
                                1
                            } else {
                                d
                            }
                        })
                        .collect()
                };
                (pick(0, drop_a), pick(8, drop_b))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matmul_matches_naive_f32(
            (ba, bb) in batch_pair(),
            m in 1usize..12, k in 0usize..12, n in 1usize..12,
            ka: u8, kb: u8, seed: u64,
        ) {
            let sa: Vec<usize> = ba.iter().copied().chain([m, k]).collect();
            let sb: Vec<usize> = bb.iter().copied().chain([k, n]).collect();
            check(&view_of::<f32>(&sa, ka, seed), &view_of::<f32>(&sb, kb, seed ^ 7))?;
        }

        #[test]
        fn matmul_matches_naive_f64_larger(
            (ba, bb) in batch_pair(),
            m in 1usize..70, k in 1usize..40, n in 1usize..70,
            ka: u8, kb: u8, seed: u64,
        ) {
            let sa: Vec<usize> = ba.iter().copied().chain([m, k]).collect();
            let sb: Vec<usize> = bb.iter().copied().chain([k, n]).collect();
            check(&view_of::<f64>(&sa, ka, seed), &view_of::<f64>(&sb, kb, seed ^ 7))?;
        }

        #[test]
        fn one_dimensional_operands_follow_torch(
            batch in prop::collection::vec(1usize..4, 0..3),
            k in 0usize..20, n in 1usize..20, left: bool, seed: u64,
        ) {
            let v = whole::<f32>(&[k], seed);
            let mut shape = batch.clone();
            if left {
                // [k] × [.., k, n] = ([1, k] × [.., k, n]) with the 1 removed.
                shape.extend([k, n]);
                let mat = view_of::<f32>(&shape, seed as u8, seed ^ 3);
                let got = v.matmul(&mat).unwrap();
                let (expected, mut full) = naive(&v.unsqueeze(0).unwrap(), &mat);
                full.remove(full.len() - 2);
                prop_assert_eq!(got.shape(), &full[..]);
                prop_assert_eq!(got.to_vec(), expected);
            } else {
                // [.., n, k] × [k] = ([.., n, k] × [k, 1]) with the 1 removed.
                shape.extend([n, k]);
                let mat = view_of::<f32>(&shape, seed as u8, seed ^ 3);
                let got = mat.matmul(&v).unwrap();
                let (expected, mut full) = naive(&mat, &v.unsqueeze(1).unwrap());
                full.pop();
                prop_assert_eq!(got.shape(), &full[..]);
                prop_assert_eq!(got.to_vec(), expected);
            }
        }
    }

    #[test]
    fn dot_product_is_rank_zero() {
        let a = Tensor::<f64>::from_vec(vec![1., 2., 3.], &[3]).unwrap();
        let b = Tensor::<f64>::from_vec(vec![4., -5., 6.], &[3]).unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[] as &[usize]);
        assert_eq!(c.item().unwrap(), 12.);
    }

    #[test]
    fn transposed_operands_and_folded_batches() {
        // [4, 5, 3] × [3, 2] folds the batch into one product; a permuted A cannot fold.
        let a = whole::<f32>(&[4, 5, 3], 1);
        let b = whole::<f32>(&[3, 2], 2);
        let (expected, shape) = naive(&a, &b);
        let got = a.matmul(&b).unwrap();
        assert_eq!((got.shape(), got.to_vec()), (&shape[..], expected));
        let ap = whole::<f32>(&[5, 4, 3], 3).permute(&[1, 0, 2]).unwrap();
        let (expected, shape) = naive(&ap, &b);
        let got = ap.matmul(&b.unsqueeze(0).unwrap()).unwrap();
        assert_eq!((got.shape(), got.to_vec()), (&shape[..], expected));
        // A · Aᵀ through a transposed view.
        let m = whole::<f64>(&[6, 9], 4);
        let (expected, _) = naive(&m, &m.t().unwrap());
        assert_eq!(m.matmul(&m.t().unwrap()).unwrap().to_vec(), expected);
    }

    #[test]
    fn empty_dimensions() {
        let a = Tensor::<f32>::zeros(&[2, 0, 3]);
        let b = Tensor::<f32>::zeros(&[3, 4]);
        assert_eq!(a.matmul(&b).unwrap().shape(), &[2, 0, 4]);
        // k = 0: a product of zeros-length sums is all zeros.
        let a = Tensor::<f32>::zeros(&[2, 0]);
        let b = Tensor::<f32>::zeros(&[0, 3]);
        let c = a.matmul(&b).unwrap();
        assert_eq!((c.shape(), c.to_vec()), (&[2usize, 3][..], vec![0.0; 6]));
    }

    #[test]
    fn bad_shapes_are_errors_naming_both_shapes() {
        let err = |a: &[usize], b: &[usize]| {
            Tensor::<f32>::zeros(a)
                .matmul(&Tensor::<f32>::zeros(b))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[2, 3], &[4, 5]),
            "matmul: inner dimensions differ: [2, 3] × [4, 5]"
        );
        assert_eq!(
            err(&[3], &[4]),
            "matmul: inner dimensions differ: [3] × [4]"
        );
        assert_eq!(
            err(&[2, 3], &[2]),
            "matmul: inner dimensions differ: [2, 3] × [2]"
        );
        assert_eq!(
            err(&[2, 3, 4], &[3, 4, 5]),
            "matmul: batch dimensions [2] and [3] cannot be broadcast: [2, 3, 4] × [3, 4, 5]"
        );
        assert_eq!(
            err(&[], &[3]),
            "matmul: both operands need at least one dimension: [] × [3]"
        );
    }

    #[test]
    fn batched_results_are_bitwise_identical_with_one_and_two_threads() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut rand = |shape: &[usize]| {
            let data = (0..numel(shape))
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            Tensor::from_vec(data, shape).unwrap()
        };
        let pairs = [
            (rand(&[3, 200, 150]), rand(&[150, 300])),
            (
                rand(&[4, 1, 40, 50]),
                rand(&[3, 60, 50]).transpose(1, 2).unwrap(),
            ),
            (rand(&[700, 300]).t().unwrap(), rand(&[700, 90])),
        ];
        for (a, b) in &pairs {
            let run = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| a.matmul(b).unwrap().to_vec())
            };
            let (one, two) = (run(1), run(2));
            assert!(one
                .iter()
                .zip(&two)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
}
