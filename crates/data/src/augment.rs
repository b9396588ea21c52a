//! Composable, seeded augmentation and normalisation of samples.
//!
//! A [`Transform`] changes one [`Sample`] using a generator the loader derives from (seed,
//! epoch, sample index), so results do not depend on the thread count. [`Augment`] chains
//! transforms in order.

use rand::rngs::StdRng;
use rand::RngExt;
use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// One image as `f32` values, channel-major `[channels, height, width]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The values, `shape[0] * shape[1] * shape[2]` of them.
    pub data: Vec<f32>,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
}

impl Sample {
    /// Whether `data` holds exactly `shape[0] * shape[1] * shape[2]` values.
    pub fn is_consistent(&self) -> bool {
        self.data.len() == self.shape.iter().product::<usize>()
    }
}

/// A step of augmentation or preprocessing.
pub trait Transform: Send + Sync {
    /// The shape of the output for an input of shape `input`, or an error when the input
    /// does not suit the transform (checked once, before any batch is built).
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]>;

    /// Transforms `sample` in place (it may change its shape as `output_shape` says). A
    /// sample whose shape `output_shape` rejects, or that is not
    /// [consistent](Sample::is_consistent), is left unchanged; the loader checks the
    /// shapes before building any batch.
    fn apply(&self, sample: &mut Sample, rng: &mut StdRng);
}

/// A chain of transforms applied in order.
#[derive(Default)]
pub struct Augment {
    steps: Vec<Box<dyn Transform>>,
}

impl std::fmt::Debug for Augment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Augment({} steps)", self.steps.len())
    }
}

impl Augment {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `step`.
    pub fn then(mut self, step: impl Transform + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }
}

impl Transform for Augment {
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        self.steps.iter().try_fold(input, |s, t| t.output_shape(s))
    }

    fn apply(&self, sample: &mut Sample, rng: &mut StdRng) {
        for step in &self.steps {
            step.apply(sample, rng);
        }
    }
}

fn check_fraction(op: &'static str, name: &str, v: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&v) {
        return Err(DataError::invalid(
            op,
            format!("{name} must be in [0, 1], found {v}"),
        ));
    }
    Ok(())
}

/// Random translation by a whole number of pixels drawn uniformly from
/// `[-fraction·size, fraction·size]` on each axis, filling uncovered pixels with the nearest
/// edge pixel (Keras' `width_shift_range`/`height_shift_range` with `fill_mode="nearest"`,
/// rounded to whole pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomShift {
    width_fraction: f32,
    height_fraction: f32,
}

impl RandomShift {
    /// Shifts of up to `width_fraction` of the width and `height_fraction` of the height.
    pub fn new(width_fraction: f32, height_fraction: f32) -> Result<Self> {
        check_fraction("RandomShift::new", "width_fraction", width_fraction)?;
        check_fraction("RandomShift::new", "height_fraction", height_fraction)?;
        Ok(Self {
            width_fraction,
            height_fraction,
        })
    }
}

impl Transform for RandomShift {
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        Ok(input)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut StdRng) {
        let [_, h, w] = sample.shape;
        let draw = |rng: &mut StdRng, fraction: f32, size: usize| -> isize {
            let max = fraction * size as f32;
            if max <= 0.0 {
                0
            } else {
                rng.random_range(-max..=max).round() as isize
            }
        };
        let dx = draw(rng, self.width_fraction, w);
        let dy = draw(rng, self.height_fraction, h);
        if (dx, dy) == (0, 0) || h == 0 || w == 0 || !sample.is_consistent() {
            return;
        }
        shift(sample, dx, dy);
    }
}

/// Moves the content of a consistent, non-empty sample by `(dx, dy)` pixels, repeating the
/// edge pixels into the uncovered area.
fn shift(sample: &mut Sample, dx: isize, dy: isize) {
    let [_, h, w] = sample.shape;
    let src = std::mem::take(&mut sample.data);
    let mut out = vec![0.0; src.len()];
    // Each output row is a source row (clamped) shifted by dx, its edge repeated.
    let d = dx.unsigned_abs().min(w);
    for (y, dst) in out.chunks_exact_mut(w).enumerate() {
        let (ch, y) = (y / h, y % h);
        let sy = (y as isize - dy).clamp(0, h as isize - 1) as usize;
        let row = &src[(ch * h + sy) * w..(ch * h + sy + 1) * w];
        if dx >= 0 {
            dst[..d].fill(row[0]);
            dst[d..].copy_from_slice(&row[..w - d]);
        } else {
            dst[..w - d].copy_from_slice(&row[d..]);
            dst[w - d..].fill(row[w - 1]);
        }
    }
    sample.data = out;
}

/// Mirrors the image left-right with probability 1/2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HorizontalFlip;

impl Transform for HorizontalFlip {
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        Ok(input)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut StdRng) {
        if rng.random_bool(0.5) {
            let w = sample.shape[2];
            if w > 0 && sample.is_consistent() {
                sample.data.chunks_exact_mut(w).for_each(<[f32]>::reverse);
            }
        }
    }
}

/// Pads every side with `padding` zeros, then crops a random `height × width` window
/// (torchvision's `RandomCrop(size, padding)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomCrop {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// Zeros added on each side before cropping.
    pub padding: usize,
}

impl Transform for RandomCrop {
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        let [c, h, w] = input;
        let (ph, pw) = (h + 2 * self.padding, w + 2 * self.padding);
        if self.height == 0 || self.width == 0 || self.height > ph || self.width > pw {
            return Err(DataError::invalid(
                "RandomCrop",
                format!(
                    "crop {}×{} must be positive and fit the padded input {ph}×{pw} (input {input:?}, padding {})",
                    self.height, self.width, self.padding
                ),
            ));
        }
        Ok([c, self.height, self.width])
    }

    fn apply(&self, sample: &mut Sample, rng: &mut StdRng) {
        if !sample.is_consistent() || self.output_shape(sample.shape).is_err() {
            return;
        }
        let [_, h, w] = sample.shape;
        let p = self.padding;
        let top = rng.random_range(0..=h + 2 * p - self.height);
        let left = rng.random_range(0..=w + 2 * p - self.width);
        crop(sample, p, top, left, self.height, self.width);
    }
}

/// Crops the `oh × ow` window at `(top, left)` of a consistent sample padded with `p` zeros
/// on each side; the window must fit the padded sample.
fn crop(sample: &mut Sample, p: usize, top: usize, left: usize, oh: usize, ow: usize) {
    let [c, h, w] = sample.shape;
    let mut out = vec![0.0; c * oh * ow];
    // Output columns x whose source column left + x - p lies inside the input.
    let x0 = p.saturating_sub(left).min(ow);
    let x1 = (w + p).saturating_sub(left).clamp(x0, ow);
    for (y, dst) in out.chunks_exact_mut(ow).enumerate() {
        let (ch, y) = (y / oh, y % oh);
        // Row of the unpadded input, if inside it.
        let Some(sy) = (top + y).checked_sub(p).filter(|&sy| sy < h) else {
            continue;
        };
        let sx0 = (left + x0).saturating_sub(p);
        let row = &sample.data[(ch * h + sy) * w..(ch * h + sy + 1) * w];
        if x1 > x0 {
            dst[x0..x1].copy_from_slice(&row[sx0..sx0 + (x1 - x0)]);
        }
    }
    sample.data = out;
    sample.shape = [c, oh, ow];
}

/// Per-channel `(x - mean[c]) / std[c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// Normalisation with one mean and one standard deviation per channel.
    ///
    /// ```
    /// use strata_data::Normalize;
    /// let mnist = Normalize::new(vec![0.1307], vec![0.3081])?;
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        if mean.len() != std.len() || std.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
            return Err(DataError::invalid(
                "Normalize::new",
                format!("need one finite positive std per mean: mean {mean:?}, std {std:?}"),
            ));
        }
        Ok(Self { mean, std })
    }

    /// The ImageNet statistics of torchvision's models (RGB in `[0, 1]`).
    pub fn imagenet() -> Self {
        Self {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// Keras' `ImageDataGenerator(featurewise_center, featurewise_std_normalization)` fitted
    /// on `dataset`: per-channel mean over every sample and position (subtracted when
    /// `center`), and standard deviation plus `1e-6` (divided by when `std_normalization`).
    /// Sums are taken in f64 over fixed blocks of samples, so the result does not depend on
    /// the thread count.
    pub fn fit_featurewise<D: Dataset + ?Sized>(
        dataset: &D,
        center: bool,
        std_normalization: bool,
    ) -> Result<Self> {
        let [c, h, w] = dataset.sample_shape();
        let plane = h * w;
        const BLOCK: usize = 256;
        let n = dataset.len();
        if n == 0 || plane == 0 {
            return Err(DataError::invalid(
                "Normalize::fit_featurewise",
                format!("cannot fit on {n} samples of shape {:?}", [c, h, w]),
            ));
        }
        let blocks: Vec<Result<Vec<(f64, f64)>>> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let mut sums = vec![(0.0f64, 0.0f64); c];
                let mut buf = vec![0.0f32; c * plane];
                for i in b * BLOCK..((b + 1) * BLOCK).min(n) {
                    dataset.read(i, &mut buf)?;
                    for (ch, s) in sums.iter_mut().enumerate() {
                        for &v in &buf[ch * plane..(ch + 1) * plane] {
                            s.0 += f64::from(v);
                            s.1 += f64::from(v) * f64::from(v);
                        }
                    }
                }
                Ok(sums)
            })
            .collect();
        let mut total = vec![(0.0f64, 0.0f64); c];
        for block in blocks {
            for (t, s) in total.iter_mut().zip(block?) {
                t.0 += s.0;
                t.1 += s.1;
            }
        }
        let count = (n * plane) as f64;
        let (mut mean, mut std) = (Vec::new(), Vec::new());
        for (s, s2) in total {
            let m = s / count;
            let var = (s2 / count - m * m).max(0.0);
            mean.push(if center { m as f32 } else { 0.0 });
            std.push(if std_normalization {
                (var.sqrt() + 1e-6) as f32
            } else {
                1.0
            });
        }
        Ok(Self { mean, std })
    }

    /// The per-channel means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The per-channel standard deviations.
    pub fn std(&self) -> &[f32] {
        &self.std
    }
}

impl Transform for Normalize {
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3]> {
        if input[0] != self.mean.len() {
            return Err(DataError::invalid(
                "Normalize",
                format!(
                    "{} channel statistics for input of shape {input:?}",
                    self.mean.len()
                ),
            ));
        }
        Ok(input)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut StdRng) {
        let plane = sample.shape[1] * sample.shape[2];
        if plane == 0 || !sample.is_consistent() || self.output_shape(sample.shape).is_err() {
            return;
        }
        for (ch, values) in sample.data.chunks_exact_mut(plane).enumerate() {
            let (m, inv) = (self.mean[ch], 1.0 / self.std[ch]);
            values.iter_mut().for_each(|v| *v = (*v - m) * inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::InMemoryDataset;
    use rand::SeedableRng;

    fn ramp(shape: [usize; 3]) -> Sample {
        let n = shape.iter().product::<usize>();
        Sample {
            data: (0..n).map(|i| i as f32).collect(),
            shape,
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(1)
    }

    /// Naive reference of [`shift`]: one pixel at a time.
    fn naive_shift(s: &Sample, dx: isize, dy: isize) -> Vec<f32> {
        let [c, h, w] = s.shape;
        let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
        let mut out = vec![0.0; s.data.len()];
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let (sy, sx) = (clamp(y as isize - dy, h), clamp(x as isize - dx, w));
                    out[(ch * h + y) * w + x] = s.data[(ch * h + sy) * w + sx];
                }
            }
        }
        out
    }

    /// Naive reference of [`crop`]: pad into a new buffer, then copy the window.
    fn naive_crop(s: &Sample, p: usize, top: usize, left: usize, oh: usize, ow: usize) -> Vec<f32> {
        let [c, h, w] = s.shape;
        let (ph, pw) = (h + 2 * p, w + 2 * p);
        let mut padded = vec![0.0; c * ph * pw];
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    padded[(ch * ph + y + p) * pw + x + p] = s.data[(ch * h + y) * w + x];
                }
            }
        }
        let mut out = Vec::new();
        for ch in 0..c {
            for y in 0..oh {
                for x in 0..ow {
                    out.push(padded[(ch * ph + top + y) * pw + left + x]);
                }
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        #[test]
        fn shift_matches_naive(c in 1usize..3, h in 1usize..7, w in 1usize..7, dx in -8isize..8, dy in -8isize..8) {
            let mut s = ramp([c, h, w]);
            let expect = naive_shift(&s, dx, dy);
            shift(&mut s, dx, dy);
            proptest::prop_assert_eq!(s.data, expect);
        }

        #[test]
        fn crop_matches_naive(c in 1usize..3, h in 1usize..6, w in 1usize..6, p in 0usize..4,
                              oh in 1usize..8, ow in 1usize..8, t in 0usize..16, l in 0usize..16) {
            let (oh, ow) = (oh.min(h + 2 * p), ow.min(w + 2 * p));
            let (top, left) = (t % (h + 2 * p - oh + 1), l % (w + 2 * p - ow + 1));
            let mut s = ramp([c, h, w]);
            let expect = naive_crop(&s, p, top, left, oh, ow);
            crop(&mut s, p, top, left, oh, ow);
            proptest::prop_assert_eq!(s.shape, [c, oh, ow]);
            proptest::prop_assert_eq!(s.data, expect);
        }
    }

    #[test]
    fn flip_mirrors_rows_or_not() {
        let mut flipped = 0;
        for seed in 0..20 {
            let mut s = ramp([2, 2, 3]);
            HorizontalFlip.apply(&mut s, &mut StdRng::seed_from_u64(seed));
            if s.data[0] == 2.0 {
                flipped += 1;
                assert_eq!(s.data, [2., 1., 0., 5., 4., 3., 8., 7., 6., 11., 10., 9.]);
            } else {
                assert_eq!(s, ramp([2, 2, 3]));
            }
        }
        assert!((3..=17).contains(&flipped), "{flipped}");
    }

    #[test]
    fn shift_moves_content_and_replicates_edges() {
        let t = RandomShift::new(0.5, 0.0).unwrap();
        let mut seen_shift = false;
        for seed in 0..20 {
            let mut s = ramp([1, 1, 4]);
            t.apply(&mut s, &mut StdRng::seed_from_u64(seed));
            // A shift of a ramp by d with nearest fill is clamp(x - d) for one d in [-2, 2].
            let shifted = |d: isize| -> Vec<f32> {
                (0..4isize).map(|x| (x - d).clamp(0, 3) as f32).collect()
            };
            let d = (-2..=2).find(|&d| s.data == shifted(d));
            let Some(d) = d else {
                panic!("seed {seed}: {:?} is no shift", s.data)
            };
            seen_shift |= d != 0;
        }
        assert!(seen_shift);
        assert!(RandomShift::new(1.5, 0.0).is_err());
    }

    #[test]
    fn crop_with_padding_keeps_a_window() {
        let t = RandomCrop {
            height: 2,
            width: 2,
            padding: 1,
        };
        assert_eq!(t.output_shape([1, 2, 2]).unwrap(), [1, 2, 2]);
        assert!(RandomCrop {
            height: 5,
            width: 2,
            padding: 1
        }
        .output_shape([1, 2, 2])
        .is_err());
        let mut windows = std::collections::HashSet::new();
        for seed in 0..60 {
            let mut s = ramp([1, 2, 2]);
            t.apply(&mut s, &mut StdRng::seed_from_u64(seed));
            windows.insert(s.data.iter().map(|&v| v as i32).collect::<Vec<_>>());
        }
        // The 9 windows of the 4×4 padded image [[0,0,0,0],[0,0,1,0],[0,2,3,0],[0,0,0,0]].
        assert_eq!(windows.len(), 9);
        assert!(windows.contains(&vec![0, 1, 2, 3]));
        assert!(windows.contains(&vec![0, 0, 0, 0]));
        assert!(windows.contains(&vec![3, 0, 0, 0]));
    }

    #[test]
    fn normalize_and_featurewise_fit() {
        let mut s = ramp([2, 1, 2]);
        let n = Normalize::new(vec![1.0, 2.0], vec![2.0, 0.5]).unwrap();
        n.apply(&mut s, &mut rng());
        assert_eq!(s.data, [-0.5, 0.0, 0.0, 2.0]);
        assert!(n.output_shape([3, 1, 1]).is_err());
        assert!(Normalize::new(vec![0.0], vec![0.0]).is_err());

        let d = InMemoryDataset::new(
            vec![0, 255, 51, 51, 255, 0, 51, 51],
            [2, 1, 2],
            vec![0, 0],
            vec!["a".into()],
        )
        .unwrap();
        let f = Normalize::fit_featurewise(&d, true, true).unwrap();
        assert!((f.mean()[0] - 0.5).abs() < 1e-6 && (f.mean()[1] - 0.2).abs() < 1e-6);
        assert!((f.std()[0] - 0.5).abs() < 1e-5 && (f.std()[1] - 1e-6).abs() < 1e-6);
        let c = Normalize::fit_featurewise(&d, true, false).unwrap();
        assert_eq!(c.std(), [1.0, 1.0]);
    }

    #[test]
    fn featurewise_fit_is_the_same_with_one_or_two_threads() {
        let shapes = crate::shapes::Shapes::new(600, 2);
        let fit = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| Normalize::fit_featurewise(&shapes, true, true).unwrap())
        };
        let one = fit(1);
        assert_eq!(one, fit(2));
        assert!(one.mean().iter().all(|m| (0.5..1.0).contains(m)), "{one:?}");
    }

    #[test]
    fn chain_reports_shapes_in_order() {
        let a = Augment::new()
            .then(RandomCrop {
                height: 3,
                width: 3,
                padding: 0,
            })
            .then(HorizontalFlip)
            .then(Normalize::new(vec![0.0], vec![1.0]).unwrap());
        assert_eq!(a.output_shape([1, 4, 4]).unwrap(), [1, 3, 3]);
        assert!(a.output_shape([2, 4, 4]).is_err());
        let mut s = ramp([1, 4, 4]);
        a.apply(&mut s, &mut rng());
        assert_eq!((s.shape, s.data.len()), ([1, 3, 3], 9));
    }
}
