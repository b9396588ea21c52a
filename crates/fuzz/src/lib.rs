//! Mutation fuzzing of Strata's file readers on stable Rust.
//!
//! Each [`Target`] has seed files (built here, or the committed fixtures of the readers'
//! crates); [`mutate`] damages a seed (bit flips, random bytes, boundary integers, cuts,
//! deletions, duplications; for compressed formats also the payload before recompressing),
//! and [`run`] feeds the result to the reader under `catch_unwind`. The `strata-fuzz` binary
//! runs a target for a number of seconds in a child process so that aborts (an allocation
//! failure, a stack overflow) and hangs are counted too; inputs that panic, abort or hang
//! are written out and belong in `regressions/`, which `tests/regressions.rs` replays.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use strata_data::cifar::encode_cifar;
use strata_data::idx::{encode_idx, parse_idx, read_idx};
use strata_data::{CifarReader, Split};
use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig};
use strata_layers::Sequential;

/// A reader under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// IDX bytes parsed in memory.
    Idx,
    /// A gzip-compressed IDX file.
    IdxGz,
    /// A CIFAR-10 binary batch in a folder.
    Cifar,
    /// A CIFAR-10 `.tar.gz` archive.
    CifarTarGz,
    /// A saved Strata model (`Sequential::load`).
    Model,
    /// PNG bytes through the guarded decoder.
    Png,
    /// JPEG bytes through the guarded decoder.
    Jpeg,
    /// PyTorch `.pth` files (zip and legacy).
    Pth,
    /// safetensors files (any dtype; the Strata model loader is [`Target::Model`]).
    Safetensors,
    /// Keras HDF5 weight files.
    Hdf5,
}

/// Every target, in the order the reliability report lists them.
pub const TARGETS: [Target; 10] = [
    Target::Idx,
    Target::IdxGz,
    Target::Cifar,
    Target::CifarTarGz,
    Target::Model,
    Target::Png,
    Target::Jpeg,
    Target::Pth,
    Target::Safetensors,
    Target::Hdf5,
];

impl Target {
    /// The target's name on the command line and in regression file names.
    pub fn name(self) -> &'static str {
        match self {
            Target::Idx => "idx",
            Target::IdxGz => "idx-gz",
            Target::Cifar => "cifar",
            Target::CifarTarGz => "cifar-tar-gz",
            Target::Model => "model",
            Target::Png => "png",
            Target::Jpeg => "jpeg",
            Target::Pth => "pth",
            Target::Safetensors => "safetensors",
            Target::Hdf5 => "hdf5",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        TARGETS.into_iter().find(|t| t.name() == name)
    }
}

/// What one input did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The reader accepted it.
    Accepted,
    /// The reader returned an error.
    Rejected,
    /// A decoder panicked and the reader's own guard turned it into an error (images).
    GuardedPanic,
    /// The reader panicked, with this message.
    Panicked(String),
}

/// A small xorshift generator: reproducible from its seed, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).ok()?;
    Some(out)
}

fn idx_seed() -> Vec<u8> {
    let data: Vec<u8> = (0..60u8).map(|i| i.wrapping_mul(37)).collect();
    encode_idx(&[3, 4, 5], &data).unwrap_or_default()
}

fn cifar_seed() -> Vec<u8> {
    let pixels: Vec<u8> = (0..2 * 3072).map(|i| (i % 251) as u8).collect();
    encode_cifar(&pixels, &[&[3, 7]]).unwrap_or_default()
}

const CIFAR_NAMES: &str = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";

/// A CIFAR-10 tar archive (not compressed) holding `batch` as the test batch.
fn cifar_tar(batch: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("cifar-10-batches-bin/test_batch.bin", batch),
        (
            "cifar-10-batches-bin/batches.meta.txt",
            CIFAR_NAMES.as_bytes(),
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        let _ = builder.append_data(&mut header, name, data);
    }
    builder.into_inner().unwrap_or_default()
}

fn model_seed(scratch: &Path) -> Vec<u8> {
    let path = scratch.join("seed.safetensors");
    let model = Sequential::<f32>::builder(&[1, 8, 8])
        .add(Conv2dConfig::new(2, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(2))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3))
        .build();
    match model.and_then(|m| m.save(&path)) {
        Ok(()) => std::fs::read(&path).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

fn image_seed(format: image::ImageFormat) -> Vec<u8> {
    let mut img = image::RgbImage::new(19, 13);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 13) as u8, (y * 19) as u8, ((x + y) * 7) as u8]);
    }
    let mut out = Vec::new();
    let _ =
        image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), format);
    out
}

/// The seed files of `target` (`scratch` is a folder for building them).
pub fn seeds(target: Target, scratch: &Path) -> Vec<Vec<u8>> {
    match target {
        Target::Idx => vec![idx_seed()],
        Target::IdxGz => vec![gzip(&idx_seed())],
        Target::Cifar => vec![cifar_seed()],
        Target::CifarTarGz => vec![gzip(&cifar_tar(&cifar_seed()))],
        Target::Model => vec![model_seed(scratch)],
        Target::Png => vec![image_seed(image::ImageFormat::Png)],
        Target::Jpeg => vec![image_seed(image::ImageFormat::Jpeg)],
        Target::Pth => vec![
            include_bytes!("../../import/tests/fixtures/tensors.pth").to_vec(),
            include_bytes!("../../import/tests/fixtures/tensors_legacy.pth").to_vec(),
        ],
        Target::Safetensors => {
            vec![include_bytes!("../../import/tests/fixtures/tensors.safetensors").to_vec()]
        }
        Target::Hdf5 => vec![
            include_bytes!("../../hdf5/tests/fixtures/vgg_tiny.weights.h5").to_vec(),
            include_bytes!("../../hdf5/tests/fixtures/vgg_tiny_legacy.h5").to_vec(),
        ],
    }
}

/// Integers at the edges of what readers compute with.
const BOUNDARIES: [u32; 8] = [
    0,
    1,
    0x7f,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// Damages `bytes` with one to four random edits.
fn damage(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                bytes[at] = rng.next_u64() as u8;
            }
            2 if len >= 4 => {
                let at = rng.below(len - 3);
                let v = BOUNDARIES[rng.below(BOUNDARIES.len())];
                let b = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                bytes[at..at + 4].copy_from_slice(&b);
            }
            3 if len > 0 => bytes.truncate(rng.below(len)),
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                bytes.drain(at..at + n);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let copy: Vec<u8> = bytes[at..at + n].to_vec();
                let to = rng.below(len);
                bytes.splice(to..to, copy);
            }
            6 if len > 0 => {
                // A run of one byte: long zero or 0xff fields.
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                let v = if rng.below(2) == 0 { 0 } else { 0xff };
                bytes[at..at + n].fill(v);
            }
            _ => {
                let at = rng.below(len + 1);
                bytes.insert(at, rng.next_u64() as u8);
            }
        }
    }
}

/// A damaged copy of one of `seeds`. For gzip targets, half the time the payload is damaged
/// and recompressed, so that the reader behind the decompressor is reached.
pub fn mutate(target: Target, seeds: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let seed = &seeds[rng.below(seeds.len())];
    if matches!(target, Target::IdxGz | Target::CifarTarGz) && rng.below(2) == 0 {
        if let Some(mut inner) = gunzip(seed) {
            damage(rng, &mut inner);
            return gzip(&inner);
        }
    }
    let mut bytes = seed.clone();
    damage(rng, &mut bytes);
    bytes
}

/// Where [`run`] writes the input of a file-based reader, under `scratch`.
pub fn input_path(target: Target, scratch: &Path) -> std::path::PathBuf {
    let name = match target {
        Target::Idx => "input.idx",
        Target::IdxGz => "input.idx.gz",
        Target::Cifar => "cifar/test_batch.bin",
        Target::CifarTarGz => "cifar-10-binary.tar.gz",
        Target::Model => "input.safetensors",
        Target::Png => "input.png",
        Target::Jpeg => "input.jpg",
        Target::Pth => "input.pth",
        Target::Safetensors => "input.safetensors",
        Target::Hdf5 => "input.h5",
    };
    scratch.join(name)
}

/// Feeds `bytes` to `target`'s reader (writing them under `scratch` first, where the reader
/// takes a path) and reports what happened.
pub fn run(target: Target, bytes: &[u8], scratch: &Path) -> Outcome {
    let path = input_path(target, scratch);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if std::fs::write(&path, bytes).is_err() {
        return Outcome::Rejected;
    }
    if target == Target::Cifar {
        let _ = std::fs::write(scratch.join("cifar/batches.meta.txt"), CIFAR_NAMES);
    }
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let text = |e: &dyn std::fmt::Display| e.to_string();
        match target {
            Target::Idx => parse_idx(&path, bytes).map(drop).map_err(|e| text(&e)),
            Target::IdxGz => read_idx(&path).map(drop).map_err(|e| text(&e)),
            Target::Cifar => CifarReader::new()
                .any_count()
                .cifar10(&scratch.join("cifar"), Split::Test)
                .map(drop)
                .map_err(|e| text(&e)),
            Target::CifarTarGz => CifarReader::new()
                .any_count()
                .cifar10(&path, Split::Test)
                .map(drop)
                .map_err(|e| text(&e)),
            Target::Model => Sequential::<f32>::load(&path)
                .map(drop)
                .map_err(|e| text(&e)),
            Target::Png | Target::Jpeg => strata_data::decode::decode_image_bytes(&path, bytes)
                .map(drop)
                .map_err(|e| text(&e)),
            Target::Pth | Target::Hdf5 => strata_import::read_weights(&path)
                .map(drop)
                .map_err(|e| text(&e)),
            Target::Safetensors => strata_import::read_weights(&path)
                .map(drop)
                .map_err(|e| text(&e)),
        }
    }));
    match result {
        Ok(Ok(())) => Outcome::Accepted,
        Ok(Err(message)) if message.contains("the decoder failed an internal check") => {
            Outcome::GuardedPanic
        }
        Ok(Err(_)) => Outcome::Rejected,
        Err(panic) => Outcome::Panicked(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_is_accepted_and_names_round_trip() {
        let scratch =
            std::env::temp_dir().join(format!("strata-fuzz-seeds-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        for target in TARGETS {
            assert_eq!(Target::from_name(target.name()), Some(target));
            let seeds = seeds(target, &scratch);
            assert!(
                !seeds.is_empty() && seeds.iter().all(|s| !s.is_empty()),
                "{target:?}"
            );
            for seed in &seeds {
                assert_eq!(run(target, seed, &scratch), Outcome::Accepted, "{target:?}");
            }
        }
    }
}
