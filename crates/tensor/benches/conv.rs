//! Convolution kernels on the layers of the example models: forward, input gradient and
//! weight gradient, reported in GFLOP/s (criterion's "elem/s" are FLOP/s: the throughput is
//! set to `2·N·O·OH·OW·(C/groups)·kh·kw` per pass). A single-threaded sgemm of conv3_1's
//! matrix shape is the reference rate.
//!
//! Each benchmark runs twice: group `conv2d` measures wall-clock time (the figure on an idle
//! machine), group `conv2d_cpu` the CPU time of all threads of the process, read from Linux's
//! `/proc/self/task/*/schedstat` (the figure to compare on a loaded machine: on a busy machine
//! the wall clock also counts the time other processes hold the cores). In `conv2d_cpu`,
//! "elem/s" are FLOP per CPU-second; with two fully used cores the wall rate is twice that.
//!
//! `cargo bench -p strata-tensor --bench conv` (all), `-- conv2d/` (wall only),
//! `-- conv2d_cpu/` (CPU time only).

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::SeedableRng;
use std::hint::black_box;
use std::time::Duration;
use strata_tensor::conv::{
    conv2d, conv2d_backward_input, conv2d_backward_weight, conv2d_output_size, Conv2dOptions,
    Padding2d,
};
use strata_tensor::{Element, Tensor};

struct Layer {
    name: &'static str,
    input: [usize; 4],
    weight: [usize; 4],
    params: Conv2dOptions,
}

fn layers() -> Vec<Layer> {
    let pad1 = Conv2dOptions::default().with_padding(Padding2d::uniform(1));
    vec![
        Layer {
            name: "mnist_conv1_b64_28x28_1to32",
            input: [64, 1, 28, 28],
            weight: [32, 1, 3, 3],
            params: Conv2dOptions::default(),
        },
        Layer {
            name: "mnist_conv2_b64_13x13_32to64",
            input: [64, 32, 13, 13],
            weight: [64, 32, 3, 3],
            params: Conv2dOptions::default(),
        },
        Layer {
            name: "cifar_conv2_b128_32x32_32to32",
            input: [128, 32, 32, 32],
            weight: [32, 32, 3, 3],
            params: Conv2dOptions::default(),
        },
        Layer {
            name: "cifar_conv4_b128_15x15_64to64",
            input: [128, 64, 15, 15],
            weight: [64, 64, 3, 3],
            params: Conv2dOptions::default(),
        },
        Layer {
            name: "vgg16_conv1_2_b1_224x224_64to64",
            input: [1, 64, 224, 224],
            weight: [64, 64, 3, 3],
            params: pad1,
        },
        Layer {
            name: "vgg16_conv3_1_b1_56x56_128to256",
            input: [1, 128, 56, 56],
            weight: [256, 128, 3, 3],
            params: pad1,
        },
        Layer {
            name: "vgg16_conv5_1_b1_14x14_512to512",
            input: [1, 512, 14, 14],
            weight: [512, 512, 3, 3],
            params: pad1,
        },
    ]
}

fn flops(l: &Layer) -> u64 {
    let [oh, ow] = conv2d_output_size(
        [l.input[2], l.input[3]],
        [l.weight[2], l.weight[3]],
        &l.params,
    )
    .expect("layer geometry");
    (2 * l.input[0] * l.weight[0] * oh * ow * l.weight[1] * l.weight[2] * l.weight[3]) as u64
}

/// CPU time of all threads of this process, in nanoseconds (Linux `schedstat`).
struct CpuTime;

fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuTimeFormatter
    }
}

struct CpuTimeFormatter;

impl ValueFormatter for CpuTimeFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns cpu")
        } else if typical < 1e6 {
            (1e-3, "µs cpu")
        } else if typical < 1e9 {
            (1e-6, "ms cpu")
        } else {
            (1e-9, "s cpu")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iter = match throughput {
            Throughput::Elements(e) | Throughput::Bytes(e) | Throughput::BytesDecimal(e) => {
                *e as f64
            }
        };
        // values are nanoseconds per iteration → giga-elements per CPU-second.
        values.iter_mut().for_each(|v| *v = per_iter / *v);
        "Gelem/cpu-s"
    }

    fn scale_for_machines(&self, values: &mut [f64]) -> &'static str {
        let _ = values;
        "ns"
    }
}

fn conv<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for l in layers() {
        let x = Tensor::<f32>::rand_uniform(&l.input, -1.0, 1.0, &mut rng).expect("x");
        let w = Tensor::<f32>::rand_uniform(&l.weight, -1.0, 1.0, &mut rng).expect("w");
        let b = Tensor::<f32>::rand_uniform(&[l.weight[0]], -1.0, 1.0, &mut rng).expect("b");
        let y = conv2d(&x, &w, Some(&b), &l.params).expect("forward");
        let dy = Tensor::<f32>::rand_uniform(y.shape(), -1.0, 1.0, &mut rng).expect("dy");
        group.throughput(Throughput::Elements(flops(&l)));
        group.bench_function(BenchmarkId::new("forward", l.name), |bench| {
            bench.iter(|| conv2d(black_box(&x), &w, Some(&b), &l.params).expect("forward"))
        });
        group.bench_function(BenchmarkId::new("backward_input", l.name), |bench| {
            bench.iter(|| {
                conv2d_backward_input(black_box(&dy), &w, &l.input, &l.params).expect("dx")
            })
        });
        group.bench_function(BenchmarkId::new("backward_weight", l.name), |bench| {
            bench.iter(|| {
                conv2d_backward_weight(black_box(&x), &dy, &l.weight, &l.params).expect("dw")
            })
        });
    }
    group.finish();
}

/// The single-threaded sgemm behind the kernels on conv3_1's whole-image matrix shape
/// (256 × 1152 × 3136) and on the shape of one of its im2col tiles (256 × 1152 × 784).
fn sgemm<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (m, k, n) in [(256, 1152, 3136), (256, 1152, 784)] {
        let a = Tensor::<f32>::rand_uniform(&[m, k], -1.0, 1.0, &mut rng)
            .expect("a")
            .to_vec();
        let b = Tensor::<f32>::rand_uniform(&[k, n], -1.0, 1.0, &mut rng)
            .expect("b")
            .to_vec();
        let mut out = vec![0.0f32; m * n];
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(format!("single_thread_{m}x{k}x{n}"), |bench| {
            bench.iter(|| {
                // SAFETY: a is m×k, b is k×n and out is m×n, all row-major and disjoint.
                unsafe {
                    f32::gemm_raw(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                };
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn wall(c: &mut Criterion) {
    conv(c, "conv2d");
    sgemm(c, "sgemm");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    conv(c, "conv2d_cpu");
    sgemm(c, "sgemm_cpu");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
