//! Conv2d: its configuration and module.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::conv::{conv2d_output_size, Conv2dOptions};
use strata_tensor::Element;

use super::{expect_rank, Activation, BuildContext, Padding};
use crate::error::{LayersError, Result};
use crate::init::Initializer;
use crate::module::{ForwardContext, Module, NamedVar};

/// A 2-D convolution (cross-correlation) over `[N, C, H, W]` batches with weights
/// `[filters, C / groups, kh, kw]`, an optional bias and an optional fused activation.
///
/// PyTorch equivalent: `nn.Conv2d(C, filters, kernel_size, stride, padding, dilation,
/// groups, bias)` followed by the activation; Keras: `layers.Conv2D(filters, kernel_size,
/// strides, padding, dilation_rate=…, groups=…, activation=…, use_bias=…)`.
///
/// Output `[N, filters, OH, OW]` with `OH = (H + top + bottom − dilation·(kh − 1) − 1) /
/// stride + 1`.
///
/// ```
/// use strata_layers::layer::{Activation, Conv2dConfig, Padding};
/// let conv = Conv2dConfig::new(32, 3).padding(Padding::Same).activation(Activation::Relu);
/// assert_eq!(conv.kernel_size, [3, 3]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv2dConfig {
    /// Output channels.
    pub filters: usize,
    /// Kernel `[rows, cols]`.
    pub kernel_size: [usize; 2],
    /// Stride `[rows, cols]`. Default 1.
    #[serde(alias = "strides")]
    pub stride: [usize; 2],
    /// Padding. Default valid.
    pub padding: Padding,
    /// Dilation `[rows, cols]`. Default 1.
    pub dilation: [usize; 2],
    /// Channel groups. Default 1.
    pub groups: usize,
    /// Whether to add a bias per filter. Default true.
    pub use_bias: bool,
    /// Fused activation. Default linear.
    pub activation: Activation,
    /// Weight initialiser; the model's default (Keras: glorot uniform) when `None`.
    pub kernel_initializer: Option<Initializer>,
    /// Bias initialiser; the model's default (Keras: zeros) when `None`.
    pub bias_initializer: Option<Initializer>,
}

impl Conv2dConfig {
    /// `filters` filters of a square `kernel × kernel` window, with the defaults above.
    pub fn new(filters: usize, kernel: usize) -> Self {
        Self {
            filters,
            kernel_size: [kernel, kernel],
            stride: [1, 1],
            padding: Padding::Valid,
            dilation: [1, 1],
            groups: 1,
            use_bias: true,
            activation: Activation::Linear,
            kernel_initializer: None,
            bias_initializer: None,
        }
    }

    /// With a rectangular kernel `[rows, cols]`.
    pub fn kernel_size(mut self, kernel: [usize; 2]) -> Self {
        self.kernel_size = kernel;
        self
    }

    /// With the same stride along both axes.
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = [stride, stride];
        self
    }

    /// With a padding mode.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// With the same dilation along both axes.
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = [dilation, dilation];
        self
    }

    /// With channel groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// With or without a bias.
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// With a fused activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// With a weight initialiser.
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = Some(init);
        self
    }

    /// The convolution parameters for an input of spatial size `[H, W]`.
    fn params(&self, spatial: [usize; 2]) -> Result<Conv2dOptions> {
        let padding =
            self.padding
                .resolve(spatial, self.kernel_size, self.stride, self.dilation)?;
        Ok(Conv2dOptions {
            stride: self.stride,
            padding,
            dilation: self.dilation,
            groups: self.groups,
        })
    }

    pub(super) fn build<T: Element>(&self, ctx: &mut BuildContext<'_>) -> Result<Conv2d<T>> {
        expect_rank("Conv2D", ctx.input_shape, 3, "[C, H, W]")?;
        let channels = ctx.input_shape[0];
        if self.filters == 0
            || self.groups == 0
            || !channels.is_multiple_of(self.groups)
            || !self.filters.is_multiple_of(self.groups)
        {
            return Err(LayersError::config(
                "Conv2D",
                format!(
                    "{} filters and {channels} input channels must both be positive multiples of groups = {}",
                    self.filters, self.groups
                ),
            ));
        }
        let shape = [
            self.filters,
            channels / self.groups,
            self.kernel_size[0],
            self.kernel_size[1],
        ];
        let (weight, bias) = ctx.weight_and_bias(
            &shape,
            self.kernel_initializer,
            self.bias_initializer,
            self.use_bias,
        )?;
        let layer = Conv2d {
            config: self.clone(),
            weight,
            bias,
        };
        Module::<T>::output_shape(&layer, ctx.input_shape)?;
        Ok(layer)
    }
}

/// The convolution module built from a [`Conv2dConfig`].
pub struct Conv2d<T: Element> {
    config: Conv2dConfig,
    weight: Var<T>,
    bias: Option<Var<T>>,
}

impl<T: Element> Module<T> for Conv2d<T> {
    fn kind(&self) -> &'static str {
        "Conv2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        let &[_, _, h, w] = input.shape() else {
            return Err(LayersError::config(
                "Conv2D",
                format!("expects a batch [N, C, H, W], found {:?}", input.shape()),
            ));
        };
        let params = self.config.params([h, w])?;
        if self.config.activation == Activation::Relu {
            // Fused: relu applied while the output is in cache, no pre-activation kept.
            return Ok(input.conv2d_relu(&self.weight, self.bias.as_ref(), &params)?);
        }
        let out = input.conv2d(&self.weight, self.bias.as_ref(), &params)?;
        self.config.activation.apply(&out)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("Conv2D", input, 3, "[C, H, W]")?;
        let params = self.config.params([input[1], input[2]])?;
        let [oh, ow] = conv2d_output_size([input[1], input[2]], self.config.kernel_size, &params)?;
        Ok(vec![self.config.filters, oh, ow])
    }

    fn parameters(&self) -> Vec<NamedVar<'_, T>> {
        let mut params = vec![("weight", &self.weight)];
        if let Some(bias) = &self.bias {
            params.push(("bias", bias));
        }
        params
    }
}
