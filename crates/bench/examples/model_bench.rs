//! End-to-end timings of the reference workloads' models with random weights and data, as
//! `shared/bench`'s scripts measure them: W4 (CIFAR-10 model) train steps, W5 (VGG-16)
//! inference latency through `predict_batch`, W6 (shapes model) train steps. Prints one
//! `RESULT` line per workload with the median, minimum and maximum over the samples, and the
//! process's peak resident memory.
//!
//! `cargo run --release -p strata-bench --example model_bench -- w5 [batch]`
//! (`w4 <batch>`, `w6 [batch]`; `w5train [batch]`: VGG-16 train steps with Adam, 3 timed
//! after 1 untimed, default batch 4; `w4profile`, `w5profile`, `w6profile [batch]` print per-layer
//! forward and backward times of a few train steps; `w5layers` times each VGG-16 kernel alone).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use strata_bench::{time_calls, TimingConfig};
use strata_layers::layer::{
    Activation, Conv2dConfig, DenseConfig, DropoutConfig, FlattenConfig, MaxPool2dConfig, Padding,
};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::Model;
use strata_layers::Targets;
use strata_layers::{ForwardContext, Sequential, SequentialBuilder};
use strata_tensor::Tensor;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn relu_conv(filters: usize, kernel: usize) -> Conv2dConfig {
    Conv2dConfig::new(filters, kernel).activation(Activation::Relu)
}

fn vgg16() -> BenchResult<Sequential<f32>> {
    let mut builder: SequentialBuilder<f32> = Sequential::builder(&[3, 224, 224]).seed(0);
    for block in [
        &[64, 64][..],
        &[128, 128],
        &[256, 256, 256],
        &[512, 512, 512],
        &[512, 512, 512],
    ] {
        for &filters in block {
            builder = builder.add(relu_conv(filters, 3).padding(Padding::Same));
        }
        builder = builder.add(MaxPool2dConfig::new(2));
    }
    Ok(builder
        .add(FlattenConfig::new())
        .add(DenseConfig::new(4096).activation(Activation::Relu))
        .add(DropoutConfig::new(0.5))
        .add(DenseConfig::new(4096).activation(Activation::Relu))
        .add(DropoutConfig::new(0.5))
        .add(DenseConfig::new(1000))
        .build()?)
}

fn cifar() -> BenchResult<Sequential<f32>> {
    Ok(Sequential::<f32>::builder(&[3, 32, 32])
        .seed(0)
        .add(relu_conv(32, 3).padding(Padding::Same))
        .add(relu_conv(32, 3))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.25))
        .add(relu_conv(64, 3).padding(Padding::Same))
        .add(relu_conv(64, 3))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.25))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(512).activation(Activation::Relu))
        .add(DropoutConfig::new(0.5))
        .add(DenseConfig::new(10))
        .build()?)
}

fn shapes() -> BenchResult<Sequential<f32>> {
    Ok(Sequential::<f32>::builder(&[3, 128, 128])
        .seed(0)
        .add(relu_conv(32, 6))
        .add(MaxPool2dConfig::new(2))
        .add(relu_conv(32, 6))
        .add(MaxPool2dConfig::new(2))
        .add(DropoutConfig::new(0.2))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3))
        .build()?)
}

/// Peak resident memory of this process in MB (Linux `VmHWM`), if known.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn train(name: &str, network: Sequential<f32>, batch: usize, classes: usize) -> BenchResult<()> {
    train_timed(name, network, batch, classes, &TimingConfig::default())
}

fn train_timed(
    name: &str,
    network: Sequential<f32>,
    batch: usize,
    classes: usize,
    config: &TimingConfig,
) -> BenchResult<()> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut shape = vec![batch];
    shape.extend_from_slice(network.input_shape());
    let x = Tensor::rand_normal(&shape, 0.0, 1.0, &mut rng)?;
    let labels = (0..batch).map(|_| rng.random_range(0..classes)).collect();
    let y = Targets::Labels(labels);
    let adam = Adam::new(AdamConfig {
        learning_rate: 1e-3,
        ..AdamConfig::default()
    })?;
    let mut model = Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        adam,
    );
    let mut step = 0u64;
    let timing = time_calls(config, || -> BenchResult<()> {
        step += 1;
        model.train_step(&x, &y, &mut ForwardContext::train(step))?;
        Ok(())
    })?;
    println!(
        "RESULT peer=strata wl={name} mode=train threads={} batch={batch} unit=img/s {} \
         peak_rss_mb={:.0}",
        rayon::current_num_threads(),
        timing.throughput(batch),
        peak_rss_mb().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn infer(name: &str, network: Sequential<f32>, batch: usize) -> BenchResult<()> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut shape = vec![batch];
    shape.extend_from_slice(network.input_shape());
    let x = Tensor::rand_normal(&shape, 0.0, 1.0, &mut rng)?;
    let timing = time_calls(&TimingConfig::default(), || -> BenchResult<()> {
        network.predict_batch(&x)?;
        Ok(())
    })?;
    let ms: Vec<f64> = timing.seconds_per_call.iter().map(|s| s * 1e3).collect();
    println!(
        "RESULT peer=strata wl={name} mode=infer threads={} batch={batch} unit=ms {} \
         peak_rss_mb={:.0}",
        rayon::current_num_threads(),
        strata_bench::SampleStats::of(ms),
        peak_rss_mb().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// Times the tensor kernels behind each VGG-16 layer at batch `batch` (best of 3 calls).
fn vgg_layers(batch: usize) -> BenchResult<()> {
    use strata_tensor::conv::{conv2d_relu, Conv2dOptions, Padding2d};
    let mut rng = StdRng::seed_from_u64(0);
    let best = |f: &mut dyn FnMut() -> BenchResult<()>| -> BenchResult<f64> {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            f()?;
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(best)
    };
    let params = Conv2dOptions::default().with_padding(Padding2d::uniform(1));
    let (mut c, mut hw, mut total) = (3, 224, 0.0);
    for (i, &o) in [
        64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512,
    ]
    .iter()
    .enumerate()
    {
        if [2, 4, 7, 10].contains(&i) {
            hw /= 2;
        }
        let x = Tensor::<f32>::rand_normal(&[batch, c, hw, hw], 0.0, 1.0, &mut rng)?;
        let w = Tensor::<f32>::rand_normal(&[o, c, 3, 3], 0.0, 0.05, &mut rng)?;
        let b = Tensor::<f32>::zeros(&[o]);
        let ms = best(&mut || {
            conv2d_relu(&x, &w, Some(&b), &params)?;
            Ok(())
        })?;
        let gflops = 2.0 * (batch * o * hw * hw * c * 9) as f64 / ms / 1e6;
        println!("conv {i:2} {c:3}->{o:3} {hw:3}x{hw:<3} {ms:8.1} ms {gflops:6.1} GFLOP/s");
        total += ms;
        c = o;
    }
    for (k, n) in [(25088, 4096), (4096, 4096), (4096, 1000)] {
        let x = Tensor::<f32>::rand_normal(&[batch, k], 0.0, 1.0, &mut rng)?;
        let w = Tensor::<f32>::rand_normal(&[n, k], 0.0, 0.01, &mut rng)?;
        let ms = best(&mut || {
            x.matmul(&w.transpose(0, 1)?)?;
            Ok(())
        })?;
        let gbs = (k * n * 4) as f64 / ms / 1e6;
        println!("dense {k}->{n} {ms:8.1} ms {gbs:6.1} GB/s of weights");
        total += ms;
    }
    println!("total {total:.1} ms");
    Ok(())
}

/// Prints the per-layer forward and backward times of `steps` train steps on random data.
fn profile(network: Sequential<f32>, batch: usize, classes: usize, steps: u64) -> BenchResult<()> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut shape = vec![batch];
    shape.extend_from_slice(network.input_shape());
    let x = Tensor::rand_normal(&shape, 0.0, 1.0, &mut rng)?;
    let y = Targets::Labels((0..batch).map(|i| i % classes).collect());
    let adam = Adam::new(AdamConfig::default())?;
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
    let mut model = Model::new(network, loss, adam);
    for step in 0..steps {
        let p = model.profile_step(&x, &y, &mut ForwardContext::train(step))?;
        println!("{p}");
    }
    Ok(())
}

fn main() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let batch = |default: usize| -> BenchResult<usize> {
        Ok(match args.get(1) {
            Some(b) => b.parse()?,
            None => default,
        })
    };
    match args.first().map(String::as_str) {
        Some("w4") => train("W4", cifar()?, batch(32)?, 10),
        Some("w5") => infer("W5", vgg16()?, batch(1)?),
        // Seconds per step: one untimed step, then 3 timed samples of one step each.
        Some("w5train") => {
            let config = TimingConfig {
                samples: 3,
                min_sample: std::time::Duration::ZERO,
                warmup: std::time::Duration::ZERO,
                max_warmup_calls: 0,
            };
            train_timed("W5", vgg16()?, batch(4)?, 1000, &config)
        }
        Some("w5layers") => vgg_layers(batch(1)?),
        Some("w4profile") => profile(cifar()?, batch(32)?, 10, 3),
        Some("w5profile") => profile(vgg16()?, batch(1)?, 1000, 2),
        Some("w6") => train("W6", shapes()?, batch(30)?, 3),
        Some("w6profile") => profile(shapes()?, batch(30)?, 3, 3),
        _ => Err(
            "usage: model_bench w4|w5|w5train|w6|w5layers|w4profile|w5profile|w6profile [batch]"
                .into(),
        ),
    }
}
