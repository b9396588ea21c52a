//! `Sequential`: a stack of layers with Keras-style names, shapes and summary.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use strata_autograd::{no_grad, Var};
use strata_tensor::{Element, Tensor};

use crate::error::{LayersError, Result};
use crate::io::NamedTensors;
use crate::layer::{BuildContext, InitDefaults, LayerConfig};
use crate::module::{ForwardContext, Module};
use crate::summary::{Summary, SummaryRow};

/// The name and shape of every parameter and buffer of an architecture, in state-dict order
/// (see [`Sequential::expected_state`]).
pub type ExpectedState = Vec<(String, Vec<usize>)>;

/// The architecture of a [`Sequential`] model: everything needed to rebuild it without
/// code (Keras's `model.to_json()`); saved beside the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    /// The model's name.
    pub name: String,
    /// The shape of one input sample (`[C, H, W]`).
    pub input_shape: Vec<usize>,
    /// Default initialisers of layers that do not set their own.
    pub init_defaults: InitDefaults,
    /// The seed the initial weights were drawn with.
    pub seed: u64,
    /// The layers in order, with their names.
    pub layers: Vec<NamedLayerConfig>,
}

/// A layer's name and configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedLayerConfig {
    /// The layer's unique name (`conv2d_1`).
    pub name: String,
    /// Its configuration.
    pub config: LayerConfig,
}

/// Builds a [`Sequential`] model: the input shape, then layers in order.
///
/// ```
/// use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig};
/// use strata_layers::Sequential;
///
/// let model = Sequential::<f32>::builder(&[1, 28, 28])
///     .add(Conv2dConfig::new(32, 3).activation(Activation::Relu))
///     .add(MaxPool2dConfig::new(2))
///     .add(FlattenConfig::new())
///     .add(DenseConfig::new(10))
///     .build()?;
/// assert_eq!(model.output_shape(), &[10]);
/// assert_eq!(model.summary().total_params(), 320 + 5408 * 10 + 10);
/// # Ok::<(), strata_layers::LayersError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SequentialBuilder<T: Element> {
    architecture: Architecture,
    explicit_names: Vec<bool>,
    element: PhantomData<T>,
}

impl<T: Element> SequentialBuilder<T> {
    /// Names the model (default `sequential`).
    pub fn name(mut self, name: &str) -> Self {
        self.architecture.name = name.to_string();
        self
    }

    /// Uses Keras's (default) or PyTorch's initialisers where a layer sets none.
    pub fn init_defaults(mut self, defaults: InitDefaults) -> Self {
        self.architecture.init_defaults = defaults;
        self
    }

    /// The seed of the initial weights (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.architecture.seed = seed;
        self
    }

    /// Appends a layer with an automatic Keras-style name (`conv2d`, `conv2d_1`, …).
    // Named as Keras's `model.add(layer)`; this is not arithmetic.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Into<LayerConfig>) -> Self {
        self.architecture.layers.push(NamedLayerConfig {
            name: String::new(),
            config: layer.into(),
        });
        self.explicit_names.push(false);
        self
    }

    /// Appends a layer with a name of its own.
    pub fn add_named(mut self, name: &str, layer: impl Into<LayerConfig>) -> Self {
        self.architecture.layers.push(NamedLayerConfig {
            name: name.to_string(),
            config: layer.into(),
        });
        self.explicit_names.push(true);
        self
    }

    /// The architecture with every layer named.
    pub fn architecture(&self) -> Result<Architecture> {
        let mut architecture = self.architecture.clone();
        let mut taken: BTreeMap<String, usize> = BTreeMap::new();
        for (layer, &explicit) in architecture.layers.iter().zip(&self.explicit_names) {
            if explicit {
                *taken.entry(layer.name.clone()).or_default() += 1;
            }
        }
        if let Some((name, _)) = taken.iter().find(|(_, &count)| count > 1) {
            return Err(LayersError::config(
                "Sequential",
                format!("layer name {name} is used twice"),
            ));
        }
        let mut counters: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (layer, &explicit) in architecture.layers.iter_mut().zip(&self.explicit_names) {
            if explicit {
                continue;
            }
            let base = layer.config.base_name();
            loop {
                let n = counters.entry(base).or_default();
                let candidate = if *n == 0 {
                    base.to_string()
                } else {
                    format!("{base}_{n}")
                };
                *n += 1;
                if !taken.contains_key(&candidate) {
                    taken.insert(candidate.clone(), 1);
                    layer.name = candidate;
                    break;
                }
            }
        }
        Ok(architecture)
    }

    /// Builds the model: infers every layer's input shape and draws initial weights.
    pub fn build(&self) -> Result<Sequential<T>> {
        Sequential::from_architecture(&self.architecture()?)
    }
}

/// Told after each layer of a forward pass its name, its output and the time it took.
pub(crate) type LayerObserver<'a, T> = dyn FnMut(&str, &Var<T>, Duration) + 'a;

/// A built layer with its name and output shape.
struct BuiltLayer<T: Element> {
    name: String,
    config: LayerConfig,
    module: Box<dyn Module<T>>,
    output_shape: Vec<usize>,
    /// `<layer>.<local>` of each parameter, then of each buffer, in the module's order:
    /// built once, so that listing parameters on every step formats no name.
    state_names: Vec<String>,
    /// How many of `state_names` are parameters (the rest are buffers).
    parameter_count: usize,
}

/// A stack of layers, each feeding the next: Keras's `Sequential`, PyTorch's
/// `nn.Sequential`. Inputs are batches `[N, …input_shape]`.
pub struct Sequential<T: Element> {
    architecture: Architecture,
    layers: Vec<BuiltLayer<T>>,
    class_names: Option<Vec<String>>,
}

impl<T: Element> Sequential<T> {
    /// Starts a model of element type `T` whose samples have shape `input_shape` (`[C, H, W]`
    /// for images); the type is usually inferred from use, or named as
    /// `Sequential::<f64>::builder` (gradient checks).
    pub fn builder(input_shape: &[usize]) -> SequentialBuilder<T> {
        SequentialBuilder {
            architecture: Architecture {
                name: "sequential".into(),
                input_shape: input_shape.to_vec(),
                init_defaults: InitDefaults::default(),
                seed: 0,
                layers: Vec::new(),
            },
            explicit_names: Vec::new(),
            element: PhantomData,
        }
    }
}

impl<T: Element> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("name", &self.architecture.name)
            .field("input_shape", &self.architecture.input_shape)
            .field("layers", &self.layer_names())
            .finish()
    }
}

impl<T: Element> Sequential<T> {
    /// Builds a model from a saved architecture (fresh weights drawn with its seed).
    pub fn from_architecture(architecture: &Architecture) -> Result<Self> {
        Self::from_architecture_within(architecture, usize::MAX)
    }

    /// Builds a model from an architecture that may allocate at most `element_budget`
    /// parameter and buffer values in all; an architecture that needs more is an error,
    /// raised before any layer allocates its weights: with a bounded budget, every layer is
    /// first checked (its state reserved, its output shape computed) without drawing a
    /// weight, and only then built (loading bounds a file's architecture by the values the
    /// file holds).
    pub fn from_architecture_within(
        architecture: &Architecture,
        element_budget: usize,
    ) -> Result<Self> {
        if element_budget != usize::MAX {
            Self::build_layers(architecture, element_budget, true)?;
        }
        Ok(Self::build_layers(architecture, element_budget, false)?.0)
    }

    /// The name and shape of every parameter and buffer that `architecture` has (the keys of
    /// its [`state_dict`](Self::state_dict), in order), found by checking each layer without
    /// allocating or drawing any weight; at most `element_budget` values in all, as
    /// [`Sequential::from_architecture_within`]. A loader compares these with the tensors a
    /// file holds before building anything.
    pub fn expected_state(
        architecture: &Architecture,
        element_budget: usize,
    ) -> Result<ExpectedState> {
        Ok(Self::build_layers(architecture, element_budget, true)?.1)
    }

    /// One pass over the layers: a check only when `dry_run` (see [`BuildContext::dry_run`]).
    fn build_layers(
        architecture: &Architecture,
        element_budget: usize,
        dry_run: bool,
    ) -> Result<(Self, ExpectedState)> {
        let mut budget = element_budget;
        let mut expected = Vec::new();
        let mut rng = StdRng::seed_from_u64(architecture.seed);
        let mut shape = architecture.input_shape.clone();
        let mut layers = Vec::with_capacity(architecture.layers.len());
        for layer in &architecture.layers {
            let mut ctx = BuildContext {
                input_shape: &shape,
                defaults: architecture.init_defaults,
                rng: &mut rng,
                element_budget: budget,
                dry_run,
                reserved: Vec::new(),
            };
            let module = layer
                .config
                .build::<T>(&mut ctx)
                .map_err(|e| e.in_layer(&layer.name))?;
            budget = ctx.element_budget;
            let reserved = ctx.reserved;
            let output_shape = module
                .output_shape(&shape)
                .map_err(|e| e.in_layer(&layer.name))?;
            let parameter_count = module.parameters().len();
            let locals: Vec<&str> = module
                .parameters()
                .iter()
                .chain(&module.buffers())
                .map(|(local, _)| *local)
                .collect();
            check_reserved_names(&layer.name, &reserved, &locals)?;
            expected.extend(
                reserved
                    .into_iter()
                    .map(|(local, shape)| (format!("{}.{local}", layer.name), shape)),
            );
            let state_names = locals
                .iter()
                .map(|local| format!("{}.{local}", layer.name))
                .collect();
            layers.push(BuiltLayer {
                name: layer.name.clone(),
                config: layer.config.clone(),
                module,
                output_shape: output_shape.clone(),
                state_names,
                parameter_count,
            });
            shape = output_shape;
        }
        let model = Self {
            architecture: architecture.clone(),
            layers,
            class_names: None,
        };
        Ok((model, expected))
    }

    /// The model's architecture (what [`Sequential::from_architecture`] rebuilds).
    pub fn architecture(&self) -> &Architecture {
        &self.architecture
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.architecture.name
    }

    /// The names of the classes the outputs score, when the model has them (saved and
    /// loaded with it).
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// Names the classes the outputs score, one per output of a model whose samples give
    /// a vector (`output_shape() == [names.len()]`); [`Sequential::save`] stores them.
    ///
    /// # Errors
    /// A number of names that differs from the number of outputs.
    pub fn set_class_names(&mut self, names: Vec<String>) -> Result<()> {
        if self.output_shape() != [names.len()] {
            return Err(LayersError::config(
                "class names",
                format!(
                    "{} names for outputs of shape {:?}",
                    names.len(),
                    self.output_shape()
                ),
            ));
        }
        self.class_names = Some(names);
        Ok(())
    }

    /// The shape of one input sample.
    pub fn input_shape(&self) -> &[usize] {
        &self.architecture.input_shape
    }

    /// The shape of one output sample.
    pub fn output_shape(&self) -> &[usize] {
        self.layers
            .last()
            .map_or(self.input_shape(), |l| &l.output_shape)
    }

    /// Runs the model on a batch `[N, …input_shape]`.
    pub fn forward(&self, input: &Var<T>, ctx: &mut ForwardContext) -> Result<Var<T>> {
        self.forward_observed(input, ctx, None)
    }

    /// [`forward`](Sequential::forward), calling `observe` (when given) after each layer
    /// with its name, its output and the time it took (for profiles and feature maps);
    /// without an observer no clock is read.
    pub(crate) fn forward_observed(
        &self,
        input: &Var<T>,
        ctx: &mut ForwardContext,
        mut observe: Option<&mut LayerObserver<'_, T>>,
    ) -> Result<Var<T>> {
        if input.shape().get(1..) != Some(self.input_shape()) {
            return Err(LayersError::config(
                self.name(),
                format!(
                    "expects a batch [N, {}], found {:?}",
                    self.input_shape()
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    input.shape()
                ),
            ));
        }
        let mut x = input.clone();
        for layer in &self.layers {
            let started = observe.is_some().then(Instant::now);
            x = layer
                .module
                .forward(&x, ctx)
                .map_err(|e| e.in_layer(&layer.name))?;
            if let (Some(observe), Some(started)) = (observe.as_mut(), started) {
                observe(&layer.name, &x, started.elapsed());
            }
        }
        Ok(x)
    }

    /// The model's outputs for a batch in inference mode, recording no graph.
    pub fn predict_batch(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        no_grad(|| {
            Ok(self
                .forward(&Var::constant(input.clone()), &mut ForwardContext::eval())?
                .value())
        })
    }

    /// The outputs of the layers named in `names` (in that order) and the model's output, in
    /// one inference pass that records no graph: the feature maps behind visualisations
    /// (Keras's `Model(inputs, [layer.output, …])`, PyTorch's forward hooks). An unknown name
    /// is an error that lists the model's layers.
    ///
    /// ```
    /// use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig};
    /// use strata_layers::Sequential;
    /// use strata_tensor::Tensor;
    ///
    /// let model = Sequential::<f32>::builder(&[1, 4, 4])
    ///     .add(Conv2dConfig::new(2, 3).activation(Activation::Relu))
    ///     .add(FlattenConfig::new())
    ///     .add(DenseConfig::new(3))
    ///     .build()?;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32 / 16.0).collect(), &[1, 1, 4, 4])?;
    /// let (y, maps) = model.predict_with_activations(&x, &["flatten", "conv2d"])?;
    /// assert_eq!(y.to_vec(), model.predict_batch(&x)?.to_vec());
    /// assert_eq!(maps[0].shape(), &[1, 8]);
    /// assert_eq!(maps[1].shape(), &[1, 2, 2, 2]);
    /// assert_eq!(maps[0].to_vec(), maps[1].to_vec());
    /// assert!(model.predict_with_activations(&x, &["conv9"]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predict_with_activations(
        &self,
        input: &Tensor<T>,
        names: &[&str],
    ) -> Result<(Tensor<T>, Vec<Tensor<T>>)> {
        if let Some(missing) = names.iter().find(|n| !self.layer_names().contains(n)) {
            return Err(LayersError::config(
                self.name(),
                format!(
                    "no layer named {missing}; the layers are {}",
                    self.layer_names().join(", ")
                ),
            ));
        }
        let stages = self.collect_stages(input, &mut ForwardContext::eval(), |name| {
            names.contains(&name)
        })?;
        let output = stages
            .last()
            .map(|(_, y)| y.clone())
            .ok_or_else(|| LayersError::config(self.name(), "the model has no layers"))?;
        let maps = names
            .iter()
            .filter_map(|wanted| {
                stages
                    .iter()
                    .find(|(name, _)| name == wanted)
                    .map(|(_, x)| x.clone())
            })
            .collect();
        Ok((output, maps))
    }

    /// Runs the model on a batch without recording a graph, returning every layer's name
    /// and output in order (as printing `output.size()` after each stage of a PyTorch
    /// model). `ctx` decides training or inference behaviour (dropout).
    ///
    /// ```
    /// use strata_layers::layer::{FlattenConfig, MaxPool2dConfig};
    /// use strata_layers::{ForwardContext, Sequential};
    /// use strata_tensor::Tensor;
    /// let model = Sequential::<f32>::builder(&[1, 4, 4])
    ///     .add(MaxPool2dConfig::new(2))
    ///     .add(FlattenConfig::new())
    ///     .build()?;
    /// let stages = model.forward_stages(&Tensor::zeros(&[1, 1, 4, 4]), &mut ForwardContext::eval())?;
    /// assert_eq!(stages[0].1.shape(), &[1, 1, 2, 2]);
    /// assert_eq!((stages[1].0.as_str(), stages[1].1.shape()), ("flatten", &[1, 4][..]));
    /// # Ok::<(), strata_layers::LayersError>(())
    /// ```
    ///
    /// # Errors
    /// An input whose sample shape is not the model's, or a layer that fails.
    pub fn forward_stages(
        &self,
        input: &Tensor<T>,
        ctx: &mut ForwardContext,
    ) -> Result<Vec<(String, Tensor<T>)>> {
        self.collect_stages(input, ctx, |_| true)
    }

    /// One inference pass without a graph that keeps the outputs of the layers `keep` accepts,
    /// and always the last layer's (the model's output), so that a caller holding a few maps
    /// holds no more than those.
    fn collect_stages(
        &self,
        input: &Tensor<T>,
        ctx: &mut ForwardContext,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, Tensor<T>)>> {
        let last = self.layers.len().saturating_sub(1);
        let mut stages = Vec::new();
        let mut index = 0;
        no_grad(|| {
            self.forward_observed(
                &Var::constant(input.clone()),
                ctx,
                Some(&mut |name, x, _| {
                    if index == last || keep(name) {
                        stages.push((name.to_string(), x.value()));
                    }
                    index += 1;
                }),
            )
        })?;
        Ok(stages)
    }

    /// Trainable parameters by stable name (`conv2d.weight`, `dense_1.bias`, …), in layer
    /// order.
    pub fn parameters(&self) -> Vec<(String, Var<T>)> {
        self.parameter_refs()
            .into_iter()
            .map(|(name, var)| (name.to_string(), var.clone()))
            .collect()
    }

    /// Non-trainable state by name (`batch_normalization.running_mean`, …).
    pub fn buffers(&self) -> Vec<(String, Var<T>)> {
        self.layers
            .iter()
            .flat_map(|l| {
                l.state_names[l.parameter_count..]
                    .iter()
                    .zip(l.module.buffers())
                    .map(|(name, (_, var))| (name.clone(), var.clone()))
            })
            .collect()
    }

    /// [`parameters`](Sequential::parameters), borrowed: what a training step lists.
    pub(crate) fn parameter_refs(&self) -> Vec<(&str, &Var<T>)> {
        self.layers
            .iter()
            .flat_map(|l| {
                l.state_names[..l.parameter_count]
                    .iter()
                    .zip(l.module.parameters())
                    .map(|(name, (_, var))| (name.as_str(), var))
            })
            .collect()
    }

    /// Every parameter and buffer value by name (PyTorch's `state_dict`).
    pub fn state_dict(&self) -> NamedTensors<T> {
        self.parameters()
            .into_iter()
            .chain(self.buffers())
            .map(|(name, var)| (name, var.value()))
            .collect()
    }

    /// Sets every parameter and buffer from `tensors`; an error names the first missing or
    /// unexpected key or shape that differs (`source` names where the tensors came from).
    pub fn load_state_dict(&self, mut tensors: NamedTensors<T>, source: &str) -> Result<()> {
        let targets: Vec<(String, Var<T>)> = self
            .parameters()
            .into_iter()
            .chain(self.buffers())
            .collect();
        // Check everything before changing anything: a failed load leaves the model as it was.
        let mut values = Vec::with_capacity(targets.len());
        for (name, var) in &targets {
            let value = tensors.remove(name).ok_or_else(|| {
                LayersError::config(
                    source,
                    format!("missing key {name} (expected shape {:?})", var.shape()),
                )
            })?;
            if value.shape() != var.shape() {
                return Err(LayersError::ShapeMismatch {
                    name: format!("{source}: {name}"),
                    expected: var.shape().to_vec(),
                    found: value.shape().to_vec(),
                });
            }
            values.push(value);
        }
        if let Some(extra) = tensors.keys().next() {
            return Err(LayersError::config(
                source,
                format!("unexpected key {extra} (the model has no such parameter)"),
            ));
        }
        for ((_, var), value) in targets.iter().zip(values) {
            var.set_value(value)?;
        }
        Ok(())
    }

    /// The Keras-style summary (print it with `{}`).
    pub fn summary(&self) -> Summary {
        let rows = self
            .layers
            .iter()
            .map(|l| {
                let count = |vars: Vec<(&'static str, &Var<T>)>| -> usize {
                    vars.iter()
                        .map(|(_, v)| v.shape().iter().product::<usize>())
                        .sum()
                };
                SummaryRow {
                    name: l.name.clone(),
                    kind: l.module.kind().to_string(),
                    output_shape: l.output_shape.clone(),
                    trainable: count(l.module.parameters()),
                    non_trainable: count(l.module.buffers()),
                }
            })
            .collect();
        Summary {
            model_name: self.name().to_string(),
            rows,
        }
    }

    /// The layer names in order.
    pub fn layer_names(&self) -> Vec<&str> {
        self.layers.iter().map(|l| l.name.as_str()).collect()
    }

    /// The layer configurations in order.
    pub fn layer_configs(&self) -> Vec<&LayerConfig> {
        self.layers.iter().map(|l| &l.config).collect()
    }
}

/// Fails, naming the layer and both lists, unless the state a layer reserved while building
/// (what a loader expects in a file) is the state its module reports (what is saved).
fn check_reserved_names(
    layer: &str,
    reserved: &[(String, Vec<usize>)],
    reported: &[&str],
) -> Result<()> {
    let mut expected: Vec<&str> = reserved.iter().map(|(name, _)| name.as_str()).collect();
    let mut found = reported.to_vec();
    expected.sort_unstable();
    found.sort_unstable();
    if expected != found {
        return Err(LayersError::config(
            layer,
            format!(
                "the layer reserved state {expected:?} while building but its module reports \
                 {found:?} (parameters() and buffers() must name what BuildContext reserved)"
            ),
        ));
    }
    Ok(())
}
