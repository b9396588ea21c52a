//! A layer a user writes sits inside `Sequential` like a built-in one: named, summarised,
//! trained, saved and loaded again by its registered name.

mod common {
    pub mod scale_shift;
}

use std::path::PathBuf;

use common::scale_shift::ScaleShiftConfig;
use serde::{Deserialize, Serialize};
use strata_layers::layer::{
    register_layer, Activation, BuildContext, Conv2dConfig, CustomLayer, CustomLayerConfig,
    DenseConfig, FlattenConfig, LayerConfig,
};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::Model;
use strata_layers::{ForwardContext, Module, Sequential, Targets};
use strata_tensor::{Element, Tensor};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-custom-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn network() -> Sequential<f32> {
    Sequential::<f32>::builder(&[2, 6, 6])
        .seed(3)
        .add(Conv2dConfig::new(3, 3).activation(Activation::Relu))
        .add(CustomLayerConfig::new(&ScaleShiftConfig { initial_scale: 0.5 }).unwrap())
        .add(FlattenConfig::new())
        .add(CustomLayerConfig::new(&ScaleShiftConfig { initial_scale: 2.0 }).unwrap())
        .add(DenseConfig::new(3))
        .build()
        .unwrap()
}

fn batch() -> (Tensor<f32>, Targets<f32>) {
    let x = Tensor::from_vec(
        (0..4 * 72).map(|i| ((i * 7) % 13) as f32 / 13.0).collect(),
        &[4, 2, 6, 6],
    )
    .unwrap();
    (x, Targets::Labels(vec![0, 1, 2, 1]))
}

#[test]
fn a_user_layer_is_named_summarised_trained_saved_and_loaded() {
    let network = network();
    assert_eq!(
        network.layer_names(),
        ["conv2d", "scale_shift", "flatten", "scale_shift_1", "dense"]
    );
    let summary = network.summary().to_string();
    assert!(summary.contains("ScaleShift"), "{summary}");
    assert!(network.state_dict().contains_key("scale_shift_1.calls"));

    let mut model = Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        Adam::new(AdamConfig::default()).unwrap(),
    );
    let (x, y) = batch();
    let before = model.network().state_dict()["scale_shift.scale"].to_vec();
    for step in 0..3 {
        model
            .train_step(&x, &y, &mut ForwardContext::train(step))
            .unwrap();
    }
    let after = model.network().state_dict()["scale_shift.scale"].to_vec();
    assert_ne!(before, after, "the user layer's parameters train");

    let path = scratch("model.safetensors");
    model.network().save(&path).unwrap();
    let loaded = Sequential::<f32>::load(&path).unwrap();
    assert_eq!(loaded.architecture(), model.network().architecture());
    assert_eq!(loaded.state_dict(), model.network().state_dict());
    assert_eq!(
        loaded.predict_batch(&x).unwrap().to_vec(),
        model.network().predict_batch(&x).unwrap().to_vec()
    );
    // The same file also loads as f64, through the type's other build.
    let wide = Sequential::<f64>::load(&path).unwrap();
    assert_eq!(wide.layer_names(), loaded.layer_names());
}

#[test]
fn a_model_naming_an_unregistered_layer_type_fails_naming_it() {
    let mut architecture = network().architecture().clone();
    let LayerConfig::Custom(custom) = &mut architecture.layers[1].config else {
        panic!("layer 1 is the user layer");
    };
    custom.kind = "tests.NeverRegistered".into();
    let err = Sequential::<f32>::from_architecture(&architecture)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tests.NeverRegistered"), "{err}");
    assert!(err.contains("register_layer"), "{err}");
    assert!(err.contains("scale_shift"), "the layer's name: {err}");
}

#[test]
fn settings_that_do_not_fit_the_type_fail_naming_the_type() {
    let mut architecture = network().architecture().clone();
    let LayerConfig::Custom(custom) = &mut architecture.layers[1].config else {
        panic!("layer 1 is the user layer");
    };
    custom.settings = serde_json::json!({ "initial_scale": "large" });
    let err = Sequential::<f32>::from_architecture(&architecture)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tests.ScaleShift"), "{err}");
    assert!(err.contains("configuration JSON"), "{err}");
}

/// Another type claiming the test layer's name.
#[derive(Serialize, Deserialize)]
struct Impostor;

impl CustomLayer for Impostor {
    const KIND: &'static str = "tests.ScaleShift";
    const BASE_NAME: &'static str = "impostor";

    fn build<T: Element>(
        &self,
        _ctx: &mut BuildContext<'_>,
    ) -> strata_layers::Result<Box<dyn Module<T>>> {
        Err(strata_layers::LayersError::config(
            "Impostor",
            "never built",
        ))
    }
}

#[test]
fn a_name_belongs_to_one_type() {
    register_layer::<ScaleShiftConfig>().unwrap();
    register_layer::<ScaleShiftConfig>().unwrap();
    let err = register_layer::<Impostor>().unwrap_err().to_string();
    assert!(err.contains("already registered"), "{err}");
    assert!(err.contains("ScaleShiftConfig"), "{err}");
    assert!(CustomLayerConfig::new(&Impostor).is_err());
}

/// A layer whose module reports state under other names than it reserved.
#[derive(Serialize, Deserialize)]
struct Misnamed;

/// Its module: one parameter, reported as `weight`.
struct MisnamedModule<T: Element> {
    w: strata_autograd::Var<T>,
}

impl<T: Element> Module<T> for MisnamedModule<T> {
    fn kind(&self) -> &'static str {
        "Misnamed"
    }
    fn forward(
        &self,
        x: &strata_autograd::Var<T>,
        _ctx: &mut ForwardContext,
    ) -> strata_layers::Result<strata_autograd::Var<T>> {
        Ok(x.clone())
    }
    fn output_shape(&self, input: &[usize]) -> strata_layers::Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    fn parameters(&self) -> Vec<strata_layers::NamedVar<'_, T>> {
        vec![("weight", &self.w)]
    }
}

impl CustomLayer for Misnamed {
    const KIND: &'static str = "tests.Misnamed";
    const BASE_NAME: &'static str = "misnamed";

    fn build<T: Element>(
        &self,
        ctx: &mut BuildContext<'_>,
    ) -> strata_layers::Result<Box<dyn Module<T>>> {
        Ok(Box::new(MisnamedModule {
            w: ctx.parameter("w", &[2], None)?,
        }))
    }
}

#[test]
fn state_reserved_under_one_name_and_reported_under_another_fails_at_build() {
    let err = Sequential::<f32>::builder(&[2])
        .add(CustomLayerConfig::new(&Misnamed).unwrap())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("misnamed") && err.contains("\"w\"") && err.contains("\"weight\""),
        "{err}"
    );
}

/// The identity, whose backward rule always fails.
struct FailingBackward;

impl strata_autograd::CustomOp<f32> for FailingBackward {
    fn name(&self) -> &'static str {
        "failing_backward"
    }
    fn forward(&self, inputs: &[&Tensor<f32>]) -> strata_autograd::Result<Tensor<f32>> {
        Ok(inputs[0].clone())
    }
    fn backward(
        &self,
        _inputs: &[&Tensor<f32>],
        _output: &Tensor<f32>,
        _grad: &Tensor<f32>,
    ) -> strata_autograd::Result<Vec<Option<Tensor<f32>>>> {
        Err(strata_autograd::AutogradError::invalid(
            "failing_backward",
            "this rule always fails",
        ))
    }
}

/// A layer applying [`FailingBackward`] (f32 only).
#[derive(Serialize, Deserialize)]
struct FailsInBackward;

struct FailsInBackwardModule;

impl<T: Element> Module<T> for FailsInBackwardModule {
    fn kind(&self) -> &'static str {
        "FailsInBackward"
    }
    fn forward(
        &self,
        x: &strata_autograd::Var<T>,
        _ctx: &mut ForwardContext,
    ) -> strata_layers::Result<strata_autograd::Var<T>> {
        let any: &dyn std::any::Any = x;
        let x32 = any
            .downcast_ref::<strata_autograd::Var<f32>>()
            .ok_or_else(|| strata_layers::LayersError::config("FailsInBackward", "f32 only"))?;
        let y = strata_autograd::Var::apply(FailingBackward, &[x32])?;
        let any: &dyn std::any::Any = &y;
        Ok(any
            .downcast_ref::<strata_autograd::Var<T>>()
            .ok_or_else(|| strata_layers::LayersError::config("FailsInBackward", "f32 only"))?
            .clone())
    }
    fn output_shape(&self, input: &[usize]) -> strata_layers::Result<Vec<usize>> {
        Ok(input.to_vec())
    }
}

impl CustomLayer for FailsInBackward {
    const KIND: &'static str = "tests.FailsInBackward";
    const BASE_NAME: &'static str = "fails_in_backward";

    fn build<T: Element>(
        &self,
        _ctx: &mut BuildContext<'_>,
    ) -> strata_layers::Result<Box<dyn Module<T>>> {
        Ok(Box::new(FailsInBackwardModule))
    }
}

/// Counts what a hook that wants ready gradients is told.
#[derive(Default)]
struct Calls {
    ready: usize,
    abandoned: usize,
    finished: usize,
}

/// The hook: shares its counts with the test.
struct Recorder(std::rc::Rc<std::cell::RefCell<Calls>>);

impl strata_layers::train::GradientHook<f32> for Recorder {
    fn on_gradients(
        &mut self,
        _step: strata_layers::train::StepGradients<'_, f32>,
    ) -> strata_layers::train::HookResult {
        self.0.borrow_mut().finished += 1;
        Ok(())
    }
    fn wants_ready_gradients(&self) -> bool {
        true
    }
    fn on_gradient_ready(&mut self, _ready: strata_layers::train::ReadyGradient<'_, f32>) {
        self.0.borrow_mut().ready += 1;
    }
    fn on_step_abandoned(&mut self) {
        self.0.borrow_mut().abandoned += 1;
    }
}

#[test]
fn a_backward_pass_that_fails_after_ready_gradients_tells_the_hook_the_step_is_abandoned() {
    let network = Sequential::<f32>::builder(&[3])
        .add(DenseConfig::new(4))
        .add(CustomLayerConfig::new(&FailsInBackward).unwrap())
        .add(DenseConfig::new(2))
        .build()
        .unwrap();
    let mut model = Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        Adam::new(AdamConfig::default()).unwrap(),
    );
    let calls = std::rc::Rc::new(std::cell::RefCell::new(Calls::default()));
    model.set_gradient_hook(Some(Box::new(Recorder(calls.clone()))));
    let x = Tensor::from_vec(vec![0.5, -1.0, 0.25, 1.5, 0.75, -0.5], &[2, 3]).unwrap();
    let err = model
        .train_step(
            &x,
            &Targets::Labels(vec![0, 1]),
            &mut ForwardContext::train(0),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("this rule always fails"), "{err}");
    let calls = calls.borrow();
    // The last dense layer's weight and bias were final before the failing rule ran.
    assert_eq!((calls.ready, calls.abandoned, calls.finished), (2, 1, 0));
}
