//! Tensor storage, and the reuse of large buffers between tensors.
//!
//! A training step allocates and frees the same large buffers every step (a convolution's
//! output, its activation, their gradients: tens of megabytes each). The system allocator
//! serves such sizes with fresh memory mappings, so every step paid a page fault per 4 KiB
//! page on first touch (a fifth of the CPU time of a small CNN's training, most of it in the
//! kernel). Instead, the storage of a dropped tensor of at least [`MIN_BYTES`] goes to a
//! process-wide cache (at most [`MAX_CACHED_BYTES`] in all, oldest evicted first), and the
//! kernels take their output buffers from it with [`zeroed`] or [`dirty`].
//!
//! Reuse never changes a result: [`zeroed`] buffers are zero-filled, and [`dirty`] ones are
//! only handed to kernels that write every element before reading it.

use std::any::Any;
use std::ops::Deref;
use std::sync::Mutex;

/// What the cache holds: vectors of plain values (tensor elements, pooling indices).
pub(crate) trait Plain: Copy + Default + Send + Sync + 'static {}

impl<T: Copy + Default + Send + Sync + 'static> Plain for T {}

/// Buffers smaller than this are left to the allocator: 1 MiB.
pub(crate) const MIN_BYTES: usize = 1 << 20;

/// The most memory the cache keeps: 1 GiB.
pub(crate) const MAX_CACHED_BYTES: usize = 1 << 30;

/// Idle buffers (each a `Vec<T>` for some element type), oldest first, and their bytes.
struct Cache {
    idle: Vec<(Box<dyn Any + Send>, usize)>,
    bytes: usize,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    idle: Vec::new(),
    bytes: 0,
});

fn bytes_of<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

/// Takes the smallest cached `Vec<T>` whose capacity holds `len` elements without wasting
/// more than half of it.
fn take<T: Plain>(len: usize) -> Option<Vec<T>> {
    if len * std::mem::size_of::<T>() < MIN_BYTES {
        return None;
    }
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let best = cache
        .idle
        .iter()
        .enumerate()
        .filter_map(|(i, (b, _))| {
            let cap = b.downcast_ref::<Vec<T>>()?.capacity();
            (cap >= len && cap / 2 <= len).then_some((cap, i))
        })
        .min()?
        .1;
    let (buf, bytes) = cache.idle.remove(best);
    cache.bytes -= bytes;
    drop(cache);
    buf.downcast::<Vec<T>>().ok().map(|b| *b)
}

/// Gives a buffer back for reuse (dropped at once if small or if it is the wrong kind).
fn give_back<T: Plain>(buf: Vec<T>) {
    let bytes = bytes_of(&buf);
    if !(MIN_BYTES..=MAX_CACHED_BYTES).contains(&bytes) {
        return;
    }
    let mut evicted = Vec::new();
    {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache.idle.push((Box::new(buf), bytes));
        cache.bytes += bytes;
        while cache.bytes > MAX_CACHED_BYTES {
            let (old, old_bytes) = cache.idle.remove(0);
            cache.bytes -= old_bytes;
            evicted.push(old);
        }
    }
    // The evicted buffers are freed here, outside the lock.
    drop(evicted);
}

/// A buffer of `len` zeros, reusing a cached one when possible.
pub(crate) fn zeroed<T: Plain>(len: usize) -> Vec<T> {
    match take::<T>(len) {
        Some(mut v) => {
            v.clear();
            v.resize(len, T::default());
            v
        }
        None => vec![T::default(); len],
    }
}

/// A buffer of `len` elements with unspecified (but initialised) values, reusing a cached one
/// when possible: for kernels that write every element before reading any.
pub(crate) fn dirty<T: Plain>(len: usize) -> Vec<T> {
    match take::<T>(len) {
        Some(mut v) => {
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, T::default());
            }
            v
        }
        None => vec![T::default(); len],
    }
}

/// The elements behind a tensor: a vector that goes back to the cache when the last tensor
/// using it is dropped.
pub(crate) struct Storage<T: Plain>(Vec<T>);

impl<T: Plain> Storage<T> {
    pub(crate) fn new(data: Vec<T>) -> Self {
        Self(data)
    }

    /// The vector, taken out (the storage is left empty).
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
    }
}

impl<T: Plain> Deref for Storage<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Plain> Drop for Storage<T> {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_bypass_the_cache() {
        assert!(take::<f32>(10).is_none());
        give_back(vec![1.0f64; 10]);
        assert_eq!(zeroed::<f64>(10), vec![0.0; 10]);
    }

    #[test]
    fn large_buffers_come_back_zeroed_or_dirty() {
        // An unusual length, so that parallel tests do not take this buffer.
        let len = (MIN_BYTES / 4) + 12_345;
        drop(Storage::new(vec![7.0f32; len]));
        let v = zeroed::<f32>(len - 3);
        assert_eq!(v.len(), len - 3);
        assert!(v.iter().all(|&x| x == 0.0));
        drop(Storage::new(v));
        let d = dirty::<f32>(len - 5);
        assert_eq!(d.len(), len - 5);
        // Too small a request for a cached buffer: a new one.
        assert!(take::<f32>(len / 3).is_none_or(|v| v.capacity() / 2 <= len / 3));
    }
}
