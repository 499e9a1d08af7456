//! [`Inbox`]: the receiving end of a box, owned by its component.

use super::node::{InboxNode, bump};
use crate::control::Control;
use crate::error::TryRecvError;
use crate::queue::Empty;
use std::any::{Any, TypeId};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context as TaskContext, Poll};

/// The receiving end of an inbox, owned by its component.
///
/// Most components read through [`Context::recv`](crate::Context::recv), which also
/// watches `control`; use an `Inbox` directly for extra inboxes or in `select!`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Context, component::from_fn, testing::Harness};
///
/// let echo = from_fn("echo", |mut ctx: Context<u8, u8>| async move {
///     while let Some(b) = ctx.inbox.recv().await {
///         if ctx.outbox.send(b).await.is_err() { break; }
///     }
///     Ok(())
/// });
/// let mut h = Harness::new(echo);
/// h.send(7).await;
/// assert_eq!(h.recv().await, Some(7));
/// # }
/// ```
pub struct Inbox<T> {
    pub(crate) node: Arc<InboxNode<T>>,
}

impl<T: Send + 'static> Inbox<T> {
    pub(crate) fn new(node: Arc<InboxNode<T>>) -> Self {
        Inbox { node }
    }

    /// An inbox that is closed from the start: `recv` returns `None` at once. Used
    /// for boxes that are passthroughs, which never queue anything themselves.
    pub(crate) fn closed() -> Self {
        let node = InboxNode::new(1);
        node.shut();
        Inbox {
            node: Arc::new(node),
        }
    }

    #[inline]
    pub(super) fn note(&self, msg: &T) {
        bump(self.node.queue.received());
        if TypeId::of::<T>() == TypeId::of::<Control>()
            && let Some(c) = (msg as &dyn Any).downcast_ref::<Control>()
        {
            self.node.lifecycle().store(c.code(), Ordering::Relaxed);
        }
    }

    /// Wait for the next message. Returns `None` only when the inbox is closed (its
    /// component is ending, or the box was removed); an inbox with no link simply waits.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no message is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<String, ()>) {
    /// while let Some(line) = ctx.inbox.recv().await {
    ///     tracing::info!("{line}");
    /// }
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        let msg = self.node.queue.pop().await?;
        self.note(&msg);
        Some(msg)
    }

    /// Poll for the next message: `Ready(Some)` with it, `Ready(None)` once the inbox
    /// is closed and empty, or `Pending` after arranging for `cx`'s task to be woken
    /// when a message arrives. For hand-written futures that wait on an inbox together
    /// with other sources (a socket, a timer) without boxing a `recv` future.
    ///
    /// An inbox has one reader: only the waker of the most recent `Pending` poll is
    /// woken.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<u32, ()>) {
    /// use std::future::poll_fn;
    /// let first = poll_fn(|cx| ctx.inbox.poll_recv(cx)).await;
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<T>> {
        self.poll_recv_noting(cx, &mut 0)
    }

    /// As [`poll_recv`](Inbox::poll_recv), also noting the parking generation on
    /// `Pending` (see `Queue::parked_since`).
    pub(crate) fn poll_recv_noting(
        &mut self,
        cx: &mut TaskContext<'_>,
        generation: &mut u64,
    ) -> Poll<Option<T>> {
        match self.node.queue.poll_recv_noting(cx, generation) {
            Poll::Ready(Some(msg)) => {
                self.note(&msg);
                Poll::Ready(Some(msg))
            }
            other => other,
        }
    }

    /// Take a message if one is queued.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued, [`TryRecvError::Closed`] if the
    /// inbox is closed and empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &mut axon::Context<u32, ()>) {
    /// while let Ok(n) = ctx.inbox.try_recv() {
    ///     tracing::debug!("{n}");
    /// }
    /// # }
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.node.queue.try_pop() {
            Ok(msg) => {
                self.note(&msg);
                Ok(msg)
            }
            Err(Empty::Empty) => Err(TryRecvError::Empty),
            Err(Empty::Closed) => Err(TryRecvError::Closed),
        }
    }

    /// Wait for the next message, blocking the thread. For components that run on a
    /// blocking thread (see [`threaded`](crate::threaded)); never call it in async code.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(mut inbox: axon::Inbox<u32>) {
    /// let first = inbox.recv_blocking();
    /// # }
    /// ```
    pub fn recv_blocking(&mut self) -> Option<T> {
        let msg = futures::executor::block_on(self.node.queue.pop())?;
        self.note(&msg);
        Some(msg)
    }

    /// How many messages are queued.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// let backlog = ctx.inbox.len();
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.node.len()
    }

    /// True if nothing is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// if ctx.inbox.is_empty() { /* idle */ }
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.node.is_empty()
    }

    /// True once the inbox is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// assert!(!ctx.inbox.is_closed());
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.node.is_closed()
    }

    /// How many messages the inbox holds at most.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &axon::Context<u32, ()>) {
    /// assert!(ctx.inbox.capacity() >= 1);
    /// # }
    /// ```
    pub fn capacity(&self) -> usize {
        self.node.queue.capacity()
    }
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("len", &self.node.len())
            .finish()
    }
}
