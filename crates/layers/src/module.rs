//! The [`Module`] trait that every layer implements, and the context a forward pass runs in.

use rand::rngs::StdRng;
use rand::SeedableRng;
use strata_autograd::Var;
use strata_tensor::Element;

use crate::error::Result;

/// Whether a forward pass trains or infers, and the random numbers training needs (dropout).
#[derive(Debug)]
pub struct ForwardContext {
    training: bool,
    rng: StdRng,
}

impl ForwardContext {
    /// A training pass: dropout drops, batch norm uses and updates batch statistics. The
    /// seed makes the random choices reproducible.
    pub fn train(seed: u64) -> Self {
        Self {
            training: true,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// An inference pass: dropout is the identity, batch norm uses running statistics.
    pub fn eval() -> Self {
        Self {
            training: false,
            rng: StdRng::seed_from_u64(0),
        }
    }

    /// Whether this is a training pass.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The pass's random number generator.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

/// A named parameter or buffer of a module: `("weight", var)`.
pub type NamedVar<'a, T> = (&'static str, &'a Var<T>);

/// A layer: a function of a batch with parameters.
///
/// Shapes given to [`Module::output_shape`] are those of one sample (no batch axis), as in
/// Keras summaries; [`Module::forward`] takes and returns batches (`[N, …]`).
pub trait Module<T: Element>: Send + Sync {
    /// The layer's type as Keras names it (`Conv2D`, `Dense`, `MaxPooling2D`, …).
    fn kind(&self) -> &'static str;

    /// Runs the layer on a batch.
    fn forward(&self, input: &Var<T>, ctx: &mut ForwardContext) -> Result<Var<T>>;

    /// The output shape of one sample for an input sample of `input` shape, without running
    /// any data; an error names the layer and the shapes when the input does not fit.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;

    /// Trainable parameters, by local name (`weight`, `bias`): the same names in the same
    /// order on every call (a model keeps the names it read at build time).
    fn parameters(&self) -> Vec<NamedVar<'_, T>> {
        Vec::new()
    }

    /// Non-trainable state saved with the model (batch norm's running statistics), by local
    /// name, fixed as [`Module::parameters`]'s are.
    fn buffers(&self) -> Vec<NamedVar<'_, T>> {
        Vec::new()
    }
}
