//! Proptest strategies for shapes and `f64` tensors, to property-test gradients (enabled by
//! the `testing` feature).
//!
//! Values are kept of order 1 so that central differences with `eps = 1e-6` are accurate to
//! about `1e-9`; where an op has a kink (relu, max, abs) use [`tensor_away_from_zero`] or
//! [`distinct_tensor`] so that no element sits within `eps` of it.
//!
//! Testing the gradient of your own op or model takes a few lines:
//!
//! ```
//! use proptest::prelude::*;
//! use strata_autograd::testing::{shaped_tensor, tensor};
//! use strata_autograd::{check_gradients, Tolerance};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     // Add #[test] in a test module; here the function is called below.
//!     fn swish_gradient_is_right(x in shaped_tensor(3, 4)) {
//!         let report = check_gradients(
//!             |v| v[0].mul(&v[0].sigmoid()),   // your op or model
//!             &[x],
//!             1e-6,
//!             Tolerance::default(),
//!         )?;
//!         prop_assert!(report.passed(), "{}", report);
//!     }
//! }
//! swish_gradient_is_right();
//! ```

use proptest::prelude::*;
use strata_tensor::conv::{Conv2dOptions, Padding2d};
use strata_tensor::pool::Pool2dOptions;
use strata_tensor::Tensor;

/// Shapes of rank `0..=max_rank` with every dimension in `1..=max_dim`.
pub fn shape(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..=max_dim.max(1), 0..=max_rank)
}

/// A tensor of `shape` with values drawn uniformly from `[low, high)`.
pub fn tensor_in(shape: Vec<usize>, low: f64, high: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec(low..high, n).prop_map(move |v| tensor_of(v, &shape))
}

/// A tensor of `shape` with values in `[-2, 2)`.
pub fn tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    tensor_in(shape, -2.0, 2.0)
}

/// A tensor of a random shape (see [`shape`]) with values in `[-2, 2)`.
pub fn shaped_tensor(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Tensor<f64>> {
    shape(max_rank, max_dim).prop_flat_map(tensor)
}

/// A tensor of `shape` with values in `[0.1, 2)`: the domain of `ln`, `sqrt`, division.
pub fn positive_tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    tensor_in(shape, 0.1, 2.0)
}

/// A tensor of `shape` whose values satisfy `margin ≤ |x| < 2`, away from the kink of relu,
/// leaky relu and abs at 0.
pub fn tensor_away_from_zero(shape: Vec<usize>, margin: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec((margin..2.0f64, any::<bool>()), n).prop_map(move |v| {
        let values = v.into_iter().map(|(x, neg)| if neg { -x } else { x });
        tensor_of(values.collect(), &shape)
    })
}

/// A tensor of `shape` whose values are all different, at least `0.05` apart (a shuffled
/// grid with jitter): maxima are unique, so max and max pooling are differentiable there.
pub fn distinct_tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    let grid: Vec<usize> = (0..n).collect();
    (
        Just(grid).prop_shuffle(),
        prop::collection::vec(0.0..0.05f64, n),
    )
        .prop_map(move |(order, jitter)| {
            let scale = 3.0 / n.max(1) as f64;
            let values = order
                .iter()
                .zip(jitter)
                .map(|(&k, j)| (k as f64 - n as f64 / 2.0) * scale.max(0.1) + j * scale.min(1.0));
            tensor_of(values.collect(), &shape)
        })
}

/// Two shapes that broadcast together: a common shape with some dimensions set to 1 and
/// some leading axes dropped on either side.
pub fn broadcast_shapes(
    max_rank: usize,
    max_dim: usize,
) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(max_rank, max_dim).prop_flat_map(|full| {
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
    })
}

/// A subset of the axes `0..rank`, in increasing order.
pub fn axes(rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::sample::subsequence((0..rank).collect::<Vec<_>>(), 0..=rank)
}

/// A random 2-D convolution to check: operands and parameters that fit together.
#[derive(Debug, Clone)]
pub struct Conv2dCase {
    /// `[N, C, H, W]` with N in 1..=2, C = groups · (1..=2), values in `[-2, 2)`.
    pub input: Tensor<f64>,
    /// `[O, C / groups, kh, kw]` with O = groups · (1..=2), kh and kw in 1..=3.
    pub weight: Tensor<f64>,
    /// `[O]`, present in about half the cases.
    pub bias: Option<Tensor<f64>>,
    /// Stride 1..=2, padding 0..=2 per side, dilation 1..=2, groups 1..=3.
    pub params: Conv2dOptions,
}

/// Random convolutions over every geometry option (see [`Conv2dCase`]), with inputs just
/// large enough (0–3 pixels more than the dilated kernel needs) to keep checks quick.
pub fn conv2d_case() -> impl Strategy<Value = Conv2dCase> {
    let channels = (1..=2usize, 1..=3usize, 1..=2usize, 1..=2usize);
    let geometry = (
        [1..=3usize, 1..=3usize],
        [1..=2usize, 1..=2usize],
        [1..=2usize, 1..=2usize],
        [0..=2usize, 0..=2usize, 0..=2usize, 0..=2usize],
        [0..=3usize, 0..=3usize],
    );
    (channels, geometry, any::<bool>()).prop_flat_map(
        |((n, groups, cin_g, cout_g), (kernel, stride, dilation, pad, extra), with_bias)| {
            let padding = Padding2d {
                top: pad[0],
                bottom: pad[1],
                left: pad[2],
                right: pad[3],
            };
            let fit = |axis: usize, pads: usize| {
                let span = (kernel[axis] - 1) * dilation[axis] + 1;
                span.saturating_sub(pads).max(1) + extra[axis]
            };
            let (h, w) = (fit(0, pad[0] + pad[1]), fit(1, pad[2] + pad[3]));
            let params = Conv2dOptions {
                stride,
                padding,
                dilation,
                groups,
            };
            let o = groups * cout_g;
            let bias = if with_bias {
                tensor(vec![o]).prop_map(Some).boxed()
            } else {
                Just(None).boxed()
            };
            (
                tensor(vec![n, groups * cin_g, h, w]),
                tensor(vec![o, cin_g, kernel[0], kernel[1]]),
                bias,
                Just(params),
            )
                .prop_map(|(input, weight, bias, params)| Conv2dCase {
                    input,
                    weight,
                    bias,
                    params,
                })
        },
    )
}

/// A random NCHW input shape and pooling parameters that fit it: kernel 1..=3, stride
/// 1..=3, padding per side smaller than the kernel, N and C in 1..=2.
pub fn pool2d_case() -> impl Strategy<Value = (Vec<usize>, Pool2dOptions)> {
    (
        (1..=2usize, 1..=2usize),
        [1..=3usize, 1..=3usize],
        [1..=3usize, 1..=3usize],
        [0..=3usize, 0..=3usize],
    )
        .prop_flat_map(|(nc, kernel, stride, extra)| {
            let pads = [0..kernel[0], 0..kernel[0], 0..kernel[1], 0..kernel[1]];
            (Just((nc, kernel, stride, extra)), pads)
        })
        .prop_map(|(((n, c), kernel, stride, extra), pad)| {
            let padding = Padding2d {
                top: pad[0],
                bottom: pad[1],
                left: pad[2],
                right: pad[3],
            };
            let h = kernel[0].saturating_sub(pad[0] + pad[1]).max(1) + extra[0];
            let w = kernel[1].saturating_sub(pad[2] + pad[3]).max(1) + extra[1];
            let params = Pool2dOptions {
                kernel,
                stride,
                padding,
                dilation: [1, 1],
                ceil_mode: false,
            };
            (vec![n, c, h, w], params)
        })
}

/// Builds a tensor from values whose count the strategy guarantees.
fn tensor_of(values: Vec<f64>, shape: &[usize]) -> Tensor<f64> {
    match Tensor::from_vec(values, shape) {
        Ok(t) => t,
        Err(_) => Tensor::zeros(shape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn distinct_values_are_well_separated(t in shape(3, 4).prop_flat_map(distinct_tensor)) {
            let mut v = t.to_vec();
            v.sort_by(f64::total_cmp);
            for w in v.windows(2) {
                prop_assert!(w[1] - w[0] >= 0.05, "{:?}", w);
            }
        }

        #[test]
        fn away_from_zero_respects_the_margin(t in tensor_away_from_zero(vec![3, 4], 0.1)) {
            prop_assert!(t.to_vec().iter().all(|x| x.abs() >= 0.1 && x.abs() < 2.0));
        }
    }
}
