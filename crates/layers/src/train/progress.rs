//! Keras-like progress output: a bar per epoch with running loss and accuracy, then a
//! one-line summary.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::EpochStats;

/// How much `fit` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// Nothing (tests, libraries).
    Silent,
    /// One line per epoch (logs: Keras's `verbose=2`).
    EpochLine,
    /// A progress bar per epoch on a terminal, then the epoch line (Keras's `verbose=1`).
    #[default]
    ProgressBar,
}

/// The output of one epoch.
pub(crate) struct EpochProgress {
    verbosity: Verbosity,
    bar: Option<ProgressBar>,
    started: Instant,
    steps: usize,
}

impl EpochProgress {
    /// Announces epoch `epoch` (0-based) of `epochs`, with `steps` batches.
    pub(crate) fn start(verbosity: Verbosity, epoch: usize, epochs: usize, steps: usize) -> Self {
        if verbosity != Verbosity::Silent {
            println!("Epoch {}/{epochs}", epoch + 1);
        }
        let bar = (verbosity == Verbosity::ProgressBar).then(|| {
            let bar = ProgressBar::new(steps as u64);
            let style = ProgressStyle::with_template("{pos:>4}/{len} [{bar:30}] {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Self {
            verbosity,
            bar,
            started: Instant::now(),
            steps,
        }
    }

    /// Reports `done` steps with the running loss and accuracy.
    pub(crate) fn step(&self, done: usize, loss: f64, accuracy: Option<f64>) {
        if let Some(bar) = &self.bar {
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let mut msg = format!("- loss: {loss:.4}");
            if let Some(a) = accuracy {
                msg.push_str(&format!(" - accuracy: {a:.4}"));
            }
            msg.push_str(&format!(" - {rate:.1} steps/s"));
            bar.set_message(msg);
            bar.set_position(done as u64);
        }
    }

    /// Clears the bar and prints the epoch's line.
    pub(crate) fn finish(self, stats: &EpochStats) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        if self.verbosity != Verbosity::Silent {
            println!("{}", epoch_line(self.steps, self.started.elapsed(), stats));
        }
    }
}

/// `28/28 - 3.1s - loss: 0.4512 - accuracy: 0.8310 - val_loss: … - 275 samples/s`.
pub(crate) fn epoch_line(steps: usize, elapsed: Duration, stats: &EpochStats) -> String {
    let mut line = format!(
        "{steps}/{steps} - {:.1}s - loss: {:.4}",
        elapsed.as_secs_f64(),
        stats.loss
    );
    if let Some(a) = stats.accuracy {
        line.push_str(&format!(" - accuracy: {a:.4}"));
    }
    if let Some(v) = stats.val_loss {
        line.push_str(&format!(" - val_loss: {v:.4}"));
    }
    if let Some(v) = stats.val_accuracy {
        line.push_str(&format!(" - val_accuracy: {v:.4}"));
    }
    line.push_str(&format!(" - {:.0} samples/s", stats.samples_per_second));
    line
}
