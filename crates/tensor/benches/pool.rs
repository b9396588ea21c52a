//! Max pooling forward (inference, and training with the indices) and backward on the MNIST model's first pooling layer at batch 256
//! (`[256, 32, 26, 26]` → `[256, 32, 13, 13]`), reported in input elements per second.
//!
//! `cargo bench -p strata-tensor --bench pool`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use std::hint::black_box;
use std::time::Duration;
use strata_tensor::pool::{
    max_pool2d, max_pool2d_backward, max_pool2d_with_indices, Pool2dOptions,
};
use strata_tensor::Tensor;

fn pool(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let shape = [256, 32, 26, 26];
    let x = Tensor::<f32>::rand_normal(&shape, 0.0, 1.0, &mut rng).expect("input");
    let params = Pool2dOptions::new([2, 2]);
    let (y, indices) = max_pool2d_with_indices(&x, &params).expect("forward");
    let dy = Tensor::<f32>::rand_normal(y.shape(), 0.0, 1.0, &mut rng).expect("gradient");
    let mut group = c.benchmark_group("max_pool2d");
    group
        .throughput(Throughput::Elements(x.numel() as u64))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    group.bench_function("forward_2x2_256x32x26x26", |b| {
        b.iter(|| black_box(max_pool2d(&x, &params).expect("forward")))
    });
    group.bench_function("forward_with_indices_2x2_256x32x26x26", |b| {
        b.iter(|| black_box(max_pool2d_with_indices(&x, &params).expect("forward")))
    });
    group.bench_function("backward_2x2_256x32x26x26", |b| {
        b.iter(|| black_box(max_pool2d_backward(&dy, &indices).expect("backward")))
    });
    group.finish();
}

criterion_group!(benches, pool);
criterion_main!(benches);
