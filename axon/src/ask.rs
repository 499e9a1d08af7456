//! Request and reply: a typed, timed [`ask`](crate::Outbox::ask) whose reply path
//! travels with the request, so the graph shows who asks whom and counts the answers.
//!
//! A component that answers takes [`Request<Q, R>`] on an inbox and calls
//! [`Request::reply`]; one that asks declares an outbox of `Request<Q, R>` by name, links
//! it to the answerer (or to a [service](crate::Runtime::register_service)) and calls
//! [`Outbox::ask`](crate::Outbox::ask) — or [`request`](crate::Outbox::request) to have
//! several in flight at once. A request is never left hanging: it is answered, or it
//! times out, or — if the answerer ends, drops it or is not there — it fails at once with
//! an [`AskError`] that says which.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::boxes::{Outbox, OutboxMeta};
use crate::error::SendError;
use crate::size::MessageSize;

/// A question of type `Q` with the way back for its answer of type `R`.
///
/// Dropping it unanswered (or the answering component ending with it still queued)
/// tells the asker at once ([`AskError::NoReply`]).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use axon::{Context, Request, Runtime, Setup, component::from_fn};
///
/// let rt = Runtime::new();
/// // Answers each number with its square.
/// let squarer = rt.add(from_fn("squarer", |mut ctx: Context<Request<u64, u64>, ()>| async move {
///     while let Some(req) = ctx.recv().await {
///         let n = *req.body();
///         let _ = req.reply(n * n);
///     }
///     Ok(())
/// })).unwrap();
/// let mut asker = rt.external("asker");
/// let (to, mut ask) = asker.add_outbox::<Request<u64, u64>>("squares").unwrap();
/// rt.link(to, squarer.inbox()).unwrap();
/// let _h = squarer.start();
/// assert_eq!(ask.ask(12, Duration::from_secs(1)).await.unwrap(), 144);
/// let snap = rt.snapshot();
/// let asks = snap.component(asker.id()).unwrap().boxes[0].asks.unwrap();
/// assert_eq!((asks.asked, asks.replied, asks.in_flight), (1, 1, 0));
/// # }
/// ```
#[derive(Debug)]
pub struct Request<Q, R> {
    body: Q,
    reply: oneshot::Sender<R>,
}

impl<Q, R> Request<Q, R> {
    /// A request made by hand, with its answer on the way: for sending through a plain
    /// [`send`](Outbox::send) or `try_send` (the answer is not counted in any outbox's
    /// request counters), or for a request whose answer nobody needs (drop the
    /// [`PendingReply`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// let (req, pending) = axon::Request::<&str, usize>::new("four");
    /// let n = req.body().len();
    /// req.reply(n).unwrap();
    /// assert_eq!(pending.wait(Duration::from_secs(1)).await.unwrap(), 4);
    /// # }
    /// ```
    pub fn new(body: Q) -> (Self, PendingReply<R>) {
        let (tx, rx) = oneshot::channel();
        (
            Request { body, reply: tx },
            PendingReply {
                rx,
                meta: None,
                settled: false,
            },
        )
    }

    /// The question.
    pub fn body(&self) -> &Q {
        &self.body
    }

    /// Answer. `Err` hands the answer back if the asker no longer waits (it timed out,
    /// was cancelled or ended).
    ///
    /// # Errors
    ///
    /// The answer, when nobody waits for it.
    pub fn reply(self, answer: R) -> Result<(), R> {
        self.reply.send(answer)
    }

    /// The question and the way back, apart (to answer later, or from elsewhere).
    pub fn into_parts(self) -> (Q, Replier<R>) {
        (self.body, Replier(self.reply))
    }

    /// True if the asker no longer waits: answering would be wasted work.
    pub fn is_abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

impl<Q: MessageSize, R> MessageSize for Request<Q, R> {
    fn message_size(&self) -> usize {
        self.body.message_size()
    }
}

/// The way back for one answer, apart from its question ([`Request::into_parts`]).
#[derive(Debug)]
pub struct Replier<R>(oneshot::Sender<R>);

impl<R> Replier<R> {
    /// Answer.
    ///
    /// # Errors
    ///
    /// The answer, when nobody waits for it.
    pub fn reply(self, answer: R) -> Result<(), R> {
        self.0.send(answer)
    }

    /// True if the asker no longer waits.
    pub fn is_abandoned(&self) -> bool {
        self.0.is_closed()
    }
}

/// Why a request got no answer. `Q` is the question, handed back when it was never
/// delivered.
#[derive(Debug, thiserror::Error)]
pub enum AskError<Q = ()> {
    /// Nobody to ask: the outbox has no destination (the question is handed back).
    #[error(transparent)]
    NoDestination(SendError<Q>),
    /// The answer did not come within the time allowed.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The answerer ended, or dropped the request, without answering.
    #[error("the replier ended or dropped the request without answering")]
    NoReply,
}

/// Why an answer on its way did not come ([`PendingReply::wait`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The answer did not come within the time allowed.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The answerer ended, or dropped the request, without answering.
    #[error("the replier ended or dropped the request without answering")]
    NoReply,
}

impl<Q> From<ReplyError> for AskError<Q> {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::Timeout(d) => AskError::Timeout(d),
            ReplyError::NoReply => AskError::NoReply,
        }
    }
}

/// Counters of one outbox's requests (kept with its name, for outboxes declared by name).
#[derive(Debug, Default)]
pub(crate) struct AskStats {
    asked: AtomicU64,
    replied: AtomicU64,
    timed_out: AtomicU64,
    failed: AtomicU64,
}

impl AskStats {
    pub(crate) fn read(&self) -> AskInfo {
        let asked = self.asked.load(Ordering::Relaxed);
        let replied = self.replied.load(Ordering::Relaxed);
        let timed_out = self.timed_out.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        AskInfo {
            asked,
            replied,
            timed_out,
            failed,
            in_flight: asked.saturating_sub(replied + timed_out + failed),
        }
    }
}

/// True if `T` is a [`Request`]: a named outbox of requests counts them (others share
/// their name with every outbox of the same name, and count nothing). Told by the
/// type's name, as `T` has no bound to ask it by; `requests_are_told_by_their_type_name`
/// checks that the compiler still names it so.
pub(crate) fn is_request<T: ?Sized>() -> bool {
    std::any::type_name::<T>().starts_with(concat!(module_path!(), "::Request<"))
}

/// An outbox's requests in a [`Snapshot`](crate::Snapshot): how many were sent, how they
/// ended, and how many still wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AskInfo {
    /// Requests delivered to the answerer.
    pub asked: u64,
    /// Answered.
    pub replied: u64,
    /// Given up after the time allowed.
    pub timed_out: u64,
    /// Ended without an answer: the answerer ended or dropped them, or the asker stopped
    /// waiting.
    pub failed: u64,
    /// Still waiting for an answer.
    pub in_flight: u64,
}

/// An answer on its way ([`Outbox::request`]); wait for it with [`wait`](Self::wait).
/// Dropping it gives up (counted as failed).
#[derive(Debug)]
pub struct PendingReply<R> {
    rx: oneshot::Receiver<R>,
    meta: Option<Arc<OutboxMeta>>,
    settled: bool,
}

impl<R> PendingReply<R> {
    fn count(&mut self, pick: impl FnOnce(&AskStats) -> &AtomicU64) {
        self.settled = true;
        if let Some(stats) = self.meta.as_ref().and_then(|m| m.asks.as_ref()) {
            pick(stats).fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Wait for the answer, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`ReplyError::Timeout`] or [`ReplyError::NoReply`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives the request up (the answerer sees
    /// [`Request::is_abandoned`]); it is counted as failed.
    pub async fn wait(mut self, timeout: Duration) -> Result<R, ReplyError> {
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(Ok(answer)) => {
                self.count(|s| &s.replied);
                Ok(answer)
            }
            Ok(Err(_)) => {
                self.count(|s| &s.failed);
                Err(ReplyError::NoReply)
            }
            Err(_) => {
                self.count(|s| &s.timed_out);
                Err(ReplyError::Timeout(timeout))
            }
        }
    }
}

impl<R> Drop for PendingReply<R> {
    fn drop(&mut self) {
        if !self.settled {
            self.count(|s| &s.failed);
        }
    }
}

impl<Q: Send + 'static, R: Send + 'static> Outbox<Request<Q, R>> {
    /// Send a request and return its answer on the way, so several can be in flight at
    /// once. Waits for room like [`send`](Outbox::send). Answers come back in whatever
    /// order the answerer gives them; one that answers in turn answers in the order
    /// asked.
    ///
    /// # Errors
    ///
    /// [`AskError::NoDestination`] with the question, if nothing is linked.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Outbox::send): not cancel safe while waiting for room.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use axon::{Context, Request, Runtime, component::from_fn};
    /// let rt = Runtime::new();
    /// let counter = rt.add(from_fn("counter", |mut ctx: Context<Request<(), u32>, ()>| async move {
    ///     let mut n = 0;
    ///     while let Some(req) = ctx.recv().await {
    ///         n += 1;
    ///         let _ = req.reply(n);
    ///     }
    ///     Ok(())
    /// })).unwrap();
    /// let mut me = rt.external("me");
    /// let (to, mut out) = me.add_outbox::<Request<(), u32>>("next").unwrap();
    /// rt.link(to, counter.inbox()).unwrap();
    /// let _h = counter.start();
    /// let first = out.request(()).await.unwrap();
    /// let second = out.request(()).await.unwrap();
    /// let t = Duration::from_secs(1);
    /// assert_eq!((first.wait(t).await.unwrap(), second.wait(t).await.unwrap()), (1, 2));
    /// # }
    /// ```
    pub async fn request(&mut self, question: Q) -> Result<PendingReply<R>, AskError<Q>> {
        let (tx, rx) = oneshot::channel();
        let sent = self
            .send(Request {
                body: question,
                reply: tx,
            })
            .await;
        match sent {
            Ok(()) => {
                if let Some(stats) = self.ask_stats() {
                    stats.asked.fetch_add(1, Ordering::Relaxed);
                }
                Ok(PendingReply {
                    rx,
                    meta: self.meta(),
                    settled: false,
                })
            }
            Err(SendError(req, meta)) => Err(AskError::NoDestination(SendError(req.body, meta))),
        }
    }

    /// Ask and wait for the answer, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`AskError::NoDestination`] (with the question), [`AskError::Timeout`], or
    /// [`AskError::NoReply`] when the answerer ended or dropped the request.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a request already sent is given up (counted as failed).
    pub async fn ask(&mut self, question: Q, timeout: Duration) -> Result<R, AskError<Q>> {
        let pending = self.request(question).await?;
        Ok(pending.wait(timeout).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::{Request, is_request};

    #[test]
    fn requests_are_told_by_their_type_name() {
        assert!(is_request::<Request<u64, String>>());
        assert!(is_request::<Request<Request<(), ()>, Vec<u8>>>());
        assert!(!is_request::<u64>());
        assert!(!is_request::<Option<Request<u8, u8>>>());
        assert!(!is_request::<bytes::Bytes>());
    }
}
