//! 2-D convolution (NCHW input, OIHW weight, optional bias) with every geometry option of
//! [`Conv2dParams`]: stride, padding per side, dilation, groups.

use strata_tensor::conv::{
    conv2d, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, Conv2dParams,
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
        params: &Conv2dParams,
    ) -> Result<Var<T>> {
        let (x, w) = (self.value(), weight.value());
        let b = bias.map(Var::value);
        let out = conv2d(&x, &w, b.as_ref(), params)?;
        let params = *params;
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Var::record("conv2d", out, &inputs, move |g, needs| {
            let mut grads = vec![
                needs[0]
                    .then(|| conv2d_backward_input(g, &w, x.shape(), &params))
                    .transpose()?,
                needs[1]
                    .then(|| conv2d_backward_weight(&x, g, w.shape(), &params))
                    .transpose()?,
            ];
            if needs.len() == 3 {
                grads.push(needs[2].then(|| conv2d_backward_bias(g)).transpose()?);
            }
            Ok(grads)
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use strata_tensor::conv::Conv2dParams;
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
    }

    #[test]
    fn shape_errors_name_the_op() {
        let x = Var::parameter(Tensor::<f32>::zeros(&[1, 3, 5, 5]));
        let w = Var::parameter(Tensor::<f32>::zeros(&[4, 2, 3, 3]));
        let err = x.conv2d(&w, None, &Conv2dParams::default()).unwrap_err();
        assert!(err.to_string().starts_with("conv2d"), "{err}");
        let w = Var::parameter(Tensor::<f32>::zeros(&[4, 3, 3, 3]));
        let b = Var::parameter(Tensor::<f32>::zeros(&[5]));
        let err = x
            .conv2d(&w, Some(&b), &Conv2dParams::default())
            .unwrap_err();
        assert!(err.to_string().contains("[5]"), "{err}");
    }

    #[test]
    fn a_constant_input_gets_no_gradient_and_costs_none() {
        let x = Var::constant(Tensor::<f64>::ones(&[1, 1, 4, 4]));
        let w = Var::parameter(Tensor::<f64>::ones(&[2, 1, 3, 3]));
        let b = Var::parameter(Tensor::<f64>::zeros(&[2]));
        let y = x.conv2d(&w, Some(&b), &Conv2dParams::default()).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert!(g.get(&x).is_none());
        assert_eq!(g.get(&w).unwrap().to_vec(), vec![4.0; 18]);
        assert_eq!(g.get(&b).unwrap().to_vec(), vec![4.0, 4.0]);
    }
}
