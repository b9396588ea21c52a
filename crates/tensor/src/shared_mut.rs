//! `SharedMut`: the one way kernels share an output buffer among the tasks of a parallel
//! loop.

/// A raw pointer into one output buffer, shared by the tasks of a parallel loop (GEMM blocks
/// of `C`, convolution images or tiles), each of which writes a disjoint set of its elements.
///
/// Whoever creates one promises that the buffer outlives the loop, that no two tasks write
/// the same element, and that nothing reads the buffer while the loop runs; every use sits
/// beside a `// SAFETY:` comment saying why its writes are disjoint.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<T>(pub(crate) *mut T);

// SAFETY: the tasks holding copies write disjoint elements of a buffer that outlives them
// (the creator's promise above), and `T: Send` lets the elements be written from any thread.
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above: shared copies are used only for disjoint writes.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// The pointer (a method, so that closures capture the whole `Send + Sync` wrapper
    /// rather than the bare pointer field).
    #[inline]
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}
