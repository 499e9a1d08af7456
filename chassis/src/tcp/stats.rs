//! Counters a server keeps while it runs, and the report it ends with.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use super::ConnectionInfo;
use super::pump::IdleWheel;

/// Live counters of a server, shared with whoever asked for them: read them while
/// the server runs, and its [`ShutdownReport`] once it has stopped.
///
/// Cheap to clone; clones share the counters.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chassis::tcp::{Echo, ServerCore};
/// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
/// let stats = server.stats();
/// let handle = axon::Runtime::new().spawn(server)?;
/// handle.shutdown().await?;
/// handle.join().await;
/// assert_eq!(stats.live(), 0);
/// assert!(stats.report().is_some());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ServerStats {
    inner: Arc<StatsInner>,
}

#[derive(Debug)]
struct StatsInner {
    max: usize,
    live: AtomicUsize,
    next_id: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    closed: AtomicU64,
    handler_failures: AtomicU64,
    report: Mutex<Option<ShutdownReport>>,
    changed: Notify,
    /// The idle timers of the server's connections, made by the first that has one.
    idle: OnceLock<IdleWheel>,
}

impl ServerStats {
    pub(crate) fn new(max_connections: usize) -> Self {
        ServerStats {
            inner: Arc::new(StatsInner {
                max: max_connections.max(1),
                live: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                accepted: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                closed: AtomicU64::new(0),
                handler_failures: AtomicU64::new(0),
                report: Mutex::new(None),
                idle: OnceLock::new(),
                changed: Notify::new(),
            }),
        }
    }

    /// Sockets accepted and handed on (not counting rejected ones).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    /// let stats = server.stats();
    /// assert_eq!(stats.accepted(), 0); // nothing has connected yet
    /// # Ok(()) }
    /// ```
    pub fn accepted(&self) -> u64 {
        self.inner.accepted.load(Ordering::Relaxed)
    }

    /// Sockets closed at once because `max_connections` were open.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    /// assert_eq!(server.stats().rejected(), 0);
    /// # Ok(()) }
    /// ```
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }

    /// Sockets open now.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    /// let stats = server.stats();
    /// let _client = tokio::net::TcpStream::connect(server.local_addr()).await?;
    /// let handle = axon::Runtime::new().spawn(server)?;
    /// stats.wait_for(|s| s.live() == 1).await;
    /// assert_eq!(stats.accepted(), 1);
    /// # handle.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub fn live(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Connections whose socket has closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    /// let stats = server.stats();
    /// let client = tokio::net::TcpStream::connect(server.local_addr()).await?;
    /// let handle = axon::Runtime::new().spawn(server)?;
    /// drop(client);
    /// stats.wait_for(|s| s.closed() == 1).await;
    /// assert_eq!(stats.live(), 0);
    /// # handle.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub fn closed(&self) -> u64 {
        self.inner.closed.load(Ordering::Relaxed)
    }

    /// Handlers that failed or panicked (each closed only its own connection), and
    /// factories or handler setups that refused a connection.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    /// assert_eq!(server.stats().handler_failures(), 0);
    /// # Ok(()) }
    /// ```
    pub fn handler_failures(&self) -> u64 {
        self.inner.handler_failures.load(Ordering::Relaxed)
    }

    /// The counters as the server publishes them to introspection
    /// ([`axon::Runtime::publish_counters`]): `server_accepted_total`,
    /// `server_rejected_total`, `server_closed_total`, `server_handler_failures_total`
    /// and the gauge `server_open`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    /// assert!(server.stats().counters().contains(&("server_open", 0)));
    /// # Ok(()) }
    /// ```
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("server_accepted_total", self.accepted()),
            ("server_rejected_total", self.rejected()),
            ("server_closed_total", self.closed()),
            ("server_handler_failures_total", self.handler_failures()),
            ("server_open", self.live() as u64),
        ]
    }

    /// The report the server ended with, once it has.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    /// let stats = server.stats();
    /// assert!(stats.report().is_none()); // still running
    /// let handle = axon::Runtime::new().spawn(server)?;
    /// handle.shutdown().await?;
    /// handle.join().await;
    /// assert_eq!(stats.report().unwrap().accepted, 0);
    /// # Ok(()) }
    /// ```
    pub fn report(&self) -> Option<ShutdownReport> {
        self.inner
            .report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wait until `cond` holds, checking it again after every change to the counters.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(stats: chassis::tcp::ServerStats) {
    /// // Wait for the first connection to close.
    /// stats.wait_for(|s| s.closed() >= 1).await;
    /// # }
    /// ```
    pub async fn wait_for(&self, mut cond: impl FnMut(&ServerStats) -> bool) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            // Register before checking, so a change in between is not missed.
            changed.as_mut().enable();
            if cond(self) {
                return;
            }
            changed.await;
        }
    }

    fn bump(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Take a slot for a new socket, or refuse (counted) when the limit is reached.
    pub(crate) fn admit(&self) -> Option<Permit> {
        let before = self.inner.live.fetch_add(1, Ordering::AcqRel);
        if before >= self.inner.max {
            self.inner.live.fetch_sub(1, Ordering::AcqRel);
            self.inner.rejected.fetch_add(1, Ordering::Relaxed);
            self.bump();
            return None;
        }
        self.inner.accepted.fetch_add(1, Ordering::Relaxed);
        self.bump();
        Some(Permit {
            stats: self.clone(),
        })
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn note_closed(&self) {
        self.inner.closed.fetch_add(1, Ordering::Relaxed);
        self.bump();
    }

    pub(crate) fn note_failure(&self) {
        self.inner.handler_failures.fetch_add(1, Ordering::Relaxed);
        self.bump();
    }

    pub(crate) fn set_report(&self, report: ShutdownReport) {
        *self.inner.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        self.bump();
    }
}

/// One open socket's slot, held by its adapter; released when the adapter ends or
/// is dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    stats: ServerStats,
}

impl Permit {
    /// The idle timers shared by the server's connections, for `timeout` (a wheel of
    /// its own if the server's connections were given another).
    pub(crate) fn idle_wheel(&self, timeout: Duration) -> IdleWheel {
        let shared = self
            .stats
            .inner
            .idle
            .get_or_init(|| IdleWheel::new(timeout));
        if shared.timeout() == timeout {
            shared.clone()
        } else {
            IdleWheel::new(timeout)
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.stats.inner.live.fetch_sub(1, Ordering::AcqRel);
        self.stats.bump();
    }
}

/// What a [`ServerCore`](super::ServerCore) reports when it stops: sent on its
/// `outbox`, kept in its [`ServerStats`], and logged.
///
/// # Examples
///
/// ```
/// use chassis::tcp::ShutdownReport;
/// let r = ShutdownReport::default();
/// assert!(r.to_string().contains("0 open at shutdown"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// The address the server listened on.
    pub listen: Option<std::net::SocketAddr>,
    /// Sockets accepted over the server's life.
    pub accepted: u64,
    /// Sockets closed at once because the connection limit was reached.
    pub rejected: u64,
    /// Handlers that failed or panicked, and refused connections.
    pub handler_failures: u64,
    /// Connections open when the shutdown began.
    pub open_at_shutdown: Vec<ConnectionInfo>,
    /// How many of those closed by themselves within the drain deadline.
    pub drained: usize,
    /// Connections still open at the deadline, which were stopped.
    pub forced: Vec<ConnectionInfo>,
    /// How long draining took.
    pub drain_time: Duration,
}

impl std::fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(addr) = self.listen {
            write!(f, "server on {addr}: ")?;
        }
        write!(
            f,
            "{} accepted, {} rejected, {} handler failures; {} open at shutdown, {} drained in {:.3} s, {} stopped at the deadline",
            self.accepted,
            self.rejected,
            self.handler_failures,
            self.open_at_shutdown.len(),
            self.drained,
            self.drain_time.as_secs_f64(),
            self.forced.len()
        )?;
        for c in &self.forced {
            write!(f, "; stopped {c}")?;
        }
        Ok(())
    }
}
