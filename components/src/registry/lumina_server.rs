//! The Lumina node server: [`LuminaConnection`], one per connection, talking to a
//! [`NodeRegistry`](super::NodeRegistry) found through the service registry, and
//! [`node_server`], the [`ServerCore`] that makes a
//! `LineDeframer -> LuminaConnection -> LineFramer` pipeline per connection.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use bytes::Bytes;
use chassis::pipeline::Pipeline;
use chassis::tcp::{BindError, ConnectionInfo, ServerConfig, ServerCore};
use tokio::sync::oneshot;

use super::component::{LUMINA_SERVICE, RegistryRequest};
use super::error::HandlerError;
use super::lumina::{Message, SILENCE_LIMIT};
use super::table::ConnectionId;
use crate::framing::{InvalidUtf8, LineDeframer, LineFramer};
use crate::keepalive::{Keepalive, PeerDead};

/// How often the server sends a node a bare newline (Lumina's 60 s).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::{KEEPALIVE_PERIOD, NodeServerOptions};
/// assert_eq!(KEEPALIVE_PERIOD, Duration::from_secs(60));
/// assert_eq!(NodeServerOptions::default().keepalive, KEEPALIVE_PERIOD);
/// ```
pub const KEEPALIVE_PERIOD: Duration = Duration::from_secs(60);

/// How a node server treats its connections.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `keepalive` | 60 s ([`KEEPALIVE_PERIOD`]) | send a bare newline this often |
/// | `silence_limit` | 180 s ([`SILENCE_LIMIT`]) | close a connection nothing was heard on for this long |
/// | `service` | [`LUMINA_SERVICE`] | the service name of the [`NodeRegistry`](super::NodeRegistry) |
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
    /// How often to send a keepalive (a bare newline).
    pub keepalive: Duration,
    /// How long a connection may stay silent before it is closed.
    pub silence_limit: Duration,
    /// The registry's service name.
    pub service: Cow<'static, str>,
}

impl Default for NodeServerOptions {
    fn default() -> Self {
        NodeServerOptions {
            keepalive: KEEPALIVE_PERIOD,
            silence_limit: SILENCE_LIMIT,
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
    /// let options = NodeServerOptions::default().keepalive(Duration::from_secs(20));
    /// assert_eq!(options.keepalive, Duration::from_secs(20));
    /// ```
    pub fn keepalive(mut self, period: Duration) -> Self {
        self.keepalive = period;
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
/// registry, writes what the registry pushes, and keeps the connection alive.
///
/// # What it does
///
/// When it starts it announces itself to the registry
/// ([`RegistryRequest::Connect`]) with its `from_registry` inbox, and learns its
/// connection number. Every line received goes to the registry
/// ([`RegistryRequest::Line`]); every [`Message`] the registry pushes to
/// `from_registry` (replies, commands forwarded from other nodes, failures) leaves on
/// `outbox` as one line of compact JSON. A child [`Keepalive`] sends an empty line
/// (a bare newline once framed) every period and, when nothing at all was heard for
/// the silence limit, the connection ends (and so closes). When it ends, for any
/// reason, it tells the registry ([`RegistryRequest::Disconnect`]): the node's pending
/// requests fail and its events and commands disappear.
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
/// let reply = h.recv().await.unwrap_or_default();
/// assert!(reply.contains(r#""seq":1"#) && reply.contains(r#""success":true"#));
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// `setup` links the `registry` outbox to the service, declares `from_registry`, and
/// adds the [`Keepalive`] child: its `outbox` feeds `keepalive`, its `dead` notice
/// feeds `peer_dead`, and every line heard is copied to its `inbox` through `heard`.
/// The body waits on `inbox`, `control`, `from_registry`, `keepalive` and `peer_dead`
/// in one `tokio::select!`.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `String` | lines from the node (from a [`LineDeframer`]) |
/// | `control` | in | [`Control`](axon::Control) | the connection closed, or `Shutdown` |
/// | `from_registry` | in | [`Message`] | messages the registry pushes to this node |
/// | `keepalive` | in | `String` | the keepalive's empty lines |
/// | `peer_dead` | in | [`PeerDead`] | the keepalive's notice that the node went silent |
/// | `outbox` | out | `String` | lines for the node (to a [`LineFramer`]) |
/// | `registry` | out | [`RegistryRequest`] | to the [`NodeRegistry`](super::NodeRegistry) |
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
}

/// Tells the registry the connection has gone, also when the body is dropped midway
/// (killed): then best effort, without waiting.
struct Registered {
    registry: Outbox<RegistryRequest>,
    conn: ConnectionId,
    told: bool,
}

impl Registered {
    async fn close(mut self) {
        self.told = true;
        let conn = self.conn;
        let _ = self
            .registry
            .send(RegistryRequest::Disconnect { conn })
            .await;
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if !self.told {
            let conn = self.conn;
            let _ = self.registry.try_send(RegistryRequest::Disconnect { conn });
        }
    }
}

impl Component for LuminaConnection {
    type In = String;
    type Out = String;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let registry = s
            .runtime()
            .service::<RegistryRequest>(&self.options.service)?;
        let out = s.outbox::<RegistryRequest>("registry", "requests to the node registry")?;
        s.link(out, registry)?;
        s.inbox::<Message>("from_registry", "messages the registry pushes to this node")?;
        let keepalive = s.add_child(
            Keepalive::<(), String>::every(self.options.keepalive, String::new())
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

    async fn run(self, mut ctx: Context<String, String>) -> Result<(), BoxError> {
        let mut registry = ctx.outbox_named::<RegistryRequest>("registry")?;
        let mut from_registry = ctx.take_inbox::<Message>("from_registry")?;
        let from_registry_ref = ctx
            .runtime()
            .box_ref::<Message>(ctx.id(), "from_registry")?;
        let mut ticks = ctx.take_inbox::<String>("keepalive")?;
        let mut dead = ctx.take_inbox::<PeerDead>("peer_dead")?;
        let mut heard = ctx.outbox_named::<()>("heard")?;

        let (reply, answer) = oneshot::channel();
        let connect = RegistryRequest::Connect {
            peer: self.peer,
            inbox: from_registry_ref,
            reply,
        };
        registry.send(connect).await.map_err(|_| self.gone())?;
        let conn = answer.await.map_err(|_| self.gone())?;
        tracing::debug!(%conn, peer = %self.peer, "node connection open");
        let mut link = Registered {
            registry,
            conn,
            told: false,
        };
        loop {
            tokio::select! {
                biased;
                line = ctx.recv() => {
                    let Some(line) = line else { break };
                    // A full keepalive inbox has heard plenty already.
                    let _ = heard.try_send(());
                    if line.trim().is_empty() {
                        continue;
                    }
                    let request = RegistryRequest::Line { conn, line };
                    link.registry.send(request).await.map_err(|_| self.gone())?;
                }
                message = from_registry.recv() => {
                    let Some(message) = message else { break };
                    if ctx.send(message.to_string()).await.is_err() {
                        break;
                    }
                }
                tick = ticks.recv() => {
                    if let Some(tick) = tick
                        && ctx.send(tick).await.is_err()
                    {
                        break;
                    }
                }
                notice = dead.recv() => {
                    if let Some(notice) = notice {
                        tracing::info!(%conn, peer = %self.peer, silent_for = ?notice.silent_for, "node silent too long; closing");
                        break;
                    }
                }
            }
        }
        link.close().await;
        Ok(())
    }
}

/// The per-connection handler a node server makes:
/// `LineDeframer -> LuminaConnection -> LineFramer`.
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

/// The handler for one node connection: `LineDeframer -> LuminaConnection ->
/// LineFramer`, lines of at most `max_line` bytes, invalid UTF-8 replaced (the line
/// then fails to parse and is dropped, logged).
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
    .then(LineFramer::new())
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
