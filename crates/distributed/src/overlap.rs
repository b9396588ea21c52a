//! Gradient averaging that overlaps the backward pass: each parameter's gradient is put in
//! a bucket as soon as it is final (the last layers' first), and each full bucket is summed
//! across ranks by a background thread, over a second communicator, while the backward pass
//! goes on; the optimiser step waits only for what is left.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use strata_layers::train::{GradientHook, HookResult, ReadyGradient, StepGradients};
use strata_tensor::Tensor;

use crate::average::{GradientAverager, ReduceAlgorithm, ReduceStats};
use crate::communicator::{Communicator, Reducible};
use crate::error::{DistributedError, Result};
use crate::ring::ring_all_reduce;

/// The background thread: sums each bucket it is sent and sends it back, in order.
struct Worker<T> {
    jobs: Option<Sender<Vec<T>>>,
    results: Receiver<Result<(Vec<T>, Duration)>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Reducible> Worker<T> {
    /// Starts the thread, which makes its communicator from `comm`'s recipe; returns once
    /// it has (so that no other collective call runs meanwhile).
    fn start(comm: &dyn Communicator, algorithm: ReduceAlgorithm) -> Result<Self> {
        let recipe = comm.background()?;
        let (jobs, inbox) = channel::<Vec<T>>();
        let (outbox, results) = channel();
        let (ready_tx, ready_rx) = channel();
        let thread = std::thread::Builder::new()
            .name("gradient-reduce".into())
            .spawn(move || {
                let comm = match recipe() {
                    Ok(comm) => {
                        let _ = ready_tx.send(Ok(()));
                        comm
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut scratch = Vec::new();
                for mut bucket in inbox {
                    let started = Instant::now();
                    let done = match algorithm {
                        ReduceAlgorithm::Ring => {
                            ring_all_reduce(comm.as_ref(), &mut bucket, &mut scratch)
                        }
                        ReduceAlgorithm::AllReduce => T::all_reduce_sum(comm.as_ref(), &mut bucket),
                    };
                    let _ = outbox.send(done.map(|()| (bucket, started.elapsed())));
                }
            })
            .map_err(|e| DistributedError::config("gradient-reduce thread", e.to_string()))?;
        ready_rx
            .recv()
            .map_err(|_| DistributedError::config("gradient-reduce thread", "it stopped"))??;
        Ok(Self {
            jobs: Some(jobs),
            results,
            thread: Some(thread),
        })
    }

    fn send(&self, bucket: Vec<T>) -> Result<()> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(bucket).ok())
            .ok_or_else(|| DistributedError::config("gradient-reduce thread", "it stopped"))
    }

    fn receive(&self) -> Result<(Vec<T>, Duration)> {
        self.results
            .recv()
            .map_err(|_| DistributedError::config("gradient-reduce thread", "it stopped"))?
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.jobs = None; // ends the thread's loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The step in progress: what has been handed to the worker.
struct Step<T> {
    weight: T,
    global_loss: f64,
    /// (name, length) of each ready gradient, in the order they came.
    layout: Vec<(String, usize)>,
    /// The bucket being filled.
    filling: Vec<T>,
    /// Buckets sent and not yet received.
    in_flight: usize,
    /// Time in the header's all-reduce.
    header: Duration,
}

/// A [`GradientHook`] that averages gradients as [`GradientAverager`] does, but starts
/// summing each bucket during the backward pass (on a background thread, over
/// [`Communicator::background`]). Buckets are filled in the order gradients become final;
/// on two ranks the result is bit for bit that of [`GradientAverager`], on more it can
/// differ in the last bits (the ring's chunks fall elsewhere) but stays the same on every
/// rank and from run to run.
///
/// [`ReduceStats::time`] counts the time the training thread waits: the header's
/// all-reduce and, after the backward pass, the buckets still in flight.
pub struct OverlappedAverager<T: Reducible> {
    comm: Rc<dyn Communicator>,
    bucket_elements: usize,
    worker: Worker<T>,
    step: Option<Step<T>>,
    failure: Option<DistributedError>,
    /// For a step whose gradients did not come one by one.
    whole: GradientAverager,
    stats: Rc<RefCell<ReduceStats>>,
}

impl<T: Reducible> OverlappedAverager<T> {
    /// Averages over `comm`'s ranks in buckets of `bucket_elements` (at least 1) with
    /// `algorithm`, starting the background thread. A collective operation.
    pub fn new(
        comm: Rc<dyn Communicator>,
        bucket_elements: usize,
        algorithm: ReduceAlgorithm,
    ) -> Result<Self> {
        let worker = Worker::start(comm.as_ref(), algorithm)?;
        let whole = GradientAverager::new(comm.clone(), bucket_elements).with_algorithm(algorithm);
        let stats = whole.stats();
        Ok(Self {
            comm,
            bucket_elements: bucket_elements.max(1),
            worker,
            step: None,
            failure: None,
            whole,
            stats,
        })
    }

    /// The figures so far, shared: they keep counting while the averager trains.
    pub fn stats(&self) -> Rc<RefCell<ReduceStats>> {
        self.stats.clone()
    }

    /// Starts a step: the global sample count and loss, as [`GradientAverager`] does.
    fn begin(&self, samples: usize, loss: f64) -> Result<Step<T>> {
        let started = Instant::now();
        let samples = samples as f64;
        let mut header = [samples, loss * samples];
        self.comm.all_reduce_sum_f64(&mut header)?;
        let [total, loss_sum] = header;
        if total <= 0.0 {
            return Err(DistributedError::config(
                "gradient averaging",
                "the ranks' batches hold no samples",
            ));
        }
        Ok(Step {
            weight: T::from_f64(samples / total).unwrap_or_else(T::zero),
            global_loss: loss_sum / total,
            layout: Vec::new(),
            filling: Vec::with_capacity(self.bucket_elements),
            in_flight: 0,
            header: started.elapsed(),
        })
    }

    fn ready(&mut self, ready: &ReadyGradient<'_, T>) -> Result<()> {
        let mut step = match self.step.take() {
            Some(step) => step,
            None => self.begin(ready.samples, ready.loss)?,
        };
        let values = ready.gradient.to_vec();
        step.layout.push((ready.name.to_string(), values.len()));
        let mut rest = values.as_slice();
        while !rest.is_empty() {
            let room = self.bucket_elements - step.filling.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            step.filling.extend(now.iter().map(|&v| v * step.weight));
            rest = later;
            if step.filling.len() == self.bucket_elements {
                let full =
                    std::mem::replace(&mut step.filling, Vec::with_capacity(self.bucket_elements));
                self.worker.send(full)?;
                step.in_flight += 1;
            }
        }
        self.step = Some(step);
        Ok(())
    }

    /// Ends a step: waits for the buckets in flight and puts the sums in place.
    fn finish(&mut self, mut step: Step<T>, gradients: StepGradients<'_, T>) -> Result<()> {
        let started = Instant::now();
        let mut operations = 1 + step.in_flight;
        if !step.filling.is_empty() {
            self.worker.send(std::mem::take(&mut step.filling))?;
            step.in_flight += 1;
            operations += 1;
        }
        let mut flat = Vec::with_capacity(step.layout.iter().map(|(_, n)| n).sum());
        for _ in 0..step.in_flight {
            let (bucket, _) = self.worker.receive()?;
            flat.extend(bucket);
        }
        let waited = started.elapsed();
        *gradients.loss = step.global_loss;
        let mut offset = 0;
        let mut placed = 0;
        for (name, n) in &step.layout {
            let values = flat.get(offset..offset + n).unwrap_or_default();
            offset += n;
            if let Some((_, g)) = gradients.gradients.iter_mut().find(|(m, _)| m == name) {
                *g = Tensor::from_vec(values.to_vec(), g.shape()).map_err(|e| {
                    DistributedError::config(format!("gradient of {name}"), e.to_string())
                })?;
                placed += 1;
            }
        }
        if placed != gradients.gradients.len() {
            return Err(DistributedError::config(
                "overlapped gradient averaging",
                format!(
                    "{} gradients at the step's end but {placed} came during the backward pass",
                    gradients.gradients.len()
                ),
            ));
        }
        let mut stats = self.stats.borrow_mut();
        stats.steps += 1;
        stats.operations += operations;
        stats.bytes += flat.len() * std::mem::size_of::<T>();
        stats.time += step.header + waited;
        Ok(())
    }
}

impl<T: Reducible> GradientHook<T> for OverlappedAverager<T> {
    fn on_gradients(&mut self, step: StepGradients<'_, T>) -> HookResult {
        if let Some(failure) = self.failure.take() {
            self.step = None;
            return Err(failure.into());
        }
        match self.step.take() {
            Some(started) => Ok(self.finish(started, step)?),
            None => Ok(self.whole.average(step)?),
        }
    }

    fn wants_ready_gradients(&self) -> bool {
        true
    }

    fn on_step_abandoned(&mut self) {
        // Collect the buckets already sent, so that the next step's results are its own.
        if let Some(step) = self.step.take() {
            for _ in 0..step.in_flight {
                if let Err(e) = self.worker.receive() {
                    self.failure.get_or_insert(e);
                    break;
                }
            }
        }
    }

    fn on_gradient_ready(&mut self, ready: ReadyGradient<'_, T>) {
        if self.failure.is_none() {
            if let Err(e) = self.ready(&ready) {
                self.failure = Some(e);
            }
        }
    }
}
