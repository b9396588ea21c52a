//! Fingerprints of a model's state, compared across ranks: the check that every rank holds
//! bit for bit the same weights, optimiser state and position.

use strata_layers::train::Model;
use strata_tensor::{Element, Tensor};

use crate::communicator::Communicator;
use crate::error::{DistributedError, Result};

/// FNV-1a, 64-bit: small, stable across processes and machines (unlike `std`'s hasher,
/// whose algorithm may change between releases).
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn word(&mut self, word: u64) {
        self.bytes(&word.to_le_bytes());
    }

    fn tensor<T: Element>(&mut self, name: &str, tensor: &Tensor<T>) {
        self.bytes(name.as_bytes());
        for &d in tensor.shape() {
            self.word(d as u64);
        }
        for v in tensor.to_vec() {
            // The bits of the value, widened to f64 exactly.
            self.word(v.to_f64().unwrap_or(f64::NAN).to_bits());
        }
    }
}

/// A fingerprint of the network's parameters and buffers (names, shapes and bits).
pub fn weights_fingerprint<T: Element>(model: &Model<T>) -> u64 {
    let mut h = Fnv::new();
    for (name, tensor) in model.network().state_dict() {
        h.tensor(&name, &tensor);
    }
    h.0
}

/// A fingerprint of the optimiser's state (kind, step, buffers) and the training position.
pub fn state_fingerprint<T: Element>(model: &Model<T>) -> u64 {
    let mut h = Fnv::new();
    let state = model.optimizer().state();
    h.bytes(state.kind.as_bytes());
    h.word(state.step);
    for (name, tensor) in &state.buffers {
        h.tensor(name, tensor);
    }
    h.word(model.epochs_done() as u64);
    h.word(model.steps_done() as u64);
    h.0
}

/// Checks that every rank holds the same weights, optimiser state and position as rank 0;
/// an error on every rank names the first rank that differs. A collective operation: every
/// rank must call it.
pub fn check_in_sync<T: Element>(comm: &dyn Communicator, model: &Model<T>) -> Result<()> {
    for (what, fingerprint) in [
        ("weights", weights_fingerprint(model)),
        ("optimiser state and position", state_fingerprint(model)),
    ] {
        let all = comm.all_gather_u64(fingerprint)?;
        if let Some((rank, &found)) = all
            .iter()
            .enumerate()
            .find(|(_, &f)| Some(&f) != all.first())
        {
            return Err(DistributedError::OutOfSync {
                rank,
                what,
                expected: all.first().copied().unwrap_or_default(),
                found,
            });
        }
    }
    Ok(())
}
