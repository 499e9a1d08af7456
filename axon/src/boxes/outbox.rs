//! [`Outbox`]: the sending end of a box, which delivers straight into the final inbox
//! its links resolve to, under the link's overflow policy.

use super::Policy;
use super::node::{Cached, InboxNode, OutboxMeta, OutboxNode, bump};
use crate::error::{SendError, TrySendError};
use crate::queue::{PushError, PushPoll, PushWait};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context as TaskContext, Poll};

/// The outcome of one non-blocking send attempt.
pub(super) enum Attempt<T> {
    /// Enqueued, or discarded under a lossy policy (counted).
    Done,
    /// The destination is full under `Block`.
    Full(T),
    /// The destination closed.
    Closed(T),
    /// No destination.
    NoRoute(T),
}

/// The sending end of an outbox, owned by its component.
///
/// A send goes to the final inbox its link resolves to, under the link's [`Policy`].
/// A send on an outbox with no link (or whose destination has ended) hands the
/// message back as [`SendError`] and counts it as *undelivered* in introspection.
///
/// # Examples
///
/// ```
/// # async fn demo(mut ctx: axon::Context<(), String>) -> Result<(), axon::BoxError> {
/// ctx.outbox.send("hello".to_string()).await?;
/// # Ok(()) }
/// ```
pub struct Outbox<T> {
    pub(super) node: Arc<OutboxNode<T>>,
    pub(super) cached: Cached<T>,
}

impl<T: Send + 'static> Outbox<T> {
    pub(crate) fn new(node: Arc<OutboxNode<T>>) -> Self {
        Outbox {
            cached: node.current(),
            node,
        }
    }

    /// A detached outbox: every send is undelivered.
    pub(crate) fn detached() -> Self {
        Outbox::new(Arc::new(OutboxNode::new()))
    }

    #[inline]
    pub(super) fn refresh(&mut self) {
        if self.node.version.load(Ordering::Acquire) != self.cached.version {
            self.cached = self.node.current();
        }
    }

    /// The cached destination and policy, if any.
    #[inline]
    pub(super) fn route(&self) -> Option<(&Arc<InboxNode<T>>, Policy)> {
        self.cached.target.as_ref().map(|t| (t, self.cached.policy))
    }

    pub(super) fn undelivered(&self, msg: T) -> SendError<T> {
        bump(&self.node.undelivered);
        SendError::labelled(msg, self.node.name())
    }

    pub(super) fn dropped(&self, target: &InboxNode<T>) {
        bump(&self.node.dropped);
        target.queue().dropped().fetch_add(1, Ordering::Relaxed);
        self.node.report_drop();
    }

    /// Send a message, waiting for space if the destination is full and the link's
    /// policy is [`Policy::Block`]. With another policy a full destination loses a
    /// message (counted) instead of waiting.
    ///
    /// If the link is changed while the send waits, the message still goes to the
    /// destination it was waiting on; if that destination ends first, the send moves
    /// to the new destination. A message is delivered once or handed back, never twice.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if the outbox has no destination.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped while waiting for space, the message
    /// is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn demo(mut ctx: axon::Context<(), u64>) {
    /// if let Err(e) = ctx.outbox.send(42).await {
    ///     tracing::warn!("nobody listens; kept {}", e.0);
    /// }
    /// # }
    /// ```
    pub fn send(&mut self, msg: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        Sending {
            outbox: self,
            msg: Some(msg),
            waiting: None,
        }
    }

    /// The destination closed under a send. Its link was removed first, so a changed
    /// version means there may be a new route to try: `Ok` gives the message back to
    /// try again, `Err` hands it back to the caller as undelivered.
    pub(super) fn after_close(&self, msg: T) -> Result<T, SendError<T>> {
        if self.node.version.load(Ordering::Acquire) == self.cached.version {
            Err(self.undelivered(msg))
        } else {
            Ok(msg)
        }
    }

    /// One attempt without waiting, on the current route.
    pub(super) fn attempt(&mut self, msg: T) -> Attempt<T> {
        self.refresh();
        let Some((target, policy)) = self.route() else {
            return Attempt::NoRoute(msg);
        };
        let result = match policy {
            Policy::Block => match target.queue.try_push(msg) {
                Ok(()) => Ok(()),
                Err(PushError::Full(m)) => return Attempt::Full(m),
                Err(PushError::Closed(m)) => Err(m),
            },
            _ => match self.send_lossy(target, policy, msg) {
                Ok(true) => Ok(()),
                Ok(false) => {
                    self.dropped(target);
                    return Attempt::Done;
                }
                Err(m) => Err(m),
            },
        };
        match result {
            Ok(()) => {
                bump(&self.node.sent);
                Attempt::Done
            }
            Err(m) => Attempt::Closed(m),
        }
    }

    /// Enqueue under a lossy policy. `Ok(true)` sent, `Ok(false)` the message itself
    /// was dropped, `Err` the destination is closed.
    pub(super) fn send_lossy(
        &self,
        target: &InboxNode<T>,
        policy: Policy,
        msg: T,
    ) -> Result<bool, T> {
        let queue = target.queue();
        let sent = match policy {
            Policy::DropNewest => match queue.try_push(msg) {
                Ok(()) => true,
                Err(PushError::Full(_)) => false,
                Err(PushError::Closed(m)) => return Err(m),
            },
            _ => {
                if policy == Policy::KeepLatest {
                    for _ in 0..queue.clear() {
                        self.dropped(target);
                    }
                }
                for _ in 0..queue.push_evicting(msg)? {
                    self.dropped(target);
                }
                true
            }
        };
        Ok(sent)
    }

    /// Send without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the destination is full under [`Policy::Block`];
    /// [`TrySendError::Unlinked`] if there is no destination. Both hand the message back.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &mut axon::Context<(), u8>) {
    /// match ctx.outbox.try_send(1) {
    ///     Ok(()) => {}
    ///     Err(e) if e.is_full() => { /* try later */ }
    ///     Err(_) => { /* not linked */ }
    /// }
    /// # }
    /// ```
    pub fn try_send(&mut self, msg: T) -> Result<(), TrySendError<T>> {
        let mut msg = msg;
        loop {
            match self.attempt(msg) {
                Attempt::Done => return Ok(()),
                Attempt::Full(m) => return Err(TrySendError::Full(m)),
                Attempt::NoRoute(m) => return Err(TrySendError::Unlinked(self.undelivered(m).0)),
                Attempt::Closed(m) => {
                    if self.node.version.load(Ordering::Acquire) == self.cached.version {
                        return Err(TrySendError::Unlinked(self.undelivered(m).0));
                    }
                    msg = m;
                }
            }
        }
    }

    /// Send from a blocking thread (see [`threaded`](crate::threaded)); never call it
    /// in async code.
    ///
    /// # Errors
    ///
    /// As [`Outbox::send`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(mut out: axon::Outbox<u32>) {
    /// let _ = out.send_blocking(1);
    /// # }
    /// ```
    pub fn send_blocking(&mut self, msg: T) -> Result<(), SendError<T>> {
        futures::executor::block_on(self.send(msg))
    }

    /// True if the outbox currently has a destination.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(ctx: &mut axon::Context<(), u8>) {
    /// if !ctx.outbox.is_linked() { /* nobody listens yet */ }
    /// # }
    /// ```
    pub fn is_linked(&mut self) -> bool {
        self.refresh();
        self.cached.target.is_some()
    }
}

/// [`Outbox::send`]'s future: the message is stored once (an `async fn` would keep a
/// copy in each of its states), so a component waiting to send is barely larger than
/// the message.
pub(super) struct Sending<'a, T> {
    pub(super) outbox: &'a mut Outbox<T>,
    pub(super) msg: Option<T>,
    /// The destination being waited on for room, and the registration there.
    pub(super) waiting: Option<(Arc<InboxNode<T>>, PushWait)>,
}

// Nothing here is pinned in place: the message is moved in and out by value.
impl<T> Unpin for Sending<'_, T> {}

impl<T: Send + 'static> Future for Sending<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut msg = this.msg.take().expect("send polled after completion");
        loop {
            if let Some((target, wait)) = this.waiting.as_mut() {
                // Waiting for room: the message goes where it waited, even if the link
                // changed meanwhile, unless that destination closes.
                match target.queue.poll_push(msg, wait, cx) {
                    PushPoll::Done => {
                        this.waiting = None;
                        bump(&this.outbox.node.sent);
                        return Poll::Ready(Ok(()));
                    }
                    PushPoll::Pending(m) => {
                        this.msg = Some(m);
                        return Poll::Pending;
                    }
                    PushPoll::Closed(m) => {
                        this.waiting = None;
                        msg = this.outbox.after_close(m)?;
                    }
                }
            }
            match this.outbox.attempt(msg) {
                Attempt::Done => return Poll::Ready(Ok(())),
                Attempt::NoRoute(m) => return Poll::Ready(Err(this.outbox.undelivered(m))),
                Attempt::Closed(m) => msg = this.outbox.after_close(m)?,
                Attempt::Full(m) => {
                    let Some((target, _)) = this.outbox.route() else {
                        return Poll::Ready(Err(this.outbox.undelivered(m)));
                    };
                    this.waiting = Some((target.clone(), PushWait::default()));
                    msg = m;
                }
            }
        }
    }
}

impl<T> Drop for Sending<'_, T> {
    fn drop(&mut self) {
        if let Some((target, wait)) = self.waiting.as_mut() {
            wait.cancel(&target.queue);
        }
    }
}

impl<T> std::fmt::Debug for Outbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("linked", &self.cached.target.is_some())
            .finish()
    }
}

impl<T> Outbox<T> {
    /// This outbox's request counters, if it keeps them (declared by name).
    pub(crate) fn ask_stats(&self) -> Option<&crate::ask::AskStats> {
        self.node.meta.as_ref().and_then(|m| m.asks.as_ref())
    }

    /// What names and counts this outbox, to hand to a pending reply.
    pub(crate) fn meta(&self) -> Option<Arc<OutboxMeta>> {
        self.node.meta.clone()
    }
}
