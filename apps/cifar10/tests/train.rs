//! The training workflow through the library: the standardisation is fitted on the
//! training images used, and a run resumed from its checkpoint ends with the same weights
//! as an uninterrupted one (augmentation and dropout included).

mod common;

use std::path::{Path, PathBuf};

use cifar10::{train, DatasetKind, TrainOptions};
use common::{cifar10_files, scratch, write_archive};
use strata_data::{CifarReader, Normalize, Split, Subset};
use strata_layers::Sequential;

fn options(data: PathBuf, out: &Path, epochs: usize) -> TrainOptions {
    TrainOptions {
        data,
        kind: DatasetKind::Cifar10,
        any_count: true,
        limit: Some(30),
        test_limit: Some(10),
        epochs,
        batch_size: 8,
        learning_rate: 1e-3,
        augment: true,
        seed: 5,
        model_path: out.join("m.safetensors"),
        checkpoint_path: out.join("m.checkpoint.safetensors"),
        resume: false,
        plot_stem: out.join("m"),
        quiet: true,
    }
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
    let dir = scratch("train");
    let archive = dir.join("cifar-10-binary.tar.gz");
    write_archive(&archive, "cifar-10-batches-bin", &cifar10_files(8, 12));
    let (straight, split) = (dir.join("straight"), dir.join("split"));
    std::fs::create_dir_all(&straight).unwrap();
    std::fs::create_dir_all(&split).unwrap();

    let report = train(&options(archive.clone(), &straight, 2)).unwrap();
    assert_eq!(report.history.epochs.len(), 2);
    assert!(report.charts.is_some());
    // Fitted on the 30 training images used.
    let all = CifarReader::new()
        .any_count()
        .cifar10(&archive, Split::Train)
        .unwrap();
    let first = Subset::new(&all, (0..30).collect()).unwrap();
    let expected = Normalize::fit_featurewise(&first, true, true).unwrap();
    assert_eq!(report.standardization.mean, expected.mean());
    assert_eq!(report.standardization.std, expected.std());

    train(&options(archive.clone(), &split, 1)).unwrap();
    let resumed = train(&TrainOptions {
        resume: true,
        ..options(archive.clone(), &split, 2)
    })
    .unwrap();
    assert_eq!(resumed.history.epochs.len(), 1);
    assert_eq!(resumed.history.epochs[0].epoch, 1);
    let a = Sequential::<f32>::load(&straight.join("m.safetensors")).unwrap();
    let b = Sequential::<f32>::load(&split.join("m.safetensors")).unwrap();
    assert_eq!(a.state_dict(), b.state_dict());
    // A run without augmentation trains differently.
    let plain = dir.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    train(&TrainOptions {
        augment: false,
        ..options(archive.clone(), &plain, 2)
    })
    .unwrap();
    let c = Sequential::<f32>::load(&plain.join("m.safetensors")).unwrap();
    assert_ne!(a.state_dict(), c.state_dict());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_in_process_ranks_train_together_and_rank_zero_alone_writes() {
    use std::rc::Rc;
    use strata_distributed::{Communicator, LocalGroup};
    let dir = scratch("train-ranks");
    let archive = dir.join("cifar-10-binary.tar.gz");
    write_archive(&archive, "cifar-10-batches-bin", &cifar10_files(8, 12));
    let out = dir.join("ranks");
    std::fs::create_dir_all(&out).unwrap();
    let reports: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = LocalGroup::ranks(2)
            .unwrap()
            .into_iter()
            .map(|comm| {
                let options = TrainOptions {
                    batch_size: 4, // global batches of 8
                    ..options(archive.clone(), &out, 2)
                };
                s.spawn(move || {
                    let ranks: Rc<dyn Communicator> = Rc::new(comm);
                    cifar10::train_on(&options, Some(ranks)).map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let (zero, one) = (&reports[0], &reports[1]);
    assert_eq!(zero.history.epochs.len(), 2);
    assert_eq!(one.history.epochs.len(), 2);
    for (a, b) in zero.history.epochs.iter().zip(&one.history.epochs) {
        // The loss is the mean over the global batches: the same on both ranks.
        assert_eq!(a.loss, b.loss);
        assert!(a.val_accuracy.is_some() && b.val_accuracy.is_none());
    }
    assert!(zero.charts.is_some() && one.charts.is_none());
    assert!(out.join("m.safetensors").exists());
    assert!(out.join("m.checkpoint.safetensors").exists());
}
