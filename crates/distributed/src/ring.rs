//! A ring all-reduce (reduce-scatter, then all-gather) whose additions run in one fixed
//! order, so that every rank gets the same bits whatever the ranks' timing.
//!
//! The buffer is cut into `N` chunks (chunk `c` is [`shard_range`]`(len, c, N)`), and the
//! ranks form the ring `0 → 1 → … → N−1 → 0`. In the reduce-scatter, chunk `c` starts at
//! rank `c` and travels round the ring, each rank adding its own values to the partial sum it
//! received, so that rank `c − 1` ends holding
//!
//! ```text
//! chunk c = ((x_c + x_{c+1}) + x_{c+2}) + … + x_{c+N−1}     (ranks mod N)
//! ```
//!
//! and the all-gather then copies each finished chunk round the ring. Each rank sends and
//! receives `2(N−1)/N` of the buffer (against `N−1` whole buffers received by a gather
//! followed by a local sum), in `2(N−1)` messages.
//!
//! The order is fixed by the world size and the buffer's length alone: runs repeat bit for
//! bit, and every rank holds the same bits. Chunk 0 is summed in rank order; other chunks
//! start at their own rank, so on three or more ranks the result can differ in the last bit
//! from [`Communicator::all_reduce_sum_f32`]'s rank-order sum. On two ranks it cannot
//! (`x₁ + x₀` is `x₀ + x₁` in IEEE arithmetic).

use std::ops::Range;

use crate::communicator::{Communicator, Reducible};
use crate::error::{DistributedError, Result};
use crate::shard::shard_range;

/// Replaces `buffer` on every rank of `comm` by the element-wise sum of every rank's
/// `buffer`, with a ring all-reduce in the fixed order described in this module's
/// documentation (`((x_c + x_{c+1}) + …)` for chunk `c`). `scratch` is reused between
/// calls to hold one received chunk. A collective operation: every rank calls it with
/// buffers of the same length.
pub fn ring_all_reduce<T: Reducible>(
    comm: &dyn Communicator,
    buffer: &mut [T],
    scratch: &mut Vec<T>,
) -> Result<()> {
    let n = comm.world_size();
    let rank = comm.rank();
    if n <= 1 {
        return Ok(());
    }
    if rank >= n {
        return Err(DistributedError::config(
            "ring all-reduce",
            format!("rank {rank} in a group of {n}"),
        ));
    }
    let len = buffer.len();
    let chunk = |c: usize| shard_range(len, c % n, n);
    let right = (rank + 1) % n;
    let left = (rank + n - 1) % n;
    // Reduce-scatter: at step s, send chunk (rank − s) and add into chunk (rank − s − 1).
    for s in 0..n - 1 {
        let out = chunk(rank + n - s);
        let into = chunk(rank + 2 * n - s - 1);
        scratch.clear();
        scratch.resize(into.len(), T::zero());
        T::send_recv(comm, &buffer[out], right, scratch, left)?;
        for (own, &partial) in buffer[into].iter_mut().zip(scratch.iter()) {
            // The partial sum of the ranks before this one, then this rank's value.
            *own = partial + *own;
        }
    }
    // All-gather: at step s, pass on finished chunk (rank + 1 − s), receive (rank − s).
    for s in 0..n - 1 {
        let out = chunk(rank + 1 + n - s);
        let into = chunk(rank + n - s);
        let (send, receive) = disjoint(buffer, out, into);
        T::send_recv(comm, send, right, receive, left)?;
    }
    Ok(())
}

/// `buffer[a]` to read and `buffer[b]` to write, for ranges that do not overlap.
fn disjoint<T>(buffer: &mut [T], a: Range<usize>, b: Range<usize>) -> (&[T], &mut [T]) {
    if a.end <= b.start {
        let (low, high) = buffer.split_at_mut(b.start);
        (&low[a], &mut high[..b.end - b.start])
    } else {
        let (low, high) = buffer.split_at_mut(a.start);
        (&high[..a.end - a.start], &mut low[b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalGroup;

    /// Runs `body` on every rank of a group of `n`, each on its own thread.
    fn on_ranks<R: Send>(n: usize, body: impl Fn(&dyn Communicator) -> R + Sync) -> Vec<R> {
        let comms = LocalGroup::ranks(n).unwrap();
        std::thread::scope(|s| {
            let handles: Vec<_> = comms
                .into_iter()
                .map(|c| {
                    let body = &body;
                    s.spawn(move || body(&c))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    /// The naive reference: element i of chunk c is the left-to-right sum of the ranks'
    /// values in the order c, c+1, …, c+N−1 (mod N).
    fn ring_order_sum<T: Reducible>(inputs: &[Vec<T>]) -> Vec<T> {
        let n = inputs.len();
        let len = inputs[0].len();
        (0..len)
            .map(|i| {
                let c = (0..n)
                    .find(|&c| shard_range(len, c, n).contains(&i))
                    .unwrap();
                let mut sum = inputs[c][i];
                for k in 1..n {
                    sum = sum + inputs[(c + k) % n][i];
                }
                sum
            })
            .collect()
    }

    /// A ring all-reduce of `inputs[rank]` on every rank, twice (the scratch reused).
    fn ring<T: Reducible + Send + Sync>(inputs: &[Vec<T>]) -> Vec<Vec<T>> {
        on_ranks(inputs.len(), |comm| {
            let mut scratch = Vec::new();
            let mut buffer = inputs[comm.rank()].clone();
            ring_all_reduce(comm, &mut buffer, &mut scratch).unwrap();
            let mut again = inputs[comm.rank()].clone();
            ring_all_reduce(comm, &mut again, &mut scratch).unwrap();
            assert_eq!(buffer, again, "the same bits on a second call");
            buffer
        })
    }

    fn inputs_from(seed: u64, n: usize, len: usize, scale: f64) -> Vec<Vec<f64>> {
        // A small linear congruential generator: values of mixed sign and magnitude.
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let unit = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                        unit * scale * 10f64.powi(((state >> 3) % 9) as i32 - 4)
                    })
                    .collect()
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Every rank gets exactly the ring-order sum, for 2 to 5 ranks and buffers shorter
        /// and longer than the ring.
        #[test]
        fn every_rank_gets_the_fixed_order_sum(
            n in 2usize..=5,
            len in 0usize..40,
            seed in proptest::prelude::any::<u64>(),
        ) {
            let inputs = inputs_from(seed, n, len, 1.0);
            let expected = ring_order_sum(&inputs);
            for (rank, got) in ring(&inputs).iter().enumerate() {
                proptest::prop_assert_eq!(got, &expected, "rank {} of {}", rank, n);
            }
            let inputs32: Vec<Vec<f32>> = inputs
                .iter()
                .map(|v| v.iter().map(|&x| x as f32).collect())
                .collect();
            let expected32 = ring_order_sum(&inputs32);
            for got in ring(&inputs32) {
                proptest::prop_assert_eq!(&got, &expected32);
            }
        }

        /// With whole numbers below 2²⁰ (sums of five are exact in `f32`), the ring agrees
        /// with the rank-order sum.
        #[test]
        fn whole_numbers_sum_exactly(n in 2usize..=5, len in 0usize..40, seed in 0u64..1000) {
            let inputs: Vec<Vec<f32>> = inputs_from(seed, n, len, 1.0)
                .iter()
                .map(|v| v.iter().map(|&x| ((x * 1e9).round() as i64 % (1 << 20)) as f32).collect())
                .collect();
            let expected: Vec<f32> = (0..len)
                .map(|i| inputs.iter().fold(0.0, |s, v| s + v[i]))
                .collect();
            for got in ring(&inputs) {
                proptest::prop_assert_eq!(&got, &expected);
            }
        }
    }

    #[test]
    fn the_order_is_the_ring_order_not_the_rank_order() {
        // Three ranks, three elements, one per chunk. The rank order gives
        // (1e16 + 1) − 1e16 = 0 for each; the ring sums chunk 2 from rank 2:
        // (−1e16 + 1e16) + 1 = 1 (chunk 1: (1 − 1e16) + 1e16 = 0).
        let inputs = vec![
            vec![1e16f64, 1e16, 1e16],
            vec![1.0, 1.0, 1.0],
            vec![-1e16, -1e16, -1e16],
        ];
        for got in ring(&inputs) {
            assert_eq!(got, [0.0, 0.0, 1.0]);
        }
        // On two ranks the ring is the rank order: addition commutes.
        let two = inputs_from(7, 2, 33, 1.0);
        let rank_order: Vec<f64> = (0..33).map(|i| two[0][i] + two[1][i]).collect();
        for got in ring(&two) {
            assert_eq!(got, rank_order);
        }
    }

    #[test]
    fn one_rank_keeps_its_buffer() {
        let mut v = [1.5f32, 2.0];
        ring_all_reduce(&crate::SingleProcess, &mut v, &mut Vec::new()).unwrap();
        assert_eq!(v, [1.5, 2.0]);
    }
}
