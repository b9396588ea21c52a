//! The geometry parameters of a 2-D convolution: stride, padding per side, dilation, groups.

use crate::error::{Result, TensorError};

/// Explicit zero padding of the two spatial axes, per side (in pixels).
///
/// Asymmetric padding is allowed (TensorFlow's `same` mode needs it when the total is odd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Padding2d {
    /// Rows added above the image.
    pub top: usize,
    /// Rows added below the image.
    pub bottom: usize,
    /// Columns added left of the image.
    pub left: usize,
    /// Columns added right of the image.
    pub right: usize,
}

/// The Keras padding modes, turned into explicit padding by [`Padding2d::for_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaddingMode {
    /// No padding: only windows lying wholly inside the input.
    Valid,
    /// TensorFlow's `same`: output size `ceil(in / stride)`; the total padding
    /// `max((ceil(in/stride) - 1)·stride + (k-1)·dilation + 1 - in, 0)` is split with the
    /// smaller half on top/left and the extra pixel on bottom/right.
    Same,
    /// `(k-1)·dilation` on every side: every window that touches the input at all.
    Full,
}

impl Padding2d {
    /// The same padding `p` on all four sides.
    pub fn uniform(p: usize) -> Self {
        Self {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }

    /// `rows` above and below, `cols` left and right (PyTorch's `padding=(rows, cols)`).
    pub fn symmetric(rows: usize, cols: usize) -> Self {
        Self {
            top: rows,
            bottom: rows,
            left: cols,
            right: cols,
        }
    }

    /// The explicit padding of a Keras padding `mode` for an input of spatial size `input`
    /// (`[H, W]`), a kernel of size `kernel` (`[kh, kw]`), `stride` and `dilation`.
    ///
    /// ```
    /// use strata_tensor::conv::{Padding2d, PaddingMode};
    /// // 5 wide, kernel 4, stride 1: total 3, one on the left and two on the right.
    /// let p = Padding2d::for_mode(PaddingMode::Same, [5, 5], [4, 4], [1, 1], [1, 1])?;
    /// assert_eq!((p.left, p.right), (1, 2));
    /// let p = Padding2d::for_mode(PaddingMode::Full, [5, 5], [3, 3], [1, 1], [2, 2])?;
    /// assert_eq!(p, Padding2d::uniform(4));
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// A zero stride, dilation or kernel size.
    pub fn for_mode(
        mode: PaddingMode,
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<Self> {
        const OP: &str = "padding_for_mode";
        check_positive(OP, "kernel size", kernel)?;
        check_positive(OP, "stride", stride)?;
        check_positive(OP, "dilation", dilation)?;
        let axis = |a: usize| -> (usize, usize) {
            let span = (kernel[a] - 1).saturating_mul(dilation[a]);
            match mode {
                PaddingMode::Valid => (0, 0),
                PaddingMode::Full => (span, span),
                PaddingMode::Same => {
                    let out = input[a].div_ceil(stride[a]);
                    let needed = (out.saturating_sub(1))
                        .saturating_mul(stride[a])
                        .saturating_add(span)
                        .saturating_add(1);
                    let total = needed.saturating_sub(input[a]);
                    (total / 2, total - total / 2)
                }
            }
        };
        let (top, bottom) = axis(0);
        let (left, right) = axis(1);
        Ok(Self {
            top,
            bottom,
            left,
            right,
        })
    }
}

/// The parameters of a 2-D convolution besides its operands.
///
/// `Default` is stride 1, no padding, dilation 1, one group. Field order in the arrays is
/// `[rows, columns]`.
///
/// ```
/// use strata_tensor::conv::{Conv2dOptions, Padding2d};
/// let p = Conv2dOptions { stride: [2, 2], padding: Padding2d::uniform(1), ..Default::default() };
/// assert_eq!(p.dilation, [1, 1]);
/// assert_eq!(p.groups, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dOptions {
    /// Step between neighbouring windows, `[rows, cols]`; must be positive.
    pub stride: [usize; 2],
    /// Zero padding per side.
    pub padding: Padding2d,
    /// Spacing between kernel taps, `[rows, cols]` (1 = dense kernel); must be positive.
    pub dilation: [usize; 2],
    /// Number of channel groups: input channels `C` and output channels `O` are split into
    /// `groups` blocks, block `g` of the output seeing only block `g` of the input (the weight
    /// has shape `[O, C / groups, kh, kw]`). `groups == C` is a depthwise convolution.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Self {
            stride: [1, 1],
            padding: Padding2d::default(),
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// Stride 1, no padding, dilation 1, one group (the same as `Default`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The same parameters with another stride.
    pub fn with_stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }

    /// The same parameters with another padding.
    pub fn with_padding(mut self, padding: Padding2d) -> Self {
        self.padding = padding;
        self
    }

    /// The same parameters with another dilation.
    pub fn with_dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }

    /// The same parameters with another number of groups.
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// Checks that stride, dilation and groups are positive.
    pub(crate) fn validate(&self, op: &'static str) -> Result<()> {
        check_positive(op, "stride", self.stride)?;
        check_positive(op, "dilation", self.dilation)?;
        if self.groups == 0 {
            return Err(TensorError::invalid(op, "groups must be positive, got 0"));
        }
        Ok(())
    }
}

pub(crate) fn check_positive(op: &'static str, what: &str, v: [usize; 2]) -> Result<()> {
    if v[0] == 0 || v[1] == 0 {
        return Err(TensorError::invalid(
            op,
            format!("{what} must be positive, got {v:?}"),
        ));
    }
    Ok(())
}

/// The spatial output size `[OH, OW]` of a convolution of an `[H, W]` input with a
/// `[kh, kw]` kernel: `(in + pad_before + pad_after - (k-1)·dilation - 1) / stride + 1`.
///
/// ```
/// use strata_tensor::conv::{conv2d_output_size, Conv2dOptions, Padding2d};
/// let p = Conv2dOptions::new().with_padding(Padding2d::uniform(1));
/// assert_eq!(conv2d_output_size([224, 224], [3, 3], &p)?, [224, 224]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
///
/// # Errors
/// A zero stride, dilation, groups or kernel size, or a (dilated) kernel larger than the
/// padded input.
pub fn conv2d_output_size(
    input: [usize; 2],
    kernel: [usize; 2],
    params: &Conv2dOptions,
) -> Result<[usize; 2]> {
    output_size_for("conv2d_output_size", input, kernel, params)
}

pub(crate) fn output_size_for(
    op: &'static str,
    input: [usize; 2],
    kernel: [usize; 2],
    params: &Conv2dOptions,
) -> Result<[usize; 2]> {
    params.validate(op)?;
    check_positive(op, "kernel size", kernel)?;
    let p = params.padding;
    let too_large = || {
        TensorError::invalid(
            op,
            format!(
                "sizes overflow: input {input:?}, kernel {kernel:?}, padding {p:?}, dilation {:?}",
                params.dilation
            ),
        )
    };
    let padded = [
        input[0]
            .checked_add(p.top)
            .and_then(|v| v.checked_add(p.bottom))
            .ok_or_else(too_large)?,
        input[1]
            .checked_add(p.left)
            .and_then(|v| v.checked_add(p.right))
            .ok_or_else(too_large)?,
    ];
    let span = [
        (kernel[0] - 1)
            .checked_mul(params.dilation[0])
            .and_then(|v| v.checked_add(1))
            .ok_or_else(too_large)?,
        (kernel[1] - 1)
            .checked_mul(params.dilation[1])
            .and_then(|v| v.checked_add(1))
            .ok_or_else(too_large)?,
    ];
    if span[0] > padded[0] || span[1] > padded[1] {
        return Err(TensorError::shape(
            op,
            format!(
                "kernel {kernel:?} with dilation {:?} spans {span:?}, larger than the padded \
                 input {padded:?} (input {input:?}, padding {p:?})",
                params.dilation
            ),
        ));
    }
    Ok([
        (padded[0] - span[0]) / params.stride[0] + 1,
        (padded[1] - span[1]) / params.stride[1] + 1,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_follows_tensorflow() {
        // in 7, k 3, s 2: out 4, needed (4-1)*2+3 = 9, total 2 → (1, 1).
        let p = Padding2d::for_mode(PaddingMode::Same, [7, 7], [3, 3], [2, 2], [1, 1]).unwrap();
        assert_eq!(p, Padding2d::uniform(1));
        // in 6, k 3, s 2: out 3, needed 7, total 1 → (0, 1).
        let p = Padding2d::for_mode(PaddingMode::Same, [6, 6], [3, 3], [2, 2], [1, 1]).unwrap();
        assert_eq!((p.top, p.bottom, p.left, p.right), (0, 1, 0, 1));
        // in 5, k 1, s 2: out 3, needed 5, total 0.
        let p = Padding2d::for_mode(PaddingMode::Same, [5, 5], [1, 1], [2, 2], [1, 1]).unwrap();
        assert_eq!(p, Padding2d::default());
        // Same keeps ceil(in / stride) outputs.
        for input in 1..12 {
            for k in 1..6 {
                for s in 1..4 {
                    for d in 1..3 {
                        let pad = Padding2d::for_mode(
                            PaddingMode::Same,
                            [input, input],
                            [k, k],
                            [s, s],
                            [d, d],
                        )
                        .unwrap();
                        let params = Conv2dOptions::new()
                            .with_padding(pad)
                            .with_stride([s, s])
                            .with_dilation([d, d]);
                        let out = conv2d_output_size([input, input], [k, k], &params).unwrap();
                        assert_eq!(out[0], input.div_ceil(s), "in {input} k {k} s {s} d {d}");
                    }
                }
            }
        }
    }

    #[test]
    fn valid_and_full_sizes() {
        let v = Padding2d::for_mode(PaddingMode::Valid, [6, 6], [3, 3], [1, 1], [1, 1]).unwrap();
        let params = Conv2dOptions::new().with_padding(v);
        assert_eq!(conv2d_output_size([6, 6], [3, 3], &params).unwrap(), [4, 4]);
        let f = Padding2d::for_mode(PaddingMode::Full, [6, 6], [3, 3], [1, 1], [1, 1]).unwrap();
        let params = Conv2dOptions::new().with_padding(f);
        assert_eq!(conv2d_output_size([6, 6], [3, 3], &params).unwrap(), [8, 8]);
    }

    #[test]
    fn bad_parameters_are_errors() {
        let p = Conv2dOptions::new().with_stride([0, 1]);
        assert!(conv2d_output_size([5, 5], [3, 3], &p).is_err());
        let p = Conv2dOptions::new().with_dilation([1, 0]);
        assert!(conv2d_output_size([5, 5], [3, 3], &p).is_err());
        let p = Conv2dOptions::new().with_groups(0);
        assert!(conv2d_output_size([5, 5], [3, 3], &p).is_err());
        let err = conv2d_output_size([2, 5], [3, 3], &Conv2dOptions::new()).unwrap_err();
        assert!(
            err.to_string().contains("larger than the padded input"),
            "{err}"
        );
        assert!(Padding2d::for_mode(PaddingMode::Same, [5, 5], [0, 3], [1, 1], [1, 1]).is_err());
        let p = Conv2dOptions::new().with_padding(Padding2d::uniform(usize::MAX));
        assert!(conv2d_output_size([5, 5], [3, 3], &p).is_err());
        let p = Conv2dOptions::new().with_dilation([usize::MAX, 1]);
        assert!(conv2d_output_size([5, 5], [3, 3], &p).is_err());
    }
}
