//! Element-wise operations: unary maps and binary operations with NumPy broadcasting.
//!
//! All results are new contiguous tensors. Large tensors are processed in parallel in fixed
//! chunks; each element is computed independently, so the result never depends on the
//! number of threads.

use rayon::prelude::*;

use crate::buffer;
use crate::element::Element;
use crate::error::Result;
use crate::layout::Layout;
use crate::shape::broadcast_shapes;
use crate::strided_index::StridedIndex;
use crate::tensor::Tensor;

/// Tensors with fewer elements than this are processed on the calling thread.
const PARALLEL_THRESHOLD: usize = 1 << 15;
/// Elements per parallel work item.
const CHUNK: usize = 1 << 13;

/// Fills `out` (row-major over `layout`'s shape) with `f(position)` for each storage position.
fn fill_strided<T: Element>(layout: &Layout, out: &mut [T], f: impl Fn(usize) -> T + Sync) {
    if out.len() < PARALLEL_THRESHOLD {
        for (slot, pos) in out.iter_mut().zip(layout.offsets()) {
            *slot = f(pos);
        }
        return;
    }
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| {
            for (slot, pos) in chunk
                .iter_mut()
                .zip(StridedIndex::starting_at(layout, i * CHUNK))
            {
                *slot = f(pos);
            }
        });
}

impl<T: Element> Tensor<T> {
    /// Applies `f` to every element.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let t = Tensor::<f32>::from_vec(vec![1., -2.], &[2])?;
    /// assert_eq!(t.map(|x| x * 10.).to_vec(), vec![10., -20.]);
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn map(&self, f: impl Fn(T) -> T + Sync + Send) -> Self {
        let mut out = buffer::dirty(self.numel());
        match self.as_slice() {
            Some(src) if src.len() >= PARALLEL_THRESHOLD => out
                .par_chunks_mut(CHUNK)
                .zip(src.par_chunks(CHUNK))
                .for_each(|(o, s)| o.iter_mut().zip(s).for_each(|(o, &s)| *o = f(s))),
            Some(src) => out.iter_mut().zip(src).for_each(|(o, &s)| *o = f(s)),
            None => {
                let storage = self.storage();
                fill_strided(self.layout(), &mut out, |pos| f(storage[pos]));
            }
        }
        Self::from_contiguous(out, self.shape())
    }

    /// Combines two tensors element by element after broadcasting them to a common shape.
    /// `op` names the operation in errors.
    pub fn zip_map(
        &self,
        other: &Self,
        op: &'static str,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<Self> {
        let shape = broadcast_shapes(op, self.shape(), other.shape())?;
        let lhs = self.layout().broadcast_to(&shape)?;
        let rhs = other.layout().broadcast_to(&shape)?;
        let (a, b) = (self.storage(), other.storage());
        let mut out = buffer::dirty(crate::shape::numel(&shape));
        match (lhs.contiguous_range(), rhs.contiguous_range()) {
            (Some(ra), Some(rb)) => {
                let (a, b) = (&a[ra], &b[rb]);
                if out.len() >= PARALLEL_THRESHOLD {
                    out.par_chunks_mut(CHUNK)
                        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
                        .for_each(|(o, (x, y))| {
                            for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                                *o = f(x, y);
                            }
                        });
                } else {
                    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                        *o = f(x, y);
                    }
                }
            }
            _ => {
                // Walk both layouts together: pair the i-th logical positions.
                let fill = |start: usize, chunk: &mut [T]| {
                    let pairs = StridedIndex::starting_at(&lhs, start)
                        .zip(StridedIndex::starting_at(&rhs, start));
                    for (o, (pa, pb)) in chunk.iter_mut().zip(pairs) {
                        *o = f(a[pa], b[pb]);
                    }
                };
                if out.len() >= PARALLEL_THRESHOLD {
                    out.par_chunks_mut(CHUNK)
                        .enumerate()
                        .for_each(|(i, chunk)| fill(i * CHUNK, chunk));
                } else {
                    fill(0, &mut out);
                }
            }
        }
        Ok(Self::from_contiguous(out, &shape))
    }
}

/// Declares broadcasting binary operations as methods.
macro_rules! binary_ops {
    ($($(#[$doc:meta])* $name:ident => |$a:ident, $b:ident| $body:expr;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self, other: &Self) -> Result<Self> {
                    self.zip_map(other, stringify!($name), |$a, $b| $body)
                }
            )*
        }
    };
}

/// Declares unary operations as methods.
macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => |$x:ident| $body:expr;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Self {
                    self.map(|$x| $body)
                }
            )*
        }
    };
}

/// Declares operations with a scalar operand as methods.
macro_rules! scalar_ops {
    ($($(#[$doc:meta])* $name:ident => |$x:ident, $s:ident| $body:expr;)*) => {
        impl<T: Element> Tensor<T> {
            $(
                $(#[$doc])*
                pub fn $name(&self, $s: T) -> Self {
                    self.map(|$x| $body)
                }
            )*
        }
    };
}

fn mask<T: Element>(condition: bool) -> T {
    if condition {
        T::one()
    } else {
        T::zero()
    }
}

binary_ops! {
    /// `self + other`, broadcasting.
    add => |a, b| a + b;
    /// `self - other`, broadcasting.
    sub => |a, b| a - b;
    /// `self * other`, broadcasting.
    mul => |a, b| a * b;
    /// `self / other`, broadcasting.
    div => |a, b| a / b;
    /// `self ^ other` element-wise, broadcasting.
    pow => |a, b| a.powf(b);
    /// The larger of the two elements (NaN if either is NaN), broadcasting.
    maximum => |a, b| if a.is_nan() || b.is_nan() { T::nan() } else { a.max(b) };
    /// The smaller of the two elements (NaN if either is NaN), broadcasting.
    minimum => |a, b| if a.is_nan() || b.is_nan() { T::nan() } else { a.min(b) };
    /// Mask: 1 where `self == other`, else 0.
    eq_mask => |a, b| mask(a == b);
    /// Mask: 1 where `self != other`, else 0.
    ne_mask => |a, b| mask(a != b);
    /// Mask: 1 where `self > other`, else 0.
    gt_mask => |a, b| mask(a > b);
    /// Mask: 1 where `self >= other`, else 0.
    ge_mask => |a, b| mask(a >= b);
    /// Mask: 1 where `self < other`, else 0.
    lt_mask => |a, b| mask(a < b);
    /// Mask: 1 where `self <= other`, else 0.
    le_mask => |a, b| mask(a <= b);
}

unary_ops! {
    /// `-self`.
    neg => |x| -x;
    /// `e^self`.
    exp => |x| x.exp();
    /// Natural logarithm.
    ln => |x| x.ln();
    /// Square root.
    sqrt => |x| x.sqrt();
    /// Absolute value.
    abs => |x| x.abs();
    /// `self²`.
    square => |x| x * x;
    /// `1 / self`.
    recip => |x| x.recip();
    /// `max(self, 0)` (NaN stays NaN).
    relu => |x| if x < T::zero() { T::zero() } else { x };
    /// The logistic function `1 / (1 + e^-x)`, computed without overflow for large `|x|`.
    sigmoid => |x| {
        if x >= T::zero() {
            T::one() / (T::one() + (-x).exp())
        } else {
            let e = x.exp();
            e / (T::one() + e)
        }
    };
    /// Hyperbolic tangent.
    tanh => |x| x.tanh();
    /// The sign: -1, 0 or 1.
    signum => |x| if x == T::zero() { T::zero() } else { x.signum() };
}

scalar_ops! {
    /// `self + s`.
    add_scalar => |x, s| x + s;
    /// `self - s`.
    sub_scalar => |x, s| x - s;
    /// `self * s`.
    mul_scalar => |x, s| x * s;
    /// `self / s`.
    div_scalar => |x, s| x / s;
    /// `self ^ s`.
    powf => |x, s| x.powf(s);
    /// `x` for `x > 0`, `slope · x` otherwise.
    leaky_relu => |x, slope| if x > T::zero() { x } else { x * slope };
    /// Mask: 1 where `self > s`, else 0.
    gt_scalar_mask => |x, s| mask(x > s);
    /// Mask: 1 where `self < s`, else 0.
    lt_scalar_mask => |x, s| mask(x < s);
}

impl<T: Element> Tensor<T> {
    /// Limits every element to `[min, max]`; an error if `min > max`. A NaN element stays
    /// NaN, as in `torch.clamp`, so that a divergence is not hidden behind the lower bound
    /// (`f64::max` would return the bound).
    pub fn clamp(&self, min: T, max: T) -> Result<Self> {
        if min > max || min.is_nan() || max.is_nan() {
            return Err(crate::TensorError::invalid(
                "clamp",
                format!("min {min} must not exceed max {max}"),
            ));
        }
        Ok(self.map(|x| if x.is_nan() { x } else { x.max(min).min(max) }))
    }

    /// Picks `on_true` where `mask` is non-zero and `on_false` elsewhere, broadcasting all
    /// three (like `torch.where`).
    pub fn where_mask(mask: &Self, on_true: &Self, on_false: &Self) -> Result<Self> {
        let shape = broadcast_shapes("where_mask", mask.shape(), on_true.shape())?;
        let shape = broadcast_shapes("where_mask", &shape, on_false.shape())?;
        let mask = mask.broadcast_to(&shape)?;
        let picked_true = mask.zip_map(&on_true.broadcast_to(&shape)?, "where_mask", |m, t| {
            if m != T::zero() {
                t
            } else {
                T::zero()
            }
        })?;
        let picked_false =
            mask.zip_map(&on_false.broadcast_to(&shape)?, "where_mask", |m, f| {
                if m != T::zero() {
                    T::zero()
                } else {
                    f
                }
            })?;
        // Exactly one of the two is non-zero at each position, so adding is exact.
        picked_true.add(&picked_false)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::testing::{int_tensor, layouts_for};
    use crate::Tensor;

    /// The reference: broadcast by explicit index arithmetic, element by element.
    fn reference_add(a: &Tensor<f64>, b: &Tensor<f64>) -> Option<(Vec<usize>, Vec<f64>)> {
        let shape = crate::shape::broadcast_shapes("add", a.shape(), b.shape()).ok()?;
        let n = crate::shape::numel(&shape);
        let mut out = Vec::with_capacity(n);
        for linear in 0..n {
            let mut idx = vec![0; shape.len()];
            let mut rest = linear;
            for axis in (0..shape.len()).rev() {
                idx[axis] = rest % shape[axis];
                rest /= shape[axis];
            }
            let pick = |t: &Tensor<f64>| {
                let lead = shape.len() - t.rank();
                let i: Vec<usize> = (0..t.rank())
                    .map(|k| if t.shape()[k] == 1 { 0 } else { idx[lead + k] })
                    .collect();
                t.get(&i).unwrap()
            };
            out.push(pick(a) + pick(b));
        }
        Some((shape, out))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn broadcast_add_matches_reference(
            (a, b) in layouts_for(4).prop_flat_map(|(sa, sb)| (int_tensor(sa), int_tensor(sb)))
        ) {
            let expected = reference_add(&a, &b);
            match a.add(&b) {
                Ok(sum) => {
                    let (shape, values) = expected.expect("reference broadcasts too");
                    prop_assert_eq!(sum.shape(), &shape[..]);
                    prop_assert_eq!(sum.to_vec(), values);
                }
                Err(_) => prop_assert!(expected.is_none()),
            }
        }

        #[test]
        fn strided_views_give_the_same_values_as_copies(t in int_tensor(vec![3, 4, 5])) {
            let view = t.permute(&[2, 0, 1]).unwrap().narrow(1, 1, 2).unwrap();
            let copy = view.contiguous();
            prop_assert_eq!(view.exp().to_vec(), copy.exp().to_vec());
            prop_assert_eq!(view.mul(&view).unwrap().to_vec(), copy.mul(&copy).unwrap().to_vec());
        }
    }

    #[test]
    fn large_strided_map_uses_parallel_chunks_correctly() {
        let n = 300 * 257;
        let t = Tensor::<f64>::from_vec((0..n).map(|i| i as f64).collect(), &[300, 257]).unwrap();
        let tt = t.t().unwrap();
        let doubled = tt.mul_scalar(2.0);
        let expected: Vec<f64> = tt.to_vec().iter().map(|v| v * 2.0).collect();
        assert_eq!(doubled.to_vec(), expected);
        let summed = tt.add(&tt.contiguous()).unwrap();
        assert_eq!(summed.to_vec(), expected);
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        let t = Tensor::<f32>::from_vec(vec![-1000., 0., 1000.], &[3]).unwrap();
        assert_eq!(t.sigmoid().to_vec(), vec![0., 0.5, 1.]);
    }

    #[test]
    fn masks_and_where() {
        let a = Tensor::<f32>::from_vec(vec![1., 5., 3.], &[3]).unwrap();
        let b = Tensor::<f32>::from_vec(vec![2.], &[1]).unwrap();
        let m = a.gt_mask(&b).unwrap();
        assert_eq!(m.to_vec(), vec![0., 1., 1.]);
        let w = Tensor::where_mask(&m, &a, &b.neg()).unwrap();
        assert_eq!(w.to_vec(), vec![-2., 5., 3.]);
        assert!(a.clamp(1., 0.).is_err());
        assert_eq!(a.clamp(2., 4.).unwrap().to_vec(), vec![2., 4., 3.]);
    }

    #[test]
    fn broadcast_error_names_op_and_shapes() {
        let a = Tensor::<f32>::zeros(&[2, 3]);
        let b = Tensor::<f32>::zeros(&[4]);
        assert_eq!(
            a.mul(&b).unwrap_err().to_string(),
            "mul: shapes [2, 3] and [4] cannot be broadcast together"
        );
    }
}
