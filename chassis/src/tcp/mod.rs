//! # TCP: servers and clients made of components
//!
//! Kamaelia's `ServerCore` done again: one listening socket, one protocol handler
//! component per connection, made by a factory you supply.
//!
//! ```no_run
//! use chassis::tcp::{Echo, ServerCore};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = axon::Runtime::new();
//! let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
//! let addr = server.local_addr(); // the real port when asked for port 0
//! let handle = rt.spawn(server)?;
//! # handle.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## The parts
//!
//! | component | does |
//! | --- | --- |
//! | [`TcpServer`] | binds (IPv4 or IPv6, port 0 reports the real port), accepts in a loop that drains the backlog, wraps each socket in a CSA and sends [`NewCsa`] |
//! | [`ConnectedSocketAdapter`] (CSA) | socket bytes -> `outbox`, `inbox` -> socket; stops reading while its handler's inbox is full; flushes and closes on `ProducerFinished`; reports the close as [`ShutdownCsa`] |
//! | [`ServerCore`] (alias [`SimpleServer`]) | owns the `TcpServer`, makes a handler per connection with the factory, wires it to the CSA, tears both down when the socket closes, and drains on `Shutdown` |
//! | [`TcpClient`] | connects out; bytes in and out like a CSA; optional reconnect with capped exponential backoff |
//! | [`Echo`] | the seed's `EchoProtocol`: sends back what it receives |
//!
//! ## How a connection is wired
//!
//! ```text
//!                 NewCsa / ShutdownCsa
//!  TcpServer ──────────────────────────► ServerCore._socketactivity ◄── CSA.activity
//!                                            │ factory(&ConnectionInfo)
//!                                            ▼
//!   socket ◄──► CSA.outbox ──► handler.inbox
//!               CSA.inbox  ◄── handler.outbox
//!               CSA.control ◄── handler.signal
//! ```
//!
//! When the socket closes (either side) the CSA sends [`ShutdownCsa`]; ServerCore then
//! sends [`Control::SocketShutdown`](axon::Control::SocketShutdown) to the handler's
//! `control`. A handler that ends sends `ProducerFinished` on its `signal` (the runtime
//! does it when its body returns), and the CSA flushes everything the handler sent and
//! closes the socket. The links go as each component of the pair ends; ServerCore
//! forgets the connection when both have.
//!
//! A handler is any `Component<In = Bytes, Out = Bytes>`, composites included (a
//! pipeline of deframer -> protocol -> framer is wired like any other handler).
//!
//! The CSA and its handler are started together in **one tokio task**
//! ([`Prepared::start_with_detached`](axon::Prepared::start_with_detached)): they stay two components
//! (own boxes, links, exit reasons, panic isolation), but a request read by the CSA,
//! handled and answered costs one task poll, as in a hand-written connection task. A
//! composite handler's children run in tasks of their own.
//!
//! ## Limits
//!
//! Each is a [`ServerConfig`] field with a default: maximum concurrent connections
//! (new sockets beyond it are closed at once and counted), idle timeout (a connection
//! that moves no byte for that long is closed), the maximum frame size for the
//! framing components a factory builds, the backlog, and the drain deadline used on
//! shutdown.

mod client;
mod config;
mod core;
mod csa;
mod echo;
mod error;
mod keepalive;
mod pump;
mod server;
mod stats;

use std::net::SocketAddr;

use serde::Serialize;

pub use self::core::{ServerCore, SimpleServer};
pub use client::{Reconnect, TcpClient};
pub use config::ServerConfig;
pub use csa::ConnectedSocketAdapter;
pub use echo::Echo;
pub use error::{BindError, ClientError, ServerError};
pub use keepalive::TcpKeepalive;
pub use server::TcpServer;
pub use stats::{ServerStats, ShutdownReport};

/// What a handler factory is told about a new connection.
///
/// # Examples
///
/// ```
/// use chassis::tcp::ConnectionInfo;
///
/// let info = ConnectionInfo {
///     id: 1,
///     peer: "127.0.0.1:50000".parse().unwrap(),
///     local: "127.0.0.1:7".parse().unwrap(),
/// };
/// assert_eq!(info.to_string(), "#1 127.0.0.1:50000 -> 127.0.0.1:7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ConnectionInfo {
    /// The connection's number, unique within its server, counting from 1.
    pub id: u64,
    /// The remote end's address.
    pub peer: SocketAddr,
    /// The local end's address (the address the client connected to).
    pub local: SocketAddr,
}

impl std::fmt::Display for ConnectionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} {} -> {}", self.id, self.peer, self.local)
    }
}

/// Why a connected socket closed, as reported in [`ShutdownCsa`].
///
/// # Examples
///
/// ```
/// use chassis::tcp::CloseReason;
///
/// assert!(CloseReason::PeerClosed.by_peer());
/// assert!(!CloseReason::Finished.by_peer());
/// assert_eq!(CloseReason::IdleTimeout.to_string(), "idle timeout");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed its side (end of stream).
    PeerClosed,
    /// The peer reset the connection, or a write found it gone.
    Reset,
    /// Another I/O error.
    #[serde(serialize_with = "serialize_kind")]
    Error(std::io::ErrorKind),
    /// No byte moved in either direction for the idle timeout.
    IdleTimeout,
    /// `ProducerFinished` (or `SocketShutdown`) arrived on `control`: everything queued
    /// was written, then the socket was closed.
    Finished,
    /// Nobody reads the adapter's `outbox` any more (its handler has ended); what was
    /// queued for the socket was written, then the socket was closed.
    HandlerGone,
    /// `Shutdown` arrived on `control`: closed at once.
    Shutdown,
}

fn serialize_kind<S: serde::Serializer>(
    kind: &std::io::ErrorKind,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&kind.to_string())
}

impl CloseReason {
    /// True if the peer ended the connection (end of stream or reset).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(chassis::tcp::CloseReason::Reset.by_peer());
    /// ```
    pub fn by_peer(self) -> bool {
        matches!(self, CloseReason::PeerClosed | CloseReason::Reset)
    }

    pub(crate) fn from_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => CloseReason::Reset,
            kind => CloseReason::Error(kind),
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("closed by peer"),
            CloseReason::Reset => f.write_str("reset by peer"),
            CloseReason::Error(kind) => write!(f, "I/O error: {kind}"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::Finished => f.write_str("finished by handler"),
            CloseReason::HandlerGone => f.write_str("handler gone"),
            CloseReason::Shutdown => f.write_str("shut down"),
        }
    }
}

/// A new connection, sent by [`TcpServer`] to its owner: the adapter for the socket,
/// not yet started, and what is known about the connection.
///
/// The owner adds the adapter to the graph (typically as its child), links it to a
/// handler and starts both. Dropping a `NewCsa` closes the socket.
///
/// # Examples
///
/// ```
/// # fn demo(event: chassis::tcp::SocketEvent) {
/// use chassis::tcp::SocketEvent;
/// if let SocketEvent::NewCsa(new) = event {
///     assert_eq!(new.csa.info(), &new.info);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct NewCsa {
    /// The connection.
    pub info: ConnectionInfo,
    /// The adapter that owns the socket.
    pub csa: ConnectedSocketAdapter,
}

/// A connection closed: sent by its [`ConnectedSocketAdapter`] on its `activity`
/// outbox once the socket is closed or the peer has ended its side.
///
/// # Examples
///
/// ```
/// use chassis::tcp::{CloseReason, ShutdownCsa};
/// let s = ShutdownCsa { id: 3, reason: CloseReason::PeerClosed };
/// assert_eq!(s.id, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownCsa {
    /// The connection's [`ConnectionInfo::id`].
    pub id: u64,
    /// Why it closed.
    pub reason: CloseReason,
}

/// What arrives on ServerCore's `_socketactivity` inbox (Kamaelia's `newCSA` and
/// `shutdownCSA`).
///
/// # Examples
///
/// ```
/// use chassis::tcp::{CloseReason, ShutdownCsa, SocketEvent};
/// let event = SocketEvent::ShutdownCsa(ShutdownCsa { id: 7, reason: CloseReason::Reset });
/// assert!(matches!(event, SocketEvent::ShutdownCsa(s) if s.reason.by_peer()));
/// ```
#[derive(Debug)]
pub enum SocketEvent {
    /// A socket was accepted; see [`NewCsa`].
    NewCsa(NewCsa),
    /// A socket closed; see [`ShutdownCsa`].
    ShutdownCsa(ShutdownCsa),
}
