//! Keras layouts to Strata's: convolution kernels `[H, W, in, out]` (HWIO) to
//! `[out, in, H, W]` (OIHW), dense kernels `[in, out]` to `[out, in]`, and the first dense
//! layer after a `Flatten` re-ordered from Keras's channels-last flattening (`h, w, c`) to
//! Strata's channels-first one (`c, h, w`).

use strata_tensor::Tensor;

use crate::error::{ImportError, Result};

fn layout_error(what: &str, message: String) -> ImportError {
    ImportError::Mapping {
        source_name: what.to_string(),
        message,
    }
}

/// A Keras convolution kernel `[kh, kw, in, out]` as Strata's `[out, in, kh, kw]`.
pub fn conv_kernel_from_hwio(kernel: &Tensor<f32>, name: &str) -> Result<Tensor<f32>> {
    let &[kh, kw, ci, co] = kernel.shape() else {
        return Err(layout_error(
            name,
            format!(
                "expected a kernel [H, W, in, out], found {:?}",
                kernel.shape()
            ),
        ));
    };
    let src = kernel.to_vec();
    let mut out = vec![0.0; src.len()];
    for y in 0..kh {
        for x in 0..kw {
            for i in 0..ci {
                for o in 0..co {
                    out[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
                }
            }
        }
    }
    Tensor::from_vec(out, &[co, ci, kh, kw]).map_err(|e| layout_error(name, e.to_string()))
}

/// A Keras dense kernel `[in, out]` as Strata's `[out, in]`. When the layer follows a
/// `Flatten` of a `[C, H, W]` feature map (`flattened = Some([C, H, W])`), Keras's inputs
/// are in `h, w, c` order and are moved to Strata's `c, h, w`.
pub fn dense_kernel_from_keras(
    kernel: &Tensor<f32>,
    flattened: Option<[usize; 3]>,
    name: &str,
) -> Result<Tensor<f32>> {
    let &[inputs, units] = kernel.shape() else {
        return Err(layout_error(
            name,
            format!("expected a kernel [in, out], found {:?}", kernel.shape()),
        ));
    };
    let [c, h, w] = flattened.unwrap_or([inputs, 1, 1]);
    if c * h * w != inputs {
        return Err(layout_error(
            name,
            format!(
                "kernel {:?} does not take a flattened [{c}, {h}, {w}] input ({} values)",
                kernel.shape(),
                c * h * w
            ),
        ));
    }
    let src = kernel.to_vec();
    let mut out = vec![0.0; src.len()];
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let strata_in = (ch * h + y) * w + x;
                let keras_in = (y * w + x) * c + ch;
                for o in 0..units {
                    out[o * inputs + strata_in] = src[keras_in * units + o];
                }
            }
        }
    }
    Tensor::from_vec(out, &[units, inputs]).map_err(|e| layout_error(name, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn conv_kernel_matches_index_formula(kh in 1usize..4, kw in 1usize..4, ci in 1usize..4, co in 1usize..4) {
            let n = kh * kw * ci * co;
            let k = Tensor::from_vec((0..n).map(|v| v as f32).collect(), &[kh, kw, ci, co]).unwrap();
            let t = conv_kernel_from_hwio(&k, "c").unwrap();
            prop_assert_eq!(t.shape(), &[co, ci, kh, kw]);
            for o in 0..co { for i in 0..ci { for y in 0..kh { for x in 0..kw {
                prop_assert_eq!(t.get(&[o, i, y, x]).unwrap(), k.get(&[y, x, i, o]).unwrap());
            }}}}
        }

        #[test]
        fn dense_rows_follow_the_flatten_order(c in 1usize..4, h in 1usize..4, w in 1usize..4, units in 1usize..4) {
            let inputs = c * h * w;
            let k = Tensor::from_vec((0..inputs * units).map(|v| v as f32).collect(), &[inputs, units]).unwrap();
            let t = dense_kernel_from_keras(&k, Some([c, h, w]), "d").unwrap();
            // A feature map flattened both ways gives the same outputs.
            let fmap: Vec<f32> = (0..inputs).map(|v| (v * 7 % 5) as f32).collect(); // [c, h, w]
            for o in 0..units {
                let strata: f32 = (0..inputs).map(|i| t.get(&[o, i]).unwrap() * fmap[i]).sum();
                let mut keras = 0.0;
                for y in 0..h { for x in 0..w { for ch in 0..c {
                    keras += k.get(&[(y * w + x) * c + ch, o]).unwrap() * fmap[(ch * h + y) * w + x];
                }}}
                prop_assert_eq!(strata, keras);
            }
        }
    }

    #[test]
    fn shapes_are_checked() {
        let k = Tensor::zeros(&[10, 4]);
        assert!(dense_kernel_from_keras(&k, Some([2, 2, 2]), "fc1").is_err());
        assert_eq!(
            dense_kernel_from_keras(&k, None, "fc2").unwrap().shape(),
            &[4, 10]
        );
        assert!(conv_kernel_from_hwio(&k, "c")
            .unwrap_err()
            .to_string()
            .contains("[10, 4]"));
    }
}
