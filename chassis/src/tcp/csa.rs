//! [`ConnectedSocketAdapter`]: one accepted socket as a component.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use bytes::Bytes;
use futures::future::{Either, OptionFuture};
use tokio::net::TcpStream;

use super::pump::{IdleWheel, Pump, WhenUnlinked, discard_unread};
use super::stats::Permit;
use super::{CloseReason, ConnectionInfo, ShutdownCsa, SocketEvent};

/// Capacity of the adapter's `inbox` (messages waiting to be written to the socket).
const CSA_INBOX_CAPACITY: usize = 16;

/// A connected socket as a component (Kamaelia's ConnectedSocketAdapter, "CSA"):
/// bytes read from the socket go out on `outbox`, bytes arriving on `inbox` are
/// written to the socket.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | bytes to write to the socket, in order |
/// | `control` | in | [`Control`](axon::Control) | `ProducerFinished`/`SocketShutdown`: write everything queued, then close; `Shutdown`: close at once |
/// | `outbox` | out | `Bytes` | bytes read from the socket, one message per read (at most 64 KiB) |
/// | `signal` | out | [`Control`](axon::Control) | `ProducerFinished` when it has ended (passed on by the runtime) |
/// | `activity` | out | [`SocketEvent`] | one [`ShutdownCsa`] when the socket closes or the peer ends its side |
///
/// # How it works
///
/// Reading and writing run together in one task. A chunk read is offered to the
/// destination of `outbox`; while that inbox is full the adapter holds the one chunk
/// and reads nothing more, so the peer is slowed by TCP flow control and the server
/// holds at most the handler's inbox plus one chunk per connection
/// (**backpressure**). An idle connection holds no read buffer.
///
/// When the peer ends its side (end of stream) the adapter reports
/// [`CloseReason::PeerClosed`] on `activity` and stops reading, but goes on writing
/// what its handler still sends until `control` says the handler has finished, so a
/// reply to the last request still reaches a half-closed peer. A reset, an I/O error
/// or the idle timeout close it at once. After closing it reports on `activity`
/// (unless it already did) and ends; its [`Permit`](super::ServerStats) slot is
/// released.
///
/// A [`ServerCore`](super::ServerCore) makes, wires and removes adapters; build one
/// by hand only to own sockets yourself.
///
/// # Examples
///
/// ```no_run
/// use axon::{Context, Runtime, component::from_fn};
/// use bytes::Bytes;
/// use chassis::tcp::{ConnectedSocketAdapter, ConnectionInfo};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stream, peer) = listener.accept().await?;
/// let info = ConnectionInfo { id: 1, peer, local: stream.local_addr()? };
/// let rt = Runtime::new();
/// let csa = rt.add(ConnectedSocketAdapter::new(stream, info))?;
/// let upper = rt.add(from_fn("upper", |mut ctx: Context<Bytes, Bytes>| async move {
///     while let Some(b) = ctx.recv().await {
///         ctx.send(Bytes::from(b.to_ascii_uppercase())).await?;
///     }
///     Ok(())
/// }))?;
/// rt.link(csa.outbox(), upper.inbox())?;
/// rt.link(upper.outbox(), csa.inbox())?;
/// rt.link(upper.signal(), csa.control())?;
/// upper.start();
/// csa.start().join().await;
/// # Ok(()) }
/// ```
pub struct ConnectedSocketAdapter {
    stream: TcpStream,
    info: ConnectionInfo,
    idle_timeout: Option<Duration>,
    nodelay: bool,
    permit: Option<Permit>,
}

impl std::fmt::Debug for ConnectedSocketAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectedSocketAdapter")
            .field("info", &self.info)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

impl ConnectedSocketAdapter {
    /// An adapter for `stream`, with no idle timeout.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(stream: tokio::net::TcpStream) -> std::io::Result<()> {
    /// let info = chassis::tcp::ConnectionInfo {
    ///     id: 1,
    ///     peer: stream.peer_addr()?,
    ///     local: stream.local_addr()?,
    /// };
    /// let csa = chassis::tcp::ConnectedSocketAdapter::new(stream, info);
    /// # Ok(()) }
    /// ```
    pub fn new(stream: TcpStream, info: ConnectionInfo) -> Self {
        ConnectedSocketAdapter {
            stream,
            info,
            idle_timeout: None,
            nodelay: false,
            permit: None,
        }
    }

    pub(crate) fn accepted(
        stream: TcpStream,
        info: ConnectionInfo,
        idle_timeout: Option<Duration>,
        nodelay: bool,
        permit: Permit,
    ) -> Self {
        ConnectedSocketAdapter {
            stream,
            info,
            idle_timeout,
            nodelay,
            permit: Some(permit),
        }
    }

    /// Close the connection after `timeout` without a byte moving either way.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(csa: chassis::tcp::ConnectedSocketAdapter) {
    /// let csa = csa.idle_timeout(Some(std::time::Duration::from_secs(60)));
    /// # }
    /// ```
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The connection it serves.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(csa: &chassis::tcp::ConnectedSocketAdapter) {
    /// tracing::info!("serving {}", csa.info().peer);
    /// # }
    /// ```
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }
}

/// Report the close on `activity`; returns a wait only in the rare case that the
/// owner's inbox is full, so that the adapter's state does not reserve room for it
/// (a waiting connection holds one pointer to it).
fn report(
    activity: &mut Outbox<SocketEvent>,
    id: u64,
    reason: CloseReason,
) -> OptionFuture<Pin<Box<impl Future<Output = ()> + Send + '_>>> {
    let event = SocketEvent::ShutdownCsa(ShutdownCsa { id, reason });
    // Nobody listening is fine: an adapter may be used without an owner.
    match activity.try_send(event) {
        Err(e) if e.is_full() => {
            let event = e.into_inner();
            Some(Box::pin(async move {
                let _ = activity.send(event).await;
            }))
        }
        _ => None,
    }
    .into()
}

impl Component for ConnectedSocketAdapter {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.set_capacity("inbox", CSA_INBOX_CAPACITY)?;
        s.describe("inbox", "bytes to write to the socket")?;
        s.describe(
            "control",
            "ProducerFinished: flush and close; Shutdown: close now",
        )?;
        s.describe("outbox", "bytes read from the socket")?;
        s.outbox::<SocketEvent>("activity", "ShutdownCsa when the socket closes")?;
        Ok(())
    }

    // Not an `async fn`, and the setup is done before the async block: the block
    // captures only what the connection needs while it is open (the loop, which owns
    // the socket and the inboxes, and what the close report needs), not `self` and
    // `ctx` whole. This future lives as long as the connection.
    #[allow(
        clippy::manual_async_fn,
        reason = "see above: the adapter's per-connection state is only what it uses"
    )]
    fn run(
        self,
        mut ctx: Context<Bytes, Bytes>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let mut activity = match ctx.outbox_named::<SocketEvent>("activity") {
            Ok(a) => a,
            Err(e) => return Either::Left(std::future::ready(Err(e.into()))),
        };
        let ConnectedSocketAdapter {
            stream,
            info,
            idle_timeout,
            nodelay,
            permit,
        } = self;
        if nodelay {
            // Not fatal: the connection works without it, only small writes may wait.
            let _ = stream.set_nodelay(true);
        }
        // Only the id is kept for the close report and logs; the peer is read back from
        // the socket there (ServerCore logs every connection with its addresses when
        // it opens), which keeps 32 bytes out of every open connection.
        let id = info.id;
        // A server's connections share one timer for their idle clocks.
        let idle = idle_timeout.map(|t| match &permit {
            Some(p) => p.idle_wheel(t),
            None => IdleWheel::new(t),
        });
        // The rest of `ctx` (`signal`, the runtime handle) is not used by the adapter
        // and is dropped here; the runtime passes on `ProducerFinished` itself.
        let mut pump = Pump::new(
            stream,
            ctx.inbox,
            ctx.control,
            ctx.outbox,
            idle,
            WhenUnlinked::Close,
        );
        Either::Right(async move {
            let reason = pump.run().await;
            let reported = reason == CloseReason::PeerClosed;
            if reported {
                report(&mut activity, id, reason).await;
                let last = pump.run().await;
                tracing::trace!(conn = id, after = %last, "half-closed connection ended");
            }
            if pump.flushed {
                discard_unread(pump.stream());
            }
            // The peer is read back from the socket only if the line is logged.
            let peer = |pump: &Pump| pump.stream().peer_addr().ok();
            match pump.last_error.take() {
                Some(e) => {
                    tracing::debug!(conn = id, peer = ?peer(&pump), %reason, error = %e, "connection closed")
                }
                None => {
                    tracing::trace!(conn = id, peer = ?peer(&pump), %reason, "connection closed")
                }
            }
            // Close the socket and free the slot before reporting.
            drop(pump);
            drop(permit);
            if !reported {
                report(&mut activity, id, reason).await;
            }
            Ok(())
        })
    }
}
