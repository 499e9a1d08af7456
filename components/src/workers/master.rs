//! [`WorkerMaster`]: the master side's shared state and its [`ServerCore`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chassis::tcp::{BindError, ConnectionInfo, ServerConfig, ServerCore, TcpKeepalive};

use super::connection::WorkerConnection;
use super::directory::ConnectedWorkers;
use super::limiter::LoginLimiter;
use super::registrations::{Registration, Registrations};

/// The service name under which the connection of worker `name` takes
/// [`WorkerRequest`](super::WorkerRequest)s, while it is logged in.
///
/// # Examples
///
/// ```
/// assert_eq!(components::workers::worker_service("w1"), "workers/w1");
/// ```
pub fn worker_service(name: &str) -> String {
    format!("workers/{name}")
}

/// The kernel keepalive a master's accepted sockets and a worker's socket get unless
/// told otherwise: first probe after 60 s of silence, then every 10 s (so a vanished
/// peer is found in about two minutes even with the application keepalive off).
pub const TCP_KEEPALIVE: TcpKeepalive =
    TcpKeepalive::new(Duration::from_secs(60), Duration::from_secs(10));

/// The default service name of the inbox that takes every connection's
/// [`CommandUpdate`](super::CommandUpdate)s.
pub const UPDATES_SERVICE: &str = "workers/updates";

/// How a [`WorkerMaster`] treats its connections.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `login_timeout` | 10 s | time a peer has to log in |
/// | `keepalive_period` | 30 s | how often `keepalive` is printed to the worker's log |
/// | `keepalive_deadline` | 90 s | silence after which a worker is detached |
/// | `updates_service` | [`UPDATES_SERVICE`] | where command updates go |
/// | `tcp_keepalive` | [`TCP_KEEPALIVE`] | kernel keepalive on accepted sockets, when the server's config sets none |
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MasterOptions {
    /// Time a peer has to log in.
    pub login_timeout: Duration,
    /// Keepalive period.
    pub keepalive_period: Duration,
    /// Silence after which a worker is detached.
    pub keepalive_deadline: Duration,
    /// Service name of the updates inbox.
    pub updates_service: String,
    /// Kernel keepalive on accepted sockets, when the server's config sets none.
    pub tcp_keepalive: Option<TcpKeepalive>,
}

impl Default for MasterOptions {
    fn default() -> Self {
        MasterOptions {
            login_timeout: Duration::from_secs(10),
            keepalive_period: Duration::from_secs(30),
            keepalive_deadline: Duration::from_secs(90),
            updates_service: UPDATES_SERVICE.to_string(),
            tcp_keepalive: Some(TCP_KEEPALIVE),
        }
    }
}

impl MasterOptions {
    /// Set the keepalive period and deadline.
    pub fn keepalive(mut self, period: Duration, deadline: Duration) -> Self {
        self.keepalive_period = period;
        self.keepalive_deadline = deadline;
        self
    }

    /// Set [`login_timeout`](Self::login_timeout).
    pub fn login_timeout(mut self, timeout: Duration) -> Self {
        self.login_timeout = timeout;
        self
    }
}

/// A master's counters, shared by all its connections.
#[derive(Debug, Clone, Default)]
pub struct MasterStats {
    pub(crate) inner: Arc<StatsInner>,
}

#[derive(Debug, Default)]
pub(crate) struct StatsInner {
    pub(crate) logins: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) silent_detached: AtomicU64,
    pub(crate) keepalives_unanswered: AtomicU64,
    pub(crate) updates_undelivered: AtomicU64,
}

impl MasterStats {
    /// Successful logins.
    pub fn logins(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }
    /// Logins refused (bad credentials, wrong port, already logged in, rate limit).
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }
    /// Of [`refused`](Self::refused), those refused by the rate limit.
    pub fn rate_limited(&self) -> u64 {
        self.inner.rate_limited.load(Ordering::Relaxed)
    }
    /// Connections closed for a malformed message.
    pub fn protocol_errors(&self) -> u64 {
        self.inner.protocol_errors.load(Ordering::Relaxed)
    }
    /// Workers detached after the keepalive deadline.
    pub fn silent_detached(&self) -> u64 {
        self.inner.silent_detached.load(Ordering::Relaxed)
    }
    /// Keepalive periods skipped because the previous keepalive was still unanswered
    /// (at most one is outstanding per worker, so a worker that talks but never
    /// answers does not pile up requests).
    pub fn keepalives_unanswered(&self) -> u64 {
        self.inner.keepalives_unanswered.load(Ordering::Relaxed)
    }
    /// Command updates that had nowhere to go (no updates service linked).
    pub fn updates_undelivered(&self) -> u64 {
        self.inner.updates_undelivered.load(Ordering::Relaxed)
    }
}

/// The master side of the worker protocol: registrations, the login limiter, the
/// table of connected workers and counters, shared by every [`WorkerConnection`].
/// Cheap to clone.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chassis::tcp::ServerConfig;
/// use components::workers::{Registration, Registrations, WorkerMaster};
///
/// let regs = Registrations::default();
/// regs.set("w1", Registration::new("s3cret"));
/// let master = WorkerMaster::new(regs);
/// let server = master.server(ServerConfig::new("127.0.0.1:0".parse()?))?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WorkerMaster {
    pub(crate) registrations: Registrations,
    pub(crate) limiter: LoginLimiter,
    pub(crate) workers: ConnectedWorkers,
    pub(crate) stats: MasterStats,
    pub(crate) options: MasterOptions,
}

/// The handler factory of a master's [`ServerCore`].
pub type MasterFactory = Box<dyn Fn(&ConnectionInfo) -> WorkerConnection + Send + Sync>;

impl WorkerMaster {
    /// A master accepting the workers of `registrations`, with default options and a
    /// limit of 5 failed logins per address per minute.
    pub fn new(registrations: Registrations) -> Self {
        WorkerMaster {
            registrations,
            limiter: LoginLimiter::default(),
            workers: ConnectedWorkers::default(),
            stats: MasterStats::default(),
            options: MasterOptions::default(),
        }
    }

    /// Use `options`.
    pub fn with_options(mut self, options: MasterOptions) -> Self {
        self.options = options;
        self
    }

    /// Use `limiter` for failed logins.
    pub fn with_limiter(mut self, limiter: LoginLimiter) -> Self {
        self.limiter = limiter;
        self
    }

    /// The registrations (change them at any time).
    pub fn registrations(&self) -> &Registrations {
        &self.registrations
    }

    /// The workers logged in.
    pub fn workers(&self) -> &ConnectedWorkers {
        &self.workers
    }

    /// The counters.
    pub fn stats(&self) -> &MasterStats {
        &self.stats
    }

    /// The options.
    pub fn options(&self) -> &MasterOptions {
        &self.options
    }

    /// Add or change `name`'s registration; it takes effect at the next login. With
    /// `disconnect`, a current connection of `name` is closed now (its commands
    /// complete as "connection lost"). Returns whether a connection was closed.
    pub fn update_registration(
        &self,
        name: &str,
        registration: Registration,
        disconnect: bool,
    ) -> bool {
        self.registrations.set(name, registration);
        disconnect && self.workers.disconnect(name)
    }

    /// Every registered or connected worker as a JSON array, for status pages:
    /// `name`, `connected`, and when connected `peer`, `last_heard_secs_ago` and
    /// `running` (command ids).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::workers::{Registration, Registrations, WorkerMaster};
    /// let regs = Registrations::default();
    /// regs.set("w1", Registration::new("s"));
    /// let master = WorkerMaster::new(regs);
    /// assert_eq!(master.status_json(), r#"[{"connected":false,"name":"w1"}]"#);
    /// # }
    /// ```
    pub fn status_json(&self) -> String {
        let mut names = self.registrations.names();
        names.extend(self.workers.names());
        names.sort();
        names.dedup();
        let now = tokio::time::Instant::now();
        let rows: Vec<serde_json::Value> = names
            .into_iter()
            .map(|name| match self.workers.view(&name) {
                Some(v) => serde_json::json!({
                    "name": name,
                    "connected": true,
                    "peer": v.peer.to_string(),
                    "last_heard_secs_ago": now.duration_since(v.last_heard).as_secs_f64(),
                    "running": v.running.keys().collect::<Vec<_>>(),
                }),
                None => serde_json::json!({ "name": name, "connected": false }),
            })
            .collect();
        serde_json::Value::Array(rows).to_string()
    }

    /// The handler for one connection.
    pub fn connection(&self, info: &ConnectionInfo) -> WorkerConnection {
        WorkerConnection::new(self.clone(), *info)
    }

    /// A [`ServerCore`] making one [`WorkerConnection`] per connection. Accepted
    /// sockets get [`MasterOptions::tcp_keepalive`] unless `config` sets its own.
    ///
    /// # Errors
    ///
    /// The [`BindError`] if `config.listen` cannot be bound.
    pub fn server(&self, config: ServerConfig) -> Result<ServerCore<MasterFactory>, BindError> {
        let mut config = config;
        if config.tcp_keepalive.is_none() {
            config.tcp_keepalive = self.options.tcp_keepalive;
        }
        let master = self.clone();
        let factory: MasterFactory = Box::new(move |info| master.connection(info));
        ServerCore::new(config, factory)
    }
}
