//! [`TcpServer`]: the listening socket as a component.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axon::{BoxError, Component, Context, Control, LinkError, Setup};
use socket2::{Domain, Protocol, Socket, Type};

use super::csa::ConnectedSocketAdapter;
use super::stats::ServerStats;
use super::{BindError, ConnectionInfo, NewCsa, ServerConfig, SocketEvent};

/// Shortest and longest pause after an accept error that is not about one connection
/// (out of file descriptors, out of memory), so a full table does not spin the loop.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Bind a listening socket now, so that errors reach the caller with the address.
pub(crate) fn listen(
    addr: SocketAddr,
    backlog: u32,
) -> Result<(std::net::TcpListener, SocketAddr), BindError> {
    let err = |source| BindError::Listen { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    // A restarted server can bind while its old connections sit in TIME_WAIT; on Linux
    // this does not let two listeners share a port.
    socket.set_reuse_address(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket
        .listen(i32::try_from(backlog).unwrap_or(i32::MAX))
        .map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    let listener: std::net::TcpListener = socket.into();
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

/// Accepts connections on one listening socket (IPv4 or IPv6) and hands each to its
/// owner as a [`NewCsa`]: Kamaelia's `TCPServer`.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `()` | unused |
/// | `control` | in | [`Control`] | `Shutdown` (or `ProducerFinished`): stop accepting and close the listener |
/// | `outbox` | out | [`SocketEvent`] | a [`SocketEvent::NewCsa`] per accepted socket |
/// | `signal` | out | [`Control`] | passed on by the runtime when it ends |
///
/// # How it works
///
/// The socket is bound when the `TcpServer` is made ([`TcpServer::bind`]), so a bind
/// failure is an error the caller sees with the address and the OS reason, and
/// [`local_addr`](TcpServer::local_addr) gives the real port when port 0 was asked
/// for. The listen backlog comes from [`ServerConfig::backlog`]. The body accepts in a
/// loop that takes every pending connection before it waits again. A socket accepted
/// while [`ServerConfig::max_connections`] are open is closed at once and counted in
/// [`ServerStats::rejected`]. Accept errors about one connection are skipped; others
/// (such as running out of file descriptors) are logged and retried after a short
/// pause that grows up to a second.
///
/// [`ServerCore`](super::ServerCore) owns one; use it directly to build another kind of
/// server.
///
/// # Examples
///
/// ```no_run
/// use axon::{Context, Runtime, component::from_fn};
/// use chassis::tcp::{ServerConfig, SocketEvent, TcpServer};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new();
/// let server = TcpServer::bind(&ServerConfig::default())?;
/// tracing::info!("listening on {}", server.local_addr());
/// let server = rt.add(server)?;
/// let owner = rt.add(from_fn("owner", |mut ctx: Context<SocketEvent, ()>| async move {
///     while let Some(SocketEvent::NewCsa(new)) = ctx.recv().await {
///         tracing::info!("connection from {}", new.info.peer);
///         // dropping `new` closes the socket
///     }
///     Ok(())
/// }))?;
/// rt.link(server.outbox(), owner.inbox())?;
/// owner.start();
/// server.start().join().await;
/// # Ok(()) }
/// ```
pub struct TcpServer {
    listener: std::net::TcpListener,
    local: SocketAddr,
    idle_timeout: Option<Duration>,
    nodelay: bool,
    keepalive: Option<super::TcpKeepalive>,
    stats: ServerStats,
}

impl std::fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpServer")
            .field("local", &self.local)
            .finish()
    }
}

impl TcpServer {
    /// Bind to `config.listen` now, with the config's backlog and limits.
    ///
    /// # Errors
    ///
    /// [`BindError::Listen`] with the address and the OS reason (address in use,
    /// permission denied, address not available …).
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::{ServerConfig, TcpServer};
    /// let server = TcpServer::bind(&ServerConfig::default()).unwrap();
    /// assert_ne!(server.local_addr().port(), 0);
    /// ```
    pub fn bind(config: &ServerConfig) -> Result<Self, BindError> {
        let (listener, local) = listen(config.listen, config.backlog)?;
        Ok(Self::from_listener(
            listener,
            local,
            config,
            ServerStats::new(config.max_connections),
        ))
    }

    pub(crate) fn from_listener(
        listener: std::net::TcpListener,
        local: SocketAddr,
        config: &ServerConfig,
        stats: ServerStats,
    ) -> Self {
        TcpServer {
            listener,
            local,
            idle_timeout: config.idle_timeout,
            nodelay: config.nodelay,
            keepalive: config.tcp_keepalive,
            stats,
        }
    }

    /// The address it listens on, with the real port.
    ///
    /// # Examples
    ///
    /// ```
    /// # let server = chassis::tcp::TcpServer::bind(&Default::default()).unwrap();
    /// assert!(server.local_addr().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Its counters (accepted, rejected, live).
    ///
    /// # Examples
    ///
    /// ```
    /// # let server = chassis::tcp::TcpServer::bind(&Default::default()).unwrap();
    /// assert_eq!(server.stats().accepted(), 0);
    /// ```
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }
}

/// Errors about one connection that has already gone; the listener is fine.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

impl Component for TcpServer {
    type In = ();
    type Out = SocketEvent;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("control", "Shutdown: stop accepting and close the listener")?;
        s.describe("outbox", "NewCsa for each accepted socket")
    }

    async fn run(self, mut ctx: Context<(), SocketEvent>) -> Result<(), BoxError> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let wildcard = self.local.ip().is_unspecified();
        let mut backoff = ACCEPT_BACKOFF_MIN;
        loop {
            let accepted = tokio::select! {
                biased;
                c = ctx.control.recv() => match c {
                    Some(c) if c.is_stop() || c.ends_input() => break,
                    Some(_) => continue,
                    None => break,
                },
                r = listener.accept() => r,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) if per_connection(&e) => continue,
                Err(e) => {
                    tracing::warn!(addr = %self.local, error = %e, pause = ?backoff, "accept failed");
                    tokio::select! {
                        biased;
                        c = ctx.control.recv() => match c {
                            Some(Control::ProducerFinished | Control::Shutdown) | None => break,
                            Some(_) => {}
                        },
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            };
            backoff = ACCEPT_BACKOFF_MIN;
            if let Some(k) = &self.keepalive
                && let Err(e) = k.apply(&stream)
            {
                tracing::debug!(%peer, error = %e, "could not set TCP keepalive");
            }
            let Some(permit) = self.stats.admit() else {
                tracing::debug!(%peer, "connection limit reached; closing new socket");
                drop(stream);
                continue;
            };
            let local = if wildcard {
                stream.local_addr().unwrap_or(self.local)
            } else {
                self.local
            };
            let info = ConnectionInfo {
                id: self.stats.next_id(),
                peer,
                local,
            };
            let csa = ConnectedSocketAdapter::accepted(
                stream,
                info,
                self.idle_timeout,
                self.nodelay,
                permit,
            );
            let event = SocketEvent::NewCsa(NewCsa { info, csa });
            let event = match ctx.outbox.try_send(event) {
                Ok(()) => continue,
                Err(e) if e.is_full() => e.into_inner(),
                Err(_) => {
                    tracing::debug!(%peer, "nobody takes new connections; closing");
                    continue;
                }
            };
            tokio::select! {
                biased;
                // Any lifecycle message here means stop; the unsent socket is closed.
                _ = ctx.control.recv() => break,
                r = ctx.outbox.send(event) => {
                    if r.is_err() {
                        tracing::debug!(%peer, "nobody takes new connections; closing");
                    }
                }
            }
        }
        tracing::debug!(addr = %self.local, "listener closed");
        Ok(())
    }
}
