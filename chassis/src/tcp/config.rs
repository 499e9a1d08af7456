//! [`ServerConfig`]: where a server listens and its limits.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Where a [`ServerCore`](super::ServerCore) listens, and its limits.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `listen` | `127.0.0.1:0` | the address to bind; port 0 picks a free port |
/// | `max_connections` | 10 000 | sockets open at once; beyond it new sockets are closed at once and counted as rejected |
/// | `idle_timeout` | 300 s | a connection that moves no byte in either direction for this long is closed (`None`: never) |
/// | `max_frame` | 64 KiB | the largest frame or line the framing components a factory builds should accept |
/// | `drain_deadline` | 5 s | on `Shutdown`, how long handlers get to finish before they are stopped |
/// | `backlog` | 1024 | the listen backlog (Kamaelia's was 5) |
/// | `nodelay` | true | `TCP_NODELAY` on accepted sockets, so small replies are not held back |
/// | `tcp_keepalive` | `None` | `SO_KEEPALIVE` on accepted sockets, with its idle time and probe interval ([`TcpKeepalive`](super::TcpKeepalive)) |
/// | `buffer_budget` | 256 KiB | byte budget of each connection's two data inboxes (bytes read waiting for the handler, bytes waiting for the socket), so a peer that never reads slows its handler instead of growing memory (`None`: messages counted only) |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chassis::tcp::ServerConfig;
///
/// let config = ServerConfig::new("127.0.0.1:0".parse().unwrap())
///     .max_connections(100)
///     .idle_timeout(Some(Duration::from_secs(30)));
/// assert_eq!(config.max_connections, 100);
/// assert_eq!(config.max_frame, ServerConfig::DEFAULT_MAX_FRAME);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The address to bind.
    pub listen: SocketAddr,
    /// How many connections may be open at once.
    pub max_connections: usize,
    /// Close a connection after this long without traffic.
    pub idle_timeout: Option<Duration>,
    /// The largest frame or line the per-connection framing components should accept;
    /// the factory reads it from here when it builds them.
    pub max_frame: usize,
    /// How long a shutdown waits for handlers to finish.
    pub drain_deadline: Duration,
    /// The listen backlog.
    pub backlog: u32,
    /// Set `TCP_NODELAY` on accepted sockets.
    pub nodelay: bool,
    /// The byte budget of each connection's adapter and handler inboxes.
    pub buffer_budget: Option<usize>,
    /// Kernel keepalive probes on accepted sockets.
    pub tcp_keepalive: Option<super::TcpKeepalive>,
}

impl ServerConfig {
    /// Default for [`max_connections`](ServerConfig::max_connections).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::ServerConfig;
    /// let c = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    /// assert_eq!(c.max_connections, ServerConfig::DEFAULT_MAX_CONNECTIONS);
    /// ```
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    /// Default for [`idle_timeout`](ServerConfig::idle_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::ServerConfig;
    /// let c = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    /// assert_eq!(c.idle_timeout, Some(ServerConfig::DEFAULT_IDLE_TIMEOUT));
    /// ```
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
    /// Default for [`max_frame`](ServerConfig::max_frame).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::ServerConfig;
    /// let c = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    /// assert_eq!(c.max_frame, ServerConfig::DEFAULT_MAX_FRAME);
    /// assert_eq!(ServerConfig::DEFAULT_MAX_FRAME, 64 * 1024);
    /// ```
    pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;
    /// Default for [`drain_deadline`](ServerConfig::drain_deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::ServerConfig;
    /// let c = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    /// assert_eq!(c.drain_deadline, ServerConfig::DEFAULT_DRAIN_DEADLINE);
    /// ```
    pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(5);
    /// Default for [`backlog`](ServerConfig::backlog).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::ServerConfig;
    /// let c = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    /// assert_eq!(c.backlog, ServerConfig::DEFAULT_BACKLOG);
    /// ```
    pub const DEFAULT_BACKLOG: u32 = 1024;
    /// Default for [`buffer_budget`](ServerConfig::buffer_budget).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::ServerConfig;
    /// let c = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    /// assert_eq!(c.buffer_budget, Some(ServerConfig::DEFAULT_BUFFER_BUDGET));
    /// ```
    pub const DEFAULT_BUFFER_BUDGET: usize = 256 * 1024;

    /// The defaults, listening on `listen`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = chassis::tcp::ServerConfig::new("[::1]:0".parse().unwrap());
    /// assert!(c.listen.is_ipv6());
    /// ```
    pub fn new(listen: SocketAddr) -> Self {
        ServerConfig {
            listen,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(Self::DEFAULT_IDLE_TIMEOUT),
            max_frame: Self::DEFAULT_MAX_FRAME,
            drain_deadline: Self::DEFAULT_DRAIN_DEADLINE,
            backlog: Self::DEFAULT_BACKLOG,
            nodelay: true,
            buffer_budget: Some(Self::DEFAULT_BUFFER_BUDGET),
            tcp_keepalive: None,
        }
    }

    /// Set [`listen`](ServerConfig::listen).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = chassis::tcp::ServerConfig::default().listen("127.0.0.1:7".parse().unwrap());
    /// assert_eq!(c.listen.port(), 7);
    /// ```
    pub fn listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Set [`max_connections`](ServerConfig::max_connections) (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(chassis::tcp::ServerConfig::default().max_connections(0).max_connections, 1);
    /// ```
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Set [`idle_timeout`](ServerConfig::idle_timeout); `None` turns it off.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(chassis::tcp::ServerConfig::default().idle_timeout(None).idle_timeout.is_none());
    /// ```
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Set [`max_frame`](ServerConfig::max_frame).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(chassis::tcp::ServerConfig::default().max_frame(1024).max_frame, 1024);
    /// ```
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Set [`drain_deadline`](ServerConfig::drain_deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = chassis::tcp::ServerConfig::default().drain_deadline(Duration::from_secs(1));
    /// assert_eq!(c.drain_deadline, Duration::from_secs(1));
    /// ```
    pub fn drain_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.drain_deadline = deadline;
        self
    }

    /// Set [`backlog`](ServerConfig::backlog) (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(chassis::tcp::ServerConfig::default().backlog(4096).backlog, 4096);
    /// ```
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog.max(1);
        self
    }

    /// Set [`nodelay`](ServerConfig::nodelay).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!chassis::tcp::ServerConfig::default().nodelay(false).nodelay);
    /// ```
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Set [`buffer_budget`](ServerConfig::buffer_budget); `None` bounds the inboxes in
    /// messages only.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = chassis::tcp::ServerConfig::default().buffer_budget(Some(1 << 20));
    /// assert_eq!(c.buffer_budget, Some(1 << 20));
    /// ```
    pub fn buffer_budget(mut self, bytes: Option<usize>) -> Self {
        self.buffer_budget = bytes;
        self
    }

    /// Set [`tcp_keepalive`](ServerConfig::tcp_keepalive).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use chassis::tcp::{ServerConfig, TcpKeepalive};
    /// let k = TcpKeepalive::new(Duration::from_secs(60), Duration::from_secs(10));
    /// assert_eq!(ServerConfig::default().tcp_keepalive(Some(k)).tcp_keepalive, Some(k));
    /// ```
    pub fn tcp_keepalive(mut self, keepalive: Option<super::TcpKeepalive>) -> Self {
        self.tcp_keepalive = keepalive;
        self
    }
}

impl Default for ServerConfig {
    /// The defaults, listening on `127.0.0.1:0`.
    fn default() -> Self {
        ServerConfig::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }
}
