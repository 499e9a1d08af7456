//! Two component bodies driven by one tokio task
//! ([`Prepared::start_with`](crate::Prepared::start_with)).
//!
//! Both sides share one waker, which marks them ready and wakes the task only if the
//! task is not already polling; a wake polls both sides (the one that was not woken
//! returns `Pending` at once — futures tolerate such polls), which costs less than a
//! second waker allocation per pair. While polling, the task goes round again as long
//! as a side was woken meanwhile (a bounded number of rounds), so a message passed from
//! one side to the other — the waker fires during the first side's poll — is handled in
//! the same task poll instead of a trip through the scheduler. A request and its reply
//! between a socket adapter and its protocol handler then cost one task poll, as in a
//! hand-written connection task.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::sync::AtomicWaker;
use crate::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Rounds per task poll before yielding to other tasks (a side that keeps waking
/// itself must not monopolise the worker thread).
const ROUNDS: usize = 32;
const A: u8 = 1;
const B: u8 = 2;

struct Shared {
    ready: AtomicU8,
    /// Sides to stop where they are ([`Stop`]): the task drops them.
    stop: AtomicU8,
    polling: AtomicBool,
    task: AtomicWaker,
}

impl Shared {
    fn mark(&self, bit: u8) {
        self.ready.fetch_or(bit, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }
}

/// The sides' waker holds the shared state itself, so a wake from outside (a socket
/// becoming readable) touches one allocation before the task.
pub(crate) struct SideA(Shared);

/// Stops one side of a shared task where it is: the side's future is dropped (which
/// runs its component's epilogue) and the other side carries on. The graph keeps one
/// per component instead of a separate abort allocation.
#[derive(Clone)]
pub(crate) enum Stop {
    A(Arc<SideA>),
    B(Arc<SideA>),
}

impl Stop {
    pub(crate) fn stop(&self) {
        let (shared, bit) = match self {
            Stop::A(a) => (&a.0, A),
            Stop::B(b) => (&b.0, B),
        };
        shared.stop.fetch_or(bit, Ordering::SeqCst);
        shared.mark(bit);
    }
}

/// The shared state of a task about to be made, with a [`Stop`] for each side.
pub(crate) struct Sides {
    a: Arc<SideA>,
}

impl Sides {
    pub(crate) fn new() -> Self {
        let a = Arc::new(SideA(Shared {
            ready: AtomicU8::new(A | B),
            stop: AtomicU8::new(0),
            polling: AtomicBool::new(false),
            task: AtomicWaker::new(),
        }));
        Sides { a }
    }

    pub(crate) fn stops(&self) -> (Stop, Stop) {
        (Stop::A(self.a.clone()), Stop::B(self.a.clone()))
    }
}

impl Wake for SideA {
    fn wake(self: Arc<Self>) {
        self.0.mark(A | B);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.mark(A | B);
    }
}

pin_project_lite::pin_project! {
    /// Completes when both sides have (or were stopped).
    pub(crate) struct Together<FA: Future, FB: Future> {
        #[pin]
        a: Option<FA>,
        #[pin]
        b: Option<FB>,
        // The sides' waker is made from this on each poll (a reference count) rather
        // than kept: a connection's task is smaller by a waker.
        side_a: Arc<SideA>,
    }
}

impl<FA, FB> Together<FA, FB>
where
    FA: Future,
    FB: Future,
{
    #[cfg(test)]
    pub(crate) fn new(a: FA, b: FB) -> Self {
        Self::with(Sides::new(), a, b)
    }

    pub(crate) fn with(sides: Sides, a: FA, b: FB) -> Self {
        Together {
            a: Some(a),
            b: Some(b),
            side_a: sides.a,
        }
    }
}

impl<FA, FB> Future for Together<FA, FB>
where
    FA: Future,
    FB: Future,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let shared = &this.side_a.0;
        let mut waker = None;
        shared.task.register(cx.waker());
        shared.polling.store(true, Ordering::SeqCst);
        for _ in 0..ROUNDS {
            let ready = shared.ready.swap(0, Ordering::SeqCst);
            if ready == 0 {
                break;
            }
            let stop = shared.stop.load(Ordering::SeqCst);
            if stop & A != 0 {
                this.a.set(None);
            }
            if stop & B != 0 {
                this.b.set(None);
            }
            if ready & A != 0
                && let Some(a) = this.a.as_mut().as_pin_mut()
                && a.poll(&mut Context::from_waker(
                    waker.get_or_insert_with(|| Waker::from(this.side_a.clone())),
                ))
                .is_ready()
            {
                this.a.set(None);
            }
            if ready & B != 0
                && let Some(b) = this.b.as_mut().as_pin_mut()
                && b.poll(&mut Context::from_waker(
                    waker.get_or_insert_with(|| Waker::from(this.side_a.clone())),
                ))
                .is_ready()
            {
                this.b.set(None);
            }
            if this.a.is_none() && this.b.is_none() {
                return Poll::Ready(());
            }
        }
        shared.polling.store(false, Ordering::SeqCst);
        // A side woken after the last round, while `polling` was still up, did not
        // wake the task: come back for it.
        if shared.ready.load(Ordering::SeqCst) != 0 {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    #[cfg(not(loom))]
    use super::*;

    #[cfg(loom)]
    mod loom_together;

    // Under `--cfg loom` the shared state is loom's, usable only inside a model.
    #[cfg(not(loom))]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_sides_run_to_completion_passing_messages_both_ways() {
        let (to_b, mut b_rx) = tokio::sync::mpsc::channel::<u32>(1);
        let (to_a, mut a_rx) = tokio::sync::mpsc::channel::<u32>(1);
        let a = async move {
            for i in 0..10_000 {
                to_b.send(i).await.unwrap();
                assert_eq!(a_rx.recv().await, Some(i + 1));
            }
        };
        let b = async move {
            while let Some(i) = b_rx.recv().await {
                to_a.send(i + 1).await.unwrap();
            }
        };
        tokio::spawn(Together::new(a, b)).await.unwrap();
    }

    #[cfg(not(loom))]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_side_woken_from_another_task_is_polled() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        let done = tokio::spawn(Together::new(
            async move {
                assert_eq!(rx.await, Ok(7));
            },
            async {},
        ));
        tokio::task::yield_now().await;
        tx.send(7).unwrap();
        done.await.unwrap();
    }
}
