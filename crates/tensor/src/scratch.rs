//! Per-thread scratch buffers that outlive one kernel call.
//!
//! Kernels such as im2col + GEMM need a temporary buffer of several megabytes per task.
//! Allocating it afresh for every task costs a `memset` and, for buffers the allocator
//! returns to the system in between, a page fault per 4 KiB page on first touch. A thread
//! keeps its buffers here instead, one list per element type, and reuses them across calls.
//! The contents handed out are whatever the previous user left: callers must write every
//! element before reading it.

use std::any::Any;
use std::cell::RefCell;

use crate::element::Element;

thread_local! {
    /// Idle buffers of this thread, each a `Vec<T>` for some element type `T`.
    static IDLE: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Buffers larger than this are not kept for reuse (so a single huge request does not pin
/// its memory for the thread's lifetime): 64 MiB.
const MAX_KEPT_BYTES: usize = 64 << 20;

/// Runs `f` on a buffer of `len` elements of the calling thread's scratch memory.
///
/// The buffer's contents are unspecified (zeros or values left by an earlier call): `f`
/// must write each element before it reads it. Nested calls get distinct buffers.
pub(crate) fn with_scratch<T: Element, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let mut buf: Vec<T> = IDLE
        .with(|idle| {
            let mut idle = idle.borrow_mut();
            let pos = idle.iter().position(|b| b.is::<Vec<T>>())?;
            idle.swap_remove(pos).downcast::<Vec<T>>().ok().map(|b| *b)
        })
        .unwrap_or_default();
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    let result = f(&mut buf[..len]);
    if buf.len() * std::mem::size_of::<T>() <= MAX_KEPT_BYTES {
        IDLE.with(|idle| idle.borrow_mut().push(Box::new(buf)));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_nested_calls_get_their_own() {
        let first = with_scratch::<f32, _>(1000, |b| {
            b.fill(3.0);
            b.as_ptr() as usize
        });
        // The same thread gets the same allocation back, with the old contents.
        let again = with_scratch::<f32, _>(500, |b| {
            assert!(b.iter().all(|&v| v == 3.0));
            b.as_ptr() as usize
        });
        assert_eq!(first, again);
        with_scratch::<f32, _>(10, |outer| {
            outer.fill(1.0);
            with_scratch::<f32, _>(10, |inner| {
                assert_ne!(outer.as_ptr(), inner.as_ptr());
                inner.fill(2.0);
            });
            assert!(outer.iter().all(|&v| v == 1.0));
        });
        // Element types are kept apart.
        with_scratch::<f64, _>(7, |b| assert_eq!(b.len(), 7));
    }
}
