//! Seeded random tensors. Every function takes the generator explicitly, so that results
//! are reproducible from a seed.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shape::numel;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// Values drawn uniformly from `[low, high)`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use strata_tensor::Tensor;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    /// let t = Tensor::<f32>::rand_uniform(&[2, 3], -1.0, 1.0, &mut rng)?;
    /// assert!(t.to_vec().iter().all(|v| (-1.0..1.0).contains(v)));
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn rand_uniform<R: Rng + ?Sized>(
        shape: &[usize],
        low: f64,
        high: f64,
        rng: &mut R,
    ) -> Result<Self> {
        let dist = Uniform::new(low, high).map_err(|e| {
            TensorError::invalid("rand_uniform", format!("range [{low}, {high}): {e}"))
        })?;
        Ok(Self::sample(shape, dist, rng))
    }

    /// Values drawn from a normal distribution with mean `mean` and standard deviation `std`.
    pub fn rand_normal<R: Rng + ?Sized>(
        shape: &[usize],
        mean: f64,
        std: f64,
        rng: &mut R,
    ) -> Result<Self> {
        if !(std >= 0.0 && std.is_finite() && mean.is_finite()) {
            return Err(TensorError::invalid(
                "rand_normal",
                format!("mean {mean} must be finite and std {std} finite and non-negative"),
            ));
        }
        let dist = Normal::new(mean, std).map_err(|e| {
            TensorError::invalid("rand_normal", format!("mean {mean}, std {std}: {e}"))
        })?;
        Ok(Self::sample(shape, dist, rng))
    }

    fn sample<D: Distribution<f64>, R: Rng + ?Sized>(
        shape: &[usize],
        dist: D,
        rng: &mut R,
    ) -> Self {
        let data = (0..numel(shape))
            .map(|_| T::from_f64_lossy(dist.sample(rng)))
            .collect();
        Self::from_contiguous(data, shape)
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use crate::Tensor;

    #[test]
    fn same_seed_same_values() {
        let a = Tensor::<f32>::rand_normal(&[10], 0., 1., &mut StdRng::seed_from_u64(3)).unwrap();
        let b = Tensor::<f32>::rand_normal(&[10], 0., 1., &mut StdRng::seed_from_u64(3)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_parameters_are_errors() {
        let mut rng = StdRng::seed_from_u64(0);
        assert!(Tensor::<f32>::rand_uniform(&[1], 1., 0., &mut rng).is_err());
        assert!(Tensor::<f32>::rand_normal(&[1], 0., -1., &mut rng).is_err());
    }

    #[test]
    fn normal_has_the_requested_moments() {
        let t =
            Tensor::<f64>::rand_normal(&[20000], 2., 3., &mut StdRng::seed_from_u64(1)).unwrap();
        let v = t.to_vec();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!((mean - 2.).abs() < 0.1, "mean {mean}");
        assert!((var.sqrt() - 3.).abs() < 0.1, "std {}", var.sqrt());
    }
}
