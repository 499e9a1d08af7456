//! The primitives axon's hand-written synchronisation is built from: std's (and
//! futures') in a normal build, loom's under `--cfg loom`, so the loom models (the
//! `loom_*` tests beside the code they check) explore the very code that runs.
//!
//! Only the parts with hand-written synchronisation import through here: the inbox
//! queue, the shared task of a pair, an outbox's route cache and the child-exit
//! protocol. The graph's own lock and tokio's channels stay std and tokio.

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, atomic};

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, atomic};

#[cfg(not(loom))]
pub(crate) use futures::task::AtomicWaker;

/// loom's `AtomicWaker` with the `futures` signature (`register` takes a reference).
#[cfg(loom)]
pub(crate) struct AtomicWaker(loom::future::AtomicWaker);

#[cfg(loom)]
impl AtomicWaker {
    pub(crate) fn new() -> Self {
        AtomicWaker(loom::future::AtomicWaker::new())
    }

    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.0.register_by_ref(waker);
    }

    pub(crate) fn wake(&self) {
        self.0.wake();
    }
}

/// Run a loom model, printing how many interleavings it explored (loom itself prints
/// nothing). The bound on preemptions comes from `LOOM_MAX_PREEMPTIONS`.
#[cfg(all(test, loom))]
pub(crate) fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let started = std::time::Instant::now();
    loom::model(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        f();
    });
    eprintln!(
        "loom model {name}: {} interleavings in {:.1} s",
        runs.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}
