//! Max, average and global average pooling.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::pool::Pool2dParams;
use strata_tensor::Element;

use super::{expect_rank, Padding};
use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module};

/// The window geometry shared by both pooling layers.
fn pool_params(
    layer: &str,
    pool_size: [usize; 2],
    strides: Option<[usize; 2]>,
    padding: Padding,
    spatial: [usize; 2],
) -> Result<Pool2dParams> {
    let stride = strides.unwrap_or(pool_size);
    let padding = padding
        .resolve(spatial, pool_size, stride, [1, 1])
        .map_err(|e| LayersError::config(layer, format!("padding for input {spatial:?}: {e}")))?;
    Ok(Pool2dParams::new(pool_size)
        .with_stride(stride)
        .with_padding(padding))
}

/// Checks that the window and stride are positive.
fn check_window(layer: &str, pool_size: [usize; 2], strides: Option<[usize; 2]>) -> Result<()> {
    let stride = strides.unwrap_or(pool_size);
    if pool_size.contains(&0) || stride.contains(&0) {
        return Err(LayersError::config(
            layer,
            format!("pool size {pool_size:?} and stride {stride:?} must be positive"),
        ));
    }
    Ok(())
}

/// Spatial output shape of a pooling layer for a `[C, H, W]` sample.
fn pooled_shape(layer: &str, params: &Pool2dParams, input: &[usize]) -> Result<Vec<usize>> {
    let [oh, ow] = params
        .output_size([input[1], input[2]])
        .map_err(|e| LayersError::config(layer, format!("input {input:?}: {e}")))?;
    Ok(vec![input[0], oh, ow])
}

/// Splits a batch shape `[N, C, H, W]` into its spatial size, or names the layer.
fn spatial(layer: &str, x: &[usize]) -> Result<[usize; 2]> {
    match *x {
        [_, _, h, w] => Ok([h, w]),
        _ => Err(LayersError::config(
            layer,
            format!("expects a batch [N, C, H, W], found {x:?}"),
        )),
    }
}

/// Max pooling: the largest value of each window (padding counts as −∞).
///
/// PyTorch equivalent: `nn.MaxPool2d(kernel_size, stride, padding)`; Keras:
/// `layers.MaxPooling2D(pool_size, strides, padding)`. Input `[N, C, H, W]`, output
/// `[N, C, OH, OW]`; the stride defaults to the pool size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPool2d {
    /// Window `[rows, cols]`.
    pub pool_size: [usize; 2],
    /// Stride; the pool size when `None`.
    pub strides: Option<[usize; 2]>,
    /// Padding. Default valid.
    pub padding: Padding,
}

impl MaxPool2d {
    /// A square `size × size` window with stride `size`.
    pub fn new(size: usize) -> Self {
        Self {
            pool_size: [size, size],
            strides: None,
            padding: Padding::Valid,
        }
    }

    /// With another stride along both axes.
    pub fn stride(mut self, stride: usize) -> Self {
        self.strides = Some([stride, stride]);
        self
    }

    /// With a padding mode.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    pub(super) fn build(&self) -> Result<Self> {
        check_window("MaxPooling2D", self.pool_size, self.strides)?;
        Ok(*self)
    }
}

impl<T: Element> Module<T> for MaxPool2d {
    fn kind(&self) -> &'static str {
        "MaxPooling2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        let hw = spatial("MaxPooling2D", input.shape())?;
        let params = pool_params(
            "MaxPooling2D",
            self.pool_size,
            self.strides,
            self.padding,
            hw,
        )?;
        Ok(input.max_pool2d(&params)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("MaxPooling2D", input, 3, "[C, H, W]")?;
        let params = pool_params(
            "MaxPooling2D",
            self.pool_size,
            self.strides,
            self.padding,
            [input[1], input[2]],
        )?;
        pooled_shape("MaxPooling2D", &params, input)
    }
}

/// Average pooling: the mean of each window.
///
/// PyTorch equivalent: `nn.AvgPool2d(kernel_size, stride, padding, count_include_pad)`;
/// Keras: `layers.AveragePooling2D(pool_size, strides, padding)`, which never counts
/// padding (`count_include_pad = false`, the default here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgPool2d {
    /// Window `[rows, cols]`.
    pub pool_size: [usize; 2],
    /// Stride; the pool size when `None`.
    pub strides: Option<[usize; 2]>,
    /// Padding. Default valid.
    pub padding: Padding,
    /// Whether padded zeros count in each window's divisor (PyTorch's default is true).
    pub count_include_pad: bool,
}

impl AvgPool2d {
    /// A square `size × size` window with stride `size`.
    pub fn new(size: usize) -> Self {
        Self {
            pool_size: [size, size],
            strides: None,
            padding: Padding::Valid,
            count_include_pad: false,
        }
    }

    /// With another stride along both axes.
    pub fn stride(mut self, stride: usize) -> Self {
        self.strides = Some([stride, stride]);
        self
    }

    /// With a padding mode.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    pub(super) fn build(&self) -> Result<Self> {
        check_window("AveragePooling2D", self.pool_size, self.strides)?;
        Ok(*self)
    }
}

impl<T: Element> Module<T> for AvgPool2d {
    fn kind(&self) -> &'static str {
        "AveragePooling2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        let hw = spatial("AveragePooling2D", input.shape())?;
        let params = pool_params(
            "AveragePooling2D",
            self.pool_size,
            self.strides,
            self.padding,
            hw,
        )?;
        Ok(input.avg_pool2d(&params, self.count_include_pad)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("AveragePooling2D", input, 3, "[C, H, W]")?;
        let params = pool_params(
            "AveragePooling2D",
            self.pool_size,
            self.strides,
            self.padding,
            [input[1], input[2]],
        )?;
        pooled_shape("AveragePooling2D", &params, input)
    }
}

/// The mean of each channel: `[N, C, H, W] → [N, C]`. PyTorch equivalent:
/// `nn.AdaptiveAvgPool2d(1)` then `flatten(1)`; Keras: `layers.GlobalAveragePooling2D()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GlobalAvgPool2d {}

impl GlobalAvgPool2d {
    /// A global average pooling layer.
    pub fn new() -> Self {
        Self {}
    }
}

impl<T: Element> Module<T> for GlobalAvgPool2d {
    fn kind(&self) -> &'static str {
        "GlobalAveragePooling2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        spatial("GlobalAveragePooling2D", input.shape())?;
        Ok(input.global_avg_pool2d()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("GlobalAveragePooling2D", input, 3, "[C, H, W]")?;
        Ok(vec![input[0]])
    }
}
