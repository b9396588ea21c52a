//! The element types a [`Tensor`](crate::Tensor) can hold.

use std::fmt::{Debug, Display};
use std::iter::Sum;

use num_traits::{Float, FromPrimitive, ToPrimitive};

/// A floating-point element type: `f32` for work, `f64` for gradient checks.
///
/// The trait adds to [`num_traits::Float`] what the kernels need: thread safety, a name for
/// error messages and file formats, and the general matrix multiply of the type.
pub trait Element:
    Float + FromPrimitive + ToPrimitive + Send + Sync + Debug + Display + Default + Sum + 'static
{
    /// The type's name as used in file formats and messages (`"f32"`, `"f64"`).
    const NAME: &'static str;

    /// Converts an `f64` to this type (rounding to nearest for `f32`).
    fn from_f64_lossy(value: f64) -> Self;

    /// `C ← alpha·A·B + beta·C` for an `m×k` matrix `A` and a `k×n` matrix `B`, each given by
    /// a pointer and its row and column strides (in elements). With `beta == 0` the old
    /// contents of `C` are not read (so they may be uninitialised or NaN).
    ///
    /// Single-threaded. For `f32` and `f64` it runs the `gemm` crate's AVX-512 kernels where
    /// the CPU has AVX-512F and `matrixmultiply` elsewhere.
    ///
    /// # Safety
    /// Every element addressed by the pointers, dimensions and strides must be valid, and `C`
    /// must not overlap `A` or `B`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Element for f32 {
    const NAME: &'static str = "f32";

    fn from_f64_lossy(value: f64) -> Self {
        value as f32
    }

    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            crate::gemm::backend::sgemm_with(
                crate::gemm::backend::Backend::detect(),
                m,
                k,
                n,
                alpha,
                a,
                rsa,
                csa,
                b,
                rsb,
                csb,
                beta,
                c,
                rsc,
                csc,
            )
        }
    }
}

impl Element for f64 {
    const NAME: &'static str = "f64";

    fn from_f64_lossy(value: f64) -> Self {
        value
    }

    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            crate::gemm::backend::dgemm_with(
                crate::gemm::backend::Backend::detect(),
                m,
                k,
                n,
                alpha,
                a,
                rsa,
                csa,
                b,
                rsb,
                csb,
                beta,
                c,
                rsc,
                csc,
            )
        }
    }
}
