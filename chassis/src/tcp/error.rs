//! Errors of the TCP chassis: binding a listener and connecting a client.

use std::io;
use std::net::SocketAddr;

use thiserror::Error;

/// A server could not start listening. Returned to the caller of
/// [`ServerCore::new`](super::ServerCore::new), [`ServerCore::bind`](super::ServerCore::bind)
/// and [`TcpServer::bind`](super::TcpServer::bind), never swallowed.
///
/// The message names the address and the operating system's reason.
///
/// # Examples
///
/// ```
/// use chassis::tcp::BindError;
///
/// let err = BindError::Listen {
///     addr: "127.0.0.1:80".parse().unwrap(),
///     source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
/// };
/// assert!(err.to_string().contains("127.0.0.1:80"));
/// assert_eq!(err.addr(), Some("127.0.0.1:80".parse().unwrap()));
/// ```
#[derive(Debug, Error)]
pub enum BindError {
    /// The listen address could not be resolved to a socket address.
    #[error("cannot resolve listen address {addr}: {source}")]
    Resolve {
        /// The address as given.
        addr: String,
        /// The resolver's reason.
        source: io::Error,
    },
    /// Creating, binding or listening on the socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address the socket was to listen on.
        addr: SocketAddr,
        /// The operating system's reason (address in use, permission denied …).
        source: io::Error,
    },
}

impl BindError {
    /// The socket address that could not be bound, if resolution got that far.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = chassis::tcp::BindError::Resolve {
    ///     addr: "nowhere:1".into(),
    ///     source: std::io::Error::other("no such host"),
    /// };
    /// assert_eq!(err.addr(), None);
    /// ```
    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            BindError::Listen { addr, .. } => Some(*addr),
            BindError::Resolve { .. } => None,
        }
    }

    /// The underlying I/O error.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = chassis::tcp::BindError::Listen {
    ///     addr: "127.0.0.1:1".parse().unwrap(),
    ///     source: std::io::ErrorKind::AddrInUse.into(),
    /// };
    /// assert_eq!(err.io_error().kind(), std::io::ErrorKind::AddrInUse);
    /// ```
    pub fn io_error(&self) -> &io::Error {
        match self {
            BindError::Listen { source, .. } | BindError::Resolve { source, .. } => source,
        }
    }
}

/// Why a [`TcpClient`](super::TcpClient) ended with [`Exit::Failed`](axon::Exit::Failed).
///
/// # Examples
///
/// ```
/// use chassis::tcp::ClientError;
///
/// let err = ClientError::Connect {
///     addr: "127.0.0.1:9".into(),
///     attempts: 3,
///     source: std::io::ErrorKind::ConnectionRefused.into(),
/// };
/// assert!(err.to_string().contains("after 3 attempt"));
/// ```
#[derive(Debug, Error)]
pub enum ClientError {
    /// Every connection attempt failed (with reconnect off there is one attempt).
    #[error("cannot connect to {addr} after {attempts} attempt(s): {source}")]
    Connect {
        /// The address as given.
        addr: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's reason.
        source: io::Error,
    },
    /// An established connection failed (reset, or another I/O error) and reconnect
    /// is off.
    #[error("connection to {addr} failed: {source}")]
    Connection {
        /// The peer's address.
        addr: SocketAddr,
        /// The reason.
        source: io::Error,
    },
    /// An established connection was silent for longer than the idle timeout and
    /// reconnect is off.
    #[error("connection to {addr} was idle for longer than the idle timeout")]
    Idle {
        /// The peer's address.
        addr: SocketAddr,
    },
}

/// Why a [`ServerCore`](super::ServerCore) ended with [`Exit::Failed`](axon::Exit::Failed).
///
/// # Examples
///
/// ```
/// let err = chassis::tcp::ServerError::ListenerStopped {
///     addr: "127.0.0.1:7".parse().unwrap(),
///     exit: "panicked: boom".into(),
/// };
/// assert!(err.to_string().contains("127.0.0.1:7"));
/// ```
#[derive(Debug, Error)]
pub enum ServerError {
    /// The listening component ended without being asked to; the server drained its
    /// connections and stopped.
    #[error("the listener on {addr} stopped unexpectedly: {exit}")]
    ListenerStopped {
        /// The listening address.
        addr: SocketAddr,
        /// How the listener ended.
        exit: String,
    },
}
