//! Training-step cost of the autograd engine.
//!
//! - `graph_overhead`: a chain of 1,000 ops on one-element tensors, forward + backward,
//!   against the same tensor kernel calls without a graph: the difference divided by the
//!   number of ops is the bookkeeping cost per recorded op.
//!
//! Run: `cargo bench -p strata-autograd --bench mnist_step`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use strata_autograd::Var;
use strata_tensor::Tensor;

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

criterion_group!(benches, graph_overhead);
criterion_main!(benches);
