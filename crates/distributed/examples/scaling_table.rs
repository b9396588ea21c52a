//! Prints the ring all-reduce projection of `docs/benchmarks.md`:
//! `cargo run -p strata-distributed --example scaling_table`.
//!
//! One rank's speed is measured on the 2-core development machine (see the section
//! "Data-parallel training" there), VGG-16's at batches of 4 and 8.

use strata_distributed::cost_model::{projection_table, Link, Workload};
use strata_distributed::DEFAULT_BUCKET_ELEMENTS;

fn main() {
    // MNIST: 2,252 images/s per epoch of the full training run at batch 64 (README).
    let workloads = [
        Workload {
            name: "MNIST CNN, 93,322 params".into(),
            parameters: 93_322,
            batch_per_rank: 64,
            samples_per_second: 2_252.0,
        },
        Workload {
            name: "CIFAR-10 CNN, 1,250,858 params".into(),
            parameters: 1_250_858,
            batch_per_rank: 32,
            samples_per_second: CIFAR_SAMPLES_PER_SECOND,
        },
        Workload {
            name: "VGG-16, 138,357,544 params".into(),
            parameters: 138_357_544,
            batch_per_rank: 32,
            samples_per_second: VGG16_SAMPLES_PER_SECOND,
        },
        // The same on machines 100 times faster (an accelerator's order of magnitude):
        // the compute per step shrinks, the all-reduce does not.
        Workload {
            name: "VGG-16 on machines 100× faster".into(),
            parameters: 138_357_544,
            batch_per_rank: 32,
            samples_per_second: 100.0 * VGG16_SAMPLES_PER_SECOND,
        },
    ];
    let links = [
        ("10 Gbit/s, 25 µs", Link::gbit(10.0, 25.0)),
        ("100 Gbit/s, 10 µs", Link::gbit(100.0, 10.0)),
    ];
    let bucket_bytes = (DEFAULT_BUCKET_ELEMENTS * 4) as f64;
    print!(
        "{}",
        projection_table(&workloads, &links, &[2, 8, 64], bucket_bytes)
    );
}

/// CIFAR-10 model training speed of one rank, images/s at batch 32 (`mpi_check bench
/// --cifar`, one rank: 360-382 on the loaded 2-core machine, median 378).
const CIFAR_SAMPLES_PER_SECOND: f64 = 378.0;
/// VGG-16 training on one 2-core machine (2 threads), images/s: `cargo run --release -p strata-bench --example model_bench -- w5train 4`
/// and `w5train 8` alternated, medians of 3 steps each 0.59, 0.54 (batch 4), 0.46, 0.56
/// (batch 8) on the loaded machine; the median of the four, 0.55 (1.8 s per image).
/// Projected at 32 per rank as if the time per image held there.
const VGG16_SAMPLES_PER_SECOND: f64 = 0.55;
