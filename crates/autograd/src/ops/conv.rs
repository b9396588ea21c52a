//! 2-D convolution (NCHW input, OIHW weight, optional bias) with every geometry option of
//! [`Conv2dOptions`]: stride, padding per side, dilation, groups.

use strata_tensor::conv::{
    conv2d, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, conv2d_relu,
    conv2d_relu_backward_bias, Conv2dOptions,
};
use strata_tensor::Element;

use crate::error::Result;
use crate::var::Var;

impl<T: Element> Var<T> {
    /// Convolution (cross-correlation) of an `[N, C, H, W]` input with an
    /// `[O, C / groups, kh, kw]` weight and an optional `[O]` bias, like
    /// `torch.nn.functional.conv2d` (with padding per side).
    ///
    /// ∂/∂input = transposed convolution of g with the weight; ∂/∂weight = correlation of
    /// the input with g; ∂/∂bias = g summed over N, H, W. Each is computed only when its
    /// operand needs a gradient (the data batch of a first layer gets none).
    pub fn conv2d(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        params: &Conv2dOptions,
    ) -> Result<Var<T>> {
        self.convolve("conv2d", weight, bias, params, false)
    }

    /// [`conv2d`](Var::conv2d) followed by relu, in one op: the activation is applied while
    /// the convolution's output is in cache, and no pre-activation tensor is kept (the
    /// relu's mask is read from the output). The same values and gradients as
    /// `x.conv2d(w, b, p)?.relu()`.
    ///
    /// ∂: `g·[y > 0]`, then as [`conv2d`](Var::conv2d).
    pub fn conv2d_relu(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        params: &Conv2dOptions,
    ) -> Result<Var<T>> {
        self.convolve("conv2d_relu", weight, bias, params, true)
    }

    fn convolve(
        &self,
        op: &'static str,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        params: &Conv2dOptions,
        relu: bool,
    ) -> Result<Var<T>> {
        let (x, w) = (self.value(), weight.value());
        let b = bias.map(Var::value);
        let out = if relu {
            conv2d_relu(&x, &w, b.as_ref(), params)?
        } else {
            conv2d(&x, &w, b.as_ref(), params)?
        };
        // The relu's mask comes from the output (y > 0 exactly where the pre-activation is).
        let y = relu.then(|| out.clone());
        let params = *params;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Var::record(op, out, &inputs, move |g, needs| {
            let has_bias = needs.len() == 3;
            // With the relu, its mask and the bias gradient come from one pass over g.
            let (masked, db) = match &y {
                Some(y) => {
                    let (masked, db) = conv2d_relu_backward_bias(g, y)?;
                    (Some(masked), Some(db))
                }
                None => (None, None),
            };
            let g = masked.as_ref().unwrap_or(g);
            let mut grads = vec![
                needs[0]
                    .then(|| conv2d_backward_input(g, &w, x.shape(), &params))
                    .transpose()?,
                needs[1]
                    .then(|| conv2d_backward_weight(&x, g, w.shape(), &params))
                    .transpose()?,
            ];
            if has_bias {
                grads.push(match db {
                    Some(db) => needs[2].then_some(db),
                    None => needs[2].then(|| conv2d_backward_bias(g)).transpose()?,
                });
            }
            Ok(grads)
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::conv::Conv2dOptions;
    use strata_tensor::Tensor;

    use crate::testing::conv2d_case;
    use crate::{check_gradients, Tolerance, Var};

    const EPS: f64 = 1e-6;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn conv2d_gradient(case in conv2d_case()) {
            let mut inputs = vec![case.input, case.weight];
            inputs.extend(case.bias);
            let r = check_gradients(
                |v| v[0].conv2d(&v[1], v.get(2), &case.params),
                &inputs, EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{:?}: {}", case.params, r);
        }

        #[test]
        fn conv2d_relu_gradient(case in conv2d_case()) {
            let mut inputs = vec![case.input, case.weight];
            inputs.extend(case.bias);
            let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::constant).collect();
            let pre = vars[0].conv2d(&vars[1], vars.get(2), &case.params)?.value();
            // Central differences are meaningless at relu's kink: keep cases whose
            // pre-activations are all clear of zero.
            prop_assume!(pre.to_vec().iter().all(|v| v.abs() > 1e-3));
            let r = check_gradients(
                |v| v[0].conv2d_relu(&v[1], v.get(2), &case.params),
                &inputs, EPS, Tolerance::default())?;
            prop_assert!(r.passed(), "{:?}: {}", case.params, r);
        }
    }

    #[test]
    fn conv2d_relu_is_conv2d_then_relu_to_the_bit() {
        let x = Var::parameter(
            Tensor::<f32>::from_vec(
                (0..50).map(|v| (v as f32 * 0.37).sin()).collect(),
                &[2, 1, 5, 5],
            )
            .unwrap(),
        );
        let w = Var::parameter(
            Tensor::<f32>::from_vec(
                (0..18).map(|v| (v as f32 * 0.71).cos()).collect(),
                &[2, 1, 3, 3],
            )
            .unwrap(),
        );
        let b = Var::parameter(Tensor::<f32>::from_vec(vec![0.1, -0.2], &[2]).unwrap());
        let p = Conv2dOptions::default();
        let fused = x.conv2d_relu(&w, Some(&b), &p).unwrap();
        let plain = x.conv2d(&w, Some(&b), &p).unwrap().relu();
        assert_eq!(fused.value().to_vec(), plain.value().to_vec());
        let gf = fused.sum_all().unwrap().backward().unwrap();
        let gp = plain.sum_all().unwrap().backward().unwrap();
        for v in [&x, &w, &b] {
            assert_eq!(gf.get(v).unwrap().to_vec(), gp.get(v).unwrap().to_vec());
        }
    }

    #[test]
    fn shape_errors_name_the_op() {
        let x = Var::parameter(Tensor::<f32>::zeros(&[1, 3, 5, 5]));
        let w = Var::parameter(Tensor::<f32>::zeros(&[4, 2, 3, 3]));
        let err = x.conv2d(&w, None, &Conv2dOptions::default()).unwrap_err();
        assert!(err.to_string().starts_with("conv2d"), "{err}");
        let w = Var::parameter(Tensor::<f32>::zeros(&[4, 3, 3, 3]));
        let b = Var::parameter(Tensor::<f32>::zeros(&[5]));
        let err = x
            .conv2d(&w, Some(&b), &Conv2dOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("[5]"), "{err}");
    }

    #[test]
    fn a_constant_input_gets_no_gradient_and_costs_none() {
        let x = Var::constant(Tensor::<f64>::ones(&[1, 1, 4, 4]));
        let w = Var::parameter(Tensor::<f64>::ones(&[2, 1, 3, 3]));
        let b = Var::parameter(Tensor::<f64>::zeros(&[2]));
        let y = x.conv2d(&w, Some(&b), &Conv2dOptions::default()).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert!(g.get(&x).is_none());
        assert_eq!(g.get(&w).unwrap().to_vec(), vec![4.0; 18]);
        assert_eq!(g.get(&b).unwrap().to_vec(), vec![4.0, 4.0]);
    }
}
