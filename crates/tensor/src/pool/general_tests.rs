//! The general pooling loops against a naive loop over an explicitly padded plane, and
//! against the tuned kernels where both apply.

use proptest::prelude::*;

use crate::conv::Padding2d;
use crate::pool::reference::whole_numbers;
use crate::pool::{
    avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward, max_pool2d_with_indices,
    Pool2dOptions,
};
use crate::tensor::Tensor;

/// One plane's pooling by brute force. The plane is padded with `fill` on every side (and
/// beyond, for `ceil_mode`'s overhang, which no window counts); returns for each output the
/// (value, index of the maximum in the input plane, sum, padded count, real count).
#[allow(clippy::type_complexity)]
fn naive(
    plane: &[f64],
    h: usize,
    w: usize,
    p: &Pool2dOptions,
) -> (Vec<(f64, usize, f64, usize, usize)>, [usize; 2]) {
    let [oh, ow] = p.output_size([h, w]).unwrap();
    let pad = p.padding;
    let (ph, pw) = (h + pad.top + pad.bottom, w + pad.left + pad.right);
    let mut out = Vec::new();
    for y in 0..oh {
        for x in 0..ow {
            let (mut best, mut at, mut sum, mut padded, mut real) =
                (f64::NEG_INFINITY, usize::MAX, 0.0, 0, 0);
            for i in 0..p.kernel[0] {
                for j in 0..p.kernel[1] {
                    let (r, c) = (
                        y * p.stride[0] + i * p.dilation[0],
                        x * p.stride[1] + j * p.dilation[1],
                    );
                    if r >= ph || c >= pw {
                        continue; // ceil_mode's overhang: outside even the padding
                    }
                    padded += 1;
                    let inside =
                        r >= pad.top && r < pad.top + h && c >= pad.left && c < pad.left + w;
                    if inside {
                        let k = (r - pad.top) * w + (c - pad.left);
                        real += 1;
                        sum += plane[k];
                        if at == usize::MAX || plane[k] > best {
                            (best, at) = (plane[k], k);
                        }
                    }
                }
            }
            out.push((best, at, sum, padded, real));
        }
    }
    (out, [oh, ow])
}

fn options() -> impl Strategy<Value = (usize, usize, Pool2dOptions)> {
    (
        [1..4usize, 1..4usize],
        [1..4usize, 1..4usize],
        [1..3usize, 1..3usize],
        [0..3usize, 0..3usize, 0..3usize, 0..3usize],
        any::<bool>(),
        (1..9usize, 1..9usize),
    )
        .prop_map(|(kernel, stride, dilation, pad, ceil_mode, (h, w))| {
            let padding = Padding2d {
                top: pad[0] % kernel[0],
                bottom: pad[1] % kernel[0],
                left: pad[2] % kernel[1],
                right: pad[3] % kernel[1],
            };
            let p = Pool2dOptions {
                kernel,
                stride,
                padding,
                dilation,
                ceil_mode,
            };
            (h, w, p)
        })
        .prop_filter("fits", |(h, w, p)| p.output_size([*h, *w]).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn max_pooling_matches_the_naive_loop((h, w, p) in options(), seed in 0u64..1000) {
        let (n, c) = (2, 2);
        let x = Tensor::<f64>::from_vec(whole_numbers(n * c * h * w, seed), &[n, c, h, w]).unwrap();
        let (y, at) = max_pool2d_with_indices(&x, &p).unwrap();
        prop_assert_eq!(max_pool2d(&x, &p).unwrap().to_vec(), y.to_vec());
        let xs = x.to_vec();
        let mut expected_y = Vec::new();
        let mut expected_at = Vec::new();
        for plane in xs.chunks(h * w) {
            let (out, _) = naive(plane, h, w, &p);
            expected_y.extend(out.iter().map(|o| o.0));
            expected_at.extend(out.iter().map(|o| o.1 as u32));
        }
        prop_assert_eq!(y.to_vec(), expected_y);
        prop_assert_eq!(at.as_slice(), expected_at.as_slice());
        // The backward pass scatters through those indices.
        let dy = Tensor::<f64>::from_vec(whole_numbers(y.numel(), seed + 1), y.shape()).unwrap();
        let dx = max_pool2d_backward(&dy, &at).unwrap().to_vec();
        let mut expected_dx = vec![0.0; xs.len()];
        for (k, (&i, &d)) in expected_at.iter().zip(&dy.to_vec()).enumerate() {
            let plane = k / (y.shape()[2] * y.shape()[3]);
            expected_dx[plane * h * w + i as usize] += d;
        }
        prop_assert_eq!(dx, expected_dx);
    }

    #[test]
    fn average_pooling_matches_the_naive_loop(
        (h, w, p) in options().prop_map(|(h, w, p)| (h, w, p.with_dilation([1, 1])))
            .prop_filter("fits", |(h, w, p)| p.output_size([*h, *w]).is_ok()),
        include in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let x = Tensor::<f64>::from_vec(whole_numbers(2 * h * w, seed), &[1, 2, h, w]).unwrap();
        let y = avg_pool2d(&x, &p, include).unwrap();
        let xs = x.to_vec();
        let mut expected = Vec::new();
        let mut divisors = Vec::new();
        for plane in xs.chunks(h * w) {
            let (out, _) = naive(plane, h, w, &p);
            for o in out {
                let d = if include { o.3 } else { o.4 } as f64;
                expected.push(o.2 / d);
                divisors.push(d);
            }
        }
        prop_assert_eq!(y.to_vec(), expected);
        // Backward: the adjoint, checked as ⟨dy, pool(x)⟩ = ⟨pool_backward(dy), x⟩ exactly on
        // whole numbers scaled by the divisors' product-free form: compare sums per window.
        let dy = Tensor::<f64>::from_vec(whole_numbers(y.numel(), seed + 1), y.shape()).unwrap();
        let dx = avg_pool2d_backward(&dy, &[1, 2, h, w], &p, include).unwrap();
        let lhs: f64 = dy.to_vec().iter().zip(y.to_vec()).map(|(a, b)| a * b).sum();
        let rhs: f64 = dx.to_vec().iter().zip(&xs).map(|(a, b)| a * b).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
    }
}

#[test]
fn output_sizes_follow_pytorch() {
    // nn.MaxPool2d(2, 2, ceil_mode=True) on 5: 3 windows (the last covers one row).
    let p = Pool2dOptions::new([2, 2]).with_ceil_mode(true);
    assert_eq!(p.output_size([5, 4]).unwrap(), [3, 2]);
    assert_eq!(
        Pool2dOptions::new([2, 2]).output_size([5, 4]).unwrap(),
        [2, 2]
    );
    // Padding 1 on 4: floor gives 3, ceil 3; on 5, floor 3, ceil 4 would start past the
    // input and its padding, so 3.
    let p = Pool2dOptions::new([2, 2])
        .with_padding(Padding2d::uniform(1))
        .with_ceil_mode(true);
    assert_eq!(p.output_size([4, 5]).unwrap(), [3, 3]);
    // Dilation 2 makes a 3-tap window span 5.
    let p = Pool2dOptions::new([3, 3])
        .with_stride([1, 1])
        .with_dilation([2, 2]);
    assert_eq!(p.output_size([7, 5]).unwrap(), [3, 1]);
    assert!(p.output_size([4, 7]).is_err());
    assert!(Pool2dOptions::new([2, 2])
        .with_dilation([0, 1])
        .output_size([4, 4])
        .is_err());
}

#[test]
fn average_pooling_has_no_dilation() {
    let x = Tensor::<f32>::ones(&[1, 1, 5, 5]);
    let p = Pool2dOptions::new([2, 2]).with_dilation([2, 1]);
    let err = avg_pool2d(&x, &p, true).unwrap_err();
    assert!(err.to_string().contains("dilation"), "{err}");
    assert!(avg_pool2d_backward(&x, &[1, 1, 5, 5], &p, true).is_err());
}
