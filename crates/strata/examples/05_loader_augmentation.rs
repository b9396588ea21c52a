//! Training from a data loader with on-the-fly augmentation (Keras's
//! `model.fit(datagen.flow(x, y))`, PyTorch's loop over a `DataLoader`): the synthetic shapes
//! dataset, random shifts and flips drawn afresh every epoch — and repeated exactly for the
//! same seed — and `fit_batches` preparing the next batches on a second thread.
//!
//! `cargo run -p strata --release --example 05_loader_augmentation`

use strata::data::{Augment, Batch, DataLoader, HorizontalFlip, RandomShift, Shapes};
use strata::layers::layer::{
    Activation, Conv2dConfig, DenseConfig, FlattenConfig, MaxPool2dConfig,
};
use strata::layers::loss::Loss;
use strata::layers::optim::{Adam, AdamConfig};
use strata::layers::train::{batches_from_fn, FitConfig, Model, Verbosity};
use strata::layers::Sequential;

fn augmentation() -> strata::Result<Augment> {
    Ok(Augment::new()
        .then(RandomShift::new(0.1, 0.1)?)
        .then(HorizontalFlip))
}

fn main() -> strata::Result<()> {
    // 60 generated 128×128 RGB images of circles, squares and triangles.
    let shapes = Shapes::new(60, 3);
    let loader = DataLoader::new(&shapes, 10)?
        .shuffle(11)
        .transform(augmentation()?);

    // Augmentation draws depend on (seed, epoch, sample): new every epoch, the same in
    // every run with this seed.
    let first = |l: &DataLoader<'_, Shapes>, epoch| -> strata::Result<Vec<f32>> {
        let batch = l.epoch(epoch).next().expect("60 images make batches")?;
        Ok(batch.images.to_vec())
    };
    let again = DataLoader::new(&shapes, 10)?
        .shuffle(11)
        .transform(augmentation()?);
    assert_ne!(
        first(&loader, 0)?,
        first(&loader, 1)?,
        "epochs draw different shifts"
    );
    assert_eq!(
        first(&loader, 1)?,
        first(&again, 1)?,
        "one seed, one sequence of draws"
    );
    println!("augmentation: new draws every epoch, identical for the same seed");

    let network = Sequential::<f32>::builder(&[3, 128, 128])
        .seed(5)
        .add(MaxPool2dConfig::new(4))
        .add(Conv2dConfig::new(8, 3).activation(Activation::Relu))
        .add(MaxPool2dConfig::new(4))
        .add(FlattenConfig::new())
        .add(DenseConfig::new(3).activation(Activation::Softmax))
        .build()?;
    let adam = Adam::new(AdamConfig::default())?;
    let mut model = Model::new(
        network,
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        adam,
    );

    // Any iterator of Result<(inputs, targets), E> per epoch is a batch source.
    let batches = batches_from_fn(Some(loader.num_batches()), |epoch, first_batch| {
        loader
            .epoch_from(epoch as u64, first_batch)
            .map(|b| b.map(Batch::into_parts))
    });
    let config = FitConfig {
        epochs: 3,
        verbosity: Verbosity::Silent,
        ..FitConfig::default()
    };
    let history = model.fit_batches(&batches, None, &config, &mut [])?;
    for (epoch, stats) in history.epochs.iter().enumerate() {
        println!("epoch {}: loss {:.4}", epoch + 1, stats.loss);
    }
    Ok(())
}
