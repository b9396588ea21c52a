//! Applying a filter to an image with strata-tensor's `conv2d`: plane filters per channel
//! (a depthwise convolution), `C×H×W` filters summed over the channels.

use strata_tensor::conv::{conv2d, Conv2dOptions, Padding2d, PaddingMode};
use strata_tensor::Tensor;

use crate::error::{FilterError, Result};
use crate::kernels::Filter;

/// Border handling: the Keras/LiteOCR modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Border {
    /// Only windows wholly inside the image: `(in - k) / stride + 1` outputs.
    Valid,
    /// Zero padding keeping `ceil(in / stride)` outputs (TensorFlow's split).
    Same,
    /// `k - 1` zeros on every side: every window touching the image
    /// (LiteOCR's `border_mode="full"`), `(in + k - 2) / stride + 1` outputs.
    Full,
}

impl std::str::FromStr for Border {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "valid" => Ok(Self::Valid),
            "same" => Ok(Self::Same),
            "full" => Ok(Self::Full),
            _ => Err(FilterError::invalid(
                "--border",
                format!("{s:?} is not a border mode; use valid, same or full"),
            )),
        }
    }
}

impl Border {
    fn mode(self) -> PaddingMode {
        match self {
            Self::Valid => PaddingMode::Valid,
            Self::Same => PaddingMode::Same,
            Self::Full => PaddingMode::Full,
        }
    }
}

/// Filters an image `[C, H, W]`: a plane filter `[kh, kw]` is applied to each channel on its
/// own (`C` output maps); a `[C, kh, kw]` filter is a dot product over the channels (one
/// map). Cross-correlation (no kernel flip), as deep-learning convolutions.
///
/// ```
/// use filters::{apply_filter, named_filter, Border};
/// use strata_tensor::Tensor;
/// let image = Tensor::<f32>::from_vec((0..16).map(|v| v as f32).collect(), &[1, 4, 4])?;
/// let out = apply_filter(&image, &named_filter("prewitt-x")?, Border::Valid, 1)?;
/// assert_eq!(out.shape(), &[1, 2, 2]);
/// assert_eq!(out.to_vec(), vec![-6.0; 4]);
/// # Ok::<(), filters::FilterError>(())
/// ```
///
/// # Errors
/// An image not `[C, H, W]`, a zero stride, a filter whose channels are not the image's, or
/// a kernel larger than the (padded) image.
pub fn apply_filter(
    image: &Tensor<f32>,
    filter: &Filter,
    border: Border,
    stride: usize,
) -> Result<Tensor<f32>> {
    let &[c, h, w] = image.shape() else {
        return Err(FilterError::invalid(
            "image",
            format!("expected [C, H, W], found {:?}", image.shape()),
        ));
    };
    if stride == 0 {
        return Err(FilterError::invalid("--stride", "must be positive"));
    }
    let [kh, kw] = filter.size();
    let (weight, groups) = match filter.channels() {
        None => {
            let values = filter.values.repeat(c);
            (Tensor::from_vec(values, &[c, 1, kh, kw])?, c)
        }
        Some(fc) if fc == c => (Tensor::from_vec(filter.values.clone(), &[1, c, kh, kw])?, 1),
        Some(fc) => {
            return Err(FilterError::invalid(
                "--filter",
                format!("the filter has {fc} channels but the image has {c}"),
            ))
        }
    };
    let padding = Padding2d::for_mode(border.mode(), [h, w], [kh, kw], [stride; 2], [1, 1])?;
    let options = Conv2dOptions::new()
        .with_stride([stride; 2])
        .with_padding(padding)
        .with_groups(groups);
    let out = conv2d(&image.reshape(&[1, c, h, w])?, &weight, None, &options)?;
    let shape = out.shape()[1..].to_vec();
    Ok(out.reshape(&shape)?)
}
