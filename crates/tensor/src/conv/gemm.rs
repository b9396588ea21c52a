//! The one place where the convolution kernels call a matrix multiply.

use rayon::prelude::*;

use crate::element::Element;

/// `C ← A·B + beta·C` for an `m×k` matrix `A`, a `k×n` matrix `B` and an `m×n` matrix `C`,
/// each given by a pointer and its row and column strides in elements. With `beta == 0` the
/// old contents of `C` are not read.
///
/// Every convolution kernel multiplies through this function, so that the GEMM behind it can
/// be exchanged in one place. Products of more than [`ROW_CHUNK`] rows are split into fixed
/// chunks of rows run in parallel (a function of the shape alone). The summation order of each element of `C` must depend only on
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
    let rows = |i0: usize, rows: usize| unsafe {
        T::gemm_raw(
            rows,
            k,
            n,
            T::one(),
            a.wrapping_add(i0 * rsa),
            rsa as isize,
            csa as isize,
            b,
            rsb as isize,
            csb as isize,
            beta,
            c.wrapping_add(i0 * rsc),
            rsc as isize,
            1,
        )
    };
    let chunks = m.div_ceil(ROW_CHUNK);
    if chunks == 1 || m * n * k < PARALLEL_MIN_WORK {
        rows(0, m);
        return;
    }
    // The pointers cross to other threads as addresses; each chunk writes its own rows of C.
    let (a_at, b_at, c_at) = (a as usize, b as usize, c as usize);
    (0..chunks).into_par_iter().for_each(|chunk| {
        let i0 = chunk * ROW_CHUNK;
        let (a, b, c) = (a_at as *const T, b_at as *const T, c_at as *mut T);
        // SAFETY: rows i0..i0 + len of A and C lie inside the caller's matrices, and no
        // other chunk writes them.
        unsafe {
            T::gemm_raw(
                ROW_CHUNK.min(m - i0),
                k,
                n,
                T::one(),
                a.wrapping_add(i0 * rsa),
                rsa as isize,
                csa as isize,
                b,
                rsb as isize,
                csb as isize,
                beta,
                c.wrapping_add(i0 * rsc),
                rsc as isize,
                1,
            )
        }
    });
}

/// Rows of `C` per task when one product is split between threads: a batch-1 convolution
/// has few tiles, and its output channels are then the work to share (VGG-16's 14×14
/// layers are one tile of 512 channels).
const ROW_CHUNK: usize = 128;

/// Products of fewer multiply-adds than this are not split.
const PARALLEL_MIN_WORK: usize = 1 << 22;
