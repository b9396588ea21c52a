//! Shape ops: `reshape`, `flatten`, `squeeze`/`unsqueeze`, `permute`, `transpose`,
//! `broadcast_to`, `slice`/`narrow`, `concat`.

use strata_tensor::{Element, Layout, Tensor};

use super::{scatter_into_zeros, sum_to_shape};
use crate::error::{AutogradError, Result};
use crate::var::Var;

impl<T: Element> Var<T> {
    /// The same elements in a new shape (`torch.reshape`). ∂ = g reshaped back.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<T>> {
        let x = self.value();
        let out = x.reshape(shape)?;
        let original = x.shape().to_vec();
        Ok(self.record_unary("reshape", out, move |g| Ok(g.reshape(&original)?)))
    }

    /// Flattens axes `start..=end` into one (`torch.flatten`). ∂ = g reshaped back.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Var<T>> {
        let x = self.value();
        let out = x.flatten(start, end)?;
        let original = x.shape().to_vec();
        Ok(self.record_unary("flatten", out, move |g| Ok(g.reshape(&original)?)))
    }

    /// Removes an axis of size 1. ∂ = g with the axis put back.
    pub fn squeeze(&self, axis: usize) -> Result<Var<T>> {
        let out = self.value().squeeze(axis)?;
        Ok(self.record_unary("squeeze", out, move |g| Ok(g.unsqueeze(axis)?)))
    }

    /// Inserts an axis of size 1. ∂ = g with the axis removed.
    pub fn unsqueeze(&self, axis: usize) -> Result<Var<T>> {
        let out = self.value().unsqueeze(axis)?;
        Ok(self.record_unary("unsqueeze", out, move |g| Ok(g.squeeze(axis)?)))
    }

    /// Reorders the axes: axis `i` of the result is axis `axes[i]` of `self`.
    /// ∂ = g permuted by the inverse permutation.
    pub fn permute(&self, axes: &[usize]) -> Result<Var<T>> {
        let out = self.value().permute(axes)?.contiguous();
        let mut inverse = vec![0; axes.len()];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        Ok(self.record_unary("permute", out, move |g| {
            Ok(g.permute(&inverse)?.contiguous())
        }))
    }

    /// Swaps two axes. ∂ = g with the same axes swapped back.
    ///
    /// The value is a strided view of the input, not a copy: a dense layer's `x·Wᵀ` reads
    /// `W` in place (copying VGG-16's first dense weight, 411 MB, took most of its
    /// batch-1 inference time). The gradient is made contiguous, in the input's layout.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Var<T>> {
        let out = self.value().transpose(a, b)?;
        Ok(self.record_unary("transpose", out, move |g| {
            Ok(g.transpose(a, b)?.contiguous())
        }))
    }

    /// Repeats size-1 and missing leading axes up to `shape` (NumPy broadcasting).
    /// ∂ = g summed over the repeated axes.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var<T>> {
        let x = self.value();
        let out = x.broadcast_to(shape)?.contiguous();
        let original = x.shape().to_vec();
        Ok(self.record_unary("broadcast_to", out, move |g| sum_to_shape(g, &original)))
    }

    /// Every `step`-th element of `axis` in `start..end` (`x[start:end:step]` on that axis).
    /// ∂ = g scattered into zeros at the taken positions.
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Var<T>> {
        let x = self.value();
        let out = x.slice(axis, start, end, step)?.contiguous();
        let shape = x.shape().to_vec();
        Ok(self.record_unary("slice", out, move |g| {
            let taken = Layout::contiguous(&shape).slice(axis, start, end, step)?;
            scatter_into_zeros(&shape, &taken, g)
        }))
    }

    /// `len` elements of `axis` from `start` (`torch.narrow`).
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Var<T>> {
        let end = start.checked_add(len).ok_or_else(|| {
            AutogradError::invalid("narrow", format!("start {start} + length {len} overflows"))
        })?;
        self.slice(axis, start, end, 1)
    }

    /// Joins variables of equal shapes but for `axis` along that axis (`torch.cat`).
    /// ∂: each input gets its own stretch of g.
    pub fn concat(vars: &[&Var<T>], axis: usize) -> Result<Var<T>> {
        let values: Vec<Tensor<T>> = vars.iter().map(|v| v.value()).collect();
        let out = Tensor::concat(&values, axis)?;
        let lengths: Vec<usize> = values.iter().map(|v| v.shape()[axis]).collect();
        Ok(Var::record("concat", out, vars, move |g, needs| {
            let mut start = 0;
            let mut grads = Vec::with_capacity(lengths.len());
            for (&len, &need) in lengths.iter().zip(needs) {
                grads.push(
                    need.then(|| g.narrow(axis, start, len).map(|t| t.contiguous()))
                        .transpose()?,
                );
                start += len;
            }
            Ok(grads)
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::Tensor;

    use crate::testing::{shape, tensor};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    fn nonempty_shape() -> impl Strategy<Value = Vec<usize>> {
        shape(4, 4).prop_filter("rank ≥ 1", |s| !s.is_empty())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn reshape_and_flatten_gradient(x in nonempty_shape().prop_flat_map(tensor)) {
            let n = x.numel();
            let rank = x.rank();
            let r = check_gradients(
                |v| v[0].reshape(&[n])?.reshape(&[1, n])?.squeeze(0)?.unsqueeze(1)?
                    .reshape(v[0].shape())?.flatten(0, rank - 1),
                &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn permute_gradient(
            (x, axes) in nonempty_shape().prop_flat_map(|s| {
                let rank = s.len();
                (tensor(s), Just((0..rank).collect::<Vec<_>>()).prop_shuffle())
            })
        ) {
            let r = check_gradients(|v| v[0].permute(&axes), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn transpose_gradient(
            (x, a, b) in nonempty_shape().prop_flat_map(|s| {
                let rank = s.len();
                (tensor(s), 0..rank, 0..rank)
            })
        ) {
            let r = check_gradients(|v| v[0].transpose(a, b), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn broadcast_to_gradient(
            (x, target) in crate::testing::broadcast_shapes(3, 3)
                .prop_map(|(a, b)| {
                    let full = strata_tensor::shape::broadcast_shapes("t", &a, &b).unwrap_or(b);
                    (a, full)
                })
                .prop_flat_map(|(a, full)| (tensor(a), Just(full)))
        ) {
            let r = check_gradients(|v| v[0].broadcast_to(&target), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn slice_gradient(
            (x, axis, start, end, step) in nonempty_shape().prop_flat_map(|s| {
                let rank = s.len();
                (Just(s), 0..rank).prop_flat_map(|(s, axis)| {
                    let dim = s[axis];
                    (tensor(s), Just(axis), 0..=dim, 0..=dim, 1..4usize)
                })
            }).prop_map(|(x, axis, a, b, step)| (x, axis, a.min(b), a.max(b), step))
        ) {
            let r = check_gradients(
                |v| v[0].slice(axis, start, end, step), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn concat_gradient(
            (parts, axis) in nonempty_shape().prop_flat_map(|s| {
                let rank = s.len();
                (Just(s), 0..rank, prop::collection::vec(1..4usize, 1..4))
            }).prop_flat_map(|(s, axis, lens)| {
                let parts: Vec<_> = lens.into_iter().map(|len| {
                    let mut p = s.clone();
                    p[axis] = len;
                    tensor(p)
                }).collect();
                (parts, Just(axis))
            })
        ) {
            let r = check_gradients(
                |v| {
                    let refs: Vec<&Var<f64>> = v.iter().collect();
                    Var::concat(&refs, axis)
                },
                &parts, EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn narrow_and_concat_errors_name_the_op() {
        let x = Var::parameter(Tensor::<f64>::zeros(&[2, 3]));
        let err = x.narrow(1, 2, 5).unwrap_err().to_string();
        assert!(err.starts_with("slice:"), "{err}");
        let y = Var::parameter(Tensor::<f64>::zeros(&[3, 3]));
        let err = Var::concat(&[&x, &y], 1).unwrap_err().to_string();
        assert!(err.starts_with("concat"), "{err}");
        assert!(x.reshape(&[4]).is_err());
        assert!(Var::<f64>::concat(&[], 0).is_err());
        assert!(x.permute(&[0, 0]).is_err());
        assert!(x.permute(&[2, 0]).is_err());
    }

    #[test]
    fn an_empty_slice_has_a_zero_gradient() {
        let x = Var::parameter(Tensor::<f64>::ones(&[2, 3]));
        let y = x.slice(1, 2, 2, 1).unwrap();
        assert_eq!(y.shape(), &[2, 0]);
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec(), vec![0.0; 6]);
    }
}
