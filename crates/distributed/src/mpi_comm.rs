//! The MPI communicator (feature `mpi`): Open MPI or MPICH through the `mpi` crate.

use mpi::collective::SystemOperation;
use mpi::environment::{Threading, Universe};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives as _, Equivalence};

use crate::communicator::{sum_in_rank_order, Communicator, CommunicatorRecipe};
use crate::error::{DistributedError, Result};

/// How [`Mpi`] sums buffers across ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReduceOrder {
    /// Gathers every rank's buffer (`MPI_Allgather`) and sums them in rank order on each
    /// rank: the same bits on every rank and the same bits as [`LocalGroup`](crate::LocalGroup),
    /// whatever algorithm the MPI library picks. Moves N buffers to every rank instead of
    /// a ring's 2(N−1)/N, which costs nothing extra at 2 ranks.
    #[default]
    RankOrder,
    /// `MPI_Allreduce` with `MPI_SUM`: the library's algorithm (a ring or a tree), whose
    /// order of additions MPI does not fix. Open MPI gives every rank the same result with
    /// its usual algorithms, but neither MPI nor we promise that.
    Native,
}

/// The ranks of `MPI_COMM_WORLD` (one process per rank, started by `mpirun`). [`Mpi::init`]
/// initialises MPI with `MPI_THREAD_FUNNELED` (only the thread that called it makes MPI
/// calls; the training loop's batch thread and the kernels' threads make none),
/// [`Mpi::init_threaded`] with `MPI_THREAD_MULTIPLE` (needed by
/// [`Communicator::background`], for a reduction overlapping the backward pass). MPI is
/// finalised when this value is dropped.
pub struct Mpi {
    world: SimpleCommunicator,
    order: ReduceOrder,
    rank: usize,
    world_size: usize,
    threading: Threading,
    // Dropped last: finalises MPI (`None` on a background communicator).
    _universe: Option<Universe>,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Mpi {{ rank: {}, world_size: {}, order: {:?}, threading: {:?} }}",
            self.rank, self.world_size, self.order, self.threading
        )
    }
}

impl Mpi {
    /// Initialises MPI (once per process) and joins `MPI_COMM_WORLD`, summing in
    /// [`ReduceOrder::RankOrder`]. Run without `mpirun`, it is a world of one.
    pub fn init() -> Result<Self> {
        Self::init_with(Threading::Funneled)
    }

    /// As [`Mpi::init`], asking for `MPI_THREAD_MULTIPLE`, so that
    /// [`Communicator::background`] can hand a second communicator to another thread. If
    /// the library provides less, `background` is an error.
    pub fn init_threaded() -> Result<Self> {
        Self::init_with(Threading::Multiple)
    }

    fn init_with(threading: Threading) -> Result<Self> {
        let (universe, level) = mpi::initialize_with_threading(threading).ok_or_else(|| {
            DistributedError::Communication {
                rank: 0,
                world_size: 0,
                operation: "MPI_Init_thread",
                message: "MPI is already initialised in this process".into(),
            }
        })?;
        let world = universe.world();
        Ok(Self::over(world, level, Some(universe)))
    }

    fn over(world: SimpleCommunicator, threading: Threading, universe: Option<Universe>) -> Self {
        let rank = usize::try_from(world.rank()).unwrap_or(0);
        let world_size = usize::try_from(world.size()).unwrap_or(1).max(1);
        Self {
            world,
            order: ReduceOrder::default(),
            rank,
            world_size,
            threading,
            _universe: universe,
        }
    }

    /// Whether MPI provides `MPI_THREAD_MULTIPLE` (`MPI_Init_thread`'s answer), which
    /// [`Communicator::background`] needs.
    pub fn thread_multiple(&self) -> bool {
        self.threading == Threading::Multiple
    }

    /// Sums in `order`.
    pub fn with_order(mut self, order: ReduceOrder) -> Self {
        self.order = order;
        self
    }

    /// The name of this process's host (`MPI_Get_processor_name`).
    pub fn processor_name(&self) -> String {
        mpi::environment::processor_name().unwrap_or_else(|_| "unknown".into())
    }

    fn reduce<T>(&self, buffer: &mut [T]) -> Result<()>
    where
        T: Equivalence + Copy + Default + std::ops::Add<Output = T>,
    {
        if self.world_size == 1 || buffer.is_empty() {
            return Ok(());
        }
        match self.order {
            ReduceOrder::RankOrder => {
                let mut all = vec![T::default(); buffer.len() * self.world_size];
                self.world.all_gather_into(&buffer[..], &mut all[..]);
                let parts: Vec<&[T]> = all.chunks(buffer.len()).collect();
                sum_in_rank_order(&parts, buffer);
            }
            ReduceOrder::Native => {
                let send = buffer.to_vec();
                self.world
                    .all_reduce_into(&send[..], buffer, SystemOperation::sum());
            }
        }
        Ok(())
    }
}

impl Mpi {
    fn send_recv<T: Equivalence>(
        &self,
        send: &[T],
        to: usize,
        receive: &mut [T],
        from: usize,
    ) -> Result<()> {
        let fail = |message: String| DistributedError::Communication {
            rank: self.rank,
            world_size: self.world_size,
            operation: "MPI_Sendrecv",
            message,
        };
        let n = self.world_size;
        let (Ok(to_rank), Ok(from_rank)) = (i32::try_from(to), i32::try_from(from)) else {
            return Err(fail(format!(
                "ranks {to} and {from} named, but the world has {n}"
            )));
        };
        if to >= n || from >= n {
            return Err(fail(format!(
                "ranks {to} and {from} named, but the world has {n}"
            )));
        }
        if i32::try_from(send.len().max(receive.len())).is_err() {
            return Err(fail(format!(
                "{} values exceed MPI's count limit of {}: use smaller buckets",
                send.len().max(receive.len()),
                i32::MAX
            )));
        }
        let status = mpi::point_to_point::send_receive_into(
            send,
            &self.world.process_at_rank(to_rank),
            receive,
            &self.world.process_at_rank(from_rank),
        );
        let got = status.count(T::equivalent_datatype());
        if usize::try_from(got).ok() != Some(receive.len()) {
            return Err(fail(format!(
                "received {got} values from rank {from}, expected {}",
                receive.len()
            )));
        }
        Ok(())
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn all_reduce_sum_f32(&self, buffer: &mut [f32]) -> Result<()> {
        self.reduce(buffer)
    }

    fn all_reduce_sum_f64(&self, buffer: &mut [f64]) -> Result<()> {
        self.reduce(buffer)
    }

    fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>> {
        let mut all = vec![0u64; self.world_size];
        self.world.all_gather_into(&value, &mut all[..]);
        Ok(all)
    }

    fn send_recv_f32(
        &self,
        send: &[f32],
        to: usize,
        receive: &mut [f32],
        from: usize,
    ) -> Result<()> {
        self.send_recv(send, to, receive, from)
    }

    fn send_recv_f64(
        &self,
        send: &[f64],
        to: usize,
        receive: &mut [f64],
        from: usize,
    ) -> Result<()> {
        self.send_recv(send, to, receive, from)
    }

    /// `MPI_Comm_dup` of `MPI_COMM_WORLD`, run by the recipe on the background thread;
    /// needs `MPI_THREAD_MULTIPLE` ([`Mpi::init_threaded`]). The background communicator
    /// must be dropped before this one (which finalises MPI).
    fn background(&self) -> Result<CommunicatorRecipe> {
        if self.threading != Threading::Multiple {
            return Err(DistributedError::Communication {
                rank: self.rank,
                world_size: self.world_size,
                operation: "background",
                message: format!(
                    "MPI provides {:?} threading; a background communicator needs Multiple \
                     (Mpi::init_threaded)",
                    self.threading
                ),
            });
        }
        let order = self.order;
        Ok(Box::new(move || {
            let world = SimpleCommunicator::world().duplicate();
            let mut comm = Mpi::over(world, Threading::Multiple, None);
            comm.order = order;
            Ok(Box::new(comm) as Box<dyn Communicator>)
        }))
    }
}
