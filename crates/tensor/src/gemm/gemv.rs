//! Products with very few rows (`m ≤` [`MAX_ROWS`]): a dense layer at batch 1 is `x·Wᵀ`
//! with one row in `x`, and its cost is reading `W` once.
//!
//! A GEMM kernel packs `B` into panels before multiplying; with one row of `A` each packed
//! value is used once, so packing doubles the memory traffic of a product that is bound by
//! memory. Here `B` is read in place, once, by one of two kernels chosen by its layout:
//!
//! - columns of `B` contiguous (`B = Wᵀ` of a row-major `W`): each `C[i, j]` is a dot
//!   product of two contiguous vectors, summed in [`LANES`] interleaved partial sums that
//!   are added in a fixed order at the end;
//! - rows of `B` contiguous: each row of `C` is a sum of rows of `B` scaled by `A[i, p]`,
//!   accumulated over `p` in order (the naive summation order).
//!
//! Work is split into fixed blocks of columns of `C`; each element's summation order
//! depends only on `k`, so results are bitwise identical for any number of threads.

use rayon::prelude::*;

use super::MatRef;
use crate::element::Element;

/// The most rows of `A` (and `C`) the kernels here take.
pub(crate) const MAX_ROWS: usize = 4;

/// Partial sums per dot product: wide enough for two 512-bit vectors of `f32`.
const LANES: usize = 32;

/// Columns of `C` per parallel task.
const BLOCK_COLS: usize = 256;

/// Whether [`gemv`] takes this product: few rows, a contiguous row in `A` and contiguous
/// columns or rows in `B`.
pub(crate) fn applies<T>(a: &MatRef<'_, T>, b: &MatRef<'_, T>) -> bool {
    a.rows <= MAX_ROWS
        && (a.col_stride == 1 || a.cols <= 1)
        && (b.row_stride == 1 || b.col_stride == 1)
}

/// `C = A·B` or `C += A·B` (with `accumulate`) for a row-major `C` of `m·n` elements, where
/// [`applies`] holds.
pub(crate) fn gemv<T: Element>(a: MatRef<'_, T>, b: MatRef<'_, T>, c: &mut [T], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let row = |i: usize| -> &[T] { &a.data[a.offset + i * a.row_stride..][..k] };
    let columns_contiguous = b.row_stride == 1;
    // Each task owns columns j0..j0 + BLOCK_COLS of every row of C; rows are far apart in
    // `c`, so the tasks get one block of columns per row through `chunks_mut`.
    let blocks = n.div_ceil(BLOCK_COLS);
    let mut rows: Vec<Vec<&mut [T]>> = (0..blocks).map(|_| Vec::with_capacity(m)).collect();
    for c_row in c.chunks_mut(n) {
        for (blk, part) in c_row.chunks_mut(BLOCK_COLS).enumerate() {
            rows[blk].push(part);
        }
    }
    let run = |(blk, mut out): (usize, Vec<&mut [T]>)| {
        let j0 = blk * BLOCK_COLS;
        if columns_contiguous {
            for (jj, j) in (j0..j0 + out[0].len()).enumerate() {
                let col = &b.data[b.offset + j * b.col_stride..][..k];
                for (i, o) in out.iter_mut().enumerate() {
                    let v = dot(row(i), col);
                    o[jj] = if accumulate { o[jj] + v } else { v };
                }
            }
        } else {
            let width = out[0].len();
            for (i, o) in out.iter_mut().enumerate() {
                if !accumulate {
                    o.fill(T::zero());
                }
                for (p, &x) in row(i).iter().enumerate() {
                    let b_row = &b.data[b.offset + p * b.row_stride + j0 * b.col_stride..][..width];
                    axpy(x, b_row, o);
                }
            }
        }
    };
    if m * k * n < super::PARALLEL_MIN_WORK || blocks == 1 {
        rows.into_iter().enumerate().for_each(run);
    } else {
        rows.into_par_iter().enumerate().for_each(run);
    }
}

/// `Σ x[p]·y[p]` summed in [`LANES`] interleaved partial sums, then the partial sums in
/// order, then the tail: the same bits on every CPU (no fused multiply-add is formed).
#[inline]
fn dot<T: Element>(x: &[T], y: &[T]) -> T {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { dot_avx512(x, y) };
        }
    }
    dot_portable(x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512<T: Element>(x: &[T], y: &[T]) -> T {
    dot_portable(x, y)
}

#[inline(always)]
fn dot_portable<T: Element>(x: &[T], y: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xt, yt) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for ((a, &x), &y) in acc.iter_mut().zip(xs).zip(ys) {
            *a = *a + x * y;
        }
    }
    let mut sum = T::zero();
    for a in acc {
        sum = sum + a;
    }
    for (&a, &b) in xt.iter().zip(yt) {
        sum = sum + a * b;
    }
    sum
}

/// `out[j] += x·row[j]`.
#[inline]
fn axpy<T: Element>(x: T, row: &[T], out: &mut [T]) {
    for (o, &r) in out.iter_mut().zip(row) {
        *o = *o + x * r;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::super::gemm_naive;
    use super::*;

    fn random(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// Checks the kernel against the naive product for `B` stored transposed or not.
    fn check(m: usize, k: usize, n: usize, transposed: bool, accumulate: bool, seed: u64) {
        let ad = random(m * k, seed);
        let bd = random(k * n, seed + 1);
        let a = MatRef::new("test", &ad, 0, m, k, k, 1).unwrap();
        let b = if transposed {
            MatRef::new("test", &bd, 0, k, n, 1, k).unwrap()
        } else {
            MatRef::new("test", &bd, 0, k, n, n, 1).unwrap()
        };
        assert!(applies(&a, &b));
        let start = random(m * n, seed + 2);
        let mut expected = start.clone();
        gemm_naive(a, b, &mut expected, accumulate);
        let mut got = if accumulate {
            start
        } else {
            vec![f64::NAN; m * n]
        };
        gemv(a, b, &mut got, accumulate);
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() <= 1e-12 * (k as f64 + 1.0), "{g} vs {e}");
        }
    }

    #[test]
    fn matches_naive_on_edge_sizes() {
        for (m, k, n) in [
            (1, 0, 3),
            (1, 1, 1),
            (1, 31, 257),
            (2, 33, 5),
            (4, 100, 600),
        ] {
            for transposed in [false, true] {
                check(m, k, n, transposed, false, 1);
                check(m, k, n, transposed, true, 2);
            }
        }
    }

    #[test]
    fn bitwise_identical_with_one_and_two_threads() {
        let (k, n) = (3000, 700);
        let ad: Vec<f32> = random(k, 5).into_iter().map(|v| v as f32).collect();
        let bd: Vec<f32> = random(k * n, 6).into_iter().map(|v| v as f32).collect();
        let a = MatRef::new("test", &ad, 0, 1, k, k, 1).unwrap();
        let b = MatRef::new("test", &bd, 0, k, n, 1, k).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut c = vec![0.0f32; n];
            pool.install(|| gemv(a, b, &mut c, false));
            c
        };
        assert_eq!(run(1), run(2));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn gemv_matches_naive(
            m in 1usize..=MAX_ROWS,
            k in 0usize..200,
            n in 1usize..600,
            transposed: bool,
            accumulate: bool,
            seed in 0u64..1000,
        ) {
            check(m, k, n, transposed, accumulate, seed);
        }
    }
}
