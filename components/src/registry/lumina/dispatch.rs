//! [`Dispatcher`]: what a Lumina node server does with each message, as pure decisions.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{ColorState, Message, Registration, RegistrationLimits, WireForm};
use crate::registry::error::{LuminaError, TableError};
use crate::registry::table::{ConnectionId, LinkState, Node, NodeTable, RegistryChange};

/// How long a forwarded command waits for its reply (Lumina's 10 s).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::lumina::{DispatcherConfig, REQUEST_TIMEOUT};
/// assert_eq!(REQUEST_TIMEOUT, Duration::from_secs(10));
/// assert_eq!(DispatcherConfig::default().request_timeout, REQUEST_TIMEOUT);
/// ```
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may stay silent before the server drops it (Lumina's 180 s;
/// nodes send a bare newline every 60 s).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::lumina::{DispatcherConfig, SILENCE_LIMIT};
/// assert_eq!(SILENCE_LIMIT, Duration::from_secs(180));
/// assert_eq!(DispatcherConfig::default().silence_limit, SILENCE_LIMIT);
/// ```
pub const SILENCE_LIMIT: Duration = Duration::from_secs(180);

/// How long a disconnected node is kept (its name reserved for the IP that held it)
/// before it is forgotten, counted from the last thing heard from it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::lumina::{DispatcherConfig, RETENTION};
/// assert_eq!(RETENTION, Duration::from_secs(3600));
/// assert_eq!(DispatcherConfig::default().retention, RETENTION);
/// ```
pub const RETENTION: Duration = Duration::from_secs(3600);

/// How many forwarded commands one connection may have waiting for replies at once.
///
/// # Examples
///
/// ```
/// use components::registry::lumina::{DispatcherConfig, MAX_PENDING};
/// assert_eq!(DispatcherConfig::default().max_pending, MAX_PENDING);
/// ```
pub const MAX_PENDING: usize = 64;

/// The longest line the server writes to a connection: Twisted's
/// `LineReceiver.MAX_LENGTH`, beyond which a Lumina node closes the connection.
///
/// # Examples
///
/// ```
/// use components::registry::lumina::{DispatcherConfig, MAX_LINE_TO_NODE};
/// assert_eq!(MAX_LINE_TO_NODE, 16_384);
/// assert_eq!(DispatcherConfig::default().max_line_to_node, MAX_LINE_TO_NODE);
/// ```
pub const MAX_LINE_TO_NODE: usize = 16_384;

/// Timing and limits of a [`Dispatcher`].
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `request_timeout` | 10 s ([`REQUEST_TIMEOUT`]) | how long a forwarded command waits for its reply |
/// | `silence_limit` | 180 s ([`SILENCE_LIMIT`]) | silence after which [`Dispatcher::silent`] lists a connection |
/// | `retention` | 1 h ([`RETENTION`]) | how long a disconnected node is kept before it is forgotten |
/// | `limits` | [`RegistrationLimits::default`] | sizes of names, fields and declaration lists |
/// | `max_pending` | 64 ([`MAX_PENDING`]) | forwarded commands one connection may await at once |
/// | `max_line_to_node` | 16 384 ([`MAX_LINE_TO_NODE`]) | longest line written to a connection, in bytes |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::lumina::DispatcherConfig;
/// let config = DispatcherConfig { silence_limit: Duration::from_secs(30), ..Default::default() };
/// assert_eq!(config.request_timeout, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatcherConfig {
    /// How long a forwarded command waits for its reply.
    pub request_timeout: Duration,
    /// How long a connection may stay silent before [`Dispatcher::silent`] lists it.
    pub silence_limit: Duration,
    /// How long a disconnected node is kept, counted from the last thing heard from it;
    /// meanwhile only the IP that held its name may take the name again.
    pub retention: Duration,
    /// Size limits on registrations.
    pub limits: RegistrationLimits,
    /// Most forwarded commands one connection may await replies to at once; more are
    /// refused with a failure reply.
    pub max_pending: usize,
    /// Longest line written to a connection, in bytes; a longer reply is replaced by a
    /// failure reply, a longer forwarded command fails back to its caller.
    pub max_line_to_node: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            request_timeout: REQUEST_TIMEOUT,
            silence_limit: SILENCE_LIMIT,
            retention: RETENTION,
            limits: RegistrationLimits::default(),
            max_pending: MAX_PENDING,
            max_line_to_node: MAX_LINE_TO_NODE,
        }
    }
}

/// Who the server is, as `serverid`, `_info` and `_server` report it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::NodeTable;
/// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
/// let identity = ServerIdentity { hostname: "hub".into(), host_id: "hub-1".into() };
/// let mut server = Dispatcher::new(identity, DispatcherConfig::default(), NodeTable::default());
/// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
/// let actions = server.receive_line(conn, br#"{"name":"serverid","seq":1}"#, Duration::ZERO);
/// let [Action::Send { message, .. }] = &actions[..] else { panic!("{actions:?}") };
/// assert_eq!(message.result, "hub-1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerIdentity {
    /// The server's host name.
    pub hostname: String,
    /// The server's host id, the answer to `serverid`.
    pub host_id: String,
}

/// A command the server itself sent to a node with [`Dispatcher::request`]; its reply
/// comes back as [`Action::Reply`] carrying the same id.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::NodeTable;
/// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
/// let mut server =
///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
/// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
/// let line = br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#;
/// server.receive_line(lamp, line, Duration::ZERO);
///
/// let (id, Action::Send { message, .. }) =
///     server.request("lamp/on", vec![], Default::default(), Duration::ZERO)?
/// else {
///     panic!("a request is sent")
/// };
/// let actions = server.receive(lamp, message.success_reply(serde_json::Value::Null), Duration::ZERO);
/// assert!(matches!(&actions[..], [Action::Reply { request, .. }] if *request == id));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    /// The raw number.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let line = br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#;
    /// server.receive_line(lamp, line, Duration::ZERO);
    /// let (id, _) = server.request("lamp/on", vec![], Default::default(), Duration::ZERO)?;
    /// assert_eq!(id.get(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// What the async layer must do after the dispatcher has decided.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use components::registry::NodeTable;
/// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
/// let mut server =
///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
/// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
/// // An unknown name without `seq` cannot be answered: it is dropped.
/// let actions = server.receive_line(conn, br#"{"name":"nobody/here"}"#, Duration::ZERO);
/// assert!(matches!(&actions[..], [Action::Dropped { from, .. }] if *from == conn));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Write `message` as one line to connection `to`.
    Send {
        /// The connection to write to.
        to: ConnectionId,
        /// The message to write.
        message: Message,
    },
    /// A declared event arrived: hand it to the server's event handler.
    Event {
        /// The connection it came from.
        from: ConnectionId,
        /// The event.
        message: Message,
    },
    /// The reply (or its failure) to a command the server sent with [`Dispatcher::request`].
    Reply {
        /// The id `request` returned.
        request: RequestId,
        /// The reply.
        message: Message,
    },
    /// The node table changed: publish it.
    Changed(RegistryChange),
    /// A message was dropped without a reply; `reason` says why (for the log).
    Dropped {
        /// The connection it came from.
        from: ConnectionId,
        /// Why it was dropped.
        reason: LuminaError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Remote { conn: ConnectionId, seq: i64 },
    Local(RequestId),
}

#[derive(Debug, Clone)]
struct Pending {
    origin: Origin,
    name: String,
    deadline: Duration,
}

impl Pending {
    /// Whether connection `conn` sent this request (and so waits for its reply).
    fn came_from(&self, conn: ConnectionId) -> bool {
        matches!(self.origin, Origin::Remote { conn: from, .. } if from == conn)
    }
}

#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    last_heard: Duration,
    /// The wire form, fixed by the first message.
    form: Option<WireForm>,
    /// Forwarded commands from this connection awaiting their replies.
    waiting: usize,
    /// The most it may await at once.
    limit: usize,
}

/// The built-in request names the server answers itself.
mod builtin {
    pub(super) const REGISTER: &str = "register";
    pub(super) const STATUS: &str = "status";
    pub(super) const SERVER_ID: &str = "serverid";
    pub(super) const INFO: &str = "_info";
    pub(super) const SERVER: &str = "_server";
}

/// The pure core of a Lumina node server: given a message from a connection, decide the
/// [`Action`]s. It owns the [`NodeTable`] and the pending-request bookkeeping; it does
/// no I/O and reads no clock (every `now` is the caller's, e.g. tokio's paused clock as a
/// [`Duration`] since start).
///
/// Requests a connection may send:
///
/// | name | answer |
/// | --- | --- |
/// | `register` | registers the node ([`Registration`]); reply `null`, or failure if the name is connected |
/// | `status` | args `(state, old_state, why)`; records the node's [`ColorState`] |
/// | `serverid` | the server's host id |
/// | `_info` | server identity, combined state, and every node with its events and commands |
/// | `_server` | server identity, combined state, connected node names, hosts and counts |
/// | `<node>/<event>` declared | [`Action::Event`]; reply `null` if a reply was asked |
/// | `<node>/<cmd>` declared | forwarded unchanged to the node under a fresh `seq`; its reply comes back under the caller's `seq` |
/// | anything else | failure `UnknownCommandException` if a reply was asked, else dropped as an undeclared event |
///
/// Any connection may call any declared command (as in Lumina), but only the connection
/// that registered a node may fire its events ([`LuminaError::ForeignEvent`]). A name
/// whose node is disconnected may be taken again only from the IP that held it, until
/// the node is forgotten after [`DispatcherConfig::retention`] (unless the table's
/// [`Ownership`](crate::registry::Ownership) is `Open`). Each connection speaks the
/// [`WireForm`] of its first message; [`encode`](Self::encode) writes its lines.
/// A forwarded command fails with `TimeoutException` when [`expire`](Self::expire) runs
/// past its deadline, and with `NoConnectionException` when the node's connection closes.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Duration;
/// use components::registry::NodeTable;
/// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
///
/// let identity = ServerIdentity { hostname: "hub".into(), host_id: "hub-1".into() };
/// let mut server = Dispatcher::new(identity, DispatcherConfig::default(), NodeTable::default());
/// let peer: SocketAddr = "127.0.0.1:50000".parse()?;
/// let now = Duration::ZERO;
///
/// let lamp = server.connect(peer, now);
/// let line = br#"{"name":"register","seq":1,"kw":{"node":"lamp","commands":["on"]}}"#;
/// let actions = server.receive_line(lamp, line, now);
/// assert!(matches!(&actions[..], [Action::Changed(_), Action::Send { .. }]));
///
/// let panel = server.connect(peer, now);
/// let actions = server.receive_line(panel, br#"{"name":"lamp/on","seq":7}"#, now);
/// let [Action::Send { to, message }] = &actions[..] else { panic!("{actions:?}") };
/// assert_eq!((*to, message.name.as_str()), (lamp, "lamp/on"));
///
/// let reply = message.success_reply(serde_json::Value::Null);
/// let actions = server.receive(lamp, reply, now);
/// let [Action::Send { to, message }] = &actions[..] else { panic!("{actions:?}") };
/// assert_eq!((*to, message.seq, message.success), (panel, Some(7), Some(true)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dispatcher {
    table: NodeTable,
    identity: ServerIdentity,
    config: DispatcherConfig,
    peers: BTreeMap<ConnectionId, Peer>,
    pending: BTreeMap<(ConnectionId, i64), Pending>,
    last_seq: i64,
    last_request: u64,
    /// When the earliest disconnected node falls due to be forgotten.
    forget_at: Option<Duration>,
}

impl Dispatcher {
    /// A dispatcher with no connection, serving `table`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let identity = ServerIdentity { hostname: "hub".into(), host_id: "hub-1".into() };
    /// let server = Dispatcher::new(identity, DispatcherConfig::default(), NodeTable::default());
    /// assert_eq!(server.pending(), 0);
    /// assert!(server.table().is_empty());
    /// ```
    pub fn new(identity: ServerIdentity, config: DispatcherConfig, table: NodeTable) -> Self {
        Self {
            table,
            identity,
            config,
            peers: BTreeMap::new(),
            pending: BTreeMap::new(),
            last_seq: 0,
            last_request: 0,
            forget_at: None,
        }
    }

    /// The node table.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// server.receive_line(conn, br#"{"name":"register","kw":{"node":"lamp"}}"#, Duration::ZERO);
    /// assert!(server.table().by_name("lamp").is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn table(&self) -> &NodeTable {
        &self.table
    }

    /// The node table, to change it directly (the datahub protocol works on it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, datahub};
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    /// let (reply, _) =
    ///     datahub::handle(server.table_mut(), b"`register 8000", peer, Duration::ZERO, &mut rand::rng());
    /// assert_eq!(reply, b"200 OK\r\n1");
    /// assert_eq!(server.table().len(), 1);
    /// ```
    pub fn table_mut(&mut self) -> &mut NodeTable {
        &mut self.table
    }

    /// The server's identity.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let identity = ServerIdentity { hostname: "hub".into(), host_id: "hub-1".into() };
    /// let server = Dispatcher::new(identity.clone(), DispatcherConfig::default(), NodeTable::default());
    /// assert_eq!(server.identity(), &identity);
    /// ```
    pub fn identity(&self) -> &ServerIdentity {
        &self.identity
    }

    /// How many forwarded commands await a reply.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let line = br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#;
    /// server.receive_line(lamp, line, Duration::ZERO);
    /// let panel = server.connect("127.0.0.1:50001".parse()?, Duration::ZERO);
    /// server.receive_line(panel, br#"{"name":"lamp/on","seq":1}"#, Duration::ZERO);
    /// assert_eq!(server.pending(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The earliest reply deadline, for the async layer to sleep until before calling
    /// [`expire`](Self::expire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// assert_eq!(server.next_deadline(), None);
    /// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let line = br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#;
    /// server.receive_line(lamp, line, Duration::ZERO);
    /// server.request("lamp/on", vec![], Default::default(), Duration::from_secs(5))?;
    /// assert_eq!(server.next_deadline(), Some(Duration::from_secs(15))); // 5 s + the 10 s timeout
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_deadline(&self) -> Option<Duration> {
        let replies = self.pending.values().map(|pending| pending.deadline).min();
        match (replies, self.forget_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A connection from `peer` opened at `now`; returns its sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let first = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let second = server.connect("127.0.0.1:50001".parse()?, Duration::ZERO);
    /// assert_eq!((first.get(), second.get()), (1, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&mut self, peer: SocketAddr, now: Duration) -> ConnectionId {
        let conn = self.table.open_connection();
        self.peers.insert(
            conn,
            Peer {
                addr: peer,
                last_heard: now,
                form: None,
                waiting: 0,
                limit: self.config.max_pending,
            },
        );
        conn
    }

    /// Parses and handles one line from `conn`.
    ///
    /// A blank line is a keepalive: it only refreshes the connection's activity. The
    /// first message fixes the connection's [`WireForm`]. A line that cannot be read
    /// gets a failure reply when it carried a `seq` (or `requestid`), else it becomes
    /// [`Action::Dropped`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// assert!(server.receive_line(conn, b"\n", Duration::ZERO).is_empty()); // keepalive
    /// let actions = server.receive_line(conn, b"not json", Duration::ZERO);
    /// assert!(matches!(&actions[..], [Action::Dropped { .. }]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn receive_line(&mut self, conn: ConnectionId, line: &[u8], now: Duration) -> Vec<Action> {
        if !self.heard(conn, now) {
            return vec![dropped(conn, LuminaError::UnknownConnection(conn))];
        }
        match WireForm::decode(line) {
            Ok(Some((form, message))) => {
                self.fix_form(conn, form);
                self.handle(conn, message, now)
            }
            Ok(None) => Vec::new(),
            Err(unreadable) => {
                self.fix_form(conn, unreadable.form);
                match unreadable.reply() {
                    Some(message) => {
                        tracing::warn!(%conn, "unreadable message: {}", unreadable.error);
                        vec![Action::Send { to: conn, message }]
                    }
                    None => vec![dropped(conn, unreadable.error)],
                }
            }
        }
    }

    /// Handles one parsed message from `conn`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, Message, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let actions = server.receive(conn, Message::new("lamp/on").with_seq(3), Duration::ZERO);
    /// let [Action::Send { to, message }] = &actions[..] else { panic!("{actions:?}") };
    /// assert_eq!((*to, message.success), (conn, Some(false)));
    /// assert_eq!(message.result[0], "UnknownCommandException");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn receive(&mut self, conn: ConnectionId, message: Message, now: Duration) -> Vec<Action> {
        if !self.heard(conn, now) {
            return vec![dropped(conn, LuminaError::UnknownConnection(conn))];
        }
        self.handle(conn, message, now)
    }

    /// Lets connection `conn` await at most `room` replies at once (and never more than
    /// [`DispatcherConfig::max_pending`]): the room its inbox for them has, so that a
    /// reply always finds a place.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// server.receive_line(lamp, br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#, Duration::ZERO);
    /// let panel = server.connect("127.0.0.1:50001".parse()?, Duration::ZERO);
    /// server.limit_waiting(panel, 1);
    /// server.receive_line(panel, br#"{"name":"lamp/on","seq":1}"#, Duration::ZERO);
    /// let actions = server.receive_line(panel, br#"{"name":"lamp/on","seq":2}"#, Duration::ZERO);
    /// assert!(matches!(&actions[..], [Action::Send { to, message }] if *to == panel && message.success == Some(false)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limit_waiting(&mut self, conn: ConnectionId, room: usize) {
        if let Some(peer) = self.peers.get_mut(&conn) {
            peer.limit = room.min(self.config.max_pending);
        }
    }

    fn fix_form(&mut self, conn: ConnectionId, form: WireForm) {
        if let Some(peer) = self.peers.get_mut(&conn) {
            peer.form.get_or_insert(form);
        }
    }

    /// The wire form connection `conn` speaks (classic until its first message says).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity, WireForm};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// assert_eq!(server.form(conn), WireForm::Classic);
    /// server.receive_line(conn, br#"{"type":"command","name":"serverid","requestid":1}"#, Duration::ZERO);
    /// assert_eq!(server.form(conn), WireForm::Typed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn form(&self, conn: ConnectionId) -> WireForm {
        self.peers
            .get(&conn)
            .and_then(|peer| peer.form)
            .unwrap_or_default()
    }

    /// The line to write `message` to connection `to`, in its wire form, without the
    /// line end.
    ///
    /// # Errors
    ///
    /// [`LuminaError::LimitExceeded`] if the line would be longer than
    /// [`DispatcherConfig::max_line_to_node`]; [`LuminaError::KeywordsUnsupported`] for a
    /// command with keyword arguments to a connection speaking the typed form. Hand the
    /// message and the error to [`undeliverable`](Self::undeliverable).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, Message, ServerIdentity};
    /// let config = DispatcherConfig { max_line_to_node: 40, ..Default::default() };
    /// let mut server = Dispatcher::new(ServerIdentity::default(), config, NodeTable::default());
    /// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// assert_eq!(server.encode(conn, &Message::new("a"))?, r#"{"name":"a","args":[],"kw":{}}"#);
    /// assert!(server.encode(conn, &Message::new("a".repeat(40))).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self, to: ConnectionId, message: &Message) -> Result<String, LuminaError> {
        let form = self.form(to);
        if form == WireForm::Typed && !message.is_reply() && !message.kw.is_empty() {
            return Err(LuminaError::KeywordsUnsupported {
                name: message.name.clone(),
            });
        }
        let line = form.encode(message);
        if line.len() >= self.config.max_line_to_node {
            return Err(LuminaError::LimitExceeded {
                what: format!(
                    "the line for connection {to} would be {} bytes long",
                    line.len() + 1
                ),
                limit: self.config.max_line_to_node,
                setting: "max_line_to_node",
            });
        }
        Ok(line)
    }

    /// `message` could not be written to connection `to` (it was too long, or the
    /// connection is not reading); `error` says why. Nothing is lost silently:
    ///
    /// - a reply is replaced by a failure reply carrying `error` (same `seq`);
    /// - a forwarded command fails back to its caller with `error`;
    /// - anything else (a command nobody waits for) becomes [`Action::Dropped`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{LuminaError, NodeTable};
    /// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, Message, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let conn = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let huge = Message::new("_info").with_seq(3).success_reply("x".repeat(20_000).into());
    /// let error = server.encode(conn, &huge).unwrap_err();
    /// let actions = server.undeliverable(conn, huge, error);
    /// let [Action::Send { message, .. }] = &actions[..] else { panic!("{actions:?}") };
    /// assert_eq!((message.seq, message.success), (Some(3), Some(false)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn undeliverable(
        &mut self,
        to: ConnectionId,
        message: Message,
        error: LuminaError,
    ) -> Vec<Action> {
        tracing::warn!(conn = %to, name = %short(&message.name), "not sent: {error}");
        if message.is_reply() {
            let failed = Message::new(short(&message.name)).with_seq(message.seq.unwrap_or(0));
            let mut failed = failed.error_reply(&error);
            failed.seq = message.seq;
            return vec![Action::Send {
                to,
                message: failed,
            }];
        }
        let pending = message.seq.and_then(|seq| self.pending.remove(&(to, seq)));
        match pending {
            Some(pending) => {
                self.settle(&pending);
                vec![fail(pending, &error)]
            }
            None => vec![dropped(to, error)],
        }
    }

    /// A pending request is done: its caller waits for one reply fewer.
    fn settle(&mut self, pending: &Pending) {
        if let Origin::Remote { conn, .. } = pending.origin
            && let Some(peer) = self.peers.get_mut(&conn)
        {
            peer.waiting = peer.waiting.saturating_sub(1);
        }
    }

    /// Forgets disconnected nodes whose retention has run out at `now`.
    fn forget(&mut self, now: Duration) -> Vec<Action> {
        match self.forget_at {
            Some(at) if at <= now => {}
            _ => return Vec::new(),
        }
        let cutoff = now.saturating_sub(self.config.retention);
        let forgotten = self.table.forget_disconnected(cutoff);
        self.forget_at = self
            .table
            .oldest_disconnected()
            .map(|heard| heard.saturating_add(self.config.retention));
        forgotten.into_iter().map(Action::Changed).collect()
    }

    fn heard(&mut self, conn: ConnectionId, now: Duration) -> bool {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return false;
        };
        peer.last_heard = now;
        self.table.touch(conn, now);
        true
    }

    fn handle(&mut self, conn: ConnectionId, message: Message, now: Duration) -> Vec<Action> {
        if message.is_reply() {
            return vec![self.route_reply(conn, message)];
        }
        let mut actions = self.forget(now);
        let outcome = match message.name.as_str() {
            builtin::REGISTER => self.register(conn, &message, now, &mut actions),
            builtin::STATUS => self.status(conn, &message, now, &mut actions),
            builtin::SERVER_ID => Ok(Value::from(self.identity.host_id.clone())),
            builtin::INFO => Ok(self.info()),
            builtin::SERVER => Ok(self.server_info()),
            name if let Some(owner) = self.table.find_event(name) => {
                let owner = self.table.get(owner).and_then(|node| node.sequence);
                if owner == Some(conn) {
                    actions.push(Action::Event {
                        from: conn,
                        message: message.clone(),
                    });
                    Ok(Value::Null)
                } else {
                    Err(LuminaError::ForeignEvent {
                        event: name.to_owned(),
                        owner: owner.unwrap_or(conn),
                    })
                }
            }
            name => match self.table.find_command(name) {
                Some((_, target)) => {
                    actions.push(self.forward(conn, target, message, now));
                    return actions;
                }
                None if message.wants_reply() => Err(LuminaError::UnknownCommand(name.to_owned())),
                None => Err(LuminaError::UndeclaredEvent(name.to_owned())),
            },
        };
        match outcome {
            Ok(result) if message.wants_reply() => actions.push(Action::Send {
                to: conn,
                message: message.success_reply(result),
            }),
            Ok(_) => {}
            Err(error) if message.wants_reply() => {
                if is_refusal(&error) {
                    tracing::warn!(%conn, "refused {}: {error}", short(&message.name));
                }
                actions.push(Action::Send {
                    to: conn,
                    message: message.error_reply(&error),
                });
            }
            Err(error) => actions.push(dropped(conn, error)),
        }
        actions
    }

    fn register(
        &mut self,
        conn: ConnectionId,
        message: &Message,
        now: Duration,
        actions: &mut Vec<Action>,
    ) -> Result<Value, LuminaError> {
        let registration = Registration::from_message(message)?;
        registration.check(&self.config.limits)?;
        let peer = self.peers.get(&conn).map(|peer| peer.addr);
        let peer = peer.ok_or(LuminaError::UnknownConnection(conn))?;
        let (_, change) = self.table.register_node(conn, peer, &registration, now)?;
        actions.push(Action::Changed(change));
        Ok(Value::Null)
    }

    fn status(
        &mut self,
        conn: ConnectionId,
        message: &Message,
        now: Duration,
        actions: &mut Vec<Action>,
    ) -> Result<Value, LuminaError> {
        let state = match message.args.first() {
            Some(Value::String(state)) => state.parse::<ColorState>()?,
            Some(_) => {
                return Err(LuminaError::InvalidStatus(
                    "the state must be a string".into(),
                ));
            }
            None => {
                return Err(LuminaError::InvalidStatus(
                    "expected (state, old_state, why)".into(),
                ));
            }
        };
        let why = match message.args.get(2) {
            None | Some(Value::Null) => None,
            Some(Value::String(why)) => Some(why.clone()),
            Some(other) => Some(other.to_string()),
        };
        if let Some(change) = self.table.set_color(conn, state, why, now)? {
            actions.push(Action::Changed(change));
        }
        Ok(Value::Null)
    }

    fn next_seq(&mut self) -> i64 {
        self.last_seq += 1;
        self.last_seq
    }

    fn forward(
        &mut self,
        from: ConnectionId,
        to: ConnectionId,
        mut message: Message,
        now: Duration,
    ) -> Action {
        if let Some(seq) = message.seq {
            match self.peers.get_mut(&from) {
                Some(peer) if peer.waiting >= peer.limit => {
                    let limit = peer.limit;
                    let error = LuminaError::LimitExceeded {
                        what: format!("connection {from} already awaits {} replies", peer.waiting),
                        limit,
                        setting: "max_pending",
                    };
                    return Action::Send {
                        to: from,
                        message: message.error_reply(&error),
                    };
                }
                Some(peer) => peer.waiting += 1,
                None => {}
            }
            let forwarded = self.next_seq();
            self.pending.insert(
                (to, forwarded),
                Pending {
                    origin: Origin::Remote { conn: from, seq },
                    name: message.name.clone(),
                    deadline: now.saturating_add(self.config.request_timeout),
                },
            );
            message.seq = Some(forwarded);
        }
        Action::Send { to, message }
    }

    fn route_reply(&mut self, conn: ConnectionId, mut reply: Message) -> Action {
        let pending = reply.seq.and_then(|seq| self.pending.remove(&(conn, seq)));
        let Some(pending) = pending else {
            return dropped(conn, LuminaError::UnexpectedReply { seq: reply.seq });
        };
        self.settle(&pending);
        reply.name = pending.name;
        match pending.origin {
            Origin::Remote { conn, seq } => {
                reply.seq = Some(seq);
                Action::Send {
                    to: conn,
                    message: reply,
                }
            }
            Origin::Local(request) => Action::Reply {
                request,
                message: reply,
            },
        }
    }

    /// Sends the node command `command` (`<node>/<cmd>`) from the server itself.
    ///
    /// Returns the request's id and the [`Action::Send`] to perform; the reply, or its
    /// timeout or connection-loss failure, arrives later as [`Action::Reply`].
    ///
    /// # Errors
    ///
    /// [`LuminaError::UnknownCommand`] if no connected node declares `command`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{LuminaError, NodeTable};
    /// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let err = server.request("lamp/on", vec![], Default::default(), Duration::ZERO);
    /// assert!(matches!(err, Err(LuminaError::UnknownCommand(_))));
    ///
    /// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let line = br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#;
    /// server.receive_line(lamp, line, Duration::ZERO);
    /// let (_, action) = server.request("lamp/on", vec![1.into()], Default::default(), Duration::ZERO)?;
    /// let Action::Send { to, message } = action else { panic!("{action:?}") };
    /// assert_eq!(to, lamp);
    /// assert!(message.wants_reply());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn request(
        &mut self,
        command: &str,
        args: Vec<Value>,
        kw: Map<String, Value>,
        now: Duration,
    ) -> Result<(RequestId, Action), LuminaError> {
        let (_, to) = self
            .table
            .find_command(command)
            .ok_or_else(|| LuminaError::UnknownCommand(command.to_owned()))?;
        self.last_request += 1;
        let request = RequestId(self.last_request);
        let seq = self.next_seq();
        self.pending.insert(
            (to, seq),
            Pending {
                origin: Origin::Local(request),
                name: command.to_owned(),
                deadline: now.saturating_add(self.config.request_timeout),
            },
        );
        let message = Message::new(command)
            .with_args(args)
            .with_kw(kw)
            .with_seq(seq);
        Ok((request, Action::Send { to, message }))
    }

    /// Fails every forwarded command whose deadline is at or before `now` with
    /// `TimeoutException`; a reply arriving later is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let line = br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#;
    /// server.receive_line(lamp, line, Duration::ZERO);
    /// let (id, _) = server.request("lamp/on", vec![], Default::default(), Duration::ZERO)?;
    ///
    /// assert!(server.expire(Duration::from_secs(9)).is_empty());
    /// let actions = server.expire(Duration::from_secs(10));
    /// let [Action::Reply { request, message }] = &actions[..] else { panic!("{actions:?}") };
    /// assert_eq!(*request, id);
    /// assert_eq!(message.result[0], "TimeoutException");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expire(&mut self, now: Duration) -> Vec<Action> {
        let due: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, pending)| pending.deadline <= now)
            .map(|(key, _)| *key)
            .collect();
        let mut actions = Vec::new();
        for key in due {
            if let Some(pending) = self.pending.remove(&key) {
                self.settle(&pending);
                let error = LuminaError::Timeout {
                    name: pending.name.clone(),
                };
                actions.push(fail(pending, &error));
            }
        }
        actions.extend(self.forget(now));
        actions
    }

    /// The connection `conn` closed.
    ///
    /// Every command awaiting a reply over it fails with `NoConnectionException`; commands
    /// it sent to others are forgotten (their replies will be dropped); its node becomes
    /// disconnected and loses its events and commands ([`Action::Changed`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::{NodeTable, RegistryChange};
    /// use components::registry::lumina::{Action, Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let lamp = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let line = br#"{"name":"register","kw":{"node":"lamp","commands":["on"]}}"#;
    /// server.receive_line(lamp, line, Duration::ZERO);
    /// server.request("lamp/on", vec![], Default::default(), Duration::ZERO)?;
    ///
    /// let actions = server.disconnect(lamp);
    /// assert!(matches!(&actions[0], Action::Reply { message, .. } if message.result[0] == "NoConnectionException"));
    /// assert!(matches!(&actions[1], Action::Changed(RegistryChange::Disconnected { .. })));
    /// assert_eq!(server.pending(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disconnect(&mut self, conn: ConnectionId) -> Vec<Action> {
        if self.peers.remove(&conn).is_none() {
            return Vec::new();
        }
        let awaiting: Vec<_> = self
            .pending
            .range((conn, i64::MIN)..=(conn, i64::MAX))
            .map(|(key, _)| *key)
            .collect();
        let mut actions = Vec::new();
        for key in awaiting {
            let Some(pending) = self.pending.remove(&key) else {
                continue;
            };
            if pending.came_from(conn) {
                continue;
            }
            self.settle(&pending);
            let error = LuminaError::NoConnection {
                name: pending.name.clone(),
            };
            actions.push(fail(pending, &error));
        }
        self.pending.retain(|_, pending| !pending.came_from(conn));
        if let Some(change) = self.table.disconnect(conn) {
            if let RegistryChange::Disconnected { id } = &change {
                let heard = self.table.get(*id).map(|node| node.last_activity);
                let due = heard.map(|heard| heard.saturating_add(self.config.retention));
                self.forget_at = match (self.forget_at, due) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            actions.push(Action::Changed(change));
        }
        actions
    }

    /// Connections silent for at least the configured silence limit at `now`: the async
    /// layer should close them (and then call [`disconnect`](Self::disconnect)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use components::registry::NodeTable;
    /// use components::registry::lumina::{Dispatcher, DispatcherConfig, ServerIdentity};
    /// let mut server =
    ///     Dispatcher::new(ServerIdentity::default(), DispatcherConfig::default(), NodeTable::default());
    /// let quiet = server.connect("127.0.0.1:50000".parse()?, Duration::ZERO);
    /// let chatty = server.connect("127.0.0.1:50001".parse()?, Duration::ZERO);
    /// server.receive_line(chatty, b"\n", Duration::from_secs(120)); // a keepalive
    /// assert_eq!(server.silent(Duration::from_secs(180)), [quiet]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn silent(&self, now: Duration) -> Vec<ConnectionId> {
        self.peers
            .iter()
            .filter(|(_, peer)| now.saturating_sub(peer.last_heard) >= self.config.silence_limit)
            .map(|(conn, _)| *conn)
            .collect()
    }

    fn info(&self) -> Value {
        let nodes: Vec<Value> = self
            .table
            .iter()
            .filter(|node| node.name.is_some())
            .map(node_info)
            .collect();
        json!({
            "hostname": self.identity.hostname,
            "hostid": self.identity.host_id,
            "status": self.table.combined_color(),
            "nodes": nodes,
        })
    }

    fn server_info(&self) -> Value {
        let connected: Vec<&Node> = self
            .table
            .iter()
            .filter(|node| node.link == LinkState::Connected)
            .collect();
        let mut hosts: Vec<&str> = connected
            .iter()
            .filter_map(|node| node.host_id.as_deref())
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        json!({
            "hostname": self.identity.hostname,
            "hostid": self.identity.host_id,
            "status": self.table.combined_color(),
            "nodes": connected.iter().filter_map(|node| node.name.as_deref()).collect::<Vec<_>>(),
            "hosts": hosts,
            "n_connections": self.peers.len(),
            "n_events": connected.iter().map(|node| node.events.len()).sum::<usize>(),
            "n_commands": connected.iter().map(|node| node.commands.len()).sum::<usize>(),
        })
    }
}

/// Refusals an operator should see: someone tried what they may not.
fn is_refusal(error: &LuminaError) -> bool {
    matches!(
        error,
        LuminaError::ForeignEvent { .. }
            | LuminaError::LimitExceeded { .. }
            | LuminaError::Table(
                TableError::NameTaken { .. }
                    | TableError::NameReserved { .. }
                    | TableError::Full { .. }
            )
    )
}

/// A name cut to 64 characters, for logs and failure replies.
fn short(name: &str) -> String {
    name.chars().take(64).collect()
}

fn dropped(from: ConnectionId, reason: LuminaError) -> Action {
    Action::Dropped { from, reason }
}

fn fail(pending: Pending, error: &LuminaError) -> Action {
    let request = Message::new(pending.name);
    match pending.origin {
        Origin::Remote { conn, seq } => Action::Send {
            to: conn,
            message: request.with_seq(seq).error_reply(error),
        },
        Origin::Local(id) => Action::Reply {
            request: id,
            message: request.error_reply(error),
        },
    }
}

fn node_info(node: &Node) -> Value {
    let name = node.name.as_deref().unwrap_or_default();
    let full = |bare: &String| format!("{name}/{bare}");
    json!({
        "name": name,
        "nodeid": node.declared_id,
        "hostname": node.hostname,
        "hostid": node.host_id,
        "module": node.module,
        "sequence": node.sequence.map(ConnectionId::get),
        "status": node.color,
        "status_why": node.status_reason,
        "link": node.link.as_str(),
        "ip": node.ip.to_string(),
        "port": node.port,
        "lastactivity": node.last_activity.as_secs_f64(),
        "events": node.events.iter().map(full).collect::<Vec<_>>(),
        "commands": node.commands.iter().map(full).collect::<Vec<_>>(),
    })
}
