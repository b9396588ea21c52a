//! The few collective operations data-parallel training needs, behind one trait, and the
//! trivial group of one process.

use strata_tensor::Element;

use crate::error::Result;

/// A group of `world_size` ranks (processes or threads) that take part in collective
/// operations together. Every rank must make the same calls in the same order with buffers
/// of the same lengths, as in MPI.
///
/// Determinism: [`Communicator::all_reduce_sum_f32`] and its `f64` twin give every rank the
/// same bits, the sum in rank order `((x₀ + x₁) + x₂) + …`, unless an implementation says
/// otherwise (the MPI communicator's `ReduceOrder::Native`, feature `mpi`). The ring
/// all-reduce of [`ring_all_reduce`](crate::ring_all_reduce) is built on
/// [`Communicator::send_recv_f32`] and fixes its own order.
pub trait Communicator {
    /// This rank, in `0..world_size`.
    fn rank(&self) -> usize;

    /// Ranks in the group (at least 1).
    fn world_size(&self) -> usize;

    /// Replaces `buffer` on every rank by the element-wise sum of every rank's `buffer`.
    fn all_reduce_sum_f32(&self, buffer: &mut [f32]) -> Result<()>;

    /// Replaces `buffer` on every rank by the element-wise sum of every rank's `buffer`.
    fn all_reduce_sum_f64(&self, buffer: &mut [f64]) -> Result<()>;

    /// Every rank's `value`, in rank order.
    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>>;

    /// Sends `send` to rank `to` and, at the same time, receives exactly `receive.len()`
    /// values from rank `from` into `receive` (`MPI_Sendrecv`): every rank of a ring can
    /// call it at once without deadlock. Messages between two ranks arrive in the order
    /// they were sent; a message of another length than `receive` is an error.
    fn send_recv_f32(
        &self,
        send: &[f32],
        to: usize,
        receive: &mut [f32],
        from: usize,
    ) -> Result<()>;

    /// The `f64` twin of [`Communicator::send_recv_f32`].
    fn send_recv_f64(
        &self,
        send: &[f64],
        to: usize,
        receive: &mut [f64],
        from: usize,
    ) -> Result<()>;

    /// A recipe for a second communicator over the same ranks, made and used on another
    /// thread, whose operations never mix with this one's (`MPI_Comm_dup`): a background
    /// thread can reduce gradients with it while this thread runs the backward pass. Every
    /// rank must ask for one and run it at the same point, and make no other collective
    /// call until the recipe has run. The default is an error: not supported.
    fn background(&self) -> Result<CommunicatorRecipe> {
        Err(crate::error::DistributedError::config(
            "Communicator::background",
            "this communicator has no second channel for a background thread",
        ))
    }
}

/// Makes, on the thread that runs it, a communicator (see [`Communicator::background`]).
pub type CommunicatorRecipe = Box<dyn FnOnce() -> Result<Box<dyn Communicator>> + Send>;

/// An element type that can be summed across ranks: `f32` and `f64`.
pub trait Reducible: Element + Send + 'static {
    /// Sums `buffer` across the ranks of `comm`, in place.
    fn all_reduce_sum(comm: &dyn Communicator, buffer: &mut [Self]) -> Result<()>;

    /// [`Communicator::send_recv_f32`] or its `f64` twin.
    fn send_recv(
        comm: &dyn Communicator,
        send: &[Self],
        to: usize,
        receive: &mut [Self],
        from: usize,
    ) -> Result<()>;
}

impl Reducible for f32 {
    fn all_reduce_sum(comm: &dyn Communicator, buffer: &mut [Self]) -> Result<()> {
        comm.all_reduce_sum_f32(buffer)
    }

    fn send_recv(
        comm: &dyn Communicator,
        send: &[Self],
        to: usize,
        receive: &mut [Self],
        from: usize,
    ) -> Result<()> {
        comm.send_recv_f32(send, to, receive, from)
    }
}

impl Reducible for f64 {
    fn all_reduce_sum(comm: &dyn Communicator, buffer: &mut [Self]) -> Result<()> {
        comm.all_reduce_sum_f64(buffer)
    }

    fn send_recv(
        comm: &dyn Communicator,
        send: &[Self],
        to: usize,
        receive: &mut [Self],
        from: usize,
    ) -> Result<()> {
        comm.send_recv_f64(send, to, receive, from)
    }
}

/// A send to oneself in a group of one: `receive` becomes `send`.
fn loop_back<T: Copy>(send: &[T], to: usize, receive: &mut [T], from: usize) -> Result<()> {
    if to != 0 || from != 0 || send.len() != receive.len() {
        return Err(crate::error::DistributedError::Communication {
            rank: 0,
            world_size: 1,
            operation: "send_recv",
            message: format!(
                "a group of one sends {} values to rank {to} and receives {} from rank {from}; \
                 expected rank 0 both ways and equal lengths",
                send.len(),
                receive.len()
            ),
        });
    }
    receive.copy_from_slice(send);
    Ok(())
}

/// The group of one: every collective operation returns its input. Training through it is
/// bit for bit the plain `Model::fit_batches`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn all_reduce_sum_f32(&self, _buffer: &mut [f32]) -> Result<()> {
        Ok(())
    }

    fn all_reduce_sum_f64(&self, _buffer: &mut [f64]) -> Result<()> {
        Ok(())
    }

    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>> {
        Ok(vec![value])
    }

    fn send_recv_f32(
        &self,
        send: &[f32],
        to: usize,
        receive: &mut [f32],
        from: usize,
    ) -> Result<()> {
        loop_back(send, to, receive, from)
    }

    fn send_recv_f64(
        &self,
        send: &[f64],
        to: usize,
        receive: &mut [f64],
        from: usize,
    ) -> Result<()> {
        loop_back(send, to, receive, from)
    }

    fn background(&self) -> Result<CommunicatorRecipe> {
        Ok(Box::new(|| {
            Ok(Box::new(SingleProcess) as Box<dyn Communicator>)
        }))
    }
}

/// Sums `parts` (one slice per rank, equal lengths) element-wise in rank order into `out`:
/// `out[i] = ((parts[0][i] + parts[1][i]) + parts[2][i]) + …`.
pub(crate) fn sum_in_rank_order<T: Copy + std::ops::Add<Output = T>>(
    parts: &[&[T]],
    out: &mut [T],
) {
    if let Some((first, rest)) = parts.split_first() {
        out.copy_from_slice(first);
        for part in rest {
            for (o, &p) in out.iter_mut().zip(part.iter()) {
                *o = *o + p;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_runs_in_rank_order() {
        // 1e16 + 1 - 1e16 is 0 left to right, but 1 if the last two were added first.
        let a = [1e16f64];
        let b = [1.0];
        let c = [-1e16];
        let mut out = [f64::NAN];
        sum_in_rank_order(&[&a, &b, &c], &mut out);
        assert_eq!(out, [0.0]);
        sum_in_rank_order(&[&a, &c, &b], &mut out);
        assert_eq!(out, [1.0]);
    }

    #[test]
    fn a_group_of_one_returns_its_input() {
        let comm = SingleProcess;
        let mut v = [1.5f32, -2.0];
        f32::all_reduce_sum(&comm, &mut v).unwrap();
        assert_eq!(v, [1.5, -2.0]);
        assert_eq!(comm.all_gather_u64(9).unwrap(), [9]);
        assert_eq!((comm.rank(), comm.world_size()), (0, 1));
    }
}
