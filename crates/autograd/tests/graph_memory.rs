//! The graph is freed after every step: the number of live nodes returns to its baseline
//! after each of 10,000 training steps, and inference under `no_grad` holds no graph.
//!
//! One test function only: the node counter is process-wide, and this file is its own
//! test process, so nothing else runs beside it.

use rand::rngs::StdRng;
use rand::SeedableRng;
use strata_autograd::{live_nodes, no_grad, Result, Var};
use strata_tensor::conv::{Conv2dOptions, Padding2d};
use strata_tensor::pool::Pool2dOptions;
use strata_tensor::Tensor;

/// A tiny convnet: conv 1 → 2 (3×3, padding 1) relu → max pool 2 → dropout → flatten →
/// dense 8 → 3, on 4×4 images.
struct Model {
    params: Vec<Var<f32>>,
}

impl Model {
    fn new(rng: &mut StdRng) -> Result<Self> {
        let shapes: [&[usize]; 4] = [&[2, 1, 3, 3], &[2], &[8, 3], &[3]];
        let params = shapes
            .iter()
            .map(|s| Tensor::rand_uniform(s, -0.5, 0.5, rng).map(Var::parameter))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self { params })
    }

    fn forward(&self, x: &Var<f32>, rng: &mut StdRng) -> Result<Var<f32>> {
        let p = &self.params;
        let conv = Conv2dOptions {
            padding: Padding2d::uniform(1),
            ..Conv2dOptions::default()
        };
        let h = x
            .conv2d(&p[0], Some(&p[1]), &conv)?
            .relu()
            .max_pool2d(&Pool2dOptions::new([2, 2]))?
            .dropout(0.2, rng)?
            .flatten(1, 3)?;
        dense(&h, &p[2], &p[3])
    }
}

/// `x·w + b`.
fn dense(x: &Var<f32>, w: &Var<f32>, b: &Var<f32>) -> Result<Var<f32>> {
    x.matmul(w)?.add(b)
}

#[test]
fn the_graph_is_freed_every_step_and_inference_holds_none() -> Result<()> {
    let mut rng = StdRng::seed_from_u64(1);
    let model = Model::new(&mut rng)?;
    let x = Var::constant(Tensor::rand_uniform(&[4, 1, 4, 4], -1.0, 1.0, &mut rng)?);
    let labels = [0, 2, 1, 2];
    let baseline = live_nodes();
    let mut first_loss = None;
    let mut last_loss = 0.0;
    for step in 0..10_000 {
        let loss = model.forward(&x, &mut rng)?.cross_entropy(&labels)?;
        let grads = loss.backward()?;
        last_loss = loss.value().item()?;
        first_loss.get_or_insert(last_loss);
        drop(loss);
        assert_eq!(live_nodes(), baseline, "nodes leaked at step {step}");
        for p in &model.params {
            if let Some(g) = grads.get(p) {
                p.set_value(p.value().sub(&g.mul_scalar(0.05))?)?;
            }
        }
    }
    assert_eq!(live_nodes(), baseline);
    assert!(
        last_loss < first_loss.unwrap_or(0.0),
        "the model did not train"
    );

    // Inference: only the output exists afterwards, and it holds no inputs.
    let y = no_grad(|| model.forward(&x, &mut rng))?;
    assert!(y.is_leaf() && y.inputs().is_empty());
    assert_eq!(live_nodes(), baseline + 1);
    drop(y);
    assert_eq!(live_nodes(), baseline);
    Ok(())
}
