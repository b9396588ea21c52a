//! A bounded build checks the whole architecture before any layer draws its weights: an
//! architecture whose last layer does not fit fails without the first layer's weights ever
//! being allocated. (Its own test binary: the counting allocator sees only this test.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use strata_layers::layer::{DenseConfig, FlattenConfig};
use strata_layers::Sequential;

/// The system allocator, counting the largest single allocation.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

#[test]
fn a_layer_that_does_not_fit_fails_before_any_weight_is_drawn() {
    // 4096 inputs → 2048 units: 8.4 M weights (32 MiB of f32), within the budget; the
    // second dense layer (2048 → 10,000 units, 20 M more) is not.
    let architecture = Sequential::<f32>::builder(&[1, 64, 64])
        .add(FlattenConfig::new())
        .add(DenseConfig::new(2048))
        .add(DenseConfig::new(10_000))
        .architecture()
        .unwrap();
    let budget = 4096 * 2048 + 2048 + 1000;
    LARGEST.store(0, Ordering::Relaxed);
    let err = Sequential::<f32>::from_architecture_within(&architecture, budget)
        .unwrap_err()
        .to_string();
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(err.contains("dense_1") && err.contains("weight"), "{err}");
    assert!(
        largest < 1 << 20,
        "the failed build allocated {largest} bytes at once"
    );
    // With room for both, the same architecture builds.
    let model =
        Sequential::<f32>::from_architecture_within(&architecture, budget + 2048 * 10_000 + 9_000)
            .unwrap();
    assert_eq!(model.output_shape(), &[10_000]);
}
