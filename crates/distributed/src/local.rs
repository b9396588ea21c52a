//! A group of ranks inside one process, one thread each, exchanging buffers through shared
//! memory: data-parallel training tested without MPI, with the same rank-order sums.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::communicator::{sum_in_rank_order, Communicator, CommunicatorRecipe};
use crate::error::{DistributedError, Result};

/// What one rank deposits for a collective operation.
#[derive(Debug, Clone)]
enum Payload {
    F32(Vec<f32>),
    F64(Vec<f64>),
    U64(u64),
}

#[derive(Debug)]
struct State {
    /// One slot per rank for the operation in progress.
    slots: Vec<Option<Payload>>,
    /// Ranks that have read the deposited payloads of the current operation.
    read: usize,
    /// A rank was dropped: every later collective operation fails instead of waiting for it.
    left: Option<usize>,
    /// Which ranks were dropped: a receive from one of them fails instead of waiting.
    gone: Vec<bool>,
    /// Point-to-point messages in flight, first sent first, one queue per (sender,
    /// receiver) at `sender * world_size + receiver`.
    mail: Vec<VecDeque<Payload>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    timeout: Duration,
    /// The groups made by [`Communicator::background`]: the k-th call on any rank joins
    /// the k-th group.
    backgrounds: Mutex<Vec<Arc<Shared>>>,
}

impl Shared {
    fn new(world_size: usize, timeout: Duration) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State {
                slots: vec![None; world_size],
                read: 0,
                left: None,
                gone: vec![false; world_size],
                mail: vec![VecDeque::new(); world_size * world_size],
            }),
            changed: Condvar::new(),
            timeout,
            backgrounds: Mutex::new(Vec::new()),
        })
    }
}

/// One rank of a [`LocalGroup`]. Move each into its own thread; dropping one makes the
/// others' collective operations fail with an error instead of waiting for ever.
#[derive(Debug)]
pub struct LocalCommunicator {
    rank: usize,
    world_size: usize,
    shared: Arc<Shared>,
    /// Background groups this rank has joined.
    backgrounds: Cell<usize>,
}

/// Makes the ranks of an in-process group.
#[derive(Debug, Clone, Copy)]
pub struct LocalGroup;

impl LocalGroup {
    /// `world_size` (at least 1) communicators, rank 0 first, whose operations wait at most
    /// 60 s for the other ranks.
    pub fn ranks(world_size: usize) -> Result<Vec<LocalCommunicator>> {
        Self::ranks_with_timeout(world_size, Duration::from_secs(60))
    }

    /// As [`LocalGroup::ranks`], waiting at most `timeout` in any one operation.
    pub fn ranks_with_timeout(
        world_size: usize,
        timeout: Duration,
    ) -> Result<Vec<LocalCommunicator>> {
        if world_size == 0 {
            return Err(DistributedError::config(
                "LocalGroup",
                "a group needs at least 1 rank, found 0",
            ));
        }
        let shared = Shared::new(world_size, timeout);
        Ok((0..world_size)
            .map(|rank| LocalCommunicator {
                rank,
                world_size,
                shared: shared.clone(),
                backgrounds: Cell::new(0),
            })
            .collect())
    }
}

impl LocalCommunicator {
    fn error(&self, operation: &'static str, message: String) -> DistributedError {
        DistributedError::Communication {
            rank: self.rank,
            world_size: self.world_size,
            operation,
            message,
        }
    }

    fn lock(&self, operation: &'static str) -> Result<MutexGuard<'_, State>> {
        self.shared
            .state
            .lock()
            .map_err(|_| self.error(operation, "a rank panicked inside an operation".into()))
    }

    /// Waits on the condition variable until `done` holds, failing if a rank left or the
    /// timeout passed.
    fn wait_until<'g>(
        &self,
        operation: &'static str,
        state: MutexGuard<'g, State>,
        done: impl Fn(&State) -> bool,
    ) -> Result<MutexGuard<'g, State>> {
        self.wait_for(operation, state, done, |s| s.left)
    }

    /// Waits on the condition variable until `done` holds, failing if `left` names a rank
    /// that left or the timeout passed.
    fn wait_for<'g>(
        &self,
        operation: &'static str,
        mut state: MutexGuard<'g, State>,
        done: impl Fn(&State) -> bool,
        left: impl Fn(&State) -> Option<usize>,
    ) -> Result<MutexGuard<'g, State>> {
        loop {
            if done(&state) {
                return Ok(state);
            }
            if let Some(rank) = left(&state) {
                return Err(self.error(operation, format!("rank {rank} left the group")));
            }
            let (next, timeout) = self
                .shared
                .changed
                .wait_timeout(state, self.shared.timeout)
                .map_err(|_| self.error(operation, "a rank panicked inside an operation".into()))?;
            state = next;
            if timeout.timed_out() && !done(&state) {
                return Err(self.error(
                    operation,
                    format!(
                        "the other ranks did not arrive within {:?}",
                        self.shared.timeout
                    ),
                ));
            }
        }
    }

    /// Deposits `mine`, waits for every rank's payload, and returns all of them in rank
    /// order; the last rank to read clears the slots for the next operation.
    fn exchange(&self, operation: &'static str, mine: Payload) -> Result<Vec<Payload>> {
        let mut state = self.lock(operation)?;
        // A rank that runs ahead waits until the previous operation's slots are cleared.
        state = self.wait_until(operation, state, |s| s.slots[self.rank].is_none())?;
        state.slots[self.rank] = Some(mine);
        self.shared.changed.notify_all();
        // Slots are cleared only once every rank has read them, so this rank sees them full.
        state = self.wait_until(operation, state, |s| s.slots.iter().all(Option::is_some))?;
        let all: Vec<Payload> = state.slots.iter().flatten().cloned().collect();
        state.read += 1;
        if state.read == self.world_size {
            state.read = 0;
            state.slots.iter_mut().for_each(|s| *s = None);
        }
        self.shared.changed.notify_all();
        Ok(all)
    }

    /// Posts `mine` to rank `to` (never blocks) and waits for the next message from rank
    /// `from`.
    fn send_recv(&self, mine: Payload, to: usize, from: usize) -> Result<Payload> {
        let n = self.world_size;
        if to >= n || from >= n {
            return Err(self.error(
                "send_recv",
                format!("ranks {to} and {from} named, but the group has {n}"),
            ));
        }
        let mut state = self.lock("send_recv")?;
        state.mail[self.rank * n + to].push_back(mine);
        self.shared.changed.notify_all();
        let inbox = from * n + self.rank;
        // Only the sender's leaving matters: other ranks may have finished their part.
        state = self.wait_for(
            "send_recv",
            state,
            |s| !s.mail[inbox].is_empty(),
            |s| s.gone[from].then_some(from),
        )?;
        state.mail[inbox]
            .pop_front()
            .ok_or_else(|| self.error("send_recv", "a message vanished".into()))
    }

    fn mismatch(&self, operation: &'static str) -> DistributedError {
        self.error(
            operation,
            "the ranks passed different operations or buffer lengths".into(),
        )
    }
}

impl Drop for LocalCommunicator {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.left.get_or_insert(self.rank);
            state.gone[self.rank] = true;
            self.shared.changed.notify_all();
        }
    }
}

impl Communicator for LocalCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn all_reduce_sum_f32(&self, buffer: &mut [f32]) -> Result<()> {
        let all = self.exchange("all_reduce", Payload::F32(buffer.to_vec()))?;
        let parts: Vec<&[f32]> = all
            .iter()
            .map(|p| match p {
                Payload::F32(v) if v.len() == buffer.len() => Ok(v.as_slice()),
                _ => Err(self.mismatch("all_reduce")),
            })
            .collect::<Result<_>>()?;
        sum_in_rank_order(&parts, buffer);
        Ok(())
    }

    fn all_reduce_sum_f64(&self, buffer: &mut [f64]) -> Result<()> {
        let all = self.exchange("all_reduce", Payload::F64(buffer.to_vec()))?;
        let parts: Vec<&[f64]> = all
            .iter()
            .map(|p| match p {
                Payload::F64(v) if v.len() == buffer.len() => Ok(v.as_slice()),
                _ => Err(self.mismatch("all_reduce")),
            })
            .collect::<Result<_>>()?;
        sum_in_rank_order(&parts, buffer);
        Ok(())
    }

    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>> {
        let all = self.exchange("all_gather", Payload::U64(value))?;
        all.iter()
            .map(|p| match p {
                Payload::U64(v) => Ok(*v),
                _ => Err(self.mismatch("all_gather")),
            })
            .collect()
    }

    fn send_recv_f32(
        &self,
        send: &[f32],
        to: usize,
        receive: &mut [f32],
        from: usize,
    ) -> Result<()> {
        match self.send_recv(Payload::F32(send.to_vec()), to, from)? {
            Payload::F32(v) if v.len() == receive.len() => {
                receive.copy_from_slice(&v);
                Ok(())
            }
            _ => Err(self.mismatch("send_recv")),
        }
    }

    fn send_recv_f64(
        &self,
        send: &[f64],
        to: usize,
        receive: &mut [f64],
        from: usize,
    ) -> Result<()> {
        match self.send_recv(Payload::F64(send.to_vec()), to, from)? {
            Payload::F64(v) if v.len() == receive.len() => {
                receive.copy_from_slice(&v);
                Ok(())
            }
            _ => Err(self.mismatch("send_recv")),
        }
    }

    fn background(&self) -> Result<CommunicatorRecipe> {
        let k = self.backgrounds.get();
        self.backgrounds.set(k + 1);
        let mut groups = self
            .shared
            .backgrounds
            .lock()
            .map_err(|_| self.error("background", "a rank panicked".into()))?;
        while groups.len() <= k {
            groups.push(Shared::new(self.world_size, self.shared.timeout));
        }
        let shared = groups[k].clone();
        let (rank, world_size) = (self.rank, self.world_size);
        Ok(Box::new(move || {
            Ok(Box::new(LocalCommunicator {
                rank,
                world_size,
                shared,
                backgrounds: Cell::new(0),
            }) as Box<dyn Communicator>)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `body` on every rank of a group of `n`, each on its own thread.
    fn on_ranks<R: Send>(n: usize, body: impl Fn(LocalCommunicator) -> R + Sync) -> Vec<R> {
        let comms = LocalGroup::ranks(n).unwrap();
        std::thread::scope(|s| {
            let handles: Vec<_> = comms
                .into_iter()
                .map(|c| {
                    let body = &body;
                    s.spawn(move || body(c))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn every_rank_gets_the_rank_order_sum_of_many_operations() {
        let results = on_ranks(3, |c| {
            let mut out = Vec::new();
            for round in 0..50u64 {
                let r = c.rank() as f32;
                let mut v = [r + round as f32, 1e8 * (1.0 - r), 0.5];
                c.all_reduce_sum_f32(&mut v).unwrap();
                let mut w = [c.rank() as f64 * 0.1];
                c.all_reduce_sum_f64(&mut w).unwrap();
                let gathered = c.all_gather_u64(round * 10 + c.rank() as u64).unwrap();
                out.push((v, w, gathered));
            }
            out
        });
        for (round, ((v, w, g), _)) in results[0].iter().zip(0..).map(|x| (x.0, x.1)).enumerate() {
            let k = round as f32;
            let expected = [k + (1.0 + k) + (2.0 + k), ((1e8f32 + 0.0) + -1e8), 1.5];
            assert_eq!(*v, expected);
            assert_eq!(w[0], (0.0 + 0.1) + 0.2);
            assert_eq!(
                *g,
                [
                    round as u64 * 10,
                    round as u64 * 10 + 1,
                    round as u64 * 10 + 2
                ]
            );
        }
        assert!(
            results.iter().all(|r| r == &results[0]),
            "every rank the same bits"
        );
    }

    #[test]
    fn messages_between_two_ranks_arrive_in_order() {
        let results = on_ranks(3, |c| {
            let (r, n) = (c.rank(), c.world_size());
            let mut got = Vec::new();
            for round in 0..20 {
                let send = [r as f32, round as f32];
                let mut receive = [0.0f32; 2];
                c.send_recv_f32(&send, (r + 1) % n, &mut receive, (r + n - 1) % n)
                    .unwrap();
                got.push(receive);
            }
            got
        });
        for (r, got) in results.iter().enumerate() {
            let left = ((r + 2) % 3) as f32;
            let expected: Vec<[f32; 2]> = (0..20).map(|k| [left, k as f32]).collect();
            assert_eq!(*got, expected, "rank {r}");
        }
        let wrong = on_ranks(2, |c| {
            let mut receive = vec![0.0f64; 1 + c.rank()];
            let other = 1 - c.rank();
            c.send_recv_f64(&[1.0], other, &mut receive, other)
                .map_err(|e| e.to_string())
        });
        assert!(wrong[0].is_ok());
        assert!(wrong[1].as_ref().unwrap_err().contains("different"));
    }

    #[test]
    fn a_rank_that_leaves_fails_the_others_instead_of_hanging() {
        let results = on_ranks(2, |c| {
            if c.rank() == 1 {
                drop(c);
                return None;
            }
            let mut v = [1.0f32];
            Some(c.all_reduce_sum_f32(&mut v).unwrap_err().to_string())
        });
        let message = results[0].clone().unwrap();
        assert!(message.contains("rank 1 left"), "{message}");
    }

    #[test]
    fn mismatched_buffers_and_empty_groups_are_errors() {
        assert!(LocalGroup::ranks(0).is_err());
        let results = on_ranks(2, |c| {
            let mut v = vec![0.0f64; 1 + c.rank()];
            c.all_reduce_sum_f64(&mut v).map_err(|e| e.to_string())
        });
        for r in results {
            assert!(r.unwrap_err().contains("different"));
        }
        let comms = LocalGroup::ranks_with_timeout(2, Duration::from_millis(50)).unwrap();
        let err = comms[0].all_gather_u64(1).unwrap_err().to_string();
        assert!(err.contains("did not arrive"), "{err}");
    }
}
