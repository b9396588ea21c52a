//! Optimisers and learning-rate schedules.
//!
//! An optimiser turns each parameter's value and gradient into its next value, keeping any
//! per-parameter state (momentum, moment estimates) under the parameter's stable name, so
//! that the state can be saved beside the weights and training resumed exactly.

mod adam;
mod rmsprop;
mod schedule;
mod sgd;
mod state;

pub use adam::{Adam, AdamConfig, EpsilonMode};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::{ConstantRate, CosineDecay, ExponentialDecay, LearningRateSchedule, StepDecay};
pub use sgd::{Sgd, SgdConfig};
pub use state::OptimizerState;

use strata_tensor::{Element, Tensor};

use crate::error::Result;

/// One parameter handed to an optimiser: its stable name, current value and gradient.
#[derive(Debug, Clone, Copy)]
pub struct ParamGrad<'a, T: Element> {
    /// The parameter's name (`conv2d.weight`, …), which keys the optimiser's state.
    pub name: &'a str,
    /// The current value.
    pub value: &'a Tensor<T>,
    /// The gradient of the loss with respect to the value (same shape).
    pub grad: &'a Tensor<T>,
}

/// An optimiser: one call per training step updates every parameter.
pub trait Optimizer<T: Element> {
    /// Returns the new value of each parameter, in the order given.
    fn step(&mut self, params: &[ParamGrad<'_, T>]) -> Result<Vec<Tensor<T>>>;

    /// The learning rate the next step will use.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (used by schedules).
    fn set_learning_rate(&mut self, rate: f64);

    /// The state to save beside the weights (step count and per-parameter buffers).
    fn state(&self) -> OptimizerState<T>;

    /// Restores a saved state; an error names any buffer whose shape or kind does not fit.
    fn load_state(&mut self, state: OptimizerState<T>) -> Result<()>;
}

/// Checks that a gradient has its parameter's shape.
fn check_grad<T: Element>(param: &ParamGrad<'_, T>) -> Result<()> {
    if param.value.shape() != param.grad.shape() {
        return Err(crate::LayersError::ShapeMismatch {
            name: format!("gradient of {}", param.name),
            expected: param.value.shape().to_vec(),
            found: param.grad.shape().to_vec(),
        });
    }
    Ok(())
}

/// A number as a person reads it: plain between 10⁻⁴ and 10⁶ (`0.001`, `250`), in
/// scientific notation outside (`1e300`, `-2.5e-9`), where `{}` would print hundreds of
/// digits.
pub fn readable_number(value: f64) -> String {
    let size = value.abs();
    if value == 0.0 || !value.is_finite() || (1e-4..1e6).contains(&size) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// Checks that a hyper-parameter is finite and within `[low, high]`.
fn check_range(what: &str, name: &str, value: f64, low: f64, high: f64) -> Result<()> {
    if !(value.is_finite() && value >= low && value <= high) {
        let allowed = if high == f64::MAX {
            format!("a finite number ≥ {}", readable_number(low))
        } else {
            format!("in [{}, {}]", readable_number(low), readable_number(high))
        };
        return Err(crate::LayersError::config(
            what,
            format!("{name} must be {allowed}, found {}", readable_number(value)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unbounded_range_is_stated_in_words() {
        let err = check_range("Adam", "learning_rate", f64::INFINITY, 0.0, f64::MAX)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a finite number ≥ 0"), "{err}");
        assert!(err.len() < 120, "{err}");
        // A huge value that is out of range is printed in scientific notation.
        let err = check_range("Adam", "learning_rate", -1e300, 0.0, f64::MAX)
            .unwrap_err()
            .to_string();
        assert!(err.contains("found -1e300") && err.len() < 120, "{err}");
        let err = check_range("SGD", "momentum", 3e-9, 0.5, 1.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("in [0.5, 1], found 3e-9"), "{err}");
        assert_eq!(readable_number(0.001), "0.001");
        assert_eq!(readable_number(f64::MAX), "1.7976931348623157e308");
    }

    fn t(values: &[f64]) -> Tensor<f64> {
        Tensor::from_slice(values, &[values.len()]).unwrap()
    }

    /// Runs `steps` steps on one parameter with gradients `2·p` (the gradient of `Σ p²`).
    fn run(opt: &mut dyn Optimizer<f64>, start: &[f64], steps: usize) -> Vec<f64> {
        let mut p = t(start);
        for _ in 0..steps {
            let g = p.mul_scalar(2.0);
            p = opt
                .step(&[ParamGrad {
                    name: "p",
                    value: &p,
                    grad: &g,
                }])
                .unwrap()
                .remove(0);
        }
        p.to_vec()
    }

    #[test]
    fn a_step_that_fails_on_a_saved_buffer_leaves_the_state_as_it_was() {
        let mut adam = Adam::new(AdamConfig::default()).unwrap();
        let (a, b) = (t(&[1.0, 2.0]), t(&[3.0, 4.0, 5.0]));
        let (ga, gb) = (t(&[0.5, 0.5]), t(&[0.5, 0.5, 0.5]));
        let params = |a, b| {
            [
                ParamGrad {
                    name: "a",
                    value: a,
                    grad: &ga,
                },
                ParamGrad {
                    name: "b",
                    value: b,
                    grad: &gb,
                },
            ]
        };
        adam.step(&params(&a, &b)).unwrap();
        // The saved state of b now has the wrong shape: a's buffers come first and must not
        // be advanced by the failing step.
        let mut state = adam.state();
        state.buffers.insert("b.exp_avg".into(), t(&[0.0; 4]));
        adam.load_state(state.clone()).unwrap();
        let err = adam.step(&params(&a, &b)).unwrap_err().to_string();
        assert!(err.contains("b.exp_avg"), "{err}");
        assert_eq!(adam.state(), state);
    }

    #[test]
    fn sgd_momentum_matches_hand_computation() {
        let mut sgd = Sgd::new(SgdConfig {
            learning_rate: 0.1,
            momentum: 0.9,
            ..SgdConfig::default()
        })
        .unwrap();
        // p0 = 1: g = 2, b = 2, p = 0.8; g = 1.6, b = 3.4, p = 0.46.
        let p = run(&mut sgd, &[1.0], 2);
        assert!((p[0] - 0.46).abs() < 1e-12, "{p:?}");
        let mut nesterov = Sgd::new(SgdConfig {
            learning_rate: 0.1,
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::default()
        })
        .unwrap();
        // g = 2, b = 2, step g + 0.9 b = 3.8, p = 0.62.
        assert!((run(&mut nesterov, &[1.0], 1)[0] - 0.62).abs() < 1e-12);
    }

    #[test]
    fn adam_first_step_moves_by_the_learning_rate() {
        for config in [
            AdamConfig {
                epsilon: 0.0,
                ..AdamConfig::default()
            },
            AdamConfig {
                epsilon: 0.0,
                ..AdamConfig::torch()
            },
        ] {
            let mut adam = Adam::new(config).unwrap();
            let p = run(&mut adam, &[1.0, -2.0], 1);
            assert!(
                (p[0] - 0.999).abs() < 1e-12 && (p[1] + 1.999).abs() < 1e-12,
                "{p:?}"
            );
        }
    }

    #[test]
    fn adam_epsilon_conventions_differ_as_documented() {
        let eps = 1e-3;
        let mut torch = Adam::new(AdamConfig {
            epsilon: eps,
            ..AdamConfig::torch()
        })
        .unwrap();
        let mut keras = Adam::new(AdamConfig {
            epsilon: eps,
            ..AdamConfig::default()
        })
        .unwrap();
        let (pt, pk) = (
            run(&mut torch, &[0.01], 1)[0],
            run(&mut keras, &[0.01], 1)[0],
        );
        // g = 0.02; m = 0.002, v = 4e-7. Torch: m̂ = 0.02, v̂ = 4e-4, step = 1e-3·0.02/(0.02 + 1e-3).
        let torch_step = 1e-3 * 0.02 / (0.02 + eps);
        // Keras: lr_t = 1e-3·sqrt(0.001)/0.1, step = lr_t·0.002/(sqrt(4e-7) + 1e-3).
        let keras_step = 1e-3 * 0.001f64.sqrt() / 0.1 * 0.002 / (4e-7f64.sqrt() + eps);
        assert!((pt - (0.01 - torch_step)).abs() < 1e-15, "{pt}");
        assert!((pk - (0.01 - keras_step)).abs() < 1e-15, "{pk}");
    }

    #[test]
    fn adamw_decays_weights_directly() {
        let config = AdamConfig {
            learning_rate: 0.1,
            weight_decay: 0.5,
            ..AdamConfig::torch_adamw()
        };
        let mut adamw = Adam::new(config).unwrap();
        let (p, g) = (t(&[2.0]), t(&[0.0]));
        let next = adamw
            .step(&[ParamGrad {
                name: "p",
                value: &p,
                grad: &g,
            }])
            .unwrap();
        // A zero gradient leaves m = v = 0, so only the decay acts: p ← p − lr·λ·p = 1.9.
        assert!((next[0].to_vec()[0] - 1.9).abs() < 1e-12);
        // Coupled decay (Adam with L2) instead feeds λ·p into the moments: a full Adam step.
        let mut adam = Adam::new(AdamConfig {
            decoupled_weight_decay: false,
            ..config
        })
        .unwrap();
        let coupled = adam
            .step(&[ParamGrad {
                name: "p",
                value: &p,
                grad: &g,
            }])
            .unwrap();
        assert!((coupled[0].to_vec()[0] - 1.9).abs() < 1e-6);
    }

    #[test]
    fn saved_state_resumes_exactly() {
        type Maker = Box<dyn Fn() -> Box<dyn Optimizer<f64>>>;
        let configs: Vec<Maker> = vec![
            Box::new(|| Box::new(Adam::new(AdamConfig::torch()).unwrap())),
            Box::new(|| {
                Box::new(
                    Sgd::new(SgdConfig {
                        momentum: 0.9,
                        nesterov: true,
                        ..SgdConfig::default()
                    })
                    .unwrap(),
                )
            }),
            Box::new(|| Box::new(RmsProp::new(RmsPropConfig::default()).unwrap())),
            Box::new(|| {
                Box::new(
                    Adam::new(AdamConfig {
                        amsgrad: true,
                        ..AdamConfig::pytorch()
                    })
                    .unwrap(),
                )
            }),
            Box::new(|| {
                Box::new(
                    RmsProp::new(RmsPropConfig {
                        momentum: 0.9,
                        centered: true,
                        weight_decay: 0.01,
                        ..RmsPropConfig::keras()
                    })
                    .unwrap(),
                )
            }),
        ];
        for make in configs {
            let mut straight = make();
            let expected = run(straight.as_mut(), &[1.0, -0.5, 3.0], 6);
            let mut first = make();
            let halfway = run(first.as_mut(), &[1.0, -0.5, 3.0], 3);
            let mut resumed = make();
            resumed.load_state(first.state()).unwrap();
            assert_eq!(run(resumed.as_mut(), &halfway, 3), expected);
        }
    }

    #[test]
    fn framework_defaults_are_one_call() {
        // Each shortcut takes the same steps as `new` with the documented configuration.
        type Pair = (Box<dyn Optimizer<f64>>, Box<dyn Optimizer<f64>>);
        let pairs: Vec<Pair> = vec![
            (
                Box::new(Adam::pytorch()),
                Box::new(Adam::new(AdamConfig::pytorch()).unwrap()),
            ),
            (
                Box::new(Adam::keras()),
                Box::new(Adam::new(AdamConfig::default()).unwrap()),
            ),
            (
                Box::new(Adam::pytorch_adamw()),
                Box::new(Adam::new(AdamConfig::pytorch_adamw()).unwrap()),
            ),
            (
                Box::new(Adam::keras_adamw()),
                Box::new(Adam::new(AdamConfig::keras_adamw()).unwrap()),
            ),
            (
                Box::new(Sgd::pytorch()),
                Box::new(Sgd::new(SgdConfig::pytorch()).unwrap()),
            ),
            (
                Box::new(Sgd::keras()),
                Box::new(Sgd::new(SgdConfig::default()).unwrap()),
            ),
            (
                Box::new(RmsProp::pytorch()),
                Box::new(RmsProp::new(RmsPropConfig::pytorch()).unwrap()),
            ),
            (
                Box::new(RmsProp::keras()),
                Box::new(RmsProp::new(RmsPropConfig::default()).unwrap()),
            ),
        ];
        for (mut a, mut b) in pairs {
            assert_eq!(a.learning_rate(), b.learning_rate());
            assert_eq!(
                run(a.as_mut(), &[1.0, -0.5], 3),
                run(b.as_mut(), &[1.0, -0.5], 3)
            );
        }
        // The documented numbers.
        assert_eq!(Adam::<f64>::pytorch().learning_rate(), 1e-3);
        assert_eq!(Sgd::<f64>::pytorch().learning_rate(), 1e-3);
        assert_eq!(Sgd::<f64>::keras().learning_rate(), 1e-2);
        assert_eq!(RmsProp::<f64>::pytorch().learning_rate(), 1e-2);
        assert_eq!(RmsProp::<f64>::keras().learning_rate(), 1e-3);
        assert_eq!(AdamConfig::pytorch().epsilon, 1e-8);
        assert_eq!(AdamConfig::keras().epsilon, 1e-7);
        assert_eq!(AdamConfig::pytorch_adamw().weight_decay, 0.01);
        assert_eq!(AdamConfig::keras_adamw().weight_decay, 0.004);
        assert_eq!(RmsPropConfig::pytorch().rho, 0.99);
        assert_eq!(RmsPropConfig::keras().rho, 0.9);
    }

    #[test]
    fn amsgrad_divides_by_the_largest_second_moment() {
        // β₂ = 0.5, ε = 0, lr = 0.1, gradients 1 then 0.1 (set directly, not 2p).
        let mut adam = Adam::new(AdamConfig {
            learning_rate: 0.1,
            beta2: 0.5,
            epsilon: 0.0,
            amsgrad: true,
            ..AdamConfig::pytorch()
        })
        .unwrap();
        let mut p = t(&[0.0]);
        for g in [1.0, 0.1] {
            p = adam
                .step(&[ParamGrad {
                    name: "p",
                    value: &p,
                    grad: &t(&[g]),
                }])
                .unwrap()
                .remove(0);
        }
        // Step 1: m = 0.1, v = 0.5 → p = −0.1. Step 2: m = 0.1, v = 0.255, max 0.5;
        // m̂ = 0.1/0.19, v̂ = 0.5/0.75: p = −0.1 − 0.1·(0.1/0.19)/sqrt(0.5/0.75).
        let expected = -0.1 - 0.1 * (0.1 / 0.19) / (0.5f64 / 0.75).sqrt();
        assert!(
            (p.to_vec()[0] - expected).abs() < 1e-15,
            "{p:?} vs {expected}"
        );
    }

    #[test]
    fn mismatched_gradients_and_states_are_named() {
        let mut adam = Adam::<f64>::new(AdamConfig::default()).unwrap();
        let (p, g) = (t(&[1.0, 2.0]), t(&[1.0]));
        let err = adam
            .step(&[ParamGrad {
                name: "dense.bias",
                value: &p,
                grad: &g,
            }])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "gradient of dense.bias: expected shape [2], found [1]"
        );
        let sgd = Sgd::<f64>::new(SgdConfig::default()).unwrap();
        assert!(adam.load_state(sgd.state()).is_err());
        assert!(Adam::<f64>::new(AdamConfig {
            beta1: 1.0,
            ..AdamConfig::default()
        })
        .is_err());
        assert!(Sgd::<f64>::new(SgdConfig {
            nesterov: true,
            ..SgdConfig::default()
        })
        .is_err());
    }
}
