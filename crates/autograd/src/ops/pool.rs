//! Pooling on NCHW batches: max (the positions of the maxima are saved by the op), average
//! global average and global max.

use strata_tensor::pool::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward, max_pool2d,
    max_pool2d_backward, max_pool2d_with_indices, Pool2dOptions,
};
use strata_tensor::Element;

use crate::error::{AutogradError, Result};
use crate::var::Var;

impl<T: Element> Var<T> {
    /// Max pooling of an `[N, C, H, W]` input (`torch.nn.functional.max_pool2d`; padding
    /// counts as −∞). ∂: each output gradient goes to the position of its window's maximum
    /// (the first one on ties), saved by the forward pass when a graph is recorded.
    pub fn max_pool2d(&self, params: &Pool2dOptions) -> Result<Var<T>> {
        let x = self.value();
        if !Self::needs_graph(&[self]) {
            return Ok(Var::constant(max_pool2d(&x, params)?));
        }
        let (pooled, indices) = max_pool2d_with_indices(&x, params)?;
        drop(x);
        Ok(self.record_unary("max_pool2d", pooled, move |g| {
            Ok(max_pool2d_backward(g, &indices)?)
        }))
    }

    /// Average pooling of an `[N, C, H, W]` input (`torch.nn.functional.avg_pool2d`);
    /// `count_include_pad` says whether padding counts in the divisor. ∂: each output
    /// gradient is shared equally by its window.
    pub fn avg_pool2d(&self, params: &Pool2dOptions, count_include_pad: bool) -> Result<Var<T>> {
        let x = self.value();
        let out = avg_pool2d(&x, params, count_include_pad)?;
        let (params, shape) = (*params, x.shape().to_vec());
        Ok(self.record_unary("avg_pool2d", out, move |g| {
            Ok(avg_pool2d_backward(g, &shape, &params, count_include_pad)?)
        }))
    }

    /// Global average pooling: `[N, C, H, W]` → `[N, C]`, the mean of each plane.
    /// ∂ = g / (H·W) spread over each plane.
    pub fn global_avg_pool2d(&self) -> Result<Var<T>> {
        let x = self.value();
        let out = global_avg_pool2d(&x)?;
        let shape = x.shape().to_vec();
        Ok(self.record_unary("global_avg_pool2d", out, move |g| {
            Ok(global_avg_pool2d_backward(g, &shape)?)
        }))
    }

    /// Global max pooling: `[N, C, H, W]` → `[N, C]`, the maximum of each plane
    /// (`torch.amax(x, dim=(2, 3))`, Keras `GlobalMaxPooling2D`). ∂: each output gradient
    /// goes to the first position of its plane's maximum (the rule of [`Var::max`], which
    /// this is over the flattened plane). A NaN in a plane is its maximum.
    pub fn global_max_pool2d(&self) -> Result<Var<T>> {
        let &[n, c, h, w] = self.shape() else {
            return Err(AutogradError::shape(
                "global_max_pool2d",
                format!("expected an input [N, C, H, W], found {:?}", self.shape()),
            ));
        };
        if h * w == 0 {
            return Err(AutogradError::shape(
                "global_max_pool2d",
                format!(
                    "no values to take the maximum of in an input of shape {:?}",
                    self.shape()
                ),
            ));
        }
        self.reshape(&[n, c, h * w])?.max(2, false)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::pool::Pool2dOptions;
    use strata_tensor::Tensor;

    use crate::testing::{distinct_tensor, pool2d_case, tensor};
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn max_pool2d_gradient(
            (x, params) in pool2d_case().prop_flat_map(|(s, p)| (distinct_tensor(s), Just(p)))
        ) {
            let r = check_gradients(|v| v[0].max_pool2d(&params), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{:?}: {}", params, r);
        }

        #[test]
        fn avg_pool2d_gradient(
            (x, params) in pool2d_case().prop_flat_map(|(s, p)| (tensor(s), Just(p))),
            count_include_pad in any::<bool>(),
        ) {
            let r = check_gradients(
                |v| v[0].avg_pool2d(&params, count_include_pad), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{:?}: {}", params, r);
        }

        #[test]
        fn dilated_and_ceil_mode_pooling_gradients(
            (x, params) in pool2d_case()
                .prop_flat_map(|(s, p)| (Just(s), 1..=2usize, any::<bool>(), Just(p)))
                .prop_map(|(mut s, d, ceil, p)| {
                    // Room for the dilated window.
                    s[2] += 2;
                    s[3] += 1;
                    (s, p.with_dilation([d, 1]).with_ceil_mode(ceil))
                })
                .prop_filter("fits", |(s, p)| p.output_size([s[2], s[3]]).is_ok())
                .prop_flat_map(|(s, p)| (distinct_tensor(s), Just(p))),
            count_include_pad in any::<bool>(),
        ) {
            let r = check_gradients(|v| v[0].max_pool2d(&params), std::slice::from_ref(&x), EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{:?}: {}", params, r);
            let undilated = params.with_dilation([1, 1]);
            let r = check_gradients(
                |v| v[0].avg_pool2d(&undilated, count_include_pad), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{:?}: {}", undilated, r);
        }

        #[test]
        fn global_max_pool2d_gradient(
            x in (1..3usize, 1..4usize, 1..5usize, 1..5usize)
                .prop_flat_map(|(n, c, h, w)| distinct_tensor(vec![n, c, h, w]))
        ) {
            let r = check_gradients(|v| v[0].global_max_pool2d(), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }

        #[test]
        fn global_max_pool2d_matches_a_naive_loop(
            x in (1..3usize, 1..4usize, 1..5usize, 1..5usize)
                .prop_flat_map(|(n, c, h, w)| tensor(vec![n, c, h, w]))
        ) {
            let plane = x.shape()[2] * x.shape()[3];
            let expected: Vec<f64> = x.to_vec().chunks(plane)
                .map(|p| p.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
            let got = Var::constant(x).global_max_pool2d().unwrap().value().to_vec();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn global_avg_pool2d_gradient(
            x in (1..3usize, 1..4usize, 1..5usize, 1..5usize)
                .prop_flat_map(|(n, c, h, w)| tensor(vec![n, c, h, w]))
        ) {
            let r = check_gradients(|v| v[0].global_avg_pool2d(), &[x], EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{}", r);
        }
    }

    #[test]
    fn pooling_errors_name_the_op() {
        let x = Var::parameter(Tensor::<f32>::zeros(&[2, 3, 4]));
        let err = x.max_pool2d(&Pool2dOptions::new([2, 2])).unwrap_err();
        assert!(err.to_string().starts_with("max_pool2d"), "{err}");
        let x = Var::parameter(Tensor::<f32>::zeros(&[1, 1, 2, 2]));
        assert!(x.avg_pool2d(&Pool2dOptions::new([3, 3]), true).is_err());
        assert!(Var::parameter(Tensor::<f32>::zeros(&[4]))
            .global_avg_pool2d()
            .is_err());
        let err = Var::parameter(Tensor::<f32>::zeros(&[2, 3]))
            .global_max_pool2d()
            .unwrap_err();
        assert!(err.to_string().contains("[2, 3]"), "{err}");
        assert!(Var::parameter(Tensor::<f32>::zeros(&[1, 2, 0, 3]))
            .global_max_pool2d()
            .is_err());
    }
}
