//! The single-threaded GEMM kernels behind [`Element::gemm_raw`](crate::Element::gemm_raw)
//! and how one is chosen at run time.
//!
//! `matrixmultiply` is the portable baseline every build has. Where the CPU has AVX-512F,
//! the `gemm` crate's AVX-512 kernels (enabled by its `x86-v4` feature, detected at run
//! time) are faster by measurement; `docs/benchmarks.md` has the figures.

use std::sync::OnceLock;

/// A single-threaded GEMM implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `matrixmultiply`: portable, packs both operands, any strides.
    MatrixMultiply,
    /// The `gemm` crate driven single-threaded (`Parallelism::None`).
    GemmCrate,
}

impl Backend {
    /// Every backend, for tests that compare them.
    #[cfg(test)]
    pub(crate) const ALL: [Backend; 2] = [Backend::MatrixMultiply, Backend::GemmCrate];

    /// The backend used by default: the `gemm` crate where the CPU has AVX-512F,
    /// `matrixmultiply` elsewhere. Setting the environment variable
    /// `STRATA_GEMM=matrixmultiply` (read once) forces the portable backend, for comparisons.
    pub(crate) fn detect() -> Backend {
        static CHOICE: OnceLock<Backend> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            let forced = std::env::var("STRATA_GEMM").ok();
            if forced.as_deref() == Some("matrixmultiply") {
                return Backend::MatrixMultiply;
            }
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    return Backend::GemmCrate;
                }
            }
            Backend::MatrixMultiply
        })
    }
}

macro_rules! gemm_with {
    ($name:ident, $t:ty, $mm:path) => {
        /// `C ← alpha·A·B + beta·C` with the given backend, single-threaded; with
        /// `beta == 0` the old contents of `C` are not read.
        ///
        /// # Safety
        /// As [`Element::gemm_raw`](crate::Element::gemm_raw): every addressed element valid,
        /// `C` not overlapping `A` or `B`.
        #[allow(clippy::too_many_arguments)]
        pub(crate) unsafe fn $name(
            backend: Backend,
            m: usize,
            k: usize,
            n: usize,
            alpha: $t,
            a: *const $t,
            rsa: isize,
            csa: isize,
            b: *const $t,
            rsb: isize,
            csb: isize,
            beta: $t,
            c: *mut $t,
            rsc: isize,
            csc: isize,
        ) {
            match backend {
                // SAFETY: forwarded from the caller's contract.
                Backend::MatrixMultiply => unsafe {
                    $mm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
                },
                Backend::GemmCrate => {
                    if m == 0 || n == 0 {
                        return;
                    }
                    // The gemm crate computes dst := alpha·dst + beta·lhs·rhs (and does not
                    // read dst when read_dst is false), so our alpha is its beta.
                    let read_dst = beta != 0.0;
                    // SAFETY: forwarded from the caller's contract; strides are in elements
                    // in both conventions.
                    unsafe {
                        gemm::gemm(
                            m,
                            n,
                            k,
                            c,
                            csc,
                            rsc,
                            read_dst,
                            a,
                            csa,
                            rsa,
                            b,
                            csb,
                            rsb,
                            beta,
                            alpha,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        )
                    }
                }
            }
        }
    };
}

gemm_with!(sgemm_with, f32, matrixmultiply::sgemm);
gemm_with!(dgemm_with, f64, matrixmultiply::dgemm);
