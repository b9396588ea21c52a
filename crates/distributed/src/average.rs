//! The averaging step: each rank's gradients, weighted by its share of the global batch,
//! summed across ranks in buckets of bounded size, so that every rank applies the same
//! gradient, that of the mean loss over the global batch.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use strata_layers::train::{GradientHook, HookResult, StepGradients};
use strata_tensor::Tensor;

use crate::communicator::{Communicator, Reducible};
use crate::error::DistributedError;
use crate::ring::ring_all_reduce;

/// Default bucket size: 1 Mi elements (4 MiB of `f32`), small enough to bound the extra
/// memory of a reduction, large enough that per-message latency is small beside transfer.
pub const DEFAULT_BUCKET_ELEMENTS: usize = 1 << 20;

/// How [`GradientAverager`] sums each bucket across ranks. Both give every rank the same
/// bits, in an order fixed by the world size and the bucket's length, so runs repeat bit for
/// bit; on two ranks both give the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReduceAlgorithm {
    /// [`ring_all_reduce`]: a reduce-scatter and an all-gather round the ring of ranks,
    /// `2(N−1)/N` of the bucket sent and received per rank; chunk `c` of a bucket is summed
    /// starting from rank `c` in ring order (`((x_c + x_{c+1}) + …)`). The default: on two
    /// ranks under MPI it was measured as fast as the gather or faster (`docs/benchmarks.md`).
    #[default]
    Ring,
    /// The communicator's own [`Communicator::all_reduce_sum_f32`]: on [`LocalGroup`](crate::LocalGroup)
    /// and `Mpi` a gather of every rank's bucket summed in rank order on each rank
    /// (`((x₀ + x₁) + x₂) + …`, N−1 buckets received per rank), or `MPI_Allreduce` under the
    /// MPI communicator's `ReduceOrder::Native`.
    AllReduce,
}

/// What the averaging has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReduceStats {
    /// Steps averaged.
    pub steps: usize,
    /// Collective operations issued (one for the step's sample counts and loss, one per
    /// bucket).
    pub operations: usize,
    /// Gradient bytes this rank contributed, summed over steps.
    pub bytes: usize,
    /// Wall time spent in collective operations (waiting for slower ranks included).
    pub time: Duration,
}

impl ReduceStats {
    /// Mean time in collective operations per step.
    pub fn time_per_step(&self) -> Duration {
        self.time / self.steps.max(1) as u32
    }
}

/// A [`GradientHook`] that averages gradients across the ranks of a communicator.
///
/// On each step it first sums `[samples, loss · samples]` in `f64`, so that every rank knows
/// the global batch size `n` and the global mean loss; then it scales its gradients by
/// `samples / n`, flattens them in parameter order, and sums the flat buffer across ranks
/// in buckets of at most `bucket_elements`, each with its [`ReduceAlgorithm`]. With equal
/// shares on a power-of-two number of ranks the scaling is exact, so the result is the
/// fixed-order sum of the ranks' gradients divided by N.
pub struct GradientAverager {
    comm: Rc<dyn Communicator>,
    bucket_elements: usize,
    algorithm: ReduceAlgorithm,
    stats: Rc<RefCell<ReduceStats>>,
}

impl GradientAverager {
    /// Averages over `comm`'s ranks in buckets of `bucket_elements` (at least 1), with the
    /// default [`ReduceAlgorithm::Ring`].
    pub fn new(comm: Rc<dyn Communicator>, bucket_elements: usize) -> Self {
        Self {
            comm,
            bucket_elements: bucket_elements.max(1),
            algorithm: ReduceAlgorithm::default(),
            stats: Rc::default(),
        }
    }

    /// Sums buckets with `algorithm`.
    pub fn with_algorithm(mut self, algorithm: ReduceAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The figures so far, shared: they keep counting while the averager trains.
    pub fn stats(&self) -> Rc<RefCell<ReduceStats>> {
        self.stats.clone()
    }

    /// Averages one step's gradients in place and replaces the loss by the global mean.
    pub fn average<T: Reducible>(&self, step: StepGradients<'_, T>) -> crate::Result<()> {
        let comm = self.comm.as_ref();
        let mut stats = self.stats.borrow_mut();
        let started = Instant::now();
        let samples = step.samples as f64;
        let mut header = [samples, *step.loss * samples];
        comm.all_reduce_sum_f64(&mut header)?;
        let [total, loss_sum] = header;
        if total <= 0.0 {
            return Err(DistributedError::config(
                "gradient averaging",
                "the ranks' batches hold no samples",
            ));
        }
        *step.loss = loss_sum / total;
        let weight = T::from_f64(samples / total).unwrap_or_else(T::zero);
        let mut time = started.elapsed();
        let mut flat: Vec<T> =
            Vec::with_capacity(step.gradients.iter().map(|(_, g)| g.numel()).sum());
        for (_, g) in step.gradients.iter() {
            flat.extend(g.to_vec().into_iter().map(|v| v * weight));
        }
        let mut operations = 1;
        let mut scratch = Vec::new();
        for bucket in flat.chunks_mut(self.bucket_elements) {
            let started = Instant::now();
            match self.algorithm {
                ReduceAlgorithm::Ring => ring_all_reduce(comm, bucket, &mut scratch)?,
                ReduceAlgorithm::AllReduce => T::all_reduce_sum(comm, bucket)?,
            }
            time += started.elapsed();
            operations += 1;
        }
        let mut offset = 0;
        for (name, g) in step.gradients.iter_mut() {
            let n = g.numel();
            let values = flat.get(offset..offset + n).unwrap_or_default().to_vec();
            offset += n;
            *g = Tensor::from_vec(values, g.shape()).map_err(|e| {
                DistributedError::config(format!("gradient of {name}"), e.to_string())
            })?;
        }
        stats.steps += 1;
        stats.operations += operations;
        stats.bytes += flat.len() * std::mem::size_of::<T>();
        stats.time += time;
        Ok(())
    }
}

impl<T: Reducible> GradientHook<T> for GradientAverager {
    fn on_gradients(&mut self, step: StepGradients<'_, T>) -> HookResult {
        Ok(self.average(step)?)
    }
}
