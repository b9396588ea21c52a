//! Layers a user defines: a configuration type implementing [`CustomLayer`], registered
//! under a name so that a saved model that uses it loads again (Keras's
//! `register_keras_serializable`).
//!
//! The configuration is saved in the model file as JSON (through serde) beside its
//! registered name; loading looks the name up among the registered types, so a program
//! registers its layer types ([`register_layer`]) before it loads a model that uses them.
//! [`CustomLayerConfig::new`] registers the type it is given, so a model built in code
//! needs no separate registration; a `CustomLayerConfig` made by hand (or read from JSON)
//! needs [`register_layer`] before it is added to a builder, for its automatic name, and
//! before building.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use strata_tensor::Element;

use super::BuildContext;
use crate::error::{LayersError, Result};
use crate::module::Module;

/// The configuration of a layer type defined outside this crate: plain data (saved as JSON)
/// that builds a [`Module`] once the input shape is known.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use strata_autograd::Var;
/// use strata_layers::init::Initializer;
/// use strata_layers::layer::{BuildContext, CustomLayer, CustomLayerConfig, DenseConfig, FlattenConfig};
/// use strata_layers::{ForwardContext, LayersError, Module, NamedVar, Sequential};
/// use strata_tensor::{Element, Tensor};
///
/// /// `x · sigmoid(β·x)` with a learned β.
/// #[derive(Serialize, Deserialize)]
/// struct SwishConfig {
///     initial_beta: f64,
/// }
///
/// struct Swish<T: Element> {
///     beta: Var<T>,
/// }
///
/// impl<T: Element> Module<T> for Swish<T> {
///     fn kind(&self) -> &'static str {
///         "Swish"
///     }
///     fn forward(&self, x: &Var<T>, _: &mut ForwardContext) -> strata_layers::Result<Var<T>> {
///         let gate = x.mul(&self.beta.broadcast_to(x.shape())?)?.sigmoid();
///         Ok(x.mul(&gate)?)
///     }
///     fn output_shape(&self, input: &[usize]) -> strata_layers::Result<Vec<usize>> {
///         Ok(input.to_vec())
///     }
///     fn parameters(&self) -> Vec<NamedVar<'_, T>> {
///         vec![("beta", &self.beta)]
///     }
/// }
///
/// impl CustomLayer for SwishConfig {
///     const KIND: &'static str = "example.Swish";
///     const BASE_NAME: &'static str = "swish";
///     fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> strata_layers::Result<Box<dyn Module<T>>> {
///         let beta = ctx.parameter("beta", &[1], Some(Initializer::Constant(self.initial_beta)))?;
///         Ok(Box::new(Swish { beta }))
///     }
/// }
///
/// let model = Sequential::<f32>::builder(&[4])
///     .add(DenseConfig::new(8))
///     .add(CustomLayerConfig::new(&SwishConfig { initial_beta: 1.0 })?)
///     .add(DenseConfig::new(2))
///     .build()?;
/// assert_eq!(model.layer_names(), ["dense", "swish", "dense_1"]);
/// assert!(model.summary().to_string().contains("Swish"));
/// # Ok::<(), LayersError>(())
/// ```
pub trait CustomLayer: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name the type is registered and saved under; unique among the layer types a
    /// program uses (prefix it with your crate's name: `my_crate.Swish`).
    const KIND: &'static str;

    /// The base of automatic layer names (`swish`, then `swish_1`, …).
    const BASE_NAME: &'static str;

    /// Builds the layer's module for inputs of `ctx.input_shape`; create its state with
    /// [`BuildContext::parameter`] and [`BuildContext::buffer`], which respect the model's
    /// allocation budget and dry runs, and report the same local names from
    /// [`Module::parameters`] and [`Module::buffers`] (building checks that they agree: the
    /// reserved names are what loading expects in a file, the reported ones what is saved).
    ///
    /// Loading a file first builds every layer as a [dry run](BuildContext::dry_run), in
    /// which that state is an empty placeholder: the module's
    /// [`output_shape`](Module::output_shape) must follow from the configuration and the
    /// input shape (keep the sizes it needs in the module), not from its state's shapes.
    fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>>;
}

/// A user-defined layer in an architecture: its registered [`CustomLayer::KIND`] and its
/// configuration as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomLayerConfig {
    /// The registered name of the layer type.
    pub kind: String,
    /// The configuration, as the type serialises it.
    pub settings: serde_json::Value,
}

impl CustomLayerConfig {
    /// The configuration of `layer`, registering its type (see [`register_layer`]).
    ///
    /// # Errors
    /// If another type is registered under the same [`CustomLayer::KIND`], or the
    /// configuration does not serialise to JSON.
    pub fn new<L: CustomLayer>(layer: &L) -> Result<Self> {
        register_layer::<L>()?;
        let settings = serde_json::to_value(layer)
            .map_err(|e| LayersError::config(L::KIND, format!("configuration to JSON: {e}")))?;
        Ok(Self {
            kind: L::KIND.to_string(),
            settings,
        })
    }

    /// The base of automatic names of the registered type, or `custom` when none is
    /// registered under this kind (building then fails, naming the kind).
    pub(crate) fn base_name(&self) -> &'static str {
        registry()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&self.kind)
            .map_or("custom", |r| r.base_name)
    }

    /// Builds the module with the registered type's [`CustomLayer::build`].
    pub(crate) fn build<T: Element>(
        &self,
        ctx: &mut BuildContext<'_>,
    ) -> Result<Box<dyn Module<T>>> {
        let builder = {
            let registry = registry().read().unwrap_or_else(PoisonError::into_inner);
            let registration = registry.get(&self.kind).ok_or_else(|| {
                LayersError::config(
                    &self.kind,
                    format!(
                        "no layer type is registered under {:?}; call \
                         strata_layers::layer::register_layer::<YourConfig>() before building \
                         or loading a model that uses it",
                        self.kind
                    ),
                )
            })?;
            registration
                .builders
                .iter()
                .find(|(element, _)| *element == TypeId::of::<T>())
                .and_then(|(_, builder)| builder.downcast_ref::<BuildFn<T>>())
                .copied()
                .ok_or_else(|| {
                    LayersError::config(
                        &self.kind,
                        format!("no build for element type {}", T::NAME),
                    )
                })?
        };
        builder(&self.settings, ctx)
    }
}

/// Registers the layer type `L` under [`CustomLayer::KIND`], so that architectures naming it
/// build and model files using it load. Registering the same type again does nothing.
///
/// # Errors
/// If a different type is already registered under the same name.
pub fn register_layer<L: CustomLayer>() -> Result<()> {
    let mut registry = registry().write().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = registry.get(L::KIND) {
        if existing.layer_type == TypeId::of::<L>() {
            return Ok(());
        }
        return Err(LayersError::config(
            L::KIND,
            format!(
                "the layer name is already registered by {}, not {}",
                existing.type_name,
                std::any::type_name::<L>()
            ),
        ));
    }
    registry.insert(
        L::KIND.to_string(),
        Registration {
            layer_type: TypeId::of::<L>(),
            type_name: std::any::type_name::<L>(),
            base_name: L::BASE_NAME,
            builders: vec![
                (
                    TypeId::of::<f32>(),
                    Box::new(build_as::<L, f32> as BuildFn<f32>),
                ),
                (
                    TypeId::of::<f64>(),
                    Box::new(build_as::<L, f64> as BuildFn<f64>),
                ),
            ],
        },
    );
    Ok(())
}

/// Builds a module of element type `T` from saved settings.
type BuildFn<T> = fn(&serde_json::Value, &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>>;

/// Reads `L`'s configuration from `settings` and builds it.
fn build_as<L: CustomLayer, T: Element>(
    settings: &serde_json::Value,
    ctx: &mut BuildContext<'_>,
) -> Result<Box<dyn Module<T>>> {
    let layer = L::deserialize(settings)
        .map_err(|e| LayersError::config(L::KIND, format!("configuration JSON: {e}")))?;
    layer.build::<T>(ctx)
}

/// A registered layer type.
struct Registration {
    layer_type: TypeId,
    type_name: &'static str,
    base_name: &'static str,
    /// A [`BuildFn`] per element type, keyed by the element's type.
    builders: Vec<(TypeId, Box<dyn Any + Send + Sync>)>,
}

/// The registered layer types by name.
fn registry() -> &'static RwLock<BTreeMap<String, Registration>> {
    static REGISTRY: OnceLock<RwLock<BTreeMap<String, Registration>>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(BTreeMap::new()))
}
