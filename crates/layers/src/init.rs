//! Weight initialisers, matching Keras and PyTorch.
//!
//! The fans of a weight follow both frameworks: for a dense weight `[out, in]` (PyTorch's
//! layout), `fan_in = in` and `fan_out = out`; for a convolution weight
//! `[out, in/groups, kh, kw]`, `fan_in = in/groups · kh · kw` and `fan_out = out · kh · kw`.

use rand::Rng;
use rand_distr::{Distribution, Normal};
use strata_tensor::{Element, Tensor};

use crate::error::{LayersError, Result};

/// How to fill a new parameter tensor.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Initializer {
    /// Uniform on `±sqrt(6 / (fan_in + fan_out))`: Keras `glorot_uniform` (the Keras default
    /// for Conv2D and Dense kernels), PyTorch `xavier_uniform_`.
    GlorotUniform,
    /// Truncated normal (at two standard deviations) with standard deviation
    /// `sqrt(2 / (fan_in + fan_out)) / 0.8796…`: Keras `glorot_normal`.
    GlorotNormal,
    /// Uniform on `±sqrt(6 / fan_in)`: Keras `he_uniform`, PyTorch
    /// `kaiming_uniform_(nonlinearity="relu")`.
    HeUniform,
    /// Truncated normal with standard deviation `sqrt(2 / fan_in) / 0.8796…`: Keras
    /// `he_normal`.
    HeNormal,
    /// PyTorch's default for `nn.Conv2d` and `nn.Linear` weights and biases: uniform on
    /// `±1/sqrt(fan_in)` (`kaiming_uniform_(a=sqrt(5))` for weights, the same bound for biases).
    TorchDefault,
    /// All zeros: the Keras default for biases.
    Zeros,
    /// Every element equal to the value.
    Constant(f64),
}

/// Keras scales a truncated normal's standard deviation by this factor so that the
/// truncated distribution has the intended variance.
const TRUNCATED_NORMAL_CORRECTION: f64 = 0.879_625_661_034_239_8;

impl Initializer {
    /// A tensor of `shape` drawn with this initialiser for the given fans.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use strata_layers::init::Initializer;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let w = Initializer::GlorotUniform.tensor::<f32, _>(&[3, 2], 3, 2, &mut rng)?;
    /// let bound = (6.0f32 / 5.0).sqrt();
    /// assert!(w.to_vec().iter().all(|v| v.abs() <= bound));
    /// # Ok::<(), strata_layers::LayersError>(())
    /// ```
    pub fn tensor<T: Element, R: Rng + ?Sized>(
        &self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) -> Result<Tensor<T>> {
        let check_fan = |fan: usize, name: &str| {
            if fan == 0 {
                Err(LayersError::config(
                    format!("{self:?} initialiser"),
                    format!("{name} is 0 for shape {shape:?}"),
                ))
            } else {
                Ok(fan as f64)
            }
        };
        Ok(match *self {
            Self::GlorotUniform => {
                let fans = check_fan(fan_in + fan_out, "fan_in + fan_out")?;
                let bound = (6.0 / fans).sqrt();
                Tensor::rand_uniform(shape, -bound, bound, rng)?
            }
            Self::GlorotNormal => {
                let fans = check_fan(fan_in + fan_out, "fan_in + fan_out")?;
                truncated_normal(
                    shape,
                    (2.0 / fans).sqrt() / TRUNCATED_NORMAL_CORRECTION,
                    rng,
                )
            }
            Self::HeUniform => {
                let bound = (6.0 / check_fan(fan_in, "fan_in")?).sqrt();
                Tensor::rand_uniform(shape, -bound, bound, rng)?
            }
            Self::HeNormal => {
                let std = (2.0 / check_fan(fan_in, "fan_in")?).sqrt();
                truncated_normal(shape, std / TRUNCATED_NORMAL_CORRECTION, rng)
            }
            Self::TorchDefault => {
                let bound = 1.0 / check_fan(fan_in, "fan_in")?.sqrt();
                Tensor::rand_uniform(shape, -bound, bound, rng)?
            }
            Self::Zeros => Tensor::zeros(shape),
            Self::Constant(value) => Tensor::full(shape, T::from_f64_lossy(value)),
        })
    }
}

/// Normal samples with mean 0 and standard deviation `std`, redrawn until within `±2·std`.
fn truncated_normal<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    std: f64,
    rng: &mut R,
) -> Tensor<T> {
    let n = strata_tensor::shape::numel(shape);
    let mut data = Vec::with_capacity(n);
    // `std` is finite and positive here, so `Normal::new` cannot fail; fall back to zeros
    // rather than panic if it ever did.
    if let Ok(normal) = Normal::new(0.0, std) {
        while data.len() < n {
            let v: f64 = normal.sample(rng);
            if v.abs() <= 2.0 * std {
                data.push(T::from_f64_lossy(v));
            }
        }
    } else {
        data.resize(n, T::zero());
    }
    Tensor::from_vec(data, shape).unwrap_or_else(|_| Tensor::zeros(shape))
}

/// The `(fan_in, fan_out)` of a weight shape `[out, in, …]`: a dense weight `[out, in]` or a
/// convolution weight `[out, in/groups, kh, kw]` (PyTorch's `_calculate_fan_in_and_fan_out`).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [out, inp, rest @ ..] => {
            let receptive = rest.iter().fold(1usize, |n, &d| n.saturating_mul(d));
            (inp.saturating_mul(receptive), out.saturating_mul(receptive))
        }
        [n] => (*n, *n),
        [] => (1, 1),
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn moments(t: &Tensor<f64>) -> (f64, f64, f64) {
        let v = t.to_vec();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let max = v.iter().fold(0f64, |m, x| m.max(x.abs()));
        (mean, std, max)
    }

    #[test]
    fn variance_scaling_initialisers_have_the_documented_spread() {
        let mut rng = StdRng::seed_from_u64(1);
        let (fan_in, fan_out) = (300, 200);
        let shape = [fan_in, fan_out];
        let cases = [
            (Initializer::GlorotUniform, (2.0 / 500.0f64).sqrt()),
            (Initializer::GlorotNormal, (2.0 / 500.0f64).sqrt()),
            (Initializer::HeUniform, (2.0 / 300.0f64).sqrt()),
            (Initializer::HeNormal, (2.0 / 300.0f64).sqrt()),
            (Initializer::TorchDefault, (1.0 / (3.0 * 300.0f64)).sqrt()),
        ];
        for (init, expected_std) in cases {
            let t: Tensor<f64> = init.tensor(&shape, fan_in, fan_out, &mut rng).unwrap();
            let (mean, std, _) = moments(&t);
            assert!(
                mean.abs() < 0.01 * expected_std.max(0.1),
                "{init:?} mean {mean}"
            );
            assert!(
                (std / expected_std - 1.0).abs() < 0.03,
                "{init:?} std {std} vs {expected_std}"
            );
        }
    }

    #[test]
    fn truncated_normals_stay_within_two_deviations() {
        let mut rng = StdRng::seed_from_u64(2);
        let t: Tensor<f64> = Initializer::HeNormal
            .tensor(&[1000], 50, 50, &mut rng)
            .unwrap();
        let std = (2.0f64 / 50.0).sqrt() / TRUNCATED_NORMAL_CORRECTION;
        assert!(moments(&t).2 <= 2.0 * std);
    }

    #[test]
    fn constants_and_zero_fans() {
        let mut rng = StdRng::seed_from_u64(3);
        let c: Tensor<f32> = Initializer::Constant(0.5)
            .tensor(&[2], 1, 1, &mut rng)
            .unwrap();
        assert_eq!(c.to_vec(), vec![0.5, 0.5]);
        assert!(Initializer::HeUniform
            .tensor::<f32, _>(&[0, 3], 0, 3, &mut rng)
            .is_err());
    }

    #[test]
    fn fans_of_dense_and_conv_weights() {
        assert_eq!(fans(&[64, 576]), (576, 64));
        assert_eq!(fans(&[32, 3, 6, 6]), (108, 1152));
    }
}
