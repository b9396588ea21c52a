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
    ($name:ident, $t:ty, $mm:path, $fast:path) => {
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
                    // The gemm crate computes dst := alpha·dst + beta·lhs·rhs (and does not
                    // read dst when read_dst is false), so our alpha is its beta.
                    // SAFETY: forwarded from the caller's contract.
                    unsafe {
                        gemm_crate(
                            $fast(),
                            m,
                            n,
                            k,
                            c,
                            csc,
                            rsc,
                            beta != 0.0,
                            a,
                            csa,
                            rsa,
                            b,
                            csb,
                            rsb,
                            beta,
                            alpha,
                        )
                    }
                }
            }
        }
    };
}

/// A gemm-crate kernel entry: `dst := alpha·dst + beta·lhs·rhs` (column strides before row
/// strides), then three conjugation flags and the parallelism.
type GemmCrateFn<T> = unsafe fn(
    usize,
    usize,
    usize,
    *mut T,
    isize,
    isize,
    bool,
    *const T,
    isize,
    isize,
    *const T,
    isize,
    isize,
    T,
    T,
    bool,
    bool,
    bool,
    gemm_common::Parallelism,
);

/// Calls a gemm-crate kernel single-threaded after the normalisation its `gemm::gemm`
/// front end does (we depend on the f32/f64 crates only, not on the front end, which
/// would compile the complex and f16 kernels too): transpose the problem when `dst` is
/// row-oriented, since the kernels prefer column-major output, and turn negative strides
/// positive.
///
/// # Safety
/// As [`Element::gemm_raw`](crate::Element::gemm_raw).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_crate<T: Copy>(
    kernel: GemmCrateFn<T>,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: T,
    beta: T,
) {
    if m == 0 || n == 0 {
        return;
    }
    let (m, n, mut dst, mut dst_cs, mut dst_rs) = (m, n, dst, dst_cs, dst_rs);
    let (mut lhs, mut lhs_cs, mut lhs_rs, mut rhs, mut rhs_cs, mut rhs_rs) =
        (lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs);
    let (m, n) = if dst_cs.unsigned_abs() < dst_rs.unsigned_abs() {
        // Cᵀ = Bᵀ·Aᵀ.
        std::mem::swap(&mut dst_cs, &mut dst_rs);
        std::mem::swap(&mut lhs, &mut rhs);
        std::mem::swap(&mut lhs_cs, &mut rhs_rs);
        std::mem::swap(&mut lhs_rs, &mut rhs_cs);
        (n, m)
    } else {
        (m, n)
    };
    if dst_rs < 0 {
        dst = dst.wrapping_offset((m - 1) as isize * dst_rs);
        dst_rs = -dst_rs;
        lhs = lhs.wrapping_offset((m - 1) as isize * lhs_rs);
        lhs_rs = -lhs_rs;
    }
    if dst_cs < 0 {
        dst = dst.wrapping_offset((n - 1) as isize * dst_cs);
        dst_cs = -dst_cs;
        rhs = rhs.wrapping_offset((n - 1) as isize * rhs_cs);
        rhs_cs = -rhs_cs;
    }
    if lhs_cs < 0 && k > 0 {
        lhs = lhs.wrapping_offset((k - 1) as isize * lhs_cs);
        lhs_cs = -lhs_cs;
        rhs = rhs.wrapping_offset((k - 1) as isize * rhs_rs);
        rhs_rs = -rhs_rs;
    }
    // SAFETY: the same elements are addressed as before the normalisation.
    unsafe {
        kernel(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            read_dst,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            alpha,
            beta,
            false,
            false,
            false,
            gemm_common::Parallelism::None,
        )
    }
}

gemm_with!(
    sgemm_with,
    f32,
    matrixmultiply::sgemm,
    gemm_f32::gemm::f32::get_gemm_fn
);
gemm_with!(
    dgemm_with,
    f64,
    matrixmultiply::dgemm,
    gemm_f64::gemm::f64::get_gemm_fn
);
