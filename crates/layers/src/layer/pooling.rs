//! Max and average pooling (with padding, dilation for max, and `ceil_mode`), and global
//! average pooling.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::pool::Pool2dOptions;
use strata_tensor::Element;

use super::{expect_rank, Padding};
use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module};

/// The window of a pooling layer: size, stride, padding, dilation and rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolWindow {
    /// Window `[rows, cols]`.
    pub pool_size: [usize; 2],
    /// Stride; the pool size when `None`.
    #[serde(alias = "strides")]
    pub stride: Option<[usize; 2]>,
    /// Padding. Default valid.
    pub padding: Padding,
    /// Spacing between taps (PyTorch `MaxPool2d(dilation=…)`; max pooling only, as in
    /// PyTorch). Default `[1, 1]`.
    #[serde(default = "undilated")]
    pub dilation: [usize; 2],
    /// Round the output size up, keeping a last partial window (PyTorch
    /// `ceil_mode=True`). Default false.
    #[serde(default)]
    pub ceil_mode: bool,
}

/// The default dilation, for files written before it existed.
fn undilated() -> [usize; 2] {
    [1, 1]
}

impl PoolWindow {
    /// A square `size × size` window with stride `size` and no padding.
    pub fn new(size: usize) -> Self {
        Self {
            pool_size: [size, size],
            stride: None,
            padding: Padding::Valid,
            dilation: [1, 1],
            ceil_mode: false,
        }
    }

    fn resolved_stride(&self) -> [usize; 2] {
        self.stride.unwrap_or(self.pool_size)
    }

    /// Checks that the window and stride are positive.
    fn check(&self, layer: &str) -> Result<()> {
        if self.pool_size.contains(&0)
            || self.resolved_stride().contains(&0)
            || self.dilation.contains(&0)
        {
            return Err(LayersError::config(
                layer,
                format!(
                    "pool size {:?}, stride {:?} and dilation {:?} must be positive",
                    self.pool_size,
                    self.resolved_stride(),
                    self.dilation
                ),
            ));
        }
        Ok(())
    }

    /// The kernel's parameters for an input of spatial size `[H, W]`.
    fn params(&self, layer: &str, spatial: [usize; 2]) -> Result<Pool2dOptions> {
        let padding = self
            .padding
            .resolve(
                spatial,
                self.pool_size,
                self.resolved_stride(),
                self.dilation,
            )
            .map_err(|e| {
                LayersError::config(layer, format!("padding for input {spatial:?}: {e}"))
            })?;
        Ok(Pool2dOptions::new(self.pool_size)
            .with_stride(self.resolved_stride())
            .with_padding(padding)
            .with_dilation(self.dilation)
            .with_ceil_mode(self.ceil_mode))
    }

    /// The parameters for a batch `[N, C, H, W]`, or an error naming the layer.
    fn params_for_batch(&self, layer: &str, x: &[usize]) -> Result<Pool2dOptions> {
        match *x {
            [_, _, h, w] => self.params(layer, [h, w]),
            _ => Err(LayersError::config(
                layer,
                format!("expects a batch [N, C, H, W], found {x:?}"),
            )),
        }
    }

    /// The output shape of one `[C, H, W]` sample.
    fn output_shape(&self, layer: &str, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank(layer, input, 3, "[C, H, W]")?;
        let [oh, ow] = self
            .params(layer, [input[1], input[2]])?
            .output_size([input[1], input[2]])
            .map_err(|e| LayersError::config(layer, format!("input {input:?}: {e}")))?;
        Ok(vec![input[0], oh, ow])
    }
}

/// Max pooling: the largest value of each window (padding counts as −∞).
///
/// PyTorch equivalent: `nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode)`;
/// Keras: `layers.MaxPooling2D(pool_size, strides, padding)`. Input `[N, C, H, W]`, output
/// `[N, C, OH, OW]`; the stride defaults to the pool size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPool2dConfig {
    /// Size, stride and padding.
    #[serde(flatten)]
    pub window: PoolWindow,
}

impl MaxPool2dConfig {
    /// A square `size × size` window with stride `size`.
    pub fn new(size: usize) -> Self {
        Self {
            window: PoolWindow::new(size),
        }
    }

    /// With another stride along both axes.
    pub fn stride(mut self, stride: usize) -> Self {
        self.window.stride = Some([stride, stride]);
        self
    }

    /// With a padding mode.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.window.padding = padding;
        self
    }

    /// With a dilation along both axes (PyTorch `dilation`).
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.window.dilation = [dilation, dilation];
        self
    }

    /// With the output size rounded up (PyTorch `ceil_mode`).
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.window.ceil_mode = ceil_mode;
        self
    }

    /// Checks the configuration and builds the module.
    pub fn build(&self) -> Result<MaxPool2d> {
        self.window.check("MaxPooling2D")?;
        Ok(MaxPool2d { config: *self })
    }
}

/// The max pooling module built from a [`MaxPool2dConfig`] (validated); see the configuration for
/// shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxPool2d {
    config: MaxPool2dConfig,
}

impl MaxPool2d {
    /// The configuration this module was built from.
    pub fn config(&self) -> &MaxPool2dConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for MaxPool2d {
    fn kind(&self) -> &'static str {
        "MaxPooling2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        let params = self
            .config
            .window
            .params_for_batch("MaxPooling2D", input.shape())?;
        Ok(input.max_pool2d(&params)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.config.window.output_shape("MaxPooling2D", input)
    }
}

/// Average pooling: the mean of each window.
///
/// PyTorch equivalent: `nn.AvgPool2d(kernel_size, stride, padding, count_include_pad)`;
/// Keras: `layers.AveragePooling2D(pool_size, strides, padding)`, which never counts
/// padding (`count_include_pad = false`, the default here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgPool2dConfig {
    /// Size, stride and padding.
    #[serde(flatten)]
    pub window: PoolWindow,
    /// Whether padded zeros count in each window's divisor (PyTorch's default is true).
    pub count_include_pad: bool,
}

impl AvgPool2dConfig {
    /// A square `size × size` window with stride `size`.
    pub fn new(size: usize) -> Self {
        Self {
            window: PoolWindow::new(size),
            count_include_pad: false,
        }
    }

    /// With another stride along both axes.
    pub fn stride(mut self, stride: usize) -> Self {
        self.window.stride = Some([stride, stride]);
        self
    }

    /// With a padding mode.
    pub fn padding(mut self, padding: Padding) -> Self {
        self.window.padding = padding;
        self
    }

    /// With the output size rounded up (PyTorch `ceil_mode`; a partial last window is
    /// divided as PyTorch divides it).
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.window.ceil_mode = ceil_mode;
        self
    }

    /// Checks the configuration (average pooling has no dilation) and builds the module.
    pub fn build(&self) -> Result<AvgPool2d> {
        self.window.check("AveragePooling2D")?;
        if self.window.dilation != [1, 1] {
            return Err(LayersError::config(
                "AveragePooling2D",
                format!(
                    "average pooling takes no dilation (as PyTorch's AvgPool2d), found {:?}",
                    self.window.dilation
                ),
            ));
        }
        Ok(AvgPool2d { config: *self })
    }
}

/// The average pooling module built from an [`AvgPool2dConfig`] (validated); see the configuration for
/// shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvgPool2d {
    config: AvgPool2dConfig,
}

impl AvgPool2d {
    /// The configuration this module was built from.
    pub fn config(&self) -> &AvgPool2dConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for AvgPool2d {
    fn kind(&self) -> &'static str {
        "AveragePooling2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        let params = self
            .config
            .window
            .params_for_batch("AveragePooling2D", input.shape())?;
        Ok(input.avg_pool2d(&params, self.config.count_include_pad)?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.config.window.output_shape("AveragePooling2D", input)
    }
}

/// The mean of each channel: `[N, C, H, W] → [N, C]`. PyTorch equivalent:
/// `nn.AdaptiveAvgPool2d(1)` then `flatten(1)`; Keras: `layers.GlobalAveragePooling2D()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GlobalAvgPool2dConfig {}

impl GlobalAvgPool2dConfig {
    /// A global average pooling layer.
    pub fn new() -> Self {
        Self {}
    }

    /// Builds the module.
    pub fn build(&self) -> GlobalAvgPool2d {
        GlobalAvgPool2d { config: *self }
    }
}

/// The global average pooling module built from a [`GlobalAvgPool2dConfig`] (validated); see the configuration for
/// shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalAvgPool2d {
    config: GlobalAvgPool2dConfig,
}

impl GlobalAvgPool2d {
    /// The configuration this module was built from.
    pub fn config(&self) -> &GlobalAvgPool2dConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for GlobalAvgPool2d {
    fn kind(&self) -> &'static str {
        "GlobalAveragePooling2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        if input.rank() != 4 {
            return Err(LayersError::config(
                "GlobalAveragePooling2D",
                format!("expects a batch [N, C, H, W], found {:?}", input.shape()),
            ));
        }
        Ok(input.global_avg_pool2d()?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("GlobalAveragePooling2D", input, 3, "[C, H, W]")?;
        Ok(vec![input[0]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_keeps_the_size_at_stride_one_and_halves_it_at_two() {
        let pool = MaxPool2dConfig::new(3)
            .stride(1)
            .padding(Padding::Same)
            .build()
            .unwrap();
        assert_eq!(
            Module::<f32>::output_shape(&pool, &[4, 7, 9]).unwrap(),
            vec![4, 7, 9]
        );
        let avg = AvgPool2dConfig::new(2)
            .padding(Padding::Same)
            .build()
            .unwrap();
        assert_eq!(
            Module::<f32>::output_shape(&avg, &[1, 5, 5]).unwrap(),
            vec![1, 3, 3]
        );
        assert!(MaxPool2dConfig::new(0).build().is_err());
        assert!(MaxPool2dConfig::new(2).dilation(0).build().is_err());
        let dilated = AvgPool2dConfig {
            window: MaxPool2dConfig::new(2).dilation(2).window,
            count_include_pad: false,
        };
        assert!(dilated
            .build()
            .unwrap_err()
            .to_string()
            .contains("dilation"));
        // ceil_mode keeps the partial last window: 7 → 4 with size 2, dilation 2 spans 3.
        let ceil = MaxPool2dConfig::new(2).ceil_mode(true).build().unwrap();
        assert_eq!(
            Module::<f32>::output_shape(&ceil, &[1, 7, 7]).unwrap(),
            vec![1, 4, 4]
        );
        let dilated = MaxPool2dConfig::new(2)
            .dilation(2)
            .stride(1)
            .build()
            .unwrap();
        assert_eq!(
            Module::<f32>::output_shape(&dilated, &[1, 7, 5]).unwrap(),
            vec![1, 5, 3]
        );
        assert!(
            Module::<f32>::output_shape(&MaxPool2dConfig::new(2).build().unwrap(), &[4, 7])
                .is_err()
        );
    }

    #[test]
    fn the_window_round_trips_through_json() {
        let pool = AvgPool2dConfig {
            count_include_pad: true,
            ..AvgPool2dConfig::new(2).stride(1)
        };
        let json = serde_json::to_string(&crate::layer::LayerConfig::from(pool)).unwrap();
        let back: crate::layer::LayerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pool.into());
        let max = MaxPool2dConfig::new(3).dilation(2).ceil_mode(true);
        let json = serde_json::to_string(&crate::layer::LayerConfig::from(max)).unwrap();
        let back: crate::layer::LayerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, max.into());
        // A configuration written before dilation and ceil_mode existed still loads.
        let old = r#"{"type":"max_pool2d","pool_size":[2,2],"stride":null,"padding":"valid"}"#;
        let back: crate::layer::LayerConfig = serde_json::from_str(old).unwrap();
        assert_eq!(back, MaxPool2dConfig::new(2).into());
    }
}
