//! Training-step cost of the autograd engine.
//!
//! - `mnist_step`: forward + backward of the MNIST model (conv 32, pool, conv 64, pool,
//!   conv 64, dense 64, dense 10; cross-entropy; batch 64, f32) through autograd, and the
//!   very same sequence of tensor kernel calls written by hand with no graph. The difference
//!   is the graph's bookkeeping: recording nodes, the topological sort, gradient routing and
//!   accumulation. The two are measured alternately, step by step, so that a shared
//!   machine's load falls on both alike.
//! - `graph_overhead`: a chain of 1,000 ops on one-element tensors, forward + backward,
//!   against the same tensor kernel calls without a graph: the difference divided by the
//!   number of ops is the bookkeeping cost per recorded op.
//!
//! Run: `cargo bench -p strata-autograd --bench mnist_step`

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use strata_autograd::{GradStore, Result, Var};
use strata_tensor::conv::{
    conv2d, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, Conv2dOptions,
};
use strata_tensor::pool::{max_pool2d_backward, max_pool2d_with_indices, Pool2dOptions};
use strata_tensor::Tensor;

const BATCH: usize = 64;

/// The parameters of the MNIST model, as (shape, fan-in) for a uniform initialisation.
const PARAMS: [(&[usize], usize); 10] = [
    (&[32, 1, 3, 3], 9),
    (&[32], 9),
    (&[64, 32, 3, 3], 288),
    (&[64], 288),
    (&[64, 64, 3, 3], 576),
    (&[64], 576),
    (&[576, 64], 576),
    (&[64], 576),
    (&[64, 10], 64),
    (&[10], 64),
];

struct Mnist {
    params: Vec<Var<f32>>,
    x: Var<f32>,
    labels: Vec<usize>,
}

impl Mnist {
    fn new() -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(0);
        let mut params = Vec::new();
        for (shape, fan_in) in PARAMS {
            let bound = (1.0 / fan_in as f64).sqrt();
            params.push(Var::parameter(Tensor::rand_uniform(
                shape, -bound, bound, &mut rng,
            )?));
        }
        let x = Var::constant(Tensor::rand_uniform(
            &[BATCH, 1, 28, 28],
            0.0,
            1.0,
            &mut rng,
        )?);
        let labels = (0..BATCH).map(|i| (i * 7) % 10).collect();
        Ok(Self { params, x, labels })
    }

    /// Forward and backward through autograd.
    fn step(&self) -> Result<GradStore<f32>> {
        let p = &self.params;
        let conv = Conv2dOptions::default();
        let pool = Pool2dOptions::new([2, 2]);
        let logits = self
            .x
            .conv2d(&p[0], Some(&p[1]), &conv)?
            .relu()
            .max_pool2d(&pool)?
            .conv2d(&p[2], Some(&p[3]), &conv)?
            .relu()
            .max_pool2d(&pool)?
            .conv2d(&p[4], Some(&p[5]), &conv)?
            .relu()
            .flatten(1, 3)?
            .matmul(&p[6])?
            .add(&p[7])?
            .relu()
            .matmul(&p[8])?
            .add(&p[9])?;
        logits.cross_entropy(&self.labels)?.backward()
    }

    /// The same kernels called by hand, in the same order, with no graph.
    fn raw_step(&self) -> Result<Vec<Tensor<f32>>> {
        let p: Vec<Tensor<f32>> = self.params.iter().map(Var::value).collect();
        let x = self.x.value();
        let conv = Conv2dOptions::default();
        let pool = Pool2dOptions::new([2, 2]);
        // Forward.
        let c1 = conv2d(&x, &p[0], Some(&p[1]), &conv)?;
        let r1 = c1.relu();
        let (m1, at1) = max_pool2d_with_indices(&r1, &pool)?;
        let c2 = conv2d(&m1, &p[2], Some(&p[3]), &conv)?;
        let r2 = c2.relu();
        let (m2, at2) = max_pool2d_with_indices(&r2, &pool)?;
        let c3 = conv2d(&m2, &p[4], Some(&p[5]), &conv)?;
        let r3 = c3.relu();
        let f = r3.flatten(1, 3)?;
        let d1 = f.matmul(&p[6])?.add(&p[7])?;
        let r4 = d1.relu();
        let logits = r4.matmul(&p[8])?.add(&p[9])?;
        let lsm = logits.log_softmax(1)?;
        // Backward: cross-entropy, then each layer in reverse.
        let scale = 1.0 / BATCH as f32;
        let mut gl = lsm.exp().mul_scalar(scale).to_vec();
        for (i, &l) in self.labels.iter().enumerate() {
            gl[i * 10 + l] -= scale;
        }
        // `g` is the gradient flowing back; each assignment frees the previous one, as the
        // engine frees a gradient once it has been passed on.
        let mut g = Tensor::from_vec(gl, &[BATCH, 10])?;
        let gb5 = g.sum_axes(&[0], true)?.reshape(&[10])?;
        let gw5 = r4.t()?.matmul(&g)?;
        g = g.matmul(&p[8].t()?)?;
        g = g.mul(&d1.gt_scalar_mask(0.0))?;
        let gb4 = g.sum_axes(&[0], true)?.reshape(&[64])?;
        let gw4 = f.t()?.matmul(&g)?;
        g = g.matmul(&p[6].t()?)?.reshape(r3.shape())?;
        g = g.mul(&c3.gt_scalar_mask(0.0))?;
        let gw3 = conv2d_backward_weight(&m2, &g, p[4].shape(), &conv)?;
        let gb3 = conv2d_backward_bias(&g)?;
        g = conv2d_backward_input(&g, &p[4], m2.shape(), &conv)?;
        g = max_pool2d_backward(&g, &at2)?;
        g = g.mul(&c2.gt_scalar_mask(0.0))?;
        let gw2 = conv2d_backward_weight(&m1, &g, p[2].shape(), &conv)?;
        let gb2 = conv2d_backward_bias(&g)?;
        g = conv2d_backward_input(&g, &p[2], m1.shape(), &conv)?;
        g = max_pool2d_backward(&g, &at1)?;
        g = g.mul(&c1.gt_scalar_mask(0.0))?;
        let gw1 = conv2d_backward_weight(&x, &g, p[0].shape(), &conv)?;
        let gb1 = conv2d_backward_bias(&g)?;
        Ok(vec![gw1, gb1, gw2, gb2, gw3, gb3, gw4, gb4, gw5, gb5])
    }
}

/// Runs `pairs` pairs of steps (autograd then hand-written, and the other way round every
/// other pair) and prints the median time of each and the median of the per-pair
/// differences: pairing cancels the drift of a shared machine's load.
fn paired_split(model: &Mnist, pairs: usize) {
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64() * 1e3
    };
    let autograd = || drop(black_box(model.step().expect("autograd step")));
    let raw = || drop(black_box(model.raw_step().expect("raw step")));
    let (mut a, mut r, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (ta, tr) = if i % 2 == 0 {
            (time(&autograd), time(&raw))
        } else {
            let tr = time(&raw);
            (time(&autograd), tr)
        };
        a.push(ta);
        r.push(tr);
        diff.push(ta - tr);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ma, mr, md) = (median(&mut a), median(&mut r), median(&mut diff));
    println!(
        "mnist_step paired ({pairs} pairs): autograd median {ma:.2} ms, hand-written kernels \
         median {mr:.2} ms, median difference {md:+.2} ms ({:+.1}% of the autograd step)",
        100.0 * md / ma
    );
}

fn mnist_step(c: &mut Criterion) {
    let model = Mnist::new().expect("the model builds");
    // The two paths compute the same gradients.
    let grads = model.step().expect("autograd step");
    let raw = model.raw_step().expect("raw step");
    for (param, expected) in model.params.iter().zip(&raw) {
        let got = grads.get(param).expect("every parameter has a gradient");
        assert_eq!(got.to_vec(), expected.to_vec(), "gradients differ");
    }
    paired_split(&model, 60);
    // The machine may be shared: each measurement alternates the two paths step by step
    // (timing one, running the other untimed) so that both see the same load.
    let mut group = c.benchmark_group("mnist_step");
    group.sample_size(20);
    group.bench_function("autograd_forward_backward_batch64", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                black_box(model.step().expect("autograd step"));
                total += start.elapsed();
                black_box(model.raw_step().expect("raw step"));
            }
            total
        })
    });
    group.bench_function("raw_kernels_forward_backward_batch64", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                black_box(model.step().expect("autograd step"));
                let start = Instant::now();
                black_box(model.raw_step().expect("raw step"));
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

const CHAIN: usize = 1000;

/// Forward and backward through `CHAIN` recorded ops (half `mul`, half `add_scalar`).
fn chain_with_graph(x: &Var<f32>, w: &Var<f32>) -> f32 {
    let mut y = x.clone();
    for _ in 0..CHAIN / 2 {
        y = y.mul(w).expect("shapes match").add_scalar(0.5);
    }
    let grads = y.backward().expect("scalar output");
    grads.get(w).map_or(0.0, |g| g.to_vec()[0])
}

/// The same kernel calls on raw tensors, forward and backward, with no graph.
fn chain_raw(x: &Tensor<f32>, w: &Tensor<f32>) -> f32 {
    let mut values = Vec::with_capacity(CHAIN / 2);
    let mut y = x.clone();
    for _ in 0..CHAIN / 2 {
        values.push(y.clone());
        y = y.mul(w).expect("shapes match").add_scalar(0.5);
    }
    let mut g = Tensor::ones(y.shape());
    let mut gw = Tensor::zeros(w.shape());
    for v in values.iter().rev() {
        let g_add = g.clone();
        gw = gw
            .add(&g_add.mul(v).expect("same shape"))
            .expect("same shape");
        g = g_add.mul(w).expect("same shape");
    }
    gw.to_vec()[0]
}

fn graph_overhead(c: &mut Criterion) {
    let x = Var::parameter(Tensor::<f32>::ones(&[1]));
    let w = Var::parameter(Tensor::<f32>::full(&[1], 0.999));
    let mut group = c.benchmark_group("graph_overhead");
    group.bench_function("chain_1000_ops_autograd", |b| {
        b.iter(|| chain_with_graph(black_box(&x), black_box(&w)))
    });
    let (xt, wt) = (x.value(), w.value());
    group.bench_function("chain_1000_ops_raw_kernels", |b| {
        b.iter(|| chain_raw(black_box(&xt), black_box(&wt)))
    });
    group.finish();
}

criterion_group!(benches, mnist_step, graph_overhead);
criterion_main!(benches);
