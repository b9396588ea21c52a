//! sgemm throughput of `Tensor::matmul` (row-major C = A·B, f32), in FLOP/s.
//!
//! Shapes (M×K×N): 256³, 1024³ and 50176×576×64 (the im2col product of a VGG-16 layer:
//! A is 50176×576, B is 576×64). Criterion reports elements/s for
//! `Throughput::Elements(2·m·n·k)`, which is FLOP/s.
//!
//! `cargo bench -p strata-tensor --bench gemm`; run with `STRATA_GEMM=matrixmultiply` to
//! measure the portable backend instead of the AVX-512 one, and with `RAYON_NUM_THREADS`
//! to fix the thread count.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use strata_tensor::Tensor;

fn sgemm(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut group = c.benchmark_group("sgemm");
    group.sample_size(10);
    for (m, k, n) in [(256, 256, 256), (1024, 1024, 1024), (50176, 576, 64)] {
        let a = Tensor::<f32>::rand_normal(&[m, k], 0.0, 1.0, &mut rng).expect("a");
        let b = Tensor::<f32>::rand_normal(&[k, n], 0.0, 1.0, &mut rng).expect("b");
        group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        group.bench_with_input(
            BenchmarkId::new("matmul", format!("{m}x{k}x{n}")),
            &(a, b),
            |bench, (a, b): &(Tensor<f32>, Tensor<f32>)| {
                bench.iter(|| black_box(a.matmul(black_box(b)).expect("matmul")))
            },
        );
    }
    group.finish();
}

criterion_group!(benches, sgemm);
criterion_main!(benches);
