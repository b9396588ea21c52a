//! # strata-autograd
//!
//! Define-by-run automatic differentiation on [`strata_tensor`] tensors, and a public
//! gradient checker so that every gradient (ours and yours) can be proven right.
//!
//! ```
//! use strata_autograd::Var;
//! use strata_tensor::Tensor;
//! let w = Var::parameter(Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2])?);
//! let x = Var::constant(Tensor::<f64>::from_vec(vec![3.0, 2.0], &[2])?);
//! let loss = w.mul(&x)?.sum_all()?.square(); // (w·x)²
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&w).unwrap().to_vec(), vec![-3.0, -2.0]); // 2(w·x)·x
//! # Ok::<(), strata_autograd::AutogradError>(())
//! ```
//!
//! ## Design
//!
//! - [`Var`] is an `Arc` handle to an immutable node: its value, its inputs and a backward
//!   closure that captures what the rule needs. Nodes point only at their inputs, so graphs
//!   have no cycles and are freed when the output is dropped (iteratively, so deep graphs
//!   do not overflow the stack). [`live_nodes`] counts nodes alive, for leak tests.
//! - Leaves are parameters ([`Var::parameter`]) or constants ([`Var::constant`]); an op
//!   records itself only if an input requires a gradient and recording is on, so
//!   [`no_grad`] inference and ops on constants hold no graph.
//! - [`Var::backward`] walks the graph in reverse topological order (iterative DFS) and
//!   returns a [`GradStore`] of the leaves' gradients; uses of a variable accumulate.
//! - Each op's forward and backward rule sit side by side in one method, one module per
//!   family (`src/ops/*.rs`). Users add ops with [`CustomOp`].
//! - [`check_gradients`] compares backward with central finite differences in `f64`; the
//!   `testing` module (feature `testing`) has proptest strategies to do it over random
//!   shapes.
//!
//! ### Choices, and why
//!
//! - **`Arc`, not `Rc`.** Layers own their parameters as `Var`s; with `Arc` (and the leaf
//!   value behind an `RwLock`) a model is `Send + Sync` and can be trained on one thread and
//!   served from others. The price, an atomic increment per handle clone, is nanoseconds
//!   against microseconds of kernel time per op (see `docs/benchmarks.md`, "Autograd").
//! - **A boxed closure per node rather than a struct per op type.** The closure captures
//!   exactly what the rule needs (often the output, a mask, argmax positions), so forward and
//!   backward read as one method, and saved tensors are immutable snapshots: updating a
//!   parameter between forward and backward cannot corrupt a gradient. [`CustomOp`] is the
//!   same mechanism behind a trait for users.
//! - **Which inputs need a gradient is passed to each rule**, so that, for example, a first
//!   convolution does not compute a gradient for its data batch.
//! - **Only leaves' gradients are kept.** Intermediate gradients are freed as soon as they
//!   have been passed on, which keeps the peak memory of a step low.
//!
//! Limits: gradients are not differentiable themselves (no higher-order derivatives), and
//! the no-grad switch is per thread.
//!
//! To property-test your own ops or models, enable the feature in your dev-dependencies:
//! `strata-autograd = { workspace = true, features = ["testing"] }`.
//!
//! ## Ops and their gradient property tests
//!
//! Every op's gradient is checked by a proptest (32–64 random cases, `f64`, `eps = 1e-6`,
//! tolerance `|a − n| ≤ 1e-6 + 1e-5·|n|` unless stated) in the op's own file. Each was also
//! run once at 1,000–1,500 cases without a failure; a shrunk failure found later becomes a
//! named regression test beside the proptest.
//!
//! | op | file | test |
//! |---|---|---|
//! | `add`, `sub`, `mul`, `div` (broadcasting) | `ops/arith.rs` | `add_gradient`, `sub_gradient`, `mul_gradient`, `div_gradient` (divisor in [0.5, 2)) |
//! | `neg`, `add_scalar`, `mul_scalar` | `ops/arith.rs` | `neg_and_scalar_ops_gradient` |
//! | `powf`, `square`, `exp`, `ln`, `sqrt` | `ops/arith.rs` | `powf_gradient`, `square_gradient`, `exp_gradient`, `ln_gradient`, `sqrt_gradient` (inputs in [0.1, 2) for powf/ln/sqrt) |
//! | `relu`, `leaky_relu` | `ops/activation.rs` | `relu_gradient`, `leaky_relu_gradient` (inputs at least 0.01 from 0) |
//! | `sigmoid`, `tanh` | `ops/activation.rs` | `sigmoid_gradient`, `tanh_gradient` |
//! | `sum`, `mean` (axes), `sum_all`, `mean_all` | `ops/reduce.rs` | `sum_gradient`, `mean_gradient`, `sum_all_and_mean_all_gradient` |
//! | `max` (one axis) | `ops/reduce.rs` | `max_gradient` (distinct values) |
//! | `reshape`, `flatten`, `squeeze`, `unsqueeze` | `ops/shape.rs` | `reshape_and_flatten_gradient` |
//! | `permute`, `transpose`, `broadcast_to` | `ops/shape.rs` | `permute_gradient`, `transpose_gradient`, `broadcast_to_gradient` |
//! | `slice`, `narrow`, `concat` | `ops/shape.rs` | `slice_gradient`, `concat_gradient` |
//! | `softmax`, `log_softmax` | `ops/softmax.rs` | `softmax_gradient`, `log_softmax_gradient` |
//! | `cross_entropy` (labels), `cross_entropy_with_probs` | `ops/loss.rs` | `cross_entropy_gradient`, `cross_entropy_with_probs_gradient` |
//! | `dropout` | `ops/dropout.rs` | `dropout_gradient` (seeded mask) |
//! | `matmul` (batched, broadcasting, 1-D operands) | `ops/matmul.rs` | `matmul_gradient` (all four `torch.matmul` cases, broadcast batches) |
//! | `conv2d` (input, weight, bias) | `ops/conv.rs` | `conv2d_gradient` (random stride 1–2, padding 0–2 per side, dilation 1–2, groups 1–3, with and without bias) |
//! | `conv2d_relu` (convolution and relu fused) | `ops/conv.rs` | `conv2d_relu_gradient` (as `conv2d_gradient`, cases whose pre-activations are all clear of the kink); `conv2d_relu_is_conv2d_then_relu_to_the_bit` |
//! | `max_pool2d`, `avg_pool2d`, `global_avg_pool2d` | `ops/pool.rs` | `max_pool2d_gradient` (distinct values), `avg_pool2d_gradient` (both divisor rules), both over random kernel 1–3, stride 1–3, padding below the kernel; `global_avg_pool2d_gradient` |
//! | `pad` | `ops/pad.rs` | `pad_gradient` |
//! | custom ops ([`CustomOp`]) | `custom.rs` | doctest of [`CustomOp`] |
//!
//! End to end (`tests/`): `convnet_gradient.rs` checks the cross-entropy gradient of a
//! conv → pool → conv → pool → dense network with respect to every parameter (and the input)
//! against finite differences (tolerance `1e-6 + 1e-4·|n|`); `training.rs` trains a two-layer
//! network on XOR with plain gradient descent; `graph_memory.rs` runs 10,000 training steps
//! of a tiny convnet and asserts that the number of live nodes returns to its baseline after
//! every step, and that `no_grad` inference keeps no graph.

#![warn(missing_docs)]

mod backward;
mod custom;
mod error;
mod grad_mode;
mod grad_store;
mod gradcheck;
mod ops;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod var;

pub use backward::{BackwardObserver, NodeTiming};
pub use custom::CustomOp;
pub use error::{AutogradError, Result};
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use grad_store::GradStore;
pub use gradcheck::{check_gradients, ElementError, GradCheckReport, Tolerance};
pub use ops::BatchStats;
pub use var::{live_nodes, Var, VarId};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
