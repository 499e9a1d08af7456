//! [`Keepalive`]: keep a connection alive and notice when its peer has gone silent
//! (PROTOCOLS.md §7).
//!
//! Two timers per connection: a harmless message is sent to the peer every period
//! *T*, and the peer is declared dead when nothing at all has been heard from it for a
//! deadline *D* (three periods by default). Any inbound traffic counts, not only
//! replies to keepalives. The time of the last message heard is kept in a
//! [`KeepaliveStatus`] for status views.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axon::{BoxError, Component, Context, LinkError, Setup, TrySendError};
use thiserror::Error;
use tokio::time::{Instant, MissedTickBehavior};

/// Why a keepalive ended with a failure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let e = components::keepalive::Error::PeerDead { silent_for: Duration::from_secs(90) };
/// assert_eq!(e.to_string(), "the peer was silent for 90s");
/// ```
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Nothing was heard from the peer for the deadline.
    #[error("the peer was silent for {silent_for:?}")]
    PeerDead {
        /// How long nothing was heard (the deadline, give or take scheduling).
        silent_for: Duration,
    },
    /// A keepalive could not be sent: the `outbox` has no destination (the
    /// connection's outbound path has gone).
    #[error("the outbox has no destination; a keepalive could not be delivered")]
    NoDestination,
}

/// The notice a [`Keepalive`] sends on its `dead` outbox when the deadline passes.
///
/// # Examples
///
/// ```
/// # async fn demo(mut dead: axon::Inbox<components::keepalive::PeerDead>) {
/// if let Some(notice) = dead.recv().await {
///     tracing::warn!("peer silent for {:?}", notice.silent_for);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDead {
    /// How long nothing was heard.
    pub silent_for: Duration,
    /// When the peer was last heard, if ever.
    pub last_heard: Option<Instant>,
}

/// A shared view of a running [`Keepalive`], for status pages and tests. Cheap to
/// clone; every clone sees the same state.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::keepalive::Keepalive;
///
/// let ka = Keepalive::<String, String>::every(Duration::from_secs(30), "PING".to_string());
/// let status = ka.status();
/// assert_eq!(status.last_heard(), None);
/// assert_eq!(status.keepalives_sent(), 0);
/// assert!(!status.is_dead());
/// ```
#[derive(Debug, Clone, Default)]
pub struct KeepaliveStatus {
    inner: Arc<Mutex<StatusInner>>,
}

#[derive(Debug, Default)]
struct StatusInner {
    started: Option<Instant>,
    last_heard: Option<Instant>,
    last_heard_wall: Option<SystemTime>,
    heard: u64,
    sent: u64,
    skipped: u64,
    dead: bool,
}

impl KeepaliveStatus {
    fn lock(&self) -> MutexGuard<'_, StatusInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the last message was heard from the peer ([`tokio::time::Instant`], so it
    /// follows a paused clock in tests); `None` if nothing has been heard yet.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(status: &components::keepalive::KeepaliveStatus) {
    /// if let Some(at) = status.last_heard() {
    ///     let ago = at.elapsed();
    /// }
    /// # }
    /// ```
    pub fn last_heard(&self) -> Option<Instant> {
        self.lock().last_heard
    }

    /// The wall-clock time of the last message heard, for display.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(status: &components::keepalive::KeepaliveStatus) {
    /// let when = status.last_heard_wall();
    /// # }
    /// ```
    pub fn last_heard_wall(&self) -> Option<SystemTime> {
        self.lock().last_heard_wall
    }

    /// How long the peer has been silent: since the last message heard, or since the
    /// keepalive started if nothing has been heard; `None` before it starts.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(status: &components::keepalive::KeepaliveStatus) {
    /// if let Some(quiet) = status.silent_for() { tracing::debug!("quiet for {quiet:?}"); }
    /// # }
    /// ```
    pub fn silent_for(&self) -> Option<Duration> {
        let s = self.lock();
        s.last_heard.or(s.started).map(|t| t.elapsed())
    }

    /// How many messages have been heard from the peer.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(status: &components::keepalive::KeepaliveStatus) {
    /// let n = status.messages_heard();
    /// # }
    /// ```
    pub fn messages_heard(&self) -> u64 {
        self.lock().heard
    }

    /// How many keepalives have been sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(status: &components::keepalive::KeepaliveStatus) {
    /// let n = status.keepalives_sent();
    /// # }
    /// ```
    pub fn keepalives_sent(&self) -> u64 {
        self.lock().sent
    }

    /// How many keepalives were skipped because the outbound path was full.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(status: &components::keepalive::KeepaliveStatus) {
    /// let n = status.keepalives_skipped();
    /// # }
    /// ```
    pub fn keepalives_skipped(&self) -> u64 {
        self.lock().skipped
    }

    /// True once the peer has been declared dead.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn demo(status: &components::keepalive::KeepaliveStatus) {
    /// if status.is_dead() { /* show the connection as lost */ }
    /// # }
    /// ```
    pub fn is_dead(&self) -> bool {
        self.lock().dead
    }
}

/// Sends a keepalive every period and declares the peer dead after a deadline of
/// silence.
///
/// # What it does
///
/// Every period *T* it sends one keepalive message (`K`, a value cloned or made by a
/// closure) on `outbox`, which is linked into the connection's outbound path (many
/// sources may feed one inbox, so it merges with the protocol handler's replies).
/// Every message arriving on `inbox` (`A`, a copy of the connection's inbound
/// traffic, usually from a [`Fanout`](crate::fanout::Fanout) branch) proves the peer
/// alive. When nothing has arrived for the deadline *D* (3 × *T* unless set with
/// [`deadline`](Keepalive::deadline)), it sends a [`PeerDead`] notice on `dead` and
/// ends with `Exit::Failed(`[`Error::PeerDead`]`)`, so the runtime sends `Shutdown`
/// on its `signal`: link `signal` to whatever closes the connection.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use axon::{Exit, testing::Harness};
/// use components::keepalive::Keepalive;
///
/// let ka = Keepalive::<String, String>::every(Duration::from_secs(10), "PING".into());
/// let status = ka.status();
/// let mut h = Harness::new(ka);
/// assert_eq!(h.recv().await.as_deref(), Some("PING")); // at 10 s
/// h.send("PONG".into()).await; // heard at 10 s: dead at 40 s unless heard again
/// let mut more = 0;
/// while h.recv().await.is_some() {
///     more += 1; // keepalives at 20 s and 30 s
/// }
/// assert_eq!(more, 2);
/// assert_eq!(status.messages_heard(), 1);
/// assert!(matches!(h.exit().await, Exit::Failed(_)));
/// assert!(status.is_dead());
/// # }
/// ```
///
/// # How it works
///
/// Two tokio timers, so it is idle between events and runs on the paused clock in
/// tests. The keepalive timer ticks on a fixed grid and does not care about outbound
/// traffic. Inbound messages only record the time they were heard (no timer is reset
/// per message); when the deadline timer fires it checks that time and re-arms itself
/// for *last heard + D* if the peer spoke meanwhile. An inbound message and the
/// deadline falling due at the same moment count as the peer being alive; the deadline
/// and a keepalive falling due at the same moment count as dead (no keepalive sent).
///
/// Keepalives are sent with `try_send`: when the outbound path is full there is
/// traffic queued for the peer anyway, so the keepalive is skipped (and counted in
/// [`KeepaliveStatus::keepalives_skipped`]) rather than waiting and holding up the
/// deadline. If the `outbox` has no destination the keepalive ends with
/// [`Error::NoDestination`]. The `dead` notice is also sent with `try_send`, and
/// dropped if `dead` is not linked or full.
///
/// It ends when its input ends: on `ProducerFinished` or `SocketShutdown` (the
/// connection closed) it ends as `Finished`, on `Shutdown` as `ShutDown`.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `A` | a copy of everything heard from the peer; each message resets the deadline |
/// | `control` | in | [`Control`](axon::Control) | the connection closed (`ProducerFinished`/`SocketShutdown`) or `Shutdown` |
/// | `outbox` | out | `K` | a keepalive every period, for the peer |
/// | `dead` | out | [`PeerDead`] | one notice when the deadline passes in silence |
/// | `signal` | out | [`Control`](axon::Control) | `Shutdown` when the peer is declared dead; otherwise passes the lifecycle on |
pub struct Keepalive<A, K> {
    period: Duration,
    deadline: Duration,
    make: Box<dyn FnMut() -> K + Send>,
    status: KeepaliveStatus,
    name: Cow<'static, str>,
    _t: PhantomData<fn(A)>,
}

impl<A, K> std::fmt::Debug for Keepalive<A, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keepalive")
            .field("name", &self.name)
            .field("period", &self.period)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<A: Send + 'static, K: Send + 'static> Keepalive<A, K> {
    /// A keepalive sending a clone of `message` every `period`, with a deadline of
    /// three periods.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let ka = components::keepalive::Keepalive::<bytes::Bytes, String>::every(
    ///     Duration::from_secs(30),
    ///     "KEEPALIVE".to_string(),
    /// );
    /// ```
    pub fn every(period: Duration, message: K) -> Self
    where
        K: Clone,
    {
        Self::every_with(period, move || message.clone())
    }

    /// A keepalive sending `make()` every `period`, with a deadline of three periods.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut n = 0u64;
    /// let ka = components::keepalive::Keepalive::<String, String>::every_with(
    ///     Duration::from_secs(30),
    ///     move || { n += 1; format!("PING {n}") },
    /// );
    /// ```
    pub fn every_with(period: Duration, make: impl FnMut() -> K + Send + 'static) -> Self {
        assert!(
            !period.is_zero(),
            "a Keepalive's period must be more than zero"
        );
        Keepalive {
            period,
            deadline: period.saturating_mul(3),
            make: Box::new(make),
            status: KeepaliveStatus::default(),
            name: Cow::Borrowed("Keepalive"),
            _t: PhantomData,
        }
    }

    /// Declare the peer dead after `deadline` of silence instead of three periods.
    ///
    /// # Panics
    ///
    /// If `deadline` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let ka = components::keepalive::Keepalive::<String, String>::every(Duration::from_secs(10), "PING".into())
    ///     .deadline(Duration::from_secs(45));
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        assert!(
            !deadline.is_zero(),
            "a Keepalive's deadline must be more than zero"
        );
        self.deadline = deadline;
        self
    }

    /// Set the name shown in introspection and errors (`Keepalive` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// let ka = components::keepalive::Keepalive::<String, String>::every(
    ///     std::time::Duration::from_secs(10), "PING".into()).named("keepalive 10.0.0.7");
    /// assert_eq!(ka.name(), "keepalive 10.0.0.7");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// A shared view of this keepalive's state; take it before adding the component
    /// to a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let ka = components::keepalive::Keepalive::<String, String>::every(
    ///     std::time::Duration::from_secs(10), "PING".into());
    /// let status = ka.status();
    /// assert!(status.silent_for().is_none()); // not started yet
    /// ```
    pub fn status(&self) -> KeepaliveStatus {
        self.status.clone()
    }
}

impl<A: Send + 'static, K: Send + 'static> Component for Keepalive<A, K> {
    type In = A;
    type Out = K;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe(
            "inbox",
            "a copy of everything heard from the peer; resets the deadline",
        )?;
        setup.describe("outbox", "a keepalive every period, for the peer")?;
        setup.outbox::<PeerDead>(
            "dead",
            "one notice when the peer was silent past the deadline",
        )?;
        Ok(())
    }

    async fn run(mut self, mut ctx: Context<A, K>) -> Result<(), BoxError> {
        let mut dead_out = ctx.outbox_named::<PeerDead>("dead")?;
        let start = Instant::now();
        self.status.lock().started = Some(start);
        let mut last_heard: Option<Instant> = None;
        let mut ticker = tokio::time::interval_at(start + self.period, self.period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let expiry = tokio::time::sleep_until(start + self.deadline);
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                biased;
                msg = ctx.recv() => {
                    if msg.is_none() {
                        return Ok(());
                    }
                    let now = Instant::now();
                    last_heard = Some(now);
                    let mut s = self.status.lock();
                    s.last_heard = Some(now);
                    s.last_heard_wall = Some(SystemTime::now());
                    s.heard += 1;
                }
                () = &mut expiry => {
                    let quiet_since = last_heard.unwrap_or(start);
                    let due = quiet_since + self.deadline;
                    if Instant::now() < due {
                        expiry.as_mut().reset(due);
                        continue;
                    }
                    let silent_for = quiet_since.elapsed();
                    self.status.lock().dead = true;
                    tracing::debug!(keepalive = %self.name, ?silent_for, "peer declared dead");
                    let _ = dead_out.try_send(PeerDead { silent_for, last_heard });
                    return Err(Error::PeerDead { silent_for }.into());
                }
                _ = ticker.tick() => {
                    match ctx.outbox.try_send((self.make)()) {
                        Ok(()) => self.status.lock().sent += 1,
                        Err(TrySendError::Full(_)) => self.status.lock().skipped += 1,
                        Err(TrySendError::Unlinked(_)) => return Err(Error::NoDestination.into()),
                    }
                }
            }
        }
    }
}
