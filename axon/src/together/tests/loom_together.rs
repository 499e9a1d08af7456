//! loom models of the shared task ([`Together`]): a side woken from another thread is
//! always polled (no lost wake-up between a side's `mark` and the task's `polling`
//! flag), and a side stopped from another thread is dropped while the other carries on.

use std::future::{Future, pending};
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

use super::super::{Sides, Together};
use crate::sync::{AtomicWaker, model};

/// A one-shot signal from another thread: `Wait` completes once `fire` has run.
struct Signal {
    fired: AtomicBool,
    waker: AtomicWaker,
}

impl Default for Signal {
    fn default() -> Self {
        Signal {
            fired: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }
}

impl Signal {
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

struct Wait(Arc<Signal>);

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.waker.register(cx.waker());
        if self.0.fired.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Counts its drops: a stopped side's future must be dropped exactly once.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn loom_a_side_woken_from_another_thread_is_polled() {
    model("together: one side woken from another thread", || {
        let signal = Arc::new(Signal::default());
        let fire = signal.clone();
        let waker = thread::spawn(move || fire.fire());
        // A lost wake-up leaves this thread parked for ever: loom reports a deadlock.
        loom::future::block_on(Together::new(Wait(signal), async {}));
        waker.join().unwrap();
    });
}

#[test]
fn loom_both_sides_woken_from_two_threads_are_polled() {
    model("together: both sides woken from two threads", || {
        let a = Arc::new(Signal::default());
        let b = Arc::new(Signal::default());
        let (fire_a, fire_b) = (a.clone(), b.clone());
        let ta = thread::spawn(move || fire_a.fire());
        let tb = thread::spawn(move || fire_b.fire());
        loom::future::block_on(Together::new(Wait(a), Wait(b)));
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

#[test]
fn loom_a_stopped_side_is_dropped_and_the_other_carries_on() {
    model("together: one side stopped, the other woken", || {
        let drops = Arc::new(AtomicUsize::new(0));
        let signal = Arc::new(Signal::default());
        let sides = Sides::new();
        let (stop_a, _stop_b) = sides.stops();
        let stuck = {
            let dropped = Dropped(drops.clone());
            async move {
                let _dropped = dropped;
                pending::<()>().await;
            }
        };
        let fire = signal.clone();
        let stopper = thread::spawn(move || stop_a.stop());
        let waker = thread::spawn(move || fire.fire());
        loom::future::block_on(Together::with(sides, stuck, Wait(signal)));
        stopper.join().unwrap();
        waker.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}
