//! Loader throughput: MNIST batches of 64 (shuffled), and shapes generated and augmented on
//! the fly in batches of 32.
//!
//! `cargo bench -p strata-data --bench loader`; MNIST is read from `$STRATA_DATA/mnist`
//! (default `../shared/data/mnist`) and skipped with a message when absent.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strata_data::{
    data_dir, Augment, DataLoader, HorizontalFlip, IdxDataset, RandomCrop, RandomShift, Shapes,
    Split,
};

/// Batches per measured iteration.
const MNIST_BATCHES: usize = 100;

fn mnist(c: &mut Criterion) {
    let dir = data_dir(None).join("mnist");
    let train = match IdxDataset::Mnist.load(&dir, Split::Train) {
        Ok(train) => train,
        Err(e) => {
            println!("SKIPPED mnist benchmark: {e} (set STRATA_DATA)");
            return;
        }
    };
    let loader = DataLoader::new(&train, 64)
        .expect("batch size")
        .shuffle(1)
        .drop_last(true);
    let mut group = c.benchmark_group("loader");
    group.throughput(Throughput::Elements((64 * MNIST_BATCHES) as u64));
    let mut epoch = 0;
    group.bench_function("mnist_batch64_x100", |b| {
        b.iter(|| {
            epoch += 1;
            let mut n = 0;
            for batch in loader.epoch(epoch).take(MNIST_BATCHES) {
                n += batch.expect("batch").labels.len();
            }
            n
        })
    });
    group.finish();
}

fn shapes(c: &mut Criterion) {
    let shapes = Shapes::new(100_000, 7);
    let augment = || {
        Augment::new()
            .then(RandomShift::new(0.1, 0.1).expect("fractions"))
            .then(HorizontalFlip)
            .then(RandomCrop {
                height: 128,
                width: 128,
                padding: 8,
            })
    };
    let plain = DataLoader::new(&shapes, 32).expect("batch size").shuffle(3);
    let augmented = DataLoader::new(&shapes, 32)
        .expect("batch size")
        .shuffle(3)
        .transform(augment());
    let mut group = c.benchmark_group("loader");
    group.throughput(Throughput::Elements(32));
    for (name, loader) in [
        ("shapes_batch32", &plain),
        ("shapes_batch32_augmented", &augmented),
    ] {
        let mut epoch = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                epoch += 1;
                loader
                    .epoch(epoch)
                    .next()
                    .expect("a batch")
                    .expect("batch")
                    .labels
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, mnist, shapes);
criterion_main!(benches);
