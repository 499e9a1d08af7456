//! The Lumina node server: [`LuminaConnection`], one per connection, talking to a
//! [`NodeRegistry`](super::NodeRegistry) found through the service registry, and
//! [`node_server`], the [`ServerCore`] that makes a
//! `LineDeframer -> LuminaConnection` pipeline per connection.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use axon::{BoxError, Component, Context, Control, LinkError, Outbox, Request, Setup};
use bytes::Bytes;
use chassis::pipeline::Pipeline;
use chassis::tcp::{BindError, ConnectionInfo, ServerConfig, ServerCore};

use super::component::{
    LUMINA_SERVICE, REGISTRY_TIMEOUT, RegistryAsk, RegistryReply, RegistryRequest,
};
use super::error::HandlerError;
use super::lumina::{MAX_PENDING, SILENCE_LIMIT};
use super::table::ConnectionId;
use crate::framing::{InvalidUtf8, LineDeframer};
use crate::keepalive::{Keepalive, PeerDead};

/// The period of a node's own keepalive (Lumina's 60 s), for a server told to send
/// keepalives too ([`NodeServerOptions::keepalive`]; by default it sends none).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::{KEEPALIVE_PERIOD, NodeServerOptions};
/// assert_eq!(KEEPALIVE_PERIOD, Duration::from_secs(60));
/// assert_eq!(NodeServerOptions::default().keepalive, None);
/// ```
pub const KEEPALIVE_PERIOD: Duration = Duration::from_secs(60);

/// How a node server treats its connections.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `keepalive` | `None` | send a bare newline this often; `None`: never, as the original server |
/// | `silence_limit` | 180 s ([`SILENCE_LIMIT`]) | close a connection nothing was heard on for this long |
/// | `replies_room` | 64 ([`MAX_PENDING`]) | replies to forwarded commands a connection may await at once |
/// | `service` | [`LUMINA_SERVICE`] | the service name of the [`NodeRegistry`](super::NodeRegistry) |
///
/// A Lumina node restarts its own 60 s keepalive timer on every line it receives, so a
/// server that writes to it at least that often silences the node's keepalives; by
/// default the server sends none and counts silence from what the node sent.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::NodeServerOptions;
/// let options = NodeServerOptions::default().silence_limit(Duration::from_secs(30));
/// assert_eq!(options.silence_limit, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeServerOptions {
    /// How often to send a keepalive (a bare newline); `None`: never.
    pub keepalive: Option<Duration>,
    /// How long a connection may stay silent before it is closed.
    pub silence_limit: Duration,
    /// How many replies to its forwarded commands a connection may await at once (the
    /// capacity of its `from_registry` inbox).
    pub replies_room: usize,
    /// The registry's service name.
    pub service: Cow<'static, str>,
}

impl Default for NodeServerOptions {
    fn default() -> Self {
        NodeServerOptions {
            keepalive: None,
            silence_limit: SILENCE_LIMIT,
            replies_room: MAX_PENDING,
            service: Cow::Borrowed(LUMINA_SERVICE),
        }
    }
}

impl NodeServerOptions {
    /// Set [`keepalive`](Self::keepalive).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeServerOptions;
    /// let options = NodeServerOptions::default().keepalive(Some(Duration::from_secs(20)));
    /// assert_eq!(options.keepalive, Some(Duration::from_secs(20)));
    /// ```
    pub fn keepalive(mut self, period: Option<Duration>) -> Self {
        self.keepalive = period.filter(|period| !period.is_zero());
        self
    }

    /// Set [`replies_room`](Self::replies_room) (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeServerOptions;
    /// assert_eq!(NodeServerOptions::default().replies_room(8).replies_room, 8);
    /// ```
    pub fn replies_room(mut self, room: usize) -> Self {
        self.replies_room = room.max(1);
        self
    }

    /// Set [`silence_limit`](Self::silence_limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeServerOptions;
    /// use components::registry::lumina::SILENCE_LIMIT;
    /// assert_eq!(NodeServerOptions::default().silence_limit, SILENCE_LIMIT);
    /// let options = NodeServerOptions::default().silence_limit(Duration::from_secs(30));
    /// assert_eq!(options.silence_limit, Duration::from_secs(30));
    /// ```
    pub fn silence_limit(mut self, limit: Duration) -> Self {
        self.silence_limit = limit;
        self
    }

    /// Set [`service`](Self::service).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{LUMINA_SERVICE, NodeServerOptions};
    /// assert_eq!(NodeServerOptions::default().service, LUMINA_SERVICE);
    /// let options = NodeServerOptions::default().service("lab registry");
    /// assert_eq!(options.service, "lab registry");
    /// ```
    pub fn service(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.service = name.into();
        self
    }
}

/// One Lumina connection, line in and line out: passes what the node sends to the
/// registry, writes what the registry answers or pushes, and closes a silent node.
///
/// # What it does
///
/// It asks the registry ([`RegistryAsk`], each at most [`REGISTRY_TIMEOUT`]) on its
/// `registry` outbox, where the snapshot counts requests and replies. When it starts
/// it announces itself ([`RegistryRequest::Connect`]) with its `from_registry` and
/// `commands` inboxes, and learns its connection number. Every line received goes to
/// the registry ([`RegistryRequest::Line`]) and the lines that answer it are written
/// before the next
/// line is read: a client that does not read its replies stops being read
/// (backpressure); no reply is dropped. Replies to the commands it forwarded arrive on
/// `from_registry`, commands called on its node on `commands`; both leave on `outbox`.
/// A child [`Keepalive`] watches the silence: when nothing at all was heard from the
/// node for the silence limit, the connection ends (and so closes) cleanly, logged as
/// the close reason. With [`NodeServerOptions::keepalive`] set it also sends an empty
/// line (a bare newline once framed) every period; by default it sends none. When it
/// ends, for any reason, it tells the registry ([`RegistryRequest::Disconnect`], and
/// waits for the answer unless it was killed): the node's pending requests fail and
/// its events and commands disappear.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::{Runtime, testing::Harness};
/// use components::registry::{LUMINA_SERVICE, LuminaConnection, NodeRegistry, NodeServerOptions, Ownership};
///
/// let rt = Runtime::new();
/// let registry = rt.add(NodeRegistry::new(Ownership::Strict))?;
/// rt.register_service(LUMINA_SERVICE, registry.inbox())?;
/// let _registry = registry.start();
///
/// let conn = LuminaConnection::new("127.0.0.1:40000".parse()?, NodeServerOptions::default());
/// let mut h = Harness::with_runtime(rt, conn);
/// h.send(r#"{"name":"serverid","seq":1}"#.into()).await;
/// let reply = String::from_utf8(h.recv().await.unwrap_or_default().to_vec())?;
/// assert!(reply.contains(r#""seq":1"#) && reply.contains(r#""success":true"#));
/// assert!(reply.ends_with('\n'));
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// `setup` links the `registry` outbox to the service, declares `from_registry` (with
/// room for [`NodeServerOptions::replies_room`] lines) and `commands`, and adds the
/// [`Keepalive`] child: its `outbox` feeds `keepalive`, its `dead` notice feeds
/// `peer_dead`, and every line heard is copied to its `inbox` through `heard`. The body
/// waits on `from_registry`, `commands`, `keepalive`, `peer_dead` and `inbox`, in that
/// order, in one `tokio::select!`: it reads a line only when nothing else is queued.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `String` | lines from the node (from a [`LineDeframer`]) |
/// | `control` | in | [`Control`](axon::Control) | the connection closed, or `Shutdown` |
/// | `from_registry` | in | `String` | replies to the commands this connection forwarded |
/// | `commands` | in | `String` | commands other connections call on this node |
/// | `keepalive` | in | `String` | the keepalive's empty lines |
/// | `peer_dead` | in | [`PeerDead`] | the keepalive's notice that the node went silent |
/// | `outbox` | out | `Bytes` | lines for the node, each with its `\n`, for the socket |
/// | `registry` | out | [`RegistryAsk`] | requests to the [`NodeRegistry`](super::NodeRegistry), answered on their way back |
/// | `heard` | out | `()` | one per line heard, to the keepalive |
/// | `signal` | out | [`Control`](axon::Control) | `ProducerFinished` when it ends: flush and close |
#[derive(Debug, Clone)]
pub struct LuminaConnection {
    peer: SocketAddr,
    options: NodeServerOptions,
}

impl LuminaConnection {
    /// A connection handler for `peer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{LuminaConnection, NodeServerOptions};
    /// let conn = LuminaConnection::new("127.0.0.1:40000".parse().unwrap(), NodeServerOptions::default());
    /// # let _ = conn;
    /// ```
    pub fn new(peer: SocketAddr, options: NodeServerOptions) -> Self {
        LuminaConnection { peer, options }
    }

    fn gone(&self) -> HandlerError {
        HandlerError::RegistryGone {
            service: self.options.service.to_string(),
        }
    }

    /// Asks the registry, at most [`REGISTRY_TIMEOUT`].
    async fn ask(
        &self,
        registry: &mut Outbox<RegistryAsk>,
        request: RegistryRequest,
    ) -> Result<RegistryReply, HandlerError> {
        registry
            .ask(request, REGISTRY_TIMEOUT)
            .await
            .map_err(|error| HandlerError::asking(error, &self.options.service))
    }
}

/// One line as written to the socket: the line and `\n`.
fn framed(line: String) -> Bytes {
    let mut bytes = line.into_bytes();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// Tells the registry the connection has gone, also when the body is dropped midway
/// (killed): then best effort, without waiting (a request made by hand, whose answer
/// nobody waits for and no counter counts).
struct Registered {
    registry: Outbox<RegistryAsk>,
    conn: ConnectionId,
    told: bool,
}

impl Registered {
    async fn close(mut self) {
        self.told = true;
        let conn = self.conn;
        // Waits until the registry has let the connection go; a registry already gone
        // (the runtime shutting down) has nothing left to let go.
        let _ = self
            .registry
            .ask(RegistryRequest::Disconnect { conn }, REGISTRY_TIMEOUT)
            .await;
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if !self.told {
            let conn = self.conn;
            let (request, _unawaited) = Request::new(RegistryRequest::Disconnect { conn });
            let _ = self.registry.try_send(request);
        }
    }
}

impl Component for LuminaConnection {
    type In = String;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let registry = s.runtime().service::<RegistryAsk>(&self.options.service)?;
        let out = s.outbox::<RegistryAsk>("registry", "requests to the node registry")?;
        s.link(out, registry)?;
        s.inbox_with_capacity::<String>(
            "from_registry",
            "replies to the commands this connection forwarded",
            self.options.replies_room,
        )?;
        s.inbox::<String>("commands", "commands other connections call on this node")?;
        // Without keepalives to send, the child only watches the silence; its ticks are
        // not written.
        let period = self.options.keepalive.unwrap_or(self.options.silence_limit);
        let keepalive = s.add_child(
            Keepalive::<(), String>::every(period, String::new())
                .deadline(self.options.silence_limit)
                .named(format!("keepalive {}", self.peer)),
        )?;
        let ticks = s.inbox::<String>("keepalive", "the keepalive's empty lines")?;
        s.link(keepalive.outbox(), ticks)?;
        let heard = s.outbox::<()>("heard", "one per line heard, to the keepalive")?;
        s.link(heard, keepalive.inbox())?;
        let dead = s.inbox::<PeerDead>("peer_dead", "the node went silent")?;
        let dead_out = s.runtime().box_ref::<PeerDead>(keepalive.id(), "dead")?;
        s.link(dead_out, dead)?;
        s.describe("inbox", "lines from the node")?;
        s.describe("outbox", "lines for the node")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<String, Bytes>) -> Result<(), BoxError> {
        let mut registry = ctx.outbox_named::<RegistryAsk>("registry")?;
        let mut from_registry = ctx.take_inbox::<String>("from_registry")?;
        let mut commands = ctx.take_inbox::<String>("commands")?;
        let replies = ctx.runtime().box_ref::<String>(ctx.id(), "from_registry")?;
        let commands_ref = ctx.runtime().box_ref::<String>(ctx.id(), "commands")?;
        let mut ticks = ctx.take_inbox::<String>("keepalive")?;
        let mut dead = ctx.take_inbox::<PeerDead>("peer_dead")?;
        let mut heard = ctx.outbox_named::<()>("heard")?;
        let send_keepalives = self.options.keepalive.is_some();

        let connect = RegistryRequest::Connect {
            peer: self.peer,
            replies,
            replies_room: self.options.replies_room,
            commands: commands_ref,
        };
        let RegistryReply::Connected(conn) = self.ask(&mut registry, connect).await? else {
            return Err(self.gone().into());
        };
        tracing::debug!(%conn, peer = %self.peer, "node connection open");
        let mut link = Registered {
            registry,
            conn,
            told: false,
        };
        loop {
            let out = tokio::select! {
                biased;
                line = from_registry.recv() => match line {
                    Some(line) => vec![line],
                    None => break,
                },
                line = commands.recv() => match line {
                    Some(line) => vec![line],
                    None => break,
                },
                tick = ticks.recv() => match tick {
                    Some(tick) if send_keepalives => vec![tick],
                    _ => continue,
                },
                notice = dead.recv() => {
                    if let Some(notice) = notice {
                        tracing::info!(%conn, peer = %self.peer, silent_for = ?notice.silent_for, "closing: the node was silent too long");
                        // A close, not a failure: ask the framer to flush and close the
                        // socket, and take what the line reader still hands over (a
                        // partial line) until it ends, so no stage fails on the way.
                        let _ = ctx.signal.send(Control::ProducerFinished).await;
                        while ctx.recv().await.is_some() {}
                        break;
                    }
                    continue;
                }
                line = ctx.recv() => {
                    let Some(line) = line else { break };
                    // A full keepalive inbox has heard plenty already.
                    let _ = heard.try_send(());
                    if line.trim().is_empty() {
                        continue;
                    }
                    let request = RegistryRequest::Line { conn, line };
                    match self.ask(&mut link.registry, request).await? {
                        RegistryReply::Lines(lines) => lines,
                        _ => return Err(self.gone().into()),
                    }
                }
            };
            for line in out {
                if ctx.send(framed(line)).await.is_err() {
                    // The socket has gone: a close, not a failure. Take what the line
                    // reader still hands over until it ends, so it does not fail either.
                    tracing::debug!(%conn, peer = %self.peer, "closing: the connection has gone");
                    link.close().await;
                    while ctx.recv().await.is_some() {}
                    return Ok(());
                }
            }
        }
        link.close().await;
        Ok(())
    }
}

/// The per-connection handler a node server makes:
/// `LineDeframer -> LuminaConnection` (the connection writes its lines framed).
///
/// # Examples
///
/// ```
/// use axon::Component;
/// use components::registry::{NodeHandler, NodeServerOptions, node_handler};
/// let handler: NodeHandler =
///     node_handler("127.0.0.1:40000".parse().unwrap(), 1024, NodeServerOptions::default());
/// assert_eq!(handler.name(), "lumina 127.0.0.1:40000");
/// ```
pub type NodeHandler = Pipeline<Bytes, Bytes>;

/// The handler factory of a node server: what [`node_server`] passes to [`ServerCore`].
///
/// # Examples
///
/// ```
/// use axon::Component;
/// use components::registry::{NodeFactory, NodeServerOptions, node_handler};
/// // What `node_server` builds: one pipeline per connection.
/// let factory: NodeFactory =
///     Box::new(|info| node_handler(info.peer, 64 * 1024, NodeServerOptions::default()));
/// let info = chassis::tcp::ConnectionInfo {
///     id: 1,
///     peer: "10.0.0.2:50000".parse().unwrap(),
///     local: "10.0.0.1:5326".parse().unwrap(),
/// };
/// assert_eq!(factory(&info).name(), "lumina 10.0.0.2:50000");
/// ```
pub type NodeFactory = Box<dyn Fn(&ConnectionInfo) -> NodeHandler + Send + Sync>;

/// The handler for one node connection: `LineDeframer -> LuminaConnection`, lines of
/// at most `max_line` bytes, invalid UTF-8 replaced by U+FFFD (the line then gets an
/// error reply if it carried a `seq`, and is never forwarded). The connection writes
/// its own framed lines, so a peer that closes while lines are on their way ends the
/// connection cleanly.
///
/// # Examples
///
/// ```
/// use axon::Component;
/// use components::registry::{NodeServerOptions, node_handler};
///
/// let handler = node_handler("127.0.0.1:40000".parse().unwrap(), 64 * 1024, NodeServerOptions::default());
/// assert_eq!(handler.name(), "lumina 127.0.0.1:40000");
/// ```
pub fn node_handler(peer: SocketAddr, max_line: usize, options: NodeServerOptions) -> NodeHandler {
    Pipeline::new(
        LineDeframer::new()
            .max_line_length(max_line)
            .invalid_utf8(InvalidUtf8::Replace),
    )
    .then(LuminaConnection::new(peer, options))
    .named(format!("lumina {peer}"))
}

/// A Lumina node server: a [`ServerCore`] making one [`node_handler`] pipeline per
/// connection. Add a [`NodeRegistry`](super::NodeRegistry) to the same runtime and
/// register its `inbox` under `options.service` before the first connection; link its
/// `events` outbox to your event handler.
///
/// # Errors
///
/// The [`BindError`] if `config.listen` cannot be bound.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chassis::tcp::ServerConfig;
/// use components::registry::{LUMINA_SERVICE, NodeRegistry, NodeServerOptions, Ownership, node_server};
///
/// let rt = axon::Runtime::new();
/// let registry = rt.add(NodeRegistry::new(Ownership::Strict))?;
/// rt.register_service(LUMINA_SERVICE, registry.inbox())?;
/// let _registry = registry.start();
/// let server = node_server(ServerConfig::new("127.0.0.1:5326".parse()?), NodeServerOptions::default())?;
/// let _server = rt.spawn(server)?;
/// # Ok(()) }
/// ```
pub fn node_server(
    config: ServerConfig,
    options: NodeServerOptions,
) -> Result<ServerCore<NodeFactory>, BindError> {
    let max_line = config.max_frame;
    let factory: NodeFactory =
        Box::new(move |info| node_handler(info.peer, max_line, options.clone()));
    ServerCore::new(config, factory)
}
