//! [`ServerCore`]: one listening port, one handler component per connection.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;

use axon::{
    BoxError, BoxRef, ChildExit, Component, ComponentId, Context, Control, Exit, LinkError, Policy,
    Runtime, Setup,
};
use bytes::Bytes;
use futures::FutureExt;
use rustc_hash::FxHashMap as HashMap;
use tokio::time::Instant;

use super::server::{TcpServer, listen};
use super::stats::{ServerStats, ShutdownReport};
use super::{
    BindError, ConnectionInfo, NewCsa, ServerConfig, ServerError, ShutdownCsa, SocketEvent,
};

/// Capacity of the `_socketactivity` inbox.
const ACTIVITY_CAPACITY: usize = 1024;

/// How long to wait for components stopped at the drain deadline to report their end.
const REAP_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A TCP server: one listening port, and one protocol handler component per
/// connection, made by a factory (Kamaelia's `ServerCore`, `SimpleServer` and
/// `MoreComplexServer` in one).
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chassis::tcp::{Echo, ServerCore};
/// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
/// # let _ = server; Ok(()) }
/// ```
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `()` | unused |
/// | `control` | in (passthrough) | [`Control`] | `Shutdown` (or `ProducerFinished`): stop accepting, drain, close, report; forwarded to `_control` |
/// | `_control` | in | [`Control`] | what `control` forwards: the body reads lifecycle messages here, next to `_socketactivity` |
/// | `_socketactivity` | in | [`SocketEvent`] | `NewCsa` from the [`TcpServer`], `ShutdownCsa` from each adapter |
/// | `outbox` | out | [`ShutdownReport`] | the report, once stopped |
/// | `signal` | out | [`Control`] | `Shutdown` (or `ProducerFinished`) once stopped, passed on by the runtime |
///
/// # How it works
///
/// The socket is bound when the `ServerCore` is made, so [`local_addr`](Self::local_addr)
/// is known (the real port, for port 0) and a bind failure is returned to the caller.
/// Its child [`TcpServer`] accepts. For each [`NewCsa`], the factory is called with the
/// [`ConnectionInfo`] and the handler it returns is added as a child and wired to the
/// adapter: adapter `outbox` -> handler `inbox`, handler `outbox` -> adapter `inbox`,
/// handler `signal` -> adapter `control`, and the adapter's `activity` ->
/// `_socketactivity`. When the adapter reports [`ShutdownCsa`], the handler gets
/// [`Control::SocketShutdown`] on its `control`; the links go as each of the pair
/// ends, and the connection is forgotten when both have.
///
/// A handler that fails or panics closes only its own connection (its adapter gets
/// `Shutdown`); the failure is logged with `tracing` and counted in
/// [`ServerStats::handler_failures`]. So is a factory that panics or a handler whose
/// setup fails: that connection is closed at once.
///
/// On `Shutdown` at `control`, the server stops accepting (the listener closes),
/// sends `ProducerFinished` to every handler, and waits up to
/// [`ServerConfig::drain_deadline`] for the connections to close (each handler
/// finishes its queued work and ends; its adapter then flushes and closes). What is
/// still open at the deadline is stopped. It then ends with a [`ShutdownReport`]:
/// sent on `outbox` if that is linked, kept in [`ServerStats::report`], and logged.
///
/// # Limits
///
/// See [`ServerConfig`]: maximum connections, idle timeout, maximum frame (read it in
/// the factory when building framing components), backlog and drain deadline.
///
/// # Examples
///
/// An echo server, a client, and a clean shutdown:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use chassis::tcp::{Echo, ServerCore};
///
/// let rt = axon::Runtime::new();
/// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
/// let addr = server.local_addr();
/// let stats = server.stats();
/// let handle = rt.spawn(server)?;
///
/// let mut client = tokio::net::TcpStream::connect(addr).await?;
/// client.write_all(b"hello").await?;
/// let mut buf = [0u8; 5];
/// client.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hello");
///
/// handle.shutdown().await?;
/// assert!(handle.join().await.is_clean());
/// let report = stats.report().unwrap();
/// assert_eq!(report.accepted, 1);
/// # Ok(()) }
/// ```
pub struct ServerCore<F> {
    config: ServerConfig,
    listener: Option<std::net::TcpListener>,
    local: SocketAddr,
    factory: F,
    stats: ServerStats,
    listener_id: Option<ComponentId>,
}

/// Kamaelia's name for a [`ServerCore`] used with a plain factory; the same type.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chassis::tcp::{Echo, ServerCore, SimpleServer};
/// let server: SimpleServer<_> = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok(()) }
/// ```
pub type SimpleServer<F> = ServerCore<F>;

impl<F> std::fmt::Debug for ServerCore<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCore")
            .field("local", &self.local)
            .field("config", &self.config)
            .finish()
    }
}

impl<F, H> ServerCore<F>
where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Component<In = Bytes, Out = Bytes>,
{
    /// A server for `config`, bound now.
    ///
    /// # Errors
    ///
    /// [`BindError::Listen`] with the address and the OS reason.
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::tcp::{Echo, ServerConfig, ServerCore};
    /// let config = ServerConfig::new("127.0.0.1:0".parse().unwrap()).max_connections(50);
    /// let server = ServerCore::new(config, |_| Echo).unwrap();
    /// assert_ne!(server.local_addr().port(), 0);
    /// ```
    pub fn new(config: ServerConfig, factory: F) -> Result<Self, BindError> {
        let (listener, local) = listen(config.listen, config.backlog)?;
        Ok(Self::from_parts(config, listener, local, factory))
    }

    fn from_parts(
        config: ServerConfig,
        listener: std::net::TcpListener,
        local: SocketAddr,
        factory: F,
    ) -> Self {
        let stats = ServerStats::new(config.max_connections);
        ServerCore {
            config,
            listener: Some(listener),
            local,
            factory,
            stats,
            listener_id: None,
        }
    }

    /// A server with the default [`ServerConfig`] on `addr` (a socket address, or a
    /// `"host:port"` string; the first address that binds is used).
    ///
    /// # Errors
    ///
    /// [`BindError::Resolve`] if `addr` does not resolve; [`BindError::Listen`] with the
    /// address and the OS reason if none of its addresses binds.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use chassis::tcp::{Echo, ServerCore};
    /// let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await.unwrap();
    /// let taken = server.local_addr();
    /// let err = ServerCore::bind(taken, |_| Echo).await.unwrap_err();
    /// assert!(err.to_string().contains(&taken.to_string()));
    /// # }
    /// ```
    pub async fn bind<A>(addr: A, factory: F) -> Result<Self, BindError>
    where
        A: tokio::net::ToSocketAddrs + std::fmt::Debug,
    {
        let shown = format!("{addr:?}").trim_matches('"').to_string();
        let addrs = tokio::net::lookup_host(addr)
            .await
            .map_err(|source| BindError::Resolve {
                addr: shown.clone(),
                source,
            })?;
        let mut last = None;
        for a in addrs {
            let config = ServerConfig::new(a);
            match listen(a, config.backlog) {
                Ok((listener, local)) => {
                    return Ok(Self::from_parts(config, listener, local, factory));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BindError::Resolve {
            addr: shown,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "resolved to no addresses"),
        }))
    }
}

impl<F> ServerCore<F> {
    /// The address it listens on, with the real port.
    ///
    /// # Examples
    ///
    /// ```
    /// # let server = chassis::tcp::ServerCore::new(Default::default(), |_| chassis::tcp::Echo).unwrap();
    /// assert!(server.local_addr().ip().is_loopback());
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Its counters, and its [`ShutdownReport`] once it has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # let server = chassis::tcp::ServerCore::new(Default::default(), |_| chassis::tcp::Echo).unwrap();
    /// let stats = server.stats();
    /// assert_eq!(stats.live(), 0);
    /// ```
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// Its configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// # let server = chassis::tcp::ServerCore::new(Default::default(), |_| chassis::tcp::Echo).unwrap();
    /// assert_eq!(server.config().max_frame, chassis::tcp::ServerConfig::DEFAULT_MAX_FRAME);
    /// ```
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }
}

impl<F, H> Component for ServerCore<F>
where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Component<In = Bytes, Out = Bytes>,
{
    type In = ();
    type Out = ShutdownReport;

    fn name(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ServerCore")
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.make_passthrough("control")?;
        let inner = s.inbox::<Control>("_control", "lifecycle messages, through `control`")?;
        let own = s.own::<Control>("control")?;
        s.link(own, inner)?;
        s.describe(
            "control",
            "Shutdown: stop accepting, drain within the deadline, close, report",
        )?;
        let activity = s.inbox_with_capacity::<SocketEvent>(
            "_socketactivity",
            "NewCsa from the TcpServer, ShutdownCsa from each adapter",
            ACTIVITY_CAPACITY,
        )?;
        s.describe("outbox", "the ShutdownReport, once stopped")?;
        let Some(listener) = self.listener.take() else {
            return Err(LinkError::AlreadyTaken {
                component: "ServerCore".into(),
                name: "listener".into(),
            });
        };
        let server = TcpServer::from_listener(listener, self.local, &self.config, self.stats());
        let child = s.add_child(server)?;
        s.link(child.outbox(), activity)?;
        self.listener_id = Some(child.id());
        Ok(())
    }

    async fn run(self, mut ctx: Context<(), ShutdownReport>) -> Result<(), BoxError> {
        let rt = ctx.runtime().clone();
        let mut control = ctx.take_inbox::<Control>("_control")?;
        let mut activity = ctx.take_inbox::<SocketEvent>("_socketactivity")?;
        let activity_ref = rt.box_ref::<SocketEvent>(ctx.id(), "_socketactivity")?;
        let Some(listener_id) = self.listener_id else {
            return Err("ServerCore started without its listener".into());
        };
        let published = self.stats.clone();
        rt.publish_counters(ctx.id(), move || published.counters());
        let mut conns = Connections {
            rt: rt.clone(),
            factory: self.factory,
            stats: self.stats.clone(),
            activity: activity_ref,
            buffer_budget: self.config.buffer_budget,
            open: HashMap::default(),
            locals: Vec::new(),
        };
        tracing::debug!(addr = %self.local, "ServerCore listening on {}", self.local);

        let mut children_left = true;
        let mut listener_exit: Option<Exit> = None;
        let asked = loop {
            tokio::select! {
                biased;
                c = control.recv() => match c {
                    Some(c) if c.is_stop() || c.ends_input() => break Some(c),
                    Some(_) => {}
                    None => break None,
                },
                ev = activity.recv() => match ev {
                    Some(SocketEvent::NewCsa(new)) => {
                        conns.open(&mut ctx, new);
                        children_left = true;
                    }
                    Some(SocketEvent::ShutdownCsa(s)) => conns.closed(s),
                    None => break None,
                },
                exit = ctx.next_child_exit(), if children_left => match exit {
                    Some(e) if e.id == listener_id => {
                        tracing::error!(addr = %self.local, exit = %e.exit, "listener stopped unexpectedly; shutting down");
                        listener_exit = Some(e.exit);
                        break None;
                    }
                    Some(e) => conns.exited(e),
                    None => children_left = false,
                },
            }
        };

        // Take in what has already happened, so the report names only what is open.
        while let Ok(ev) = activity.try_recv() {
            match ev {
                SocketEvent::NewCsa(new) => drop(new),
                SocketEvent::ShutdownCsa(s) => conns.closed(s),
            }
        }
        while let Some(Some(e)) = ctx.next_child_exit().now_or_never() {
            if e.id == listener_id {
                listener_exit.get_or_insert(e.exit);
            } else {
                conns.exited(e);
            }
        }

        // Drain: stop accepting, tell every handler, wait up to the deadline.
        let started = Instant::now();
        let mut listener_done = listener_exit.is_some();
        if !listener_done {
            tell(&rt, listener_id, Control::Shutdown);
        }
        // A pair that has already left the graph is closed, even if its exit report is
        // still on its way to us.
        let open_at_shutdown = conns.infos_where(|c| rt.is_alive(c.csa) || rt.is_alive(c.handler));
        for c in conns.open.values() {
            if c.handler_alive {
                tell(&rt, c.handler, Control::ProducerFinished);
            }
        }
        let deadline = tokio::time::sleep(self.config.drain_deadline);
        tokio::pin!(deadline);
        while !(conns.open.is_empty() && listener_done) {
            tokio::select! {
                biased;
                () = &mut deadline => break,
                ev = activity.recv() => match ev {
                    // Accepted before the listener closed: close it at once.
                    Some(SocketEvent::NewCsa(new)) => drop(new),
                    Some(SocketEvent::ShutdownCsa(s)) => conns.closed(s),
                    None => break,
                },
                exit = ctx.next_child_exit() => match exit {
                    Some(e) if e.id == listener_id => listener_done = true,
                    Some(e) => conns.exited(e),
                    None => break,
                },
            }
        }
        let forced = conns.infos();
        for c in conns.open.values() {
            rt.kill(c.handler);
            rt.kill(c.csa);
        }
        if !listener_done {
            rt.kill(listener_id);
        }
        // Components stopped at the deadline report their end promptly; bounded anyway.
        let _ = tokio::time::timeout(REAP_LIMIT, async {
            while !(conns.open.is_empty() && listener_done) {
                match ctx.next_child_exit().await {
                    Some(e) if e.id == listener_id => listener_done = true,
                    Some(e) => conns.exited(e),
                    None => break,
                }
            }
        })
        .await;

        let report = ShutdownReport {
            listen: Some(self.local),
            accepted: self.stats.accepted(),
            rejected: self.stats.rejected(),
            handler_failures: self.stats.handler_failures(),
            drained: open_at_shutdown.len().saturating_sub(forced.len()),
            open_at_shutdown,
            forced,
            drain_time: started.elapsed(),
        };
        tracing::info!("{report}");
        self.stats.set_report(report.clone());
        if ctx.outbox.is_linked() {
            let _ = ctx.outbox.try_send(report);
        }
        if let Some(exit) = listener_exit {
            return Err(Box::new(ServerError::ListenerStopped {
                addr: self.local,
                exit: exit.to_string(),
            }));
        }
        if asked.is_none_or(|c| c.is_stop()) {
            ctx.mark_shut_down();
        }
        Ok(())
    }
}

/// Send a lifecycle message without waiting: a component whose `control` is full
/// (it is not reading it) is stopped instead. One that has ended is left alone.
fn tell(rt: &Runtime, id: ComponentId, msg: Control) {
    if rt.send_control(id, msg).now_or_never().is_none() {
        tracing::debug!(component = %id, ?msg, "control inbox full; stopping the component");
        rt.kill(id);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// One connection: its adapter and its handler. Kept small, as there is one per open
/// connection: its id is its key in [`Connections::open`], and its local address is
/// an index into [`Connections::locals`].
struct Conn {
    peer: Peer,
    csa: ComponentId,
    handler: ComponentId,
    local: u32,
    csa_alive: bool,
    handler_alive: bool,
    socket_closed: bool,
    told: bool,
}

/// A peer address in half the space of a `SocketAddr` (an IPv6 one is boxed): the
/// server keeps one per open connection.
enum Peer {
    V4(std::net::SocketAddrV4),
    V6(Box<std::net::SocketAddrV6>),
}

impl From<SocketAddr> for Peer {
    fn from(a: SocketAddr) -> Self {
        match a {
            SocketAddr::V4(a) => Peer::V4(a),
            SocketAddr::V6(a) => Peer::V6(Box::new(a)),
        }
    }
}

impl From<&Peer> for SocketAddr {
    fn from(p: &Peer) -> Self {
        match p {
            Peer::V4(a) => SocketAddr::V4(*a),
            Peer::V6(a) => SocketAddr::V6(**a),
        }
    }
}

/// The open connections of a server and what makes new ones.
struct Connections<F> {
    rt: Runtime,
    factory: F,
    stats: ServerStats,
    activity: BoxRef<SocketEvent>,
    /// The byte budget of each connection's two data inboxes.
    buffer_budget: Option<usize>,
    open: HashMap<u64, Conn>,
    /// The local addresses connections arrived on (one, unless the server listens on
    /// an unspecified address of a machine with several).
    locals: Vec<SocketAddr>,
}

impl<F, H> Connections<F>
where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Component<In = Bytes, Out = Bytes>,
{
    fn refuse(&self, info: &ConnectionInfo, why: &str) {
        self.stats.note_failure();
        self.stats.note_closed();
        tracing::warn!(conn = %info, "{why}; closing the connection");
    }

    /// Make a handler for a new socket, wire it to the adapter and start both.
    fn open<O: Send + 'static>(&mut self, ctx: &mut Context<(), O>, new: NewCsa) {
        tracing::trace!(conn = %new.info, "connection opened");
        let NewCsa { info, csa } = new;
        let factory = &self.factory;
        let made = std::panic::catch_unwind(AssertUnwindSafe(|| ctx.add_child(factory(&info))));
        let handler = match made {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return self.refuse(&info, &format!("handler setup failed: {e}")),
            Err(p) => {
                return self.refuse(
                    &info,
                    &format!("handler factory panicked: {}", panic_message(&*p)),
                );
            }
        };
        let adapter = match ctx.add_child(csa) {
            Ok(c) => c,
            Err(e) => return self.refuse(&info, &format!("adapter setup failed: {e}")),
        };
        let rt = &self.rt;
        let wired = rt
            .link(adapter.outbox(), handler.inbox())
            .and_then(|()| rt.link(handler.outbox(), adapter.inbox()))
            .and_then(|()| rt.link(handler.signal(), adapter.control()))
            .and_then(|()| rt.box_id(adapter.id(), "activity"))
            .and_then(|from| rt.link_ids(from, self.activity.id(), Policy::Block))
            .and_then(|()| match self.buffer_budget {
                Some(bytes) => rt.set_byte_budget(adapter.inbox(), bytes),
                None => Ok(()),
            });
        if let Err(e) = wired {
            // Dropping the unstarted pair removes it; the socket closes with the adapter.
            return self.refuse(&info, &format!("cannot wire the handler: {e}"));
        }
        if let Some(bytes) = self.buffer_budget
            && let Err(e) = rt.set_byte_budget(handler.inbox(), bytes)
        {
            // A composite handler whose inbox leads nowhere has no queue to bound.
            tracing::debug!(conn = %info, "handler inbox has no byte budget: {e}");
        }
        let (hid, cid) = (handler.id(), adapter.id());
        // One task for the pair: a request read by the adapter, handled and answered
        // costs one task poll. Exits are reported to us as children, tagged with the
        // connection's id (no map from component to connection), so the pair is
        // started without handles to join (no exit channels per connection).
        handler
            .tag(info.id)
            .start_with_detached(adapter.tag(info.id));
        let local = self.local_index(info.local);
        self.open.insert(
            info.id,
            Conn {
                peer: info.peer.into(),
                local,
                csa: cid,
                handler: hid,
                csa_alive: true,
                handler_alive: true,
                socket_closed: false,
                told: false,
            },
        );
    }

    /// An adapter reported its socket closed (or half-closed by the peer).
    fn closed(&mut self, s: ShutdownCsa) {
        let Some(c) = self.open.get_mut(&s.id) else {
            return;
        };
        tracing::trace!(conn = %info(&self.locals, s.id, c), reason = %s.reason, "socket closed");
        if !c.socket_closed {
            c.socket_closed = true;
            self.stats.note_closed();
        }
        if c.handler_alive && !c.told {
            c.told = true;
            tell(&self.rt, c.handler, Control::SocketShutdown);
        }
    }

    /// A child ended.
    fn exited(&mut self, e: ChildExit) {
        let Some(id) = e.tag else {
            return;
        };
        let Some(c) = self.open.get_mut(&id) else {
            return;
        };
        if e.id == c.csa {
            c.csa_alive = false;
            if !c.socket_closed {
                c.socket_closed = true;
                self.stats.note_closed();
            }
            if !e.exit.is_clean() && !matches!(e.exit, Exit::Aborted) {
                tracing::warn!(conn = %info(&self.locals, id, c), exit = %e.exit, "connection adapter ended abnormally");
            }
            if c.handler_alive && !c.told {
                c.told = true;
                tell(&self.rt, c.handler, Control::SocketShutdown);
            }
        } else {
            c.handler_alive = false;
            if matches!(e.exit, Exit::Failed(_) | Exit::Panicked(_)) {
                self.stats.note_failure();
                tracing::warn!(conn = %info(&self.locals, id, c), handler = %e.name, exit = %e.exit, "handler failed; closing its connection");
                if c.csa_alive {
                    tell(&self.rt, c.csa, Control::Shutdown);
                }
            }
        }
        if !c.csa_alive && !c.handler_alive {
            self.open.remove(&id);
        }
    }
}

/// What the factory was told about connection `id`.
fn info(locals: &[SocketAddr], id: u64, c: &Conn) -> ConnectionInfo {
    ConnectionInfo {
        id,
        peer: SocketAddr::from(&c.peer),
        local: locals[c.local as usize],
    }
}

impl<F> Connections<F> {
    /// The index of `addr` in `locals`, added if new.
    fn local_index(&mut self, addr: SocketAddr) -> u32 {
        let i = match self.locals.iter().position(|&a| a == addr) {
            Some(i) => i,
            None => {
                self.locals.push(addr);
                self.locals.len() - 1
            }
        };
        u32::try_from(i).expect("fewer than 2^32 local addresses")
    }

    fn infos(&self) -> Vec<ConnectionInfo> {
        self.infos_where(|_| true)
    }

    fn infos_where(&self, keep: impl Fn(&Conn) -> bool) -> Vec<ConnectionInfo> {
        let mut v: Vec<ConnectionInfo> = self
            .open
            .iter()
            .filter(|(_, c)| keep(c))
            .map(|(&id, c)| info(&self.locals, id, c))
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_peer_gives_back_the_same_address() {
        for a in ["192.0.2.7:4100", "[2001:db8::1]:4100", "[fe80::1%3]:9"] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(SocketAddr::from(&Peer::from(addr)), addr);
        }
        assert!(std::mem::size_of::<Peer>() <= 16);
    }
}
