//! Where the data is, which dataset and labels to read, and the normalisation fitted on the
//! training set (saved beside the model so that `eval` and `predict` prepare images the same
//! way).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_data::{CifarReader, InMemoryDataset, Normalize, Split};

use crate::AppResult;

/// Which dataset, and for CIFAR-100 which label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    /// CIFAR-10's 10 classes.
    Cifar10,
    /// CIFAR-100 with its 100 fine labels.
    Cifar100Fine,
    /// CIFAR-100 with its 20 coarse labels (superclasses).
    Cifar100Coarse,
}

impl DatasetKind {
    /// The number of classes.
    pub fn classes(self) -> usize {
        match self {
            Self::Cifar10 => 10,
            Self::Cifar100Fine => 100,
            Self::Cifar100Coarse => 20,
        }
    }

    /// The official archive's file name.
    pub fn archive_name(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar-10-binary.tar.gz",
            Self::Cifar100Fine | Self::Cifar100Coarse => "cifar-100-binary.tar.gz",
        }
    }

    /// The folder the archive extracts to.
    pub fn folder_name(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar-10-batches-bin",
            Self::Cifar100Fine | Self::Cifar100Coarse => "cifar-100-binary",
        }
    }
}

/// What `--data` names, made concrete: an archive or extracted folder is used as it is; a
/// folder holding neither the dataset's files nor its extracted folder, but holding the
/// archive, means that archive.
pub fn resolve_source(path: &Path, kind: DatasetKind) -> PathBuf {
    let archive = path.join(kind.archive_name());
    let extracted = path.join(kind.folder_name());
    if path.is_dir() && !extracted.is_dir() && archive.is_file() {
        archive
    } else {
        path.to_path_buf()
    }
}

/// Reads one split (a reader of `CifarReader::new()` insists on the official record counts;
/// pass `CifarReader::new().any_count()` for smaller files).
pub fn open_split(
    reader: &CifarReader,
    source: &Path,
    kind: DatasetKind,
    split: Split,
) -> AppResult<InMemoryDataset> {
    let source = resolve_source(source, kind);
    let dataset = match kind {
        DatasetKind::Cifar10 => reader.cifar10(&source, split),
        DatasetKind::Cifar100Fine => reader.cifar100(&source, split).map(|d| d.fine),
        DatasetKind::Cifar100Coarse => reader.cifar100(&source, split).map(|d| d.coarse),
    };
    dataset.map_err(|e| {
        format!(
            "{e}\n(pass --data with the {} archive or its extracted {} folder, set STRATA_DATA to the folder holding either, or fetch it with `cifar10 download`)",
            kind.archive_name(),
            kind.folder_name()
        )
        .into()
    })
}

/// The per-channel statistics fitted on the training set, as saved beside a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardization {
    /// Per-channel means (subtracted).
    pub mean: Vec<f32>,
    /// Per-channel standard deviations (divided by).
    pub std: Vec<f32>,
}

impl Standardization {
    /// The statistics of a fitted [`Normalize`].
    pub fn of(normalize: &Normalize) -> Self {
        Self {
            mean: normalize.mean().to_vec(),
            std: normalize.std().to_vec(),
        }
    }

    /// The transform these statistics describe.
    pub fn normalize(&self) -> AppResult<Normalize> {
        Ok(Normalize::new(self.mean.clone(), self.std.clone())?)
    }

    /// Where the statistics of the model at `model` are kept: `<model>.standardization.json`.
    pub fn path_for(model: &Path) -> PathBuf {
        model.with_extension("standardization.json")
    }

    /// Writes the statistics as JSON.
    pub fn save(&self, path: &Path) -> AppResult<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(())
    }

    /// Reads the statistics saved beside the model at `model`.
    pub fn load_for(model: &Path) -> AppResult<Self> {
        let path = Self::path_for(model);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (the standardization saved by `cifar10 train` beside the model)",
                path.display()
            )
        })?;
        let stats: Self =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        stats
            .normalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(stats)
    }
}
