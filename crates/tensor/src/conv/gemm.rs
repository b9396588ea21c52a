//! The one place where the convolution kernels call a matrix multiply.

use crate::element::Element;

/// `C ← A·B + beta·C` for an `m×k` matrix `A`, a `k×n` matrix `B` and an `m×n` matrix `C`,
/// each given by a pointer and its row and column strides in elements. With `beta == 0` the
/// old contents of `C` are not read.
///
/// Every convolution kernel multiplies through this function, so that the GEMM behind it can
/// be exchanged in one place. The summation order of each element of `C` must depend only on
/// `m`, `k` and `n` (never on the number of threads).
///
/// # Safety
/// Every element addressed by the pointers, dimensions and strides must be valid, and `C`
/// must not overlap `A` or `B` nor be written by anyone else during the call.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) unsafe fn gemm<T: Element>(
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    csb: usize,
    beta: T,
    c: *mut T,
    rsc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: forwarded from the caller's contract. Strides are element counts of buffers
    // that fit in memory, so they fit in `isize`.
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            T::one(),
            a,
            rsa as isize,
            csa as isize,
            b,
            rsb as isize,
            csb as isize,
            beta,
            c,
            rsc as isize,
            1,
        )
    }
}

/// A raw pointer that may be shared between the tasks of a parallel loop that write
/// disjoint parts of one buffer.
#[derive(Clone, Copy)]
pub(super) struct SharedMut<T>(pub *mut T);

// SAFETY: the kernels only write disjoint regions through it, and the buffer outlives the
// parallel loop.
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// The pointer (a method, so that closures capture the whole `Send + Sync` wrapper).
    #[inline]
    pub fn get(self) -> *mut T {
        self.0
    }
}
