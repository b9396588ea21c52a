//! Reductions over axes (sum, mean, max, min, argmax, log-sum-exp) and softmax.
//!
//! Each output element is reduced by one thread in a fixed order (pairwise summation for
//! sums), so results do not depend on the number of threads.

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shape::{axes_mask, check_axis, numel};
use crate::tensor::Tensor;

/// Outputs computed per parallel work item when reducing large tensors.
const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Sums a slice by pairwise summation: error grows with `log n`, not `n`, and the order is
/// fixed by the length alone.
pub(crate) fn pairwise_sum<T: Element>(values: &[T]) -> T {
    const LEAF: usize = 64;
    if values.len() <= LEAF {
        return values.iter().fold(T::zero(), |acc, &v| acc + v);
    }
    let (left, right) = values.split_at(values.len() / 2);
    pairwise_sum(left) + pairwise_sum(right)
}

/// A tensor rearranged so that the reduced axes come last and are contiguous, with the
/// kept axes' shape and the length of each reduced run.
struct Runs<T: Element> {
    data: Vec<T>,
    kept_shape: Vec<usize>,
    keep_dims_shape: Vec<usize>,
    run: usize,
}

impl<T: Element> Tensor<T> {
    fn runs(&self, op: &'static str, axes: &[usize]) -> Result<Runs<T>> {
        let mask = axes_mask(op, axes, self.shape())?;
        let kept: Vec<usize> = (0..self.rank()).filter(|&a| !mask[a]).collect();
        let reduced: Vec<usize> = (0..self.rank()).filter(|&a| mask[a]).collect();
        let order: Vec<usize> = kept.iter().chain(&reduced).copied().collect();
        let data = self.permute(&order)?.to_vec();
        let dims = self.shape();
        Ok(Runs {
            data,
            kept_shape: kept.iter().map(|&a| dims[a]).collect(),
            keep_dims_shape: (0..self.rank())
                .map(|a| if mask[a] { 1 } else { dims[a] })
                .collect(),
            run: reduced.iter().map(|&a| dims[a]).product(),
        })
    }

    /// Reduces each run of the given axes with `reduce`, in parallel over outputs.
    fn reduce_with(
        &self,
        op: &'static str,
        axes: &[usize],
        keep_dims: bool,
        reduce: impl Fn(&[T]) -> T + Sync + Send,
    ) -> Result<Self> {
        let runs = self.runs(op, axes)?;
        let outputs = numel(&runs.kept_shape);
        let values: Vec<T> = if runs.run == 0 {
            (0..outputs).map(|_| reduce(&[])).collect()
        } else if runs.data.len() >= PARALLEL_THRESHOLD {
            runs.data.par_chunks(runs.run).map(&reduce).collect()
        } else {
            runs.data.chunks(runs.run).map(&reduce).collect()
        };
        let shape = if keep_dims {
            runs.keep_dims_shape
        } else {
            runs.kept_shape
        };
        Ok(Self::from_contiguous(values, &shape))
    }

    fn check_non_empty(&self, op: &'static str, axes: &[usize]) -> Result<()> {
        if axes.iter().any(|&a| self.shape().get(a) == Some(&0)) {
            return Err(TensorError::shape(
                op,
                format!(
                    "cannot reduce over an empty axis of shape {:?} (axes {axes:?})",
                    self.shape()
                ),
            ));
        }
        Ok(())
    }

    /// Sum over `axes` (keeping them as size 1 with `keep_dims`), like
    /// `torch.sum(t, dim=axes, keepdim=keep_dims)`.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let t = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// assert_eq!(t.sum_axes(&[1], false)?.to_vec(), vec![6., 15.]);
    /// assert_eq!(t.sum_axes(&[0], true)?.shape(), &[1, 3]);
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn sum_axes(&self, axes: &[usize], keep_dims: bool) -> Result<Self> {
        self.reduce_with("sum", axes, keep_dims, pairwise_sum)
    }

    /// Mean over `axes` (NaN over an empty axis, as NumPy).
    pub fn mean_axes(&self, axes: &[usize], keep_dims: bool) -> Result<Self> {
        self.reduce_with("mean", axes, keep_dims, |run| {
            pairwise_sum(run) / T::from_f64_lossy(run.len() as f64)
        })
    }

    /// Maximum over `axes`; NaN if any element is NaN. An error over an empty axis.
    pub fn max_axes(&self, axes: &[usize], keep_dims: bool) -> Result<Self> {
        self.check_non_empty("max", axes)?;
        self.reduce_with("max", axes, keep_dims, |run| {
            run.iter().fold(
                T::neg_infinity(),
                |m, &v| if v > m || v.is_nan() { v } else { m },
            )
        })
    }

    /// Minimum over `axes`; NaN if any element is NaN. An error over an empty axis.
    pub fn min_axes(&self, axes: &[usize], keep_dims: bool) -> Result<Self> {
        self.check_non_empty("min", axes)?;
        self.reduce_with("min", axes, keep_dims, |run| {
            run.iter().fold(
                T::infinity(),
                |m, &v| if v < m || v.is_nan() { v } else { m },
            )
        })
    }

    /// The sum of all elements.
    pub fn sum_all(&self) -> T {
        match self.as_slice() {
            Some(slice) => pairwise_sum(slice),
            None => pairwise_sum(&self.to_vec()),
        }
    }

    /// The mean of all elements (NaN for an empty tensor).
    pub fn mean_all(&self) -> T {
        self.sum_all() / T::from_f64_lossy(self.numel() as f64)
    }

    /// The index of the largest element along `axis` for every position of the other axes,
    /// in row-major order of the remaining shape (the first maximum on ties, NaN counting as
    /// largest, as PyTorch).
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let logits = Tensor::<f32>::from_vec(vec![0.1, 0.7, 0.2, 0.9, 0.05, 0.05], &[2, 3])?;
    /// assert_eq!(logits.argmax(1)?, vec![1, 0]);
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn argmax(&self, axis: usize) -> Result<Vec<usize>> {
        self.arg_extreme("argmax", axis, |v, best| v > best)
    }

    /// The index of the smallest element along `axis` (see [`Tensor::argmax`]).
    pub fn argmin(&self, axis: usize) -> Result<Vec<usize>> {
        self.arg_extreme("argmin", axis, |v, best| v < best)
    }

    fn arg_extreme(
        &self,
        op: &'static str,
        axis: usize,
        better: impl Fn(T, T) -> bool,
    ) -> Result<Vec<usize>> {
        check_axis(op, axis, self.shape())?;
        self.check_non_empty(op, &[axis])?;
        let runs = self.runs(op, &[axis])?;
        Ok(runs
            .data
            .chunks(runs.run)
            .map(|run| {
                let mut best = 0;
                for (i, &v) in run.iter().enumerate().skip(1) {
                    if run[best].is_nan() {
                        break;
                    }
                    if v.is_nan() || better(v, run[best]) {
                        best = i;
                    }
                }
                best
            })
            .collect())
    }

    /// Applies `row_fn` to every line of elements along `axis` (input line, output line), and
    /// returns a tensor of the same shape.
    fn along_axis(
        &self,
        op: &'static str,
        axis: usize,
        row_fn: impl Fn(&[T], &mut [T]) + Sync + Send,
    ) -> Result<Self> {
        check_axis(op, axis, self.shape())?;
        let last = self.rank() - 1;
        let moved = self.transpose(axis, last)?;
        let src = moved.to_vec();
        let len = self.shape()[axis];
        let mut out = crate::buffer::zeroed(src.len());
        if len > 0 {
            if src.len() >= PARALLEL_THRESHOLD {
                out.par_chunks_mut(len)
                    .zip(src.par_chunks(len))
                    .for_each(|(o, s)| row_fn(s, o));
            } else {
                out.chunks_mut(len)
                    .zip(src.chunks(len))
                    .for_each(|(o, s)| row_fn(s, o));
            }
        }
        Self::from_contiguous(out, moved.shape())
            .transpose(axis, last)
            .map(|t| t.contiguous())
    }

    /// `ln(Σ exp(x))` over `axis`, computed stably by subtracting the maximum first.
    pub fn log_sum_exp(&self, axis: usize, keep_dims: bool) -> Result<Self> {
        check_axis("log_sum_exp", axis, self.shape())?;
        self.reduce_with("log_sum_exp", &[axis], keep_dims, log_sum_exp_run)
    }

    /// Softmax along `axis`: `exp(x - max) / Σ exp(x - max)`.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let p = Tensor::<f64>::from_vec(vec![1000., 1000.], &[1, 2])?.softmax(1)?;
    /// assert_eq!(p.to_vec(), vec![0.5, 0.5]);
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn softmax(&self, axis: usize) -> Result<Self> {
        self.along_axis("softmax", axis, |src, out| {
            let max = nan_max(src);
            let shift = if max.is_finite() { max } else { T::zero() };
            for (o, &v) in out.iter_mut().zip(src) {
                *o = (v - shift).exp();
            }
            let total = pairwise_sum(out);
            for o in out.iter_mut() {
                *o = *o / total;
            }
        })
    }

    /// Log-softmax along `axis`: `(x − max) − ln Σ exp(x − max)`, stable for large logits.
    ///
    /// The shift is subtracted first and the logarithm of the (at least 1) sum second, as
    /// PyTorch's kernel does: `x − (max + ln Σ)` would round `max + ln Σ` to the precision
    /// of `max`, which for `f32` logits of magnitude ~250 is an error of ~1e-5 absolute in
    /// every log-probability and so ~1e-3 relative in the small ones' gradients. The sum is
    /// taken as `ln_1p` of the terms other than the maximum's (which is exactly 1), so that a
    /// log-probability close to 0 keeps its relative precision too.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let lp = Tensor::<f32>::from_vec(vec![250., 249.], &[1, 2])?.log_softmax(1)?.to_vec();
    /// let exact = -(1.0f64 + (-1.0f64).exp()).ln(); // log-probability of the larger logit
    /// assert!((f64::from(lp[0]) - exact).abs() < 1e-7);
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn log_softmax(&self, axis: usize) -> Result<Self> {
        self.along_axis("log_softmax", axis, |src, out| {
            let max = nan_max(src);
            if !max.is_finite() {
                // All −inf, a +inf or a NaN: the plain formula gives what torch gives.
                let lse = log_sum_exp_run(src);
                for (o, &v) in out.iter_mut().zip(src) {
                    *o = v - lse;
                }
                return;
            }
            // Σ exp(x − max) = 1 + (the other terms): ln_1p of the others keeps the
            // log-probability of a dominant logit accurate where it is close to 0.
            let first_max = src.iter().position(|&v| v == max).unwrap_or(0);
            for (i, (o, &v)) in out.iter_mut().zip(src).enumerate() {
                *o = if i == first_max {
                    T::zero()
                } else {
                    (v - max).exp()
                };
            }
            let log_total = pairwise_sum(out).ln_1p();
            for (o, &v) in out.iter_mut().zip(src) {
                *o = (v - max) - log_total;
            }
        })
    }
}

/// The largest value of `run`, NaN if any value is NaN (`f64::max` would skip a NaN).
fn nan_max<T: Element>(run: &[T]) -> T {
    run.iter().fold(T::neg_infinity(), |m, &v| {
        if m.is_nan() || !(v.is_nan() || v > m) {
            m
        } else {
            v
        }
    })
}

/// `ln Σ exp(v)` of one run; `-inf` for an empty run or one of all `-inf`, NaN when any value
/// is NaN (even beside an infinity, as `torch.logsumexp`).
fn log_sum_exp_run<T: Element>(run: &[T]) -> T {
    let max = nan_max(run);
    if !max.is_finite() {
        return max;
    }
    let exps: Vec<T> = run.iter().map(|&v| (v - max).exp()).collect();
    max + pairwise_sum(&exps).ln()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::testing::{int_tensor, shape};
    use crate::Tensor;

    /// Reference: for each output index, loop over all inputs and accumulate those that map
    /// to it.
    fn reference_reduce(
        t: &Tensor<f64>,
        axes: &[usize],
        init: f64,
        f: impl Fn(f64, f64) -> f64,
    ) -> Vec<f64> {
        let out_shape: Vec<usize> = (0..t.rank())
            .filter(|a| !axes.contains(a))
            .map(|a| t.shape()[a])
            .collect();
        let mut out = vec![init; crate::shape::numel(&out_shape)];
        let values = t.to_vec();
        for (linear, v) in values.into_iter().enumerate() {
            let mut rest = linear;
            let mut idx = vec![0; t.rank()];
            for axis in (0..t.rank()).rev() {
                idx[axis] = rest % t.shape()[axis];
                rest /= t.shape()[axis];
            }
            let mut o = 0;
            for (axis, (&i, &dim)) in idx.iter().zip(t.shape()).enumerate() {
                if !axes.contains(&axis) {
                    o = o * dim + i;
                }
            }
            out[o] = f(out[o], v);
        }
        out
    }

    fn tensor_and_axes() -> impl Strategy<Value = (Tensor<f64>, Vec<usize>)> {
        shape(4, 5).prop_flat_map(|s| {
            let rank = s.len();
            (
                int_tensor(s),
                prop::sample::subsequence((0..rank).collect::<Vec<_>>(), 0..=rank),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn sum_max_min_match_reference((t, axes) in tensor_and_axes(), keep in any::<bool>()) {
            prop_assert_eq!(t.sum_axes(&axes, keep).unwrap().to_vec(),
                reference_reduce(&t, &axes, 0.0, |a, b| a + b));
            prop_assert_eq!(t.max_axes(&axes, keep).unwrap().to_vec(),
                reference_reduce(&t, &axes, f64::NEG_INFINITY, f64::max));
            prop_assert_eq!(t.min_axes(&axes, keep).unwrap().to_vec(),
                reference_reduce(&t, &axes, f64::INFINITY, f64::min));
            let kept = t.sum_axes(&axes, true).unwrap();
            prop_assert_eq!(kept.rank(), t.rank());
        }

        #[test]
        fn reductions_of_a_permuted_view_match_its_copy((t, axes) in tensor_and_axes()) {
            let order: Vec<usize> = (0..t.rank()).rev().collect();
            let view = t.permute(&order).unwrap();
            prop_assert_eq!(view.sum_axes(&axes, false).unwrap(),
                view.contiguous().sum_axes(&axes, false).unwrap());
        }

        #[test]
        fn softmax_rows_sum_to_one_and_match_exp_of_log_softmax(
            t in shape(3, 6).prop_filter("rank", |s| !s.is_empty()).prop_flat_map(int_tensor)
        ) {
            let axis = t.rank() - 1;
            let p = t.softmax(axis).unwrap();
            for s in p.sum_axes(&[axis], false).unwrap().to_vec() {
                prop_assert!((s - 1.0).abs() < 1e-12);
            }
            let lp = t.log_softmax(axis).unwrap().exp();
            for (a, b) in p.to_vec().iter().zip(lp.to_vec()) {
                prop_assert!((a - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn argmax_takes_first_maximum() {
        let t = Tensor::<f32>::from_vec(vec![1., 3., 3., 0., 2., 0.], &[2, 3]).unwrap();
        assert_eq!(t.argmax(1).unwrap(), vec![1, 1]);
        assert_eq!(t.argmin(1).unwrap(), vec![0, 0]);
        assert_eq!(t.argmax(0).unwrap(), vec![0, 0, 0]);
        assert!(t.argmax(2).is_err());
    }

    #[test]
    fn log_sum_exp_is_stable() {
        let t = Tensor::<f64>::from_vec(vec![1000., 1000., -1000.], &[3]).unwrap();
        let lse = t.log_sum_exp(0, false).unwrap().item().unwrap();
        assert!((lse - (1000. + 2f64.ln())).abs() < 1e-9);
        let ninf = Tensor::<f64>::full(&[2], f64::NEG_INFINITY);
        assert_eq!(
            ninf.log_sum_exp(0, false).unwrap().item().unwrap(),
            f64::NEG_INFINITY
        );
        assert_eq!(ninf.softmax(0).unwrap().to_vec().len(), 2);
    }

    #[test]
    fn empty_axes_and_errors() {
        let t = Tensor::<f64>::zeros(&[2, 0]);
        assert_eq!(t.sum_axes(&[1], false).unwrap().to_vec(), vec![0., 0.]);
        assert!(t.max_axes(&[1], false).is_err());
        assert!(t.sum_axes(&[2], false).is_err());
        assert!(t.sum_axes(&[0, 0], false).is_err());
    }

    #[test]
    fn pairwise_sum_is_accurate_for_many_small_values() {
        let t = Tensor::<f32>::full(&[1 << 20], 0.1);
        let s = t.sum_all();
        // A left-to-right f32 sum of these values is off by hundreds.
        assert!((s - 104857.6).abs() < 0.1, "{s}");
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let t = Tensor::<f32>::rand_normal(&[64, 3, 40, 40], 0., 1., &mut rng).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    t.sum_axes(&[0, 2, 3], false).unwrap().to_vec(),
                    t.softmax(1).unwrap().to_vec(),
                    t.exp().add(&t.t().unwrap().t().unwrap()).unwrap().to_vec(),
                    t.sum_all(),
                )
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(
            one.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            two.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(one.1, two.1);
        assert_eq!(one.2, two.2);
        assert_eq!(one.3.to_bits(), two.3.to_bits());
    }
}
