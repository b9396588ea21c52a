//! The no-grad mode: a thread-local switch under which operations record nothing.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations on this thread currently record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Runs `f` with graph recording switched off on this thread (like `torch.no_grad()`), and
/// restores the previous mode afterwards, also when `f` panics.
///
/// Inside, every operation returns a constant: no node keeps its inputs or anything for a
/// backward pass, so inference holds no graph and no intermediate activations.
///
/// ```
/// use strata_autograd::{no_grad, Var};
/// use strata_tensor::Tensor;
/// let w = Var::parameter(Tensor::<f32>::ones(&[3]));
/// let y = no_grad(|| w.mul_scalar(2.0));
/// assert!(!y.requires_grad() && y.is_leaf());
/// ```
///
/// The switch is per thread: work started on another thread records as usual.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Switches recording off until dropped (the guard form of [`no_grad`]).
#[must_use = "recording is switched back on when the guard is dropped"]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Switches recording off on this thread.
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        Self { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_restores_the_previous_mode() {
        assert!(is_grad_enabled());
        no_grad(|| {
            assert!(!is_grad_enabled());
            no_grad(|| assert!(!is_grad_enabled()));
            assert!(!is_grad_enabled());
        });
        assert!(is_grad_enabled());
        let caught = std::panic::catch_unwind(|| no_grad(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(is_grad_enabled());
    }
}
