//! Validated shapes of one convolution, shared by the forward and backward kernels.

use super::params::{output_size_for, Conv2dOptions};
use crate::error::{Result, TensorError};

/// Every size a convolution kernel needs, checked against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub groups: usize,
    /// Input channels per group.
    pub cin_g: usize,
    /// Output channels per group.
    pub cout_g: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub sh: usize,
    pub sw: usize,
    pub pt: usize,
    pub pl: usize,
    pub dh: usize,
    pub dw: usize,
}

impl Geometry {
    /// Validates an NCHW input shape against an OIHW weight shape and the parameters.
    pub fn new(
        op: &'static str,
        input: &[usize],
        weight: &[usize],
        params: &Conv2dOptions,
    ) -> Result<Self> {
        params.validate(op)?;
        if input.len() != 4 {
            return Err(TensorError::shape(
                op,
                format!("input must be NCHW (rank 4), got shape {input:?}"),
            ));
        }
        if weight.len() != 4 {
            return Err(TensorError::shape(
                op,
                format!("weight must be OIHW (rank 4), got shape {weight:?}"),
            ));
        }
        let (n, c_in, h, w) = (input[0], input[1], input[2], input[3]);
        let (c_out, cin_g, kh, kw) = (weight[0], weight[1], weight[2], weight[3]);
        let groups = params.groups;
        if c_in % groups != 0 {
            return Err(TensorError::shape(
                op,
                format!("input {input:?} has {c_in} channels, not divisible by groups {groups}"),
            ));
        }
        if c_out % groups != 0 {
            return Err(TensorError::shape(
                op,
                format!(
                    "weight {weight:?} has {c_out} output channels, not divisible by groups \
                     {groups}"
                ),
            ));
        }
        if cin_g != c_in / groups {
            return Err(TensorError::shape(
                op,
                format!(
                    "weight {weight:?} expects {cin_g} input channels per group, input \
                     {input:?} has {} (groups {groups})",
                    c_in / groups
                ),
            ));
        }
        if c_out == 0 || cin_g == 0 {
            return Err(TensorError::shape(
                op,
                format!("weight {weight:?} has no channels (input {input:?})"),
            ));
        }
        let [oh, ow] = output_size_for(op, [h, w], [kh, kw], params)?;
        Ok(Self {
            n,
            c_in,
            h,
            w,
            c_out,
            groups,
            cin_g,
            cout_g: c_out / groups,
            kh,
            kw,
            oh,
            ow,
            sh: params.stride[0],
            sw: params.stride[1],
            pt: params.padding.top,
            pl: params.padding.left,
            dh: params.dilation[0],
            dw: params.dilation[1],
        })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.n, self.c_out, self.oh, self.ow]
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c_in, self.h, self.w]
    }

    /// Rows of the column matrix of one group: `cin_g · kh · kw`.
    pub fn col_rows(&self) -> usize {
        self.cin_g * self.kh * self.kw
    }

    /// Whether the convolution is a plain per-pixel matrix product (1×1, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.pt == 0
            && self.pl == 0
            && self.oh == self.h
            && self.ow == self.w
    }

    /// Checks that `grad_output` has the output shape of this convolution.
    pub fn check_grad_output(&self, op: &'static str, grad_output: &[usize]) -> Result<()> {
        if grad_output != self.output_shape() {
            return Err(TensorError::shape(
                op,
                format!(
                    "grad_output {grad_output:?} does not match the convolution's output \
                     shape {:?} (input {:?}, {} output channels)",
                    self.output_shape(),
                    self.input_shape(),
                    self.c_out
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_the_shapes() {
        let err = Geometry::new(
            "conv2d",
            &[8, 1, 28, 28],
            &[32, 3, 3, 3],
            &Conv2dOptions::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "conv2d: weight [32, 3, 3, 3] expects 3 input channels per group, input \
             [8, 1, 28, 28] has 1 (groups 1)"
        );
        let p = Conv2dOptions::new().with_groups(2);
        let err = Geometry::new("conv2d", &[1, 3, 5, 5], &[4, 1, 3, 3], &p).unwrap_err();
        assert!(
            err.to_string().contains("not divisible by groups 2"),
            "{err}"
        );
        let err = Geometry::new("conv2d", &[1, 4, 5, 5], &[3, 2, 3, 3], &p).unwrap_err();
        assert!(err.to_string().contains("3 output channels"), "{err}");
        assert!(Geometry::new("conv2d", &[1, 4, 5], &[3, 4, 3, 3], &p).is_err());
        assert!(Geometry::new("conv2d", &[1, 4, 5, 5], &[3, 4, 3], &p).is_err());
        assert!(Geometry::new(
            "conv2d",
            &[1, 1, 2, 2],
            &[1, 1, 3, 3],
            &Conv2dOptions::new()
        )
        .is_err());
    }
}
