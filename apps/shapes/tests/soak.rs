//! Soak test (bounded, ignored by default): training the shapes model from the augmenting
//! loader for many epochs, with validation, does not grow the process's memory after the
//! first epochs have warmed the buffer cache.
//!
//! `cargo test --release -p shapes --test soak -- --ignored --nocapture` (about 4 s once built,
//! on a 2-core machine). Linux only: it reads the resident set from `/proc/self/status`.

use strata_data::{Augment, Batch, DataLoader, HorizontalFlip, RandomShift, Shapes};
use strata_layers::layer::{Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig};
use strata_layers::loss::Loss;
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::{
    batches_from_fn, Callback, Control, EpochStats, FitConfig, Model, Verbosity,
};
use strata_layers::Sequential;

/// The resident set in KiB (`VmRSS`), if the platform reports it.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Records the resident set after every epoch.
struct MemoryLog(Vec<u64>);

impl Callback<f32> for MemoryLog {
    fn on_epoch_end(
        &mut self,
        _stats: &EpochStats,
        _model: &Model<f32>,
    ) -> strata_layers::Result<Control> {
        if let Some(kib) = resident_kib() {
            self.0.push(kib);
        }
        Ok(Control::Continue)
    }
}

#[test]
#[ignore = "soak test: many epochs; run with --ignored"]
fn memory_does_not_grow_across_epochs() {
    if resident_kib().is_none() {
        eprintln!("skipped: /proc/self/status has no VmRSS on this platform");
        return;
    }
    const EPOCHS: usize = 16;
    let train = Shapes::new(120, 1);
    let validation = Shapes::new(30, 2);
    let augment = Augment::new()
        .then(RandomShift::new(0.1, 0.1).unwrap())
        .then(HorizontalFlip);
    let train_loader = DataLoader::new(&train, 30)
        .unwrap()
        .shuffle(3)
        .transform(augment);
    let validation_loader = DataLoader::new(&validation, 30).unwrap();
    let network = Sequential::<f32>::builder(&[3, 128, 128])
        .seed(4)
        .add(Conv2dConfig::new(8, 6).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(4))
        .add(Conv2dConfig::new(8, 6).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(4))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3).activation(Activation::Softmax))
        .build()
        .unwrap();
    let adam = Adam::new(AdamConfig::default()).unwrap();
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let mut model = Model::new(network, loss, adam);
    let batches = batches_from_fn(Some(train_loader.num_batches()), |epoch, first| {
        train_loader
            .epoch_from(epoch as u64, first)
            .map(|b| b.map(Batch::into_parts))
    });
    let validation_batches = batches_from_fn(Some(validation_loader.num_batches()), |_, first| {
        validation_loader
            .epoch_from(0, first)
            .map(|b| b.map(Batch::into_parts))
    });
    let config = FitConfig {
        epochs: EPOCHS,
        verbosity: Verbosity::Silent,
        ..FitConfig::default()
    };
    let mut log = MemoryLog(Vec::new());
    model
        .fit_batches(
            &batches,
            Some(&validation_batches),
            &config,
            &mut [&mut log],
        )
        .unwrap();
    let rss = log.0;
    eprintln!("resident set after each epoch (KiB): {rss:?}");
    assert_eq!(rss.len(), EPOCHS);
    // After two warm-up epochs the buffer cache holds what a step needs; from then on the
    // resident set may wobble with the allocator but must not climb epoch after epoch.
    let settled = rss[2];
    let last = *rss.last().unwrap();
    let slack = settled / 10 + 8 * 1024;
    assert!(
        last <= settled + slack,
        "memory grew from {settled} KiB after epoch 3 to {last} KiB after epoch {EPOCHS}: {rss:?}"
    );
}
