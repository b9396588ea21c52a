//! Batch normalisation over the channel axis (axis 1) of `[N, C, …]` inputs, in training
//! mode (the batch's statistics, differentiated through) and in inference mode (fixed
//! running statistics): one op each, forward and backward side by side.

use strata_tensor::{Element, Tensor};

use super::lit;
use crate::error::{AutogradError, Result};
use crate::var::Var;

/// The per-channel statistics of one training-mode batch, for the running estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats<T: Element> {
    /// The batch mean of each channel, `[C]`.
    pub mean: Tensor<T>,
    /// The biased (divide by `count`) batch variance of each channel, `[C]`: the one the
    /// output was normalised with.
    pub var: Tensor<T>,
    /// The number of values each channel's statistics were taken over (`N·H·W`); the
    /// unbiased variance is `var · count / (count − 1)`.
    pub count: usize,
}

/// `[N, C, S]` (S the product of the trailing axes) for an input of rank ≥ 2, checking that
/// `gamma` and `beta` are `[C]`.
fn channel_layout(
    op: &'static str,
    shape: &[usize],
    gamma: &[usize],
    beta: &[usize],
) -> Result<[usize; 3]> {
    let &[n, c, ref rest @ ..] = shape else {
        return Err(AutogradError::shape(
            op,
            format!("expected an input of shape [N, C, …], found {shape:?}"),
        ));
    };
    if gamma != [c] || beta != [c] {
        return Err(AutogradError::shape(
            op,
            format!(
                "gamma {gamma:?} and beta {beta:?} must both be [{c}] for an input of shape {shape:?}"
            ),
        ));
    }
    Ok([n, c, rest.iter().product()])
}

/// `1 / sqrt(var + eps)` for each element.
fn inverse_std<T: Element>(var: &Tensor<T>, eps: T) -> Tensor<T> {
    var.map(|v| T::one() / (v + eps).sqrt())
}

impl<T: Element> Var<T> {
    /// Training-mode batch normalisation (`torch.nn.functional.batch_norm(training=True)`,
    /// Keras `BatchNormalization()(x, training=True)`): each channel `c` of the `[N, C, …]`
    /// input is normalised with the mean `μ` and biased variance `σ²` of its `N·H·W` values,
    /// `y = γ · (x − μ) / sqrt(σ² + eps) + β`. Returns the output and the batch statistics
    /// (for the running estimates, which are no part of the graph).
    ///
    /// With `x̂` the normalised input, `M` the count and sums over a channel's values:
    /// ∂β = Σ g, ∂γ = Σ g·x̂, ∂x = γ / sqrt(σ² + eps) · (g − Σ g / M − x̂ · Σ g·x̂ / M)
    /// (the gradient through μ and σ² included).
    pub fn batch_norm_train(
        &self,
        gamma: &Var<T>,
        beta: &Var<T>,
        eps: f64,
    ) -> Result<(Var<T>, BatchStats<T>)> {
        const OP: &str = "batch_norm_train";
        let [n, c, s] = channel_layout(OP, self.shape(), gamma.shape(), beta.shape())?;
        let count = n * s;
        if count == 0 {
            return Err(AutogradError::shape(
                OP,
                format!(
                    "no values per channel to take statistics over in an input of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let shape = self.shape().to_vec();
        let x = self.value().reshape(&[n, c, s])?;
        let mean = x.mean_axes(&[0, 2], true)?;
        let centred = x.sub(&mean)?;
        let var = centred.map(|v| v * v).mean_axes(&[0, 2], true)?;
        let invstd = inverse_std(&var, lit(eps));
        let x_hat = centred.mul(&invstd)?;
        let g3 = gamma.value().reshape(&[1, c, 1])?;
        let out = x_hat
            .mul(&g3)?
            .add(&beta.value().reshape(&[1, c, 1])?)?
            .reshape(&shape)?;
        let stats = BatchStats {
            mean: mean.reshape(&[c])?,
            var: var.reshape(&[c])?,
            count,
        };
        let m: T = lit(count as f64);
        let y = Var::record(OP, out, &[self, gamma, beta], move |g, needs| {
            let g = g.reshape(&[n, c, s])?;
            let sum_g = g.sum_axes(&[0, 2], true)?;
            let sum_gx = g.mul(&x_hat)?.sum_axes(&[0, 2], true)?;
            let dx = if needs[0] {
                let mean_g = sum_g.mul_scalar(T::one() / m);
                let mean_gx = sum_gx.mul_scalar(T::one() / m);
                let scale = g3.mul(&invstd)?;
                let inner = g.sub(&mean_g)?.sub(&x_hat.mul(&mean_gx)?)?;
                Some(inner.mul(&scale)?.reshape(&shape)?)
            } else {
                None
            };
            let dgamma = if needs[1] {
                Some(sum_gx.reshape(&[c])?)
            } else {
                None
            };
            let dbeta = if needs[2] {
                Some(sum_g.reshape(&[c])?)
            } else {
                None
            };
            Ok(vec![dx, dgamma, dbeta])
        });
        Ok((y, stats))
    }

    /// Inference-mode batch normalisation with fixed per-channel statistics `mean` and `var`
    /// (`[C]`, the running estimates): `y = γ · (x − mean) / sqrt(var + eps) + β`
    /// (`torch.nn.functional.batch_norm(training=False)`).
    ///
    /// With `x̂ = (x − mean) / sqrt(var + eps)`: ∂x = g · γ / sqrt(var + eps), ∂γ = Σ g·x̂,
    /// ∂β = Σ g (the statistics are constants).
    pub fn batch_norm_eval(
        &self,
        gamma: &Var<T>,
        beta: &Var<T>,
        mean: &Tensor<T>,
        var: &Tensor<T>,
        eps: f64,
    ) -> Result<Var<T>> {
        const OP: &str = "batch_norm_eval";
        let [n, c, s] = channel_layout(OP, self.shape(), gamma.shape(), beta.shape())?;
        if mean.shape() != [c] || var.shape() != [c] {
            return Err(AutogradError::shape(
                OP,
                format!(
                    "running mean {:?} and variance {:?} must both be [{c}]",
                    mean.shape(),
                    var.shape()
                ),
            ));
        }
        let shape = self.shape().to_vec();
        let x = self.value().reshape(&[n, c, s])?;
        let invstd = inverse_std(&var.reshape(&[1, c, 1])?, lit(eps));
        let mean = mean.reshape(&[1, c, 1])?;
        let g3 = gamma.value().reshape(&[1, c, 1])?;
        let scale = g3.mul(&invstd)?;
        let out = x
            .sub(&mean)?
            .mul(&scale)?
            .add(&beta.value().reshape(&[1, c, 1])?)?
            .reshape(&shape)?;
        Ok(Var::record(
            OP,
            out,
            &[self, gamma, beta],
            move |g, needs| {
                let g = g.reshape(&[n, c, s])?;
                let dx = if needs[0] {
                    Some(g.mul(&scale)?.reshape(&shape)?)
                } else {
                    None
                };
                let dgamma = if needs[1] {
                    let x_hat = x.sub(&mean)?.mul(&invstd)?;
                    Some(g.mul(&x_hat)?.sum_axes(&[0, 2], false)?.reshape(&[c])?)
                } else {
                    None
                };
                let dbeta = if needs[2] {
                    Some(g.sum_axes(&[0, 2], false)?.reshape(&[c])?)
                } else {
                    None
                };
                Ok(vec![dx, dgamma, dbeta])
            },
        ))
    }
}

#[cfg(test)]
#[path = "batch_norm_tests.rs"]
mod tests;
