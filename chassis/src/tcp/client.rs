//! [`TcpClient`]: an outgoing connection as a component.

use std::io;
use std::time::Duration;

use axon::{BoxError, Component, Context, Control, LinkError, Setup};
use bytes::Bytes;
use tokio::net::TcpStream;

use super::pump::{IdleWheel, Pump, WhenUnlinked};
use super::{ClientError, CloseReason};

/// When and how often a [`TcpClient`] tries again: capped exponential backoff.
///
/// After the n-th failed attempt in a row the client waits
/// `min(initial × 2^(n-1), max)`; it gives up (failing with
/// [`ClientError::Connect`]) after `max_attempts` failures in a row, or never when
/// that is `None`. A connection that was made and then lost starts the count again.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use chassis::tcp::Reconnect;
///
/// let r = Reconnect::default();
/// assert_eq!(r.delay(1), Duration::from_millis(100));
/// assert_eq!(r.delay(2), Duration::from_millis(200));
/// assert_eq!(r.delay(30), r.max);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconnect {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Give up after this many failures in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    /// 100 ms, doubling up to 5 s, at most 10 attempts in a row.
    fn default() -> Self {
        Reconnect {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            max_attempts: Some(10),
        }
    }
}

impl Reconnect {
    /// Backoff from `initial`, capped at `max`, with at most `max_attempts` failures in
    /// a row.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = chassis::tcp::Reconnect::new(Duration::from_millis(10), Duration::from_secs(1), None);
    /// assert_eq!(r.delay(3), Duration::from_millis(40));
    /// ```
    pub fn new(initial: Duration, max: Duration, max_attempts: Option<u32>) -> Self {
        Reconnect {
            initial,
            max: max.max(initial),
            max_attempts,
        }
    }

    /// The wait after the `failures`-th failure in a row (counting from 1).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(chassis::tcp::Reconnect::default().delay(0), std::time::Duration::ZERO);
    /// ```
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    fn gives_up(&self, failures: u32) -> bool {
        self.max_attempts.is_some_and(|m| failures >= m)
    }
}

/// An outgoing TCP connection as a component: what arrives on `inbox` is written to
/// the socket, what is read goes out on `outbox`, as a
/// [`ConnectedSocketAdapter`](super::ConnectedSocketAdapter) does for accepted sockets.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | bytes to send |
/// | `control` | in | [`Control`] | `ProducerFinished`: send what is queued, close our side, read the rest until the peer closes, then end; `Shutdown`: close at once |
/// | `outbox` | out | `Bytes` | bytes received (dropped, and counted as undelivered, when `outbox` is not linked) |
/// | `signal` | out | [`Control`] | `ProducerFinished` when it ends (passed on by the runtime) |
///
/// # How it works
///
/// It connects when started. Reading and writing run together, with the same
/// backpressure as the adapter: while the destination of `outbox` is full, nothing
/// more is read. The component ends cleanly when asked (`ProducerFinished`,
/// `Shutdown`) or when the peer closes the connection. Connection errors are never
/// swallowed: a failed connect, a reset or an idle timeout ends it with
/// [`Exit::Failed`](axon::Exit::Failed) and a [`ClientError`] — unless [`Reconnect`]
/// is set, in which case it connects again after a capped exponential backoff (bytes
/// in flight on the lost connection are lost) and fails only when the attempts run
/// out.
///
/// # Examples
///
/// ```no_run
/// use axon::{Context, Runtime, component::from_fn};
/// use bytes::Bytes;
/// use chassis::tcp::{Reconnect, TcpClient};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let rt = Runtime::new();
/// let client = rt.add(TcpClient::new("127.0.0.1:7").reconnect(Reconnect::default()))?;
/// let mut ext = rt.external("main");
/// let (to, mut tx) = ext.add_outbox::<Bytes>("requests")?;
/// let (from, mut rx) = ext.add_inbox::<Bytes>("replies", 16)?;
/// rt.link(to, client.inbox())?;
/// rt.link(client.outbox(), from)?;
/// let handle = client.start();
/// tx.send(Bytes::from_static(b"hello")).await?;
/// let reply = rx.recv().await;
/// handle.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TcpClient {
    addr: String,
    reconnect: Option<Reconnect>,
    idle_timeout: Option<Duration>,
    connect_timeout: Duration,
    nodelay: bool,
}

impl TcpClient {
    /// How long one connection attempt may take by default.
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::TcpClient;
    /// assert_eq!(TcpClient::DEFAULT_CONNECT_TIMEOUT.as_secs(), 10);
    /// ```
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A client for `addr` (a socket address, or `"host:port"`): one attempt, no idle
    /// timeout, `TCP_NODELAY` on.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = chassis::tcp::TcpClient::new("127.0.0.1:7");
    /// assert_eq!(c.addr(), "127.0.0.1:7");
    /// ```
    pub fn new(addr: impl std::fmt::Display) -> Self {
        TcpClient {
            addr: addr.to_string(),
            reconnect: None,
            idle_timeout: None,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            nodelay: true,
        }
    }

    /// The address it connects to.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(chassis::tcp::TcpClient::new("[::1]:7").addr(), "[::1]:7");
    /// ```
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Connect again after failures and lost connections; see [`Reconnect`].
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::{Reconnect, TcpClient};
    /// let c = TcpClient::new("127.0.0.1:7").reconnect(Reconnect::default());
    /// ```
    pub fn reconnect(mut self, policy: Reconnect) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// Close the connection after this long without a byte moving either way.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = chassis::tcp::TcpClient::new("127.0.0.1:7")
    ///     .idle_timeout(Some(std::time::Duration::from_secs(30)));
    /// ```
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long one connection attempt may take.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = chassis::tcp::TcpClient::new("127.0.0.1:7")
    ///     .connect_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Set or clear `TCP_NODELAY` on the connection.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = chassis::tcp::TcpClient::new("127.0.0.1:7").nodelay(false);
    /// ```
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    async fn connect(&self) -> io::Result<TcpStream> {
        match tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.addr.as_str()))
            .await
        {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection attempt timed out",
            )),
        }
    }
}

/// What a lifecycle message means while not connected.
enum Waiting {
    Stop,
    Finish,
    Ignore,
}

fn while_waiting(c: Option<Control>) -> Waiting {
    match c {
        None | Some(Control::Shutdown) => Waiting::Stop,
        Some(c) if c.ends_input() => Waiting::Finish,
        Some(_) => Waiting::Ignore,
    }
}

impl Component for TcpClient {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "bytes to send")?;
        s.describe(
            "control",
            "ProducerFinished: send what is queued, then close; Shutdown: close now",
        )?;
        s.describe("outbox", "bytes received")
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let mut failures = 0u32;
        let mut finishing = false;
        loop {
            let attempt = tokio::select! {
                biased;
                c = ctx.control.recv() => {
                    match while_waiting(c) {
                        Waiting::Stop => return Ok(()),
                        Waiting::Finish => {
                            finishing = true;
                            if ctx.inbox.is_empty() {
                                return Ok(());
                            }
                        }
                        Waiting::Ignore => {}
                    }
                    continue;
                }
                r = self.connect() => r,
            };
            let stream = match attempt {
                Ok(s) => s,
                Err(source) => {
                    failures += 1;
                    let policy = match self.reconnect {
                        Some(p) if !p.gives_up(failures) => p,
                        _ => {
                            return Err(Box::new(ClientError::Connect {
                                addr: self.addr.clone(),
                                attempts: failures,
                                source,
                            }));
                        }
                    };
                    let delay = policy.delay(failures);
                    tracing::debug!(addr = %self.addr, error = %source, ?delay, "connect failed; will retry");
                    tokio::select! {
                        biased;
                        c = ctx.control.recv() => match while_waiting(c) {
                            Waiting::Stop => return Ok(()),
                            Waiting::Finish => {
                                finishing = true;
                                if ctx.inbox.is_empty() {
                                    return Ok(());
                                }
                            }
                            Waiting::Ignore => {}
                        },
                        () = tokio::time::sleep(delay) => {}
                    }
                    continue;
                }
            };
            failures = 0;
            if self.nodelay {
                // Not fatal: only small writes may wait without it.
                let _ = stream.set_nodelay(true);
            }
            let peer = stream.peer_addr()?;
            let outbox = ctx.outbox_named::<Bytes>("outbox")?;
            let mut wrote_all = false;
            let (reason, error) = {
                let mut pump = Pump::new(
                    stream,
                    ctx.inbox,
                    ctx.control,
                    outbox,
                    self.idle_timeout.map(IdleWheel::new),
                    WhenUnlinked::Discard,
                );
                if finishing {
                    pump.finish_now();
                }
                let mut reason = pump.run().await;
                if reason == CloseReason::Finished {
                    // Our side is closed; read what the peer still sends until it closes.
                    wrote_all = true;
                    pump.keep_reading();
                    reason = match pump.run().await {
                        CloseReason::PeerClosed => CloseReason::Finished,
                        other => other,
                    };
                }
                let error = pump.last_error.take();
                // The socket closes here; the inboxes serve the next connection.
                let stream;
                (stream, ctx.inbox, ctx.control) = pump.into_parts();
                drop(stream);
                (reason, error)
            };
            match reason {
                CloseReason::Finished | CloseReason::Shutdown | CloseReason::HandlerGone => {
                    return Ok(());
                }
                reason if self.reconnect.is_some() && !wrote_all => {
                    tracing::debug!(addr = %self.addr, %reason, "connection lost; reconnecting");
                }
                CloseReason::PeerClosed => return Ok(()),
                CloseReason::IdleTimeout => return Err(Box::new(ClientError::Idle { addr: peer })),
                reason => {
                    let source = error.unwrap_or_else(|| io::Error::other(reason.to_string()));
                    return Err(Box::new(ClientError::Connection { addr: peer, source }));
                }
            }
        }
    }
}
