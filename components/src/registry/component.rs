//! [`NodeRegistry`]: the component that owns the registry state and answers the
//! protocol handlers of both servers through its `inbox`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axon::{
    BoxError, BoxRef, Component, Context, LinkError, Outbox, Policy, Replier, Request, Setup,
};
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::lumina::{Action, Dispatcher, DispatcherConfig, Message, RequestId, ServerIdentity};
use super::table::{ConnectionId, Node, NodeTable, Ownership, RegistryChange};
use super::{LuminaError, datahub};

/// The service name the datahub server's handlers look the registry up by, unless told
/// otherwise.
///
/// # Examples
///
/// ```
/// use components::registry::{DATAHUB_SERVICE, LUMINA_SERVICE};
/// assert_eq!(DATAHUB_SERVICE, "datahub-registry");
/// assert_ne!(DATAHUB_SERVICE, LUMINA_SERVICE);
/// ```
pub const DATAHUB_SERVICE: &str = "datahub-registry";

/// The service name the node server's handlers look the registry up by, unless told
/// otherwise.
///
/// # Examples
///
/// ```
/// use components::registry::LUMINA_SERVICE;
/// assert_eq!(LUMINA_SERVICE, "lumina-registry");
/// ```
pub const LUMINA_SERVICE: &str = "lumina-registry";

/// How long a protocol handler waits for the registry's answer before it gives up
/// with [`HandlerError::RegistryStalled`](super::HandlerError::RegistryStalled). The
/// registry answers at once; only a stall downstream of it (a follower of its `outbox`
/// that stopped reading) makes it wait.
///
/// # Examples
///
/// ```
/// assert_eq!(components::registry::REGISTRY_TIMEOUT, std::time::Duration::from_secs(60));
/// ```
pub const REGISTRY_TIMEOUT: Duration = Duration::from_secs(60);

/// Capacity of the registry's `inbox`: every connection's handler feeds it.
const INBOX_CAPACITY: usize = 1024;

/// A question to a [`NodeRegistry`], asked by a protocol handler (or any component)
/// as a [`RegistryAsk`] on an outbox linked to the registry's `inbox`
/// ([`Outbox::ask`](axon::Outbox::ask)): the answer comes back as the
/// [`RegistryReply`] of the same name, and the asker's outbox counts the requests and
/// replies in the runtime's snapshot. A Lumina connection also names the boxes the
/// registry pushes that connection's other lines to.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use axon::Request;
/// use axon::testing::Harness;
/// use components::registry::{NodeRegistry, Ownership, RegistryChange, RegistryReply, RegistryRequest};
///
/// let mut h = Harness::new(NodeRegistry::new(Ownership::Strict));
/// let (ask, answer) = Request::new(RegistryRequest::Datahub {
///     request: "`register 8000".into(),
///     peer: "10.0.0.2".parse()?,
/// });
/// h.send(ask).await;
/// answer.wait(Duration::from_secs(1)).await?;
/// assert!(matches!(h.recv().await, Some(RegistryChange::Registered { .. })));
///
/// let (ask, answer) = Request::new(RegistryRequest::Nodes);
/// h.send(ask).await;
/// let Ok(RegistryReply::Nodes(nodes)) = answer.wait(Duration::from_secs(1)).await else {
///     panic!("the registry answers a Nodes request with its nodes");
/// };
/// assert_eq!(nodes.len(), 1);
/// assert_eq!(nodes[0].port, 8000);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RegistryRequest {
    /// One raw SmartGet datahub request from `peer`; the exact reply bytes come back
    /// ([`RegistryReply::Datahub`]).
    Datahub {
        /// The request as it arrived (with or without its line end).
        request: Bytes,
        /// The IP of the peer that sent it.
        peer: IpAddr,
    },
    /// A Lumina connection from `peer` opened; its number comes back
    /// ([`RegistryReply::Connected`]). Until [`Disconnect`](Self::Disconnect)
    /// the registry pushes lines for it, in its wire form, to two inboxes of its
    /// handler: `replies` gets the replies (and failures) to the commands this
    /// connection forwarded to other nodes, `commands` the commands other connections
    /// call on this node. Replies never wait: the connection may await at most
    /// `replies_room` of them at once (more commands are refused with a failure reply),
    /// so make `replies_room` the capacity of `replies`. A command that finds
    /// `commands` full fails back to its caller.
    Connect {
        /// The connection's remote address.
        peer: SocketAddr,
        /// The handler's inbox for replies to its forwarded commands.
        replies: BoxRef<String>,
        /// How many lines `replies` holds.
        replies_room: usize,
        /// The handler's inbox for commands other connections call on its node.
        commands: BoxRef<String>,
    },
    /// One line received on a Lumina connection (a blank line is a keepalive). The
    /// lines that answer it, for this connection, come back ([`RegistryReply::Lines`]):
    /// the handler writes them before it reads its next line, so a client that does
    /// not read its replies stops being read (backpressure), and no reply is dropped.
    Line {
        /// The connection, as [`Connect`](Self::Connect) numbered it.
        conn: ConnectionId,
        /// The line, without its line end.
        line: String,
    },
    /// A Lumina connection closed: its pending requests fail, its node's events and
    /// commands go ([`RegistryReply::Disconnected`] once done).
    Disconnect {
        /// The connection that closed.
        conn: ConnectionId,
    },
    /// Call the node command `command` (`<node>/<cmd>`) from the server itself; the
    /// node's reply, or a failure (unknown command, timeout, lost connection), comes
    /// back ([`RegistryReply::Called`]), within the request timeout of the registry's
    /// [`DispatcherConfig`].
    Call {
        /// The command's full name.
        command: String,
        /// Positional arguments.
        args: Vec<Value>,
        /// Keyword arguments.
        kw: Map<String, Value>,
    },
    /// A copy of every node in the table, in id order (for status views and tests):
    /// [`RegistryReply::Nodes`].
    Nodes,
}

/// The registry's answer to a [`RegistryRequest`], variant for variant.
///
/// # Examples
///
/// ```
/// use components::registry::RegistryReply;
/// let reply = RegistryReply::Datahub("200 OK\r\n1".into());
/// assert!(matches!(reply, RegistryReply::Datahub(bytes) if &bytes[..] == b"200 OK\r\n1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RegistryReply {
    /// The exact reply bytes to a [`RegistryRequest::Datahub`].
    Datahub(Bytes),
    /// The number of the connection a [`RegistryRequest::Connect`] opened.
    Connected(ConnectionId),
    /// The lines (without line ends) that answer a [`RegistryRequest::Line`], for its
    /// connection.
    Lines(Vec<String>),
    /// A [`RegistryRequest::Disconnect`] is done.
    Disconnected,
    /// The node's reply (or the failure) to a [`RegistryRequest::Call`].
    Called(Message),
    /// Every node in the table, in id order ([`RegistryRequest::Nodes`]).
    Nodes(Vec<Node>),
}

/// What a [`NodeRegistry`]'s `inbox` takes: a [`RegistryRequest`] with its way back
/// for the [`RegistryReply`]. Declare the asking outbox by name with this type, so the
/// snapshot counts its requests, replies and timeouts.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use components::registry::{NodeRegistry, Ownership, RegistryAsk, RegistryReply, RegistryRequest};
///
/// let rt = axon::Runtime::new();
/// let registry = rt.add(NodeRegistry::new(Ownership::Strict))?;
/// let mut me = rt.external("status page");
/// let (to, mut ask) = me.add_outbox::<RegistryAsk>("registry")?;
/// rt.link(to, registry.inbox())?;
/// let _registry = registry.start();
/// let reply = ask.ask(RegistryRequest::Nodes, Duration::from_secs(5)).await?;
/// assert_eq!(reply, RegistryReply::Nodes(vec![]));
/// let asks = rt.snapshot().component(me.id()).and_then(|c| c.boxes[0].asks);
/// assert_eq!(asks.map(|a| (a.asked, a.replied)), Some((1, 1)));
/// # Ok(()) }
/// ```
pub type RegistryAsk = Request<RegistryRequest, RegistryReply>;

/// A declared Lumina event, as the registry hands it to the event handler on its
/// `events` outbox.
///
/// # Examples
///
/// An event handler component: link the registry's `events` outbox to its `inbox`.
///
/// ```
/// use axon::{Context, component::from_fn};
/// use components::registry::NodeEvent;
///
/// let handler = from_fn("event log", |mut ctx: Context<NodeEvent, ()>| async move {
///     while let Some(event) = ctx.recv().await {
///         tracing::info!(conn = %event.from, "event {}", event.message.name);
///     }
///     Ok(())
/// });
/// # let _ = handler;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEvent {
    /// The connection it came from.
    pub from: ConnectionId,
    /// The event: `name` is `<node>/<event>`, with its `args` and `kw`.
    pub message: Message,
}

/// The node registry: owns the [`NodeTable`] (inside a Lumina [`Dispatcher`]) and
/// answers [`RegistryRequest`]s from the protocol handlers of the datahub and node
/// servers, one at a time, so handlers share no mutable state.
///
/// # What it does
///
/// Handlers find it by name in the runtime's service registry (register its `inbox`
/// with [`Runtime::register_service`](axon::Runtime::register_service), under
/// [`DATAHUB_SERVICE`] or [`LUMINA_SERVICE`] by default) and link an outbox to it.
///
/// - A datahub request is parsed and answered byte for byte ([`datahub::handle`]); the
///   reply goes back on the request's way back ([`RegistryAsk`]).
/// - A Lumina connection announces itself with [`RegistryRequest::Connect`], giving the
///   two inboxes it wants its lines in; the registry adds two outboxes of its own for
///   that connection (`replies_<n>` and `commands_<n>`) and removes them on
///   [`RegistryRequest::Disconnect`]. It never waits on them (one stalled node cannot
///   stall the registry) and never drops a reply: the lines that answer a connection's
///   own line go back with that request, replies to forwarded commands always find room
///   (see [`RegistryRequest::Connect`]), and a command a node is too slow to take
///   fails back to its caller. Lines go through the [`Dispatcher`], and what it
///   decides is done here: lines written for connections in their wire form, declared
///   events sent on `events`, replies to [`RegistryRequest::Call`] sent back.
/// - Every change to the table is published on `outbox` as a [`RegistryChange`] (if
///   `outbox` is linked), before the request that caused it is answered, so logging or
///   a dashboard can follow the registry.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::registry::{NodeRegistry, Ownership, RegistryChange, RegistryReply, RegistryRequest};
///
/// let mut h = Harness::new(NodeRegistry::new(Ownership::Strict));
/// let (ask, answer) = axon::Request::new(RegistryRequest::Datahub {
///     request: "`register 8000".into(),
///     peer: "10.0.0.2".parse()?,
/// });
/// h.send(ask).await;
/// let reply = answer.wait(std::time::Duration::from_secs(1)).await?;
/// assert_eq!(reply, RegistryReply::Datahub("200 OK\r\n1".into()));
/// assert!(matches!(h.recv().await, Some(RegistryChange::Registered { port: 8000, .. })));
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// One body, one `tokio::select!` over `inbox` and the earliest forwarded-command
/// deadline (tokio's clock, so tests run it on the paused clock). Time handed to the
/// table is tokio's [`Instant`] since the registry started. Random picks for
/// `requestnodes` come from a [`StdRng`] seeded from the OS, or from
/// [`seed`](NodeRegistry::seed).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`RegistryAsk`] | requests from protocol handlers, answered on their way back (capacity 1024) |
/// | `control` | in | [`Control`](axon::Control) | `Shutdown` / `ProducerFinished`: stop |
/// | `outbox` | out | [`RegistryChange`] | every change to the table |
/// | `events` | out | [`NodeEvent`] | declared Lumina events, for the server's event handler |
/// | `replies_<n>` | out | `String` | one per open Lumina connection: replies to its forwarded commands |
/// | `commands_<n>` | out | `String` | one per open Lumina connection: commands called on its node |
/// | `signal` | out | [`Control`](axon::Control) | passes the lifecycle on |
pub struct NodeRegistry {
    ownership: Ownership,
    identity: ServerIdentity,
    timing: DispatcherConfig,
    max_nodes: usize,
    rng: StdRng,
    name: Cow<'static, str>,
}

impl std::fmt::Debug for NodeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRegistry")
            .field("name", &self.name)
            .field("ownership", &self.ownership)
            .field("identity", &self.identity)
            .field("timing", &self.timing)
            .field("max_nodes", &self.max_nodes)
            .finish()
    }
}

impl NodeRegistry {
    /// An empty registry with the given datahub ownership rule, the default Lumina
    /// timing ([`DispatcherConfig::default`]) and this host's name (from `HOSTNAME`,
    /// else `localhost`) as its identity.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{NodeRegistry, Ownership};
    /// let registry = NodeRegistry::new(Ownership::Open).seed(7);
    /// # let _ = registry;
    /// ```
    pub fn new(ownership: Ownership) -> Self {
        let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
        NodeRegistry {
            ownership,
            identity: ServerIdentity {
                host_id: hostname.clone(),
                hostname,
            },
            timing: DispatcherConfig::default(),
            max_nodes: NodeTable::DEFAULT_MAX_NODES,
            rng: StdRng::from_os_rng(),
            name: Cow::Borrowed("NodeRegistry"),
        }
    }

    /// Use `identity` for `serverid`, `_info` and `_server`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{NodeRegistry, Ownership};
    /// use components::registry::lumina::{DispatcherConfig, ServerIdentity};
    ///
    /// let identity = ServerIdentity { hostname: "hub".into(), host_id: "hub-1".into() };
    /// let timing = DispatcherConfig { request_timeout: Duration::from_secs(2), ..Default::default() };
    /// let registry = NodeRegistry::new(Ownership::Strict)
    ///     .identity(identity)
    ///     .timing(timing)
    ///     .named("hub registry");
    /// # let _ = registry;
    /// ```
    pub fn identity(mut self, identity: ServerIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// Use `timing` for the Lumina timing and limits: request timeout, retention of
    /// disconnected nodes, registration sizes, waiting replies, line length
    /// ([`DispatcherConfig`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{NodeRegistry, Ownership};
    /// use components::registry::lumina::DispatcherConfig;
    ///
    /// let timing = DispatcherConfig { request_timeout: Duration::from_secs(2), ..Default::default() };
    /// let registry = NodeRegistry::new(Ownership::Strict).timing(timing);
    /// assert!(format!("{registry:?}").contains("request_timeout: 2s"));
    /// ```
    pub fn timing(mut self, timing: DispatcherConfig) -> Self {
        self.timing = timing;
        self
    }

    /// Hold at most `max` nodes (datahub and Lumina together;
    /// [`NodeTable::DEFAULT_MAX_NODES`] by default). Registrations beyond it are refused
    /// with [`TableError::Full`](super::TableError::Full).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{NodeRegistry, Ownership};
    /// let registry = NodeRegistry::new(Ownership::Strict).max_nodes(100);
    /// assert!(format!("{registry:?}").contains("max_nodes: 100"));
    /// ```
    pub fn max_nodes(mut self, max: usize) -> Self {
        self.max_nodes = max;
        self
    }

    /// Seed the random picks of `requestnodes`, for reproducible runs.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use axon::testing::Harness;
    /// use components::registry::{NodeRegistry, Ownership, RegistryReply, RegistryRequest};
    ///
    /// // Two registries seeded alike pick the same nodes for the same requests.
    /// let mut picks = Vec::new();
    /// for _ in 0..2 {
    ///     let mut h = Harness::new(NodeRegistry::new(Ownership::Strict).seed(42));
    ///     let mut last = Vec::new();
    ///     for request in [
    ///         "`register 8000", "`register 8001", "`register 8002",
    ///         "`setstatus 1 1", "`setstatus 2 1", "`setstatus 3 1", "`requestnodes 1",
    ///     ] {
    ///         let peer = "10.0.0.2".parse()?;
    ///         let (ask, answer) = axon::Request::new(RegistryRequest::Datahub { request: request.into(), peer });
    ///         h.send(ask).await;
    ///         if let RegistryReply::Datahub(bytes) = answer.wait(std::time::Duration::from_secs(1)).await? {
    ///             last = bytes.to_vec();
    ///         }
    ///     }
    ///     picks.push(last);
    /// }
    /// assert!(picks[0].starts_with(b"200 OK\r\n10.0.0.2 800"));
    /// assert_eq!(picks[0], picks[1]);
    /// # Ok(()) }
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = StdRng::seed_from_u64(seed);
        self
    }

    /// Set the name shown in introspection (`NodeRegistry` by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// use components::registry::{NodeRegistry, Ownership};
    /// let registry = NodeRegistry::new(Ownership::Strict).named("hub registry");
    /// assert_eq!(registry.name(), "hub registry");
    /// ```
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }
}

/// The registry's two outboxes to one Lumina connection.
struct ConnectionBoxes {
    replies: (String, Outbox<String>),
    commands: (String, Outbox<String>),
}

impl ConnectionBoxes {
    fn remove(self, ctx: &mut Context<RegistryAsk, RegistryChange>) {
        // The boxes may already be gone with the runtime's teardown; nothing to undo then.
        let _ = ctx.remove_box(&self.replies.0);
        let _ = ctx.remove_box(&self.commands.0);
    }
}

/// The registry's running state.
struct Running {
    dispatcher: Dispatcher,
    rng: StdRng,
    start: Instant,
    conns: HashMap<ConnectionId, ConnectionBoxes>,
    calls: HashMap<RequestId, Replier<RegistryReply>>,
    events: Outbox<NodeEvent>,
    /// Replies that found their connection's queue full (never expected; logged).
    lost_replies: u64,
}

impl Component for NodeRegistry {
    type In = RegistryAsk;
    type Out = RegistryChange;

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.set_capacity("inbox", INBOX_CAPACITY)?;
        s.describe(
            "inbox",
            "requests from protocol handlers, answered on their way back",
        )?;
        s.describe("outbox", "every change to the node table")?;
        s.outbox::<NodeEvent>("events", "declared Lumina events, for the event handler")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<RegistryAsk, RegistryChange>) -> Result<(), BoxError> {
        let mut st = Running {
            dispatcher: Dispatcher::new(
                self.identity,
                self.timing,
                NodeTable::new(self.ownership).max_nodes(self.max_nodes),
            ),
            rng: self.rng,
            start: Instant::now(),
            conns: HashMap::new(),
            calls: HashMap::new(),
            events: ctx.outbox_named::<NodeEvent>("events")?,
            lost_replies: 0,
        };
        loop {
            let deadline = st.dispatcher.next_deadline().map(|d| st.start + d);
            let expiry = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let request = tokio::select! {
                biased;
                request = ctx.recv() => match request {
                    Some(request) => request,
                    None => break,
                },
                () = expiry => {
                    let actions = st.dispatcher.expire(st.start.elapsed());
                    st.perform(&mut ctx, actions, None).await;
                    continue;
                }
            };
            st.serve(&mut ctx, request).await?;
        }
        Ok(())
    }
}

impl Running {
    async fn serve(
        &mut self,
        ctx: &mut Context<RegistryAsk, RegistryChange>,
        ask: RegistryAsk,
    ) -> Result<(), BoxError> {
        let now = self.start.elapsed();
        let (request, reply) = ask.into_parts();
        // The asker may have gone (with its connection, or given up): nothing to answer
        // then, so each `reply` below ignores a refusal.
        match request {
            RegistryRequest::Datahub { request, peer } => {
                let table = self.dispatcher.table_mut();
                let (bytes, change) = datahub::handle(table, &request, peer, now, &mut self.rng);
                // Published first, so followers see a change before its requester does.
                if let Some(change) = change {
                    publish(ctx, change).await;
                }
                let _ = reply.reply(RegistryReply::Datahub(Bytes::from(bytes)));
            }
            RegistryRequest::Connect {
                peer,
                replies,
                replies_room,
                commands,
            } => {
                let conn = self.dispatcher.connect(peer, now);
                self.dispatcher.limit_waiting(conn, replies_room);
                let mut link = |name: String, to: BoxRef<String>, what: &'static str| {
                    let (out_ref, out) = ctx.add_outbox::<String>(name.clone(), what)?;
                    if let Err(error) = ctx.runtime().link_with(out_ref, to, Policy::Block) {
                        tracing::warn!(%conn, %peer, %error, "cannot link to the connection's inbox");
                    }
                    Ok::<_, LinkError>((name, out))
                };
                let boxes = ConnectionBoxes {
                    replies: link(
                        format!("replies_{conn}"),
                        replies,
                        "replies to one connection's forwarded commands",
                    )?,
                    commands: link(
                        format!("commands_{conn}"),
                        commands,
                        "commands called on one connection's node",
                    )?,
                };
                self.conns.insert(conn, boxes);
                let _ = reply.reply(RegistryReply::Connected(conn));
            }
            RegistryRequest::Line { conn, line } => {
                let actions = self.dispatcher.receive_line(conn, line.as_bytes(), now);
                let mut answer = Vec::new();
                self.perform(ctx, actions, Some((conn, &mut answer))).await;
                let _ = reply.reply(RegistryReply::Lines(answer));
            }
            RegistryRequest::Disconnect { conn } => {
                self.disconnect(ctx, conn).await;
                let _ = reply.reply(RegistryReply::Disconnected);
            }
            RegistryRequest::Call { command, args, kw } => {
                match self.dispatcher.request(&command, args, kw, now) {
                    Ok((id, action)) => {
                        self.calls.insert(id, reply);
                        self.perform(ctx, vec![action], None).await;
                    }
                    Err(error) => {
                        let failed = Message::new(command).error_reply(&error);
                        let _ = reply.reply(RegistryReply::Called(failed));
                    }
                }
            }
            RegistryRequest::Nodes => {
                let nodes = self.dispatcher.table().iter().cloned().collect();
                let _ = reply.reply(RegistryReply::Nodes(nodes));
            }
        }
        Ok(())
    }

    async fn disconnect(
        &mut self,
        ctx: &mut Context<RegistryAsk, RegistryChange>,
        conn: ConnectionId,
    ) {
        if let Some(boxes) = self.conns.remove(&conn) {
            boxes.remove(ctx);
        }
        let actions = self.dispatcher.disconnect(conn);
        self.perform(ctx, actions, None).await;
    }

    /// Does what the dispatcher decided. Lines for `requester` (the connection whose
    /// line is being answered) go into its answer; others are pushed to their
    /// connections without waiting. Connections found gone on the way are disconnected
    /// in turn (their failures may produce more actions).
    async fn perform(
        &mut self,
        ctx: &mut Context<RegistryAsk, RegistryChange>,
        actions: Vec<Action>,
        mut requester: Option<(ConnectionId, &mut Vec<String>)>,
    ) {
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { to, message } => {
                    let line = match self.dispatcher.encode(to, &message) {
                        Ok(line) => line,
                        Err(error) => {
                            queue.extend(self.dispatcher.undeliverable(to, message, error));
                            continue;
                        }
                    };
                    if let Some((conn, answer)) = requester.as_mut()
                        && *conn == to
                    {
                        answer.push(line);
                        continue;
                    }
                    let Some(boxes) = self.conns.get_mut(&to) else {
                        queue.extend(self.dispatcher.disconnect(to));
                        continue;
                    };
                    let is_reply = message.is_reply();
                    let out = if is_reply {
                        &mut boxes.replies.1
                    } else {
                        &mut boxes.commands.1
                    };
                    match out.try_send(line) {
                        Ok(()) => {}
                        Err(full) if full.is_full() && is_reply => {
                            // The waiting limit leaves a reply room; this would be a defect.
                            self.lost_replies += 1;
                            tracing::error!(conn = %to, lost = self.lost_replies, "reply queue full; reply {} lost", message.name);
                        }
                        Err(full) if full.is_full() => {
                            let error = LuminaError::NodeBusy {
                                conn: to,
                                name: message.name.clone(),
                            };
                            queue.extend(self.dispatcher.undeliverable(to, message, error));
                        }
                        Err(_) => {
                            tracing::debug!(conn = %to, "connection gone; disconnecting it");
                            if let Some(boxes) = self.conns.remove(&to) {
                                boxes.remove(ctx);
                            }
                            queue.extend(self.dispatcher.disconnect(to));
                        }
                    }
                }
                Action::Event { from, message } => {
                    let event = NodeEvent { from, message };
                    if let Err(unsent) = self.events.send(event).await {
                        tracing::debug!(event = %unsent.0.message.name, "no event handler linked; ignoring event");
                    }
                }
                Action::Reply { request, message } => {
                    if let Some(reply) = self.calls.remove(&request) {
                        let _ = reply.reply(RegistryReply::Called(message));
                    }
                }
                Action::Changed(change) => publish(ctx, change).await,
                Action::Dropped { from, reason } => log_dropped(from, &reason),
            }
        }
    }
}

async fn publish(ctx: &mut Context<RegistryAsk, RegistryChange>, change: RegistryChange) {
    tracing::debug!(?change, "registry changed");
    // Nobody following the registry is fine: the change is in the table either way.
    let _ = ctx.send(change).await;
}

fn log_dropped(from: ConnectionId, reason: &LuminaError) {
    match reason {
        LuminaError::UndeclaredEvent(_) => tracing::info!(conn = %from, "{reason}"),
        _ => tracing::warn!(conn = %from, "message dropped: {reason}"),
    }
}
