//! Padding modes and the ZeroPadding2d layer.

use serde::{Deserialize, Serialize};
use strata_autograd::Var;
use strata_tensor::conv::{Padding2d, PaddingMode};
use strata_tensor::Element;

use super::expect_rank;
use crate::error::{LayersError, Result};
use crate::module::{ForwardContext, Module};

/// How a convolution or pooling pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// No padding (Keras `"valid"`, PyTorch `padding=0`).
    #[default]
    Valid,
    /// Output size `ceil(input / stride)`, padding split as TensorFlow does (Keras `"same"`).
    Same,
    /// `(kernel − 1) · dilation` on every side (Keras `"full"`).
    Full,
    /// Explicit pixels per side (PyTorch `padding=(rows, cols)` is `top = bottom = rows`,
    /// `left = right = cols`).
    Explicit {
        /// Rows above.
        top: usize,
        /// Rows below.
        bottom: usize,
        /// Columns on the left.
        left: usize,
        /// Columns on the right.
        right: usize,
    },
}

impl Padding {
    /// The same explicit padding on every side (PyTorch `padding=p`).
    pub fn uniform(p: usize) -> Self {
        Self::Explicit {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }

    /// The explicit padding for an input of spatial size `input`.
    pub fn resolve(
        &self,
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<Padding2d> {
        let mode = match *self {
            Self::Valid => PaddingMode::Valid,
            Self::Same => PaddingMode::Same,
            Self::Full => PaddingMode::Full,
            Self::Explicit {
                top,
                bottom,
                left,
                right,
            } => {
                return Ok(Padding2d {
                    top,
                    bottom,
                    left,
                    right,
                })
            }
        };
        Ok(Padding2d::for_mode(mode, input, kernel, stride, dilation)?)
    }
}

/// Zero padding around each image: `[N, C, H, W] → [N, C, H + top + bottom, W + left +
/// right]`. PyTorch `nn.ZeroPad2d((left, right, top, bottom))`, Keras
/// `layers.ZeroPadding2D(((top, bottom), (left, right)))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZeroPadding2dConfig {
    /// Rows above.
    pub top: usize,
    /// Rows below.
    pub bottom: usize,
    /// Columns on the left.
    pub left: usize,
    /// Columns on the right.
    pub right: usize,
}

impl ZeroPadding2dConfig {
    /// `p` pixels on every side (Keras `ZeroPadding2D(p)`).
    pub fn new(p: usize) -> Self {
        Self {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }

    /// Builds the module.
    pub fn build(&self) -> ZeroPadding2d {
        ZeroPadding2d { config: *self }
    }
}

/// The zero padding module built from a [`ZeroPadding2dConfig`] (validated); see the configuration for
/// shapes and framework equivalents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZeroPadding2d {
    config: ZeroPadding2dConfig,
}

impl ZeroPadding2d {
    /// The configuration this module was built from.
    pub fn config(&self) -> &ZeroPadding2dConfig {
        &self.config
    }
}

impl<T: Element> Module<T> for ZeroPadding2d {
    fn kind(&self) -> &'static str {
        "ZeroPadding2D"
    }

    fn forward(&self, input: &Var<T>, _ctx: &mut ForwardContext) -> Result<Var<T>> {
        if input.rank() != 4 {
            return Err(LayersError::config(
                "ZeroPadding2D",
                format!("expects [N, C, H, W], found {:?}", input.shape()),
            ));
        }
        let pads = [
            (0, 0),
            (0, 0),
            (self.config.top, self.config.bottom),
            (self.config.left, self.config.right),
        ];
        Ok(input.pad(&pads, T::zero())?)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        expect_rank("ZeroPadding2D", input, 3, "[C, H, W]")?;
        let c = &self.config;
        let padded = |size: usize, a: usize, b: usize| {
            size.checked_add(a)
                .and_then(|v| v.checked_add(b))
                .ok_or_else(|| {
                    LayersError::config(
                        "ZeroPadding2D",
                        format!("padding {c:?} overflows input {input:?}"),
                    )
                })
        };
        Ok(vec![
            input[0],
            padded(input[1], c.top, c.bottom)?,
            padded(input[2], c.left, c.right)?,
        ])
    }
}
