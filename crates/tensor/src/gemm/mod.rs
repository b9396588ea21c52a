//! The crate's parallel general matrix multiply, for `matmul` and the convolution kernels.
//!
//! [`gemm`] computes `C = A·B` (or `C += A·B`) for strided `A` and `B` and a row-major `C`.
//! It splits `C` into blocks whose size depends only on the problem's shape, never on the
//! number of threads, and computes each block with one single-threaded call of
//! [`Element::gemm_raw`] over the whole `k` range, so every element of `C` is summed in the
//! same order whatever the thread count: results are bitwise identical for any
//! `RAYON_NUM_THREADS`.

pub(crate) mod backend;
mod gemv;

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::shared_mut::SharedMut;

/// Rows of `C` per parallel block.
const BLOCK_M: usize = 256;
/// Columns of `C` per parallel block.
const BLOCK_N: usize = 512;
/// Below this many multiply-adds a product runs as one block on the calling thread.
const PARALLEL_MIN_WORK: usize = 1 << 18;

/// A read-only strided matrix: `rows × cols` elements of `data`, element `(i, j)` at
/// `offset + i·row_stride + j·col_stride`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatRef<'a, T> {
    data: &'a [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A strided view of `data`; fails (naming `op`) if any element lies outside `data`.
    pub(crate) fn new(
        op: &'static str,
        data: &'a [T],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        if rows > 0 && cols > 0 {
            let last = (rows - 1)
                .checked_mul(row_stride)
                .and_then(|r| (cols - 1).checked_mul(col_stride).map(|c| (r, c)))
                .and_then(|(r, c)| r.checked_add(c))
                .and_then(|rc| rc.checked_add(offset));
            match last {
                Some(last) if last < data.len() => {}
                _ => {
                    return Err(TensorError::invalid(
                        op,
                        format!(
                            "a {rows}×{cols} matrix at offset {offset} with strides \
                             ({row_stride}, {col_stride}) does not fit in {} elements",
                            data.len()
                        ),
                    ))
                }
            }
        }
        Ok(Self {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A contiguous row-major `rows × cols` matrix.
    #[allow(dead_code)] // for the convolution kernels
    pub(crate) fn row_major(
        op: &'static str,
        data: &'a [T],
        rows: usize,
        cols: usize,
    ) -> Result<Self> {
        Self::new(op, data, 0, rows, cols, cols, 1)
    }

    /// The transposed view (no copy).
    #[allow(dead_code)] // for the convolution kernels
    pub(crate) fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Pointer to element `(i, j)`; `(i, j)` must be inside the matrix or one past its
    /// last row or column with the other index 0.
    fn ptr_at(&self, i: usize, j: usize) -> *const T {
        let pos = self.offset + i * self.row_stride + j * self.col_stride;
        self.data.as_ptr().wrapping_add(pos)
    }
}

/// The block sizes of `C` for an `m×k·k×n` product: a function of the shape only.
fn block_sizes(m: usize, n: usize, k: usize) -> (usize, usize) {
    if m.saturating_mul(n).saturating_mul(k) < PARALLEL_MIN_WORK {
        return (m.max(1), n.max(1));
    }
    (BLOCK_M, BLOCK_N)
}

/// `C = A·B`, or `C += A·B` with `accumulate`, for `A` of `m×k`, `B` of `k×n` and a
/// row-major `C` of `m·n` elements; parallel over fixed-size blocks of `C` (see the
/// module documentation for why results do not depend on the thread count).
pub(crate) fn gemm<T: Element>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    c: &mut [T],
    accumulate: bool,
) -> Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        return Err(TensorError::shape(
            "gemm",
            format!("inner dimensions differ: [{m}, {k}] × [{}, {n}]", b.rows),
        ));
    }
    if c.len() != m * n {
        return Err(TensorError::shape(
            "gemm",
            format!(
                "output has {} elements but [{m}, {k}] × [{k}, {n}] needs {}",
                c.len(),
                m * n
            ),
        ));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            c.fill(T::zero());
        }
        return Ok(());
    }
    if gemv::applies(&a, &b) {
        gemv::gemv(a, b, c, accumulate);
        return Ok(());
    }
    let (bm, bn) = block_sizes(m, n, k);
    let (blocks_m, blocks_n) = (m.div_ceil(bm), n.div_ceil(bn));
    let c_ptr = SharedMut(c.as_mut_ptr());
    let run_block = |block: usize| {
        let (i0, j0) = ((block / blocks_n) * bm, (block % blocks_n) * bn);
        let (rows, cols) = (bm.min(m - i0), bn.min(n - j0));
        let beta = if accumulate { T::one() } else { T::zero() };
        // SAFETY: `MatRef::new` checked that A and B lie inside their slices, `c` has
        // m·n elements, and the block lies inside all three; blocks write disjoint parts of
        // C, which is a `&mut` slice and so overlaps neither A nor B.
        unsafe {
            T::gemm_raw(
                rows,
                k,
                cols,
                T::one(),
                a.ptr_at(i0, 0),
                a.row_stride as isize,
                a.col_stride as isize,
                b.ptr_at(0, j0),
                b.row_stride as isize,
                b.col_stride as isize,
                beta,
                c_ptr.get().add(i0 * n + j0),
                n as isize,
                1,
            );
        }
    };
    let blocks = blocks_m * blocks_n;
    if blocks == 1 {
        run_block(0);
    } else {
        (0..blocks).into_par_iter().for_each(run_block);
    }
    Ok(())
}

/// The naive triple loop the fast paths are tested against: `C = A·B` (or `C += A·B`),
/// summing over `k` in order.
#[cfg(test)]
pub(crate) fn gemm_naive<T: Element>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    c: &mut [T],
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    for i in 0..m {
        for j in 0..n {
            let mut sum = T::zero();
            for p in 0..k {
                let x = a.data[a.offset + i * a.row_stride + p * a.col_stride];
                let y = b.data[b.offset + p * b.row_stride + j * b.col_stride];
                sum = sum + x * y;
            }
            let slot = &mut c[i * n + j];
            *slot = if accumulate { *slot + sum } else { sum };
        }
    }
}

#[cfg(test)]
mod tests {
    //! Tests of the parallel GEMM and of every single-threaded backend.

    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::backend::{dgemm_with, sgemm_with, Backend};
    use super::*;

    /// Whole numbers in [-4, 4], so that every product and sum is exact.
    fn whole<T: Element>(len: usize, seed: u64) -> Vec<T> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..len)
            .map(|_| T::from_f64_lossy(f64::from(rng.random_range(-4i32..=4))))
            .collect()
    }

    /// An `rows × cols` matrix stored transposed (column-major) or row-major, with a padding
    /// of `pad` elements between rows/columns and a leading offset, to exercise strides.
    fn strided<T: Element>(
        rows: usize,
        cols: usize,
        transposed: bool,
        pad: usize,
        seed: u64,
    ) -> (Vec<T>, usize, usize, usize) {
        let offset = 3;
        let (outer, inner) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let ld = inner + pad;
        let data = whole::<T>(offset + outer * ld, seed);
        let (rs, cs) = if transposed { (1, ld) } else { (ld, 1) };
        (data, offset, rs, cs)
    }

    fn check_backend_f32(
        backend: Backend,
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        accumulate: bool,
    ) {
        let (ad, ao, ars, acs) = strided::<f32>(m, k, ta, 2, 1);
        let (bd, bo, brs, bcs) = strided::<f32>(k, n, tb, 1, 2);
        let a = MatRef::new("test", &ad, ao, m, k, ars, acs).unwrap();
        let b = MatRef::new("test", &bd, bo, k, n, brs, bcs).unwrap();
        let start = whole::<f32>(m * n, 3);
        let mut expected = start.clone();
        gemm_naive(a, b, &mut expected, accumulate);
        // A NaN start checks that C is not read when beta == 0.
        let mut got = if accumulate {
            start
        } else {
            vec![f32::NAN; m * n]
        };
        let beta = if accumulate { 1.0 } else { 0.0 };
        unsafe {
            sgemm_with(
                backend,
                m,
                k,
                n,
                1.0,
                a.ptr_at(0, 0),
                ars as isize,
                acs as isize,
                b.ptr_at(0, 0),
                brs as isize,
                bcs as isize,
                beta,
                got.as_mut_ptr(),
                n as isize,
                1,
            )
        };
        assert_eq!(
            got, expected,
            "{backend:?} m={m} k={k} n={n} ta={ta} tb={tb} acc={accumulate}"
        );
    }

    fn check_backend_f64(
        backend: Backend,
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        alpha: f64,
    ) {
        let (ad, ao, ars, acs) = strided::<f64>(m, k, ta, 0, 4);
        let (bd, bo, brs, bcs) = strided::<f64>(k, n, tb, 3, 5);
        let a = MatRef::new("test", &ad, ao, m, k, ars, acs).unwrap();
        let b = MatRef::new("test", &bd, bo, k, n, brs, bcs).unwrap();
        let start = whole::<f64>(m * n, 6);
        let mut prod = vec![0.0; m * n];
        gemm_naive(a, b, &mut prod, false);
        let expected: Vec<f64> = prod
            .iter()
            .zip(&start)
            .map(|(p, s)| alpha * p + 2.0 * s)
            .collect();
        let mut got = start;
        // C stored column-major here (rsc = 1, csc = m) to exercise C's strides too.
        let mut got_cm = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                got_cm[i + j * m] = got[i * n + j];
            }
        }
        unsafe {
            dgemm_with(
                backend,
                m,
                k,
                n,
                alpha,
                a.ptr_at(0, 0),
                ars as isize,
                acs as isize,
                b.ptr_at(0, 0),
                brs as isize,
                bcs as isize,
                2.0,
                got_cm.as_mut_ptr(),
                1,
                m as isize,
            )
        };
        for i in 0..m {
            for j in 0..n {
                got[i * n + j] = got_cm[i + j * m];
            }
        }
        assert_eq!(
            got, expected,
            "{backend:?} m={m} k={k} n={n} ta={ta} tb={tb}"
        );
    }

    /// Edge sizes: empty, single, and sizes that are not multiples of any kernel tile.
    const EDGE: [usize; 8] = [0, 1, 2, 7, 16, 17, 33, 70];

    #[test]
    fn every_backend_matches_naive_on_edge_sizes_f32() {
        for backend in Backend::ALL {
            for &m in &EDGE {
                for &k in &EDGE {
                    for &n in &EDGE {
                        let t = (m + k + n) % 4;
                        check_backend_f32(
                            backend,
                            m,
                            k,
                            n,
                            t & 1 == 1,
                            t & 2 == 2,
                            (m ^ n) & 1 == 1,
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_backend_matches_naive_on_edge_sizes_f64() {
        for backend in Backend::ALL {
            for &m in &EDGE {
                for &k in &EDGE {
                    for &n in &EDGE {
                        let t = (m * 3 + k + n) % 4;
                        check_backend_f64(backend, m, k, n, t & 1 == 1, t & 2 == 2, -1.0);
                    }
                }
            }
        }
    }

    #[test]
    fn every_backend_handles_negative_strides() {
        // A with its rows reversed, B with its columns reversed, C with its rows reversed:
        // the gemm-crate path normalises these before calling its kernel.
        let (m, k, n) = (19, 13, 23);
        let ad = whole::<f32>(m * k, 21);
        let bd = whole::<f32>(k * n, 22);
        let mut expected = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut sum = 0.0;
                for p in 0..k {
                    sum += ad[(m - 1 - i) * k + p] * bd[p * n + (n - 1 - j)];
                }
                expected[(m - 1 - i) * n + j] = sum;
            }
        }
        for backend in Backend::ALL {
            let mut got = vec![f32::NAN; m * n];
            unsafe {
                sgemm_with(
                    backend,
                    m,
                    k,
                    n,
                    1.0,
                    ad.as_ptr().add((m - 1) * k),
                    -(k as isize),
                    1,
                    bd.as_ptr().add(n - 1),
                    n as isize,
                    -1,
                    0.0,
                    got.as_mut_ptr().add((m - 1) * n),
                    -(n as isize),
                    1,
                )
            };
            assert_eq!(got, expected, "{backend:?}");
        }
    }

    #[test]
    fn gemm_crate_backend_matches_matrixmultiply_on_random_floats() {
        // Not exact (the kernels sum in different orders), so compare with a tolerance.
        let (m, k, n) = (67, 301, 45);
        let mut rng = StdRng::seed_from_u64(7);
        let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let run = |backend| {
            let mut c = vec![0.0f32; m * n];
            unsafe {
                sgemm_with(
                    backend,
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            };
            c
        };
        let (x, y) = (run(Backend::MatrixMultiply), run(Backend::GemmCrate));
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() <= 1e-4 * (1.0 + p.abs()), "{p} vs {q}");
        }
    }

    #[test]
    fn parallel_gemm_matches_naive_across_blocks() {
        // Larger than one block in both directions, with partial edge blocks.
        let (m, k, n) = (BLOCK_M + 37, 19, BLOCK_N + 5);
        for accumulate in [false, true] {
            let (ad, ao, ars, acs) = strided::<f64>(m, k, true, 1, 8);
            let (bd, bo, brs, bcs) = strided::<f64>(k, n, false, 2, 9);
            let a = MatRef::new("test", &ad, ao, m, k, ars, acs).unwrap();
            let b = MatRef::new("test", &bd, bo, k, n, brs, bcs).unwrap();
            let mut expected = whole::<f64>(m * n, 10);
            let mut got = expected.clone();
            gemm_naive(a, b, &mut expected, accumulate);
            gemm(a, b, &mut got, accumulate).unwrap();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn results_are_bitwise_identical_with_one_and_two_threads() {
        let mut rng = StdRng::seed_from_u64(11);
        // A square product over several blocks and a tall im2col-like one.
        for (m, k, n) in [(300, 257, 530), (1100, 75, 64), (33, 500, 700)] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let run = |threads: usize| -> Vec<f32> {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    let mut c = vec![0.0f32; m * n];
                    let a = MatRef::row_major("test", &a, m, k).unwrap();
                    let b = MatRef::row_major("test", &b, k, n).unwrap();
                    gemm(a, b, &mut c, false).unwrap();
                    c
                })
            };
            let (one, two) = (run(1), run(2));
            assert!(
                one.iter()
                    .zip(&two)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{m}×{k}×{n} differs between 1 and 2 threads"
            );
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let data = vec![0.0f32; 12];
        let a = MatRef::row_major("test", &data, 2, 3).unwrap();
        let b = MatRef::row_major("test", &data, 4, 3).unwrap();
        let mut c = vec![0.0f32; 6];
        let err = gemm(a, b, &mut c, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gemm: inner dimensions differ: [2, 3] × [4, 3]"
        );
        let b = MatRef::row_major("test", &data, 3, 4).unwrap();
        let mut c = vec![0.0f32; 7];
        assert!(gemm(a, b, &mut c, false)
            .unwrap_err()
            .to_string()
            .contains("output has 7 elements"));
        assert!(MatRef::new("conv2d", &data, 1, 4, 3, 3, 1).is_err());
        assert!(MatRef::new("conv2d", &data, 0, 4, 3, 3, 1).is_ok());
        assert!(MatRef::new("conv2d", &data, 0, 2, 3, usize::MAX, 1).is_err());
        // An empty matrix fits anywhere.
        assert!(MatRef::new("conv2d", &data, 100, 0, 3, 3, 1).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn parallel_gemm_matches_naive(
            m in 0usize..90, k in 0usize..40, n in 0usize..90,
            ta: bool, tb: bool, accumulate: bool, seed: u64,
        ) {
            let (ad, ao, ars, acs) = strided::<f32>(m, k, ta, 1, seed);
            let (bd, bo, brs, bcs) = strided::<f32>(k, n, tb, 0, seed ^ 1);
            let a = MatRef::new("test", &ad, ao, m, k, ars, acs).unwrap();
            let b = MatRef::new("test", &bd, bo, k, n, brs, bcs).unwrap();
            let mut expected = whole::<f32>(m * n, seed ^ 2);
            let mut got = expected.clone();
            gemm_naive(a, b, &mut expected, accumulate);
            gemm(a, b, &mut got, accumulate).unwrap();
            prop_assert_eq!(got, expected);
        }
    }
}
