//! Crash-safe training: a run killed with SIGKILL at random points, again and again, always
//! leaves a checkpoint that loads (or none yet), never a stray temporary file once a later
//! save has run, and resuming reaches bitwise the weights of a run never interrupted.

use std::path::Path;
use std::process::Command;

use rand::{RngExt, SeedableRng};
use shapes::{course_model, LOSS};
use strata_layers::optim::{Adam, AdamConfig};
use strata_layers::train::Model;
use strata_layers::Sequential;

const ARGS: &[&str] = &[
    "train",
    "--images",
    "12",
    "--epochs",
    "3",
    "--batch-size",
    "3",
    "--seed",
    "5",
    "--checkpoint-every-steps",
    "1",
    "--resume",
];

fn train(out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shapes"));
    command.args(ARGS).arg("--out").arg(out);
    command
}

fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
    Sequential::<f32>::load(path)
        .unwrap()
        .state_dict()
        .into_iter()
        .map(|(name, t)| (name, t.to_vec()))
        .collect()
}

#[test]
fn killed_runs_resume_to_the_weights_of_an_uninterrupted_run() {
    let root = std::env::temp_dir().join(format!("shapes-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (whole, killed) = (root.join("whole"), root.join("killed"));
    std::fs::create_dir_all(&whole).unwrap();
    std::fs::create_dir_all(&killed).unwrap();

    let started = std::time::Instant::now();
    let status = train(&whole).output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let full_run = started.elapsed();

    let checkpoint = killed.join("checkpoint.safetensors");
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let mut resumed_points = Vec::new();
    for _ in 0..6 {
        let mut child = train(&killed)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let wait = full_run.mul_f64(rng.random_range(0.05..0.35));
        std::thread::sleep(wait);
        // `kill` is SIGKILL on Unix: no handler runs, buffers are not flushed.
        let _ = child.kill();
        child.wait().unwrap();
        if checkpoint.exists() {
            let mut model = Model::new(
                course_model(5).unwrap(),
                LOSS,
                Adam::new(AdamConfig::default()).unwrap(),
            );
            model
                .load_checkpoint(&checkpoint)
                .expect("the last checkpoint always loads");
            resumed_points.push((model.epochs_done(), model.steps_done()));
        }
    }
    eprintln!("(epochs, steps) done at each kill: {resumed_points:?}");
    assert!(
        !resumed_points.is_empty(),
        "no kill came after the first checkpoint"
    );
    let status = train(&killed).output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        weights(&killed.join("shapes.safetensors")),
        weights(&whole.join("shapes.safetensors")),
        "checkpoints reached: {resumed_points:?}"
    );
    // The last saves of the checkpoint and the model removed what killed saves left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&killed)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.ends_with(".strata-tmp")
                && (name.starts_with(".checkpoint.safetensors.")
                    || name.starts_with(".shapes.safetensors."))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&root).unwrap();
}
