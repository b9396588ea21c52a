//! Tensor storage, and the reuse of large buffers between tensors.
//!
//! A training step allocates and frees the same large buffers every step (a convolution's
//! output, its activation, their gradients: tens of megabytes each). The system allocator
//! serves such sizes with fresh memory mappings, so every step paid a page fault per 4 KiB
//! page on first touch (a fifth of the CPU time of a small CNN's training, most of it in the
//! kernel). Instead, the storage of a dropped tensor of at least [`MIN_BYTES`] goes to a
//! process-wide cache, and the kernels take their output buffers from it with [`zeroed`] or
//! [`dirty`].
//!
//! Size policy: the large buffers held by live tensors plus the idle ones in the cache never
//! exceed one and a half times the most that live tensors have held at once (their
//! high-water mark; see `SLACK_PERCENT`), nor does the cache exceed its limit
//! ([`BUFFER_CACHE_DEFAULT_BYTES`], or [`set_buffer_cache_limit`], or the environment variable
//! `STRATA_BUFFER_CACHE_MB` read once; 0 turns the cache off). Oldest buffers are evicted
//! first. So the memory the cache adds stays in proportion to the peak of what the program
//! really used: a training loop keeps the buffers of its last step and little more (a fixed
//! 1 GiB budget let the shapes model's training, 0.46 MB of weights, peak at 1.6 GB).
//!
//! Reuse never changes a result: [`zeroed`] buffers are zero-filled, and [`dirty`] ones are
//! only handed to kernels that write every element before reading it.

use std::any::Any;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What the cache holds: vectors of plain values (tensor elements, pooling indices).
pub(crate) trait Plain: Copy + Default + Send + Sync + 'static {}

impl<T: Copy + Default + Send + Sync + 'static> Plain for T {}

/// Buffers smaller than this are left to the allocator: 1 MiB.
pub(crate) const MIN_BYTES: usize = 1 << 20;

/// How far above the live high-water mark live and idle buffers together may go, in percent
/// of it. With no slack, the cache holds at the step's peak only the bytes that are not live,
/// rarely in the sizes asked for next: a CIFAR-10 training step at batch 128 (live peak
/// 125 MiB) missed the cache nine times a step and faulted in 90 MB of fresh pages, 5–8 % of
/// its samples under `perf`. 25 % still missed every step; 50 % misses only in the first
/// step, for 12 % more peak resident memory (213 → 239 MB).
const SLACK_PERCENT: usize = 50;

/// The default limit of the cache: 1 GiB.
pub const BUFFER_CACHE_DEFAULT_BYTES: usize = 1 << 30;

/// The limit set by [`set_buffer_cache_limit`]; `usize::MAX` until set (then the
/// environment or the default applies).
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Bytes of buffers of at least [`MIN_BYTES`] held by live storage, and their high-water
/// mark.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static LIVE_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Sets the most bytes the buffer cache keeps (0 turns it off and frees what it holds).
///
/// ```
/// strata_tensor::set_buffer_cache_limit(64 << 20);
/// assert_eq!(strata_tensor::buffer_cache_limit(), 64 << 20);
/// ```
pub fn set_buffer_cache_limit(bytes: usize) {
    LIMIT.store(bytes.min(usize::MAX - 1), Ordering::Relaxed);
    let evicted = {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        evict(&mut cache)
    };
    drop(evicted);
}

/// The most bytes the buffer cache keeps: as set by [`set_buffer_cache_limit`], else the
/// environment variable `STRATA_BUFFER_CACHE_MB` (megabytes, read once), else
/// [`BUFFER_CACHE_DEFAULT_BYTES`].
pub fn buffer_cache_limit() -> usize {
    let set = LIMIT.load(Ordering::Relaxed);
    if set != usize::MAX {
        return set;
    }
    static FROM_ENV: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *FROM_ENV.get_or_init(|| {
        std::env::var("STRATA_BUFFER_CACHE_MB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(BUFFER_CACHE_DEFAULT_BYTES, |mb| mb.saturating_mul(1 << 20))
    })
}

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

/// Gives a buffer back for reuse (dropped at once if small, if it is the wrong kind or if
/// the size policy leaves no room for it).
fn give_back<T: Plain>(buf: Vec<T>) {
    let bytes = bytes_of(&buf);
    if bytes < MIN_BYTES || bytes > buffer_cache_limit() {
        return;
    }
    let evicted = {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache.idle.push((Box::new(buf), bytes));
        cache.bytes += bytes;
        evict(&mut cache)
    };
    // The evicted buffers are freed here, outside the lock.
    drop(evicted);
}

/// Takes the oldest buffers out of the cache until it satisfies the size policy.
fn evict(cache: &mut Cache) -> Vec<(Box<dyn Any + Send>, usize)> {
    let peak = LIVE_PEAK.load(Ordering::Relaxed);
    let room = buffer_cache_limit().min(
        peak.saturating_add(peak / 100 * SLACK_PERCENT)
            .saturating_sub(LIVE.load(Ordering::Relaxed)),
    );
    let mut evicted = Vec::new();
    while cache.bytes > room && !cache.idle.is_empty() {
        let (old, old_bytes) = cache.idle.remove(0);
        cache.bytes -= old_bytes;
        evicted.push((old, old_bytes));
    }
    evicted
}

/// Counts `bytes` of a large buffer as held by live storage.
fn track_live(bytes: usize) {
    if bytes >= MIN_BYTES {
        let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
        LIVE_PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

/// Counts `bytes` of a large buffer as no longer held by live storage.
fn untrack_live(bytes: usize) {
    if bytes >= MIN_BYTES {
        LIVE.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// A buffer of `len` zeros, reusing a cached one when possible.
pub(crate) fn zeroed<T: Plain>(len: usize) -> Vec<T> {
    match take::<T>(len) {
        Some(mut v) => {
            v.clear();
            v.resize(len, T::default());
            v
        }
        None => written_zeros(len),
    }
}

/// A new vector of `len` zeros written explicitly. `vec![0; len]` would take fresh pages
/// from the allocator's `calloc`, which the kernel maps lazily to its shared zero page; a
/// kernel that then accumulates into the buffer (reads before it writes, as col2im does)
/// takes a copy-on-write fault per page, each with a TLB shootdown across all threads of the
/// process — measured at 10–15 % of a CIFAR-10 training step. Writing the zeros first maps
/// every page once, privately.
fn written_zeros<T: Plain>(len: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    v.resize(len, T::default());
    v
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
        track_live(bytes_of(&data));
        Self(data)
    }

    /// The vector, taken out (the storage is left empty).
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        let data = std::mem::take(&mut self.0);
        untrack_live(bytes_of(&data));
        data
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
        let data = std::mem::take(&mut self.0);
        untrack_live(bytes_of(&data));
        give_back(data);
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
    fn the_cache_stays_in_proportion_to_the_live_high_water_mark_and_can_be_turned_off() {
        // An unusual length, so that parallel tests do not take this buffer.
        let len = (MIN_BYTES / 8) + 54_321;
        drop(Storage::new(vec![1.0f64; len]));
        {
            let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
            let peak = LIVE_PEAK.load(Ordering::Relaxed);
            let bound = peak + peak / 100 * SLACK_PERCENT;
            assert!(cache.bytes <= bound, "{} cached, peak {peak}", cache.bytes);
        }
        set_buffer_cache_limit(0);
        assert_eq!(buffer_cache_limit(), 0);
        assert!(take::<f64>(len).is_none());
        drop(Storage::new(vec![1.0f64; len]));
        assert!(take::<f64>(len).is_none());
        set_buffer_cache_limit(BUFFER_CACHE_DEFAULT_BYTES);
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
