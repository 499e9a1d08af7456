//! Errors of the node registry: one enum per layer.
//!
//! - [`TableError`]: a [`NodeTable`](super::NodeTable) operation was refused.
//! - [`RequestError`]: a SmartGet datahub request could not be parsed.
//! - [`LuminaError`]: a Lumina message was malformed, refused or could not be answered.

use std::net::IpAddr;

use super::table::{ConnectionId, NodeId};

/// A [`NodeTable`](super::NodeTable) operation was refused; the table is unchanged.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::{NodeTable, TableError};
/// let mut table = NodeTable::default();
/// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
/// table.register(ip, 4000, Duration::ZERO)?;
/// let error = table.register(ip, 4000, Duration::ZERO).unwrap_err();
/// assert_eq!(error, TableError::Duplicate { ip, port: 4000 });
/// assert_eq!(error.to_string(), "a node is already registered at 10.0.0.5 port 4000");
/// # Ok::<(), TableError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A datahub node with this (IP, port) identity is already registered.
    #[error("a node is already registered at {ip} port {port}")]
    Duplicate {
        /// The registering peer's IP.
        ip: IpAddr,
        /// The port the node listens on.
        port: u16,
    },
    /// No datahub node has this (IP, port) identity.
    #[error("no node is registered at {ip} port {port}")]
    UnknownEndpoint {
        /// The IP that was looked up.
        ip: IpAddr,
        /// The port that was looked up.
        port: u16,
    },
    /// No node has this id (id 0, the hub itself, is never a node of the table).
    #[error("no node has id {0}")]
    UnknownId(NodeId),
    /// Under [`Ownership::Strict`](super::Ownership::Strict) only the peer IP that
    /// registered a node may change or remove it.
    #[error("node {id} was registered from {owner}; {requester} may not change it")]
    NotOwner {
        /// The node the requester tried to change.
        id: NodeId,
        /// The IP the node was registered from.
        owner: IpAddr,
        /// The IP the request came from.
        requester: IpAddr,
    },
    /// A datahub status below -1.
    #[error(
        "status {0} is out of range: -1 (zombie), 0 (not available) or a number of free connections"
    )]
    InvalidStatus(i64),
    /// A Lumina node name is held by a node that is still connected.
    #[error("node name {name:?} is still connected from {peer}")]
    NameTaken {
        /// The requested name.
        name: String,
        /// The peer IP of the connection that holds the name.
        peer: IpAddr,
    },
    /// A Lumina connection tried to register a second node.
    #[error("connection {conn} has already registered node {name:?}")]
    AlreadyRegistered {
        /// The connection that sent the second `register`.
        conn: ConnectionId,
        /// The name it registered first.
        name: String,
    },
    /// A Lumina connection reported a status before registering a node.
    #[error("connection {0} has not registered a node")]
    NotRegistered(ConnectionId),
    /// The table holds as many nodes as it may.
    #[error("the node table is full: {max} nodes (the `max_nodes` limit)")]
    Full {
        /// The limit.
        max: usize,
    },
    /// A disconnected Lumina node's name is still retained for the peer that held it.
    #[error(
        "node name {name:?} was last held from {owner}; {requester} may not take it while it is retained (an operator may allow open names)"
    )]
    NameReserved {
        /// The name.
        name: String,
        /// The IP that last held it.
        owner: IpAddr,
        /// The IP that asked for it.
        requester: IpAddr,
    },
}

/// A SmartGet datahub request could not be parsed; it is answered `400 BAD REQUEST`.
///
/// # Examples
///
/// ```
/// use components::registry::RequestError;
/// use components::registry::datahub::Request;
/// assert_eq!(Request::parse(b"  \r\n"), Err(RequestError::Empty));
/// assert_eq!(Request::parse(b"register 1"), Err(RequestError::MissingBacktick));
/// let error = Request::parse(b"`launch").unwrap_err();
/// assert_eq!(error.to_string(), "unknown command `launch");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Nothing but whitespace arrived.
    #[error("empty request")]
    Empty,
    /// The bytes are not UTF-8.
    #[error("request is not valid UTF-8")]
    InvalidUtf8,
    /// The first token does not start with a backtick.
    #[error("request does not start with a backtick command such as `register")]
    MissingBacktick,
    /// The command after the backtick is not one the datahub knows.
    #[error("unknown command `{0}")]
    UnknownCommand(String),
    /// A required argument is missing.
    #[error("`{command} needs the argument <{argument}>")]
    MissingArgument {
        /// The command.
        command: &'static str,
        /// The missing argument's name.
        argument: &'static str,
    },
    /// An argument is not a number in the allowed range.
    #[error("`{command}: <{argument}> must be {expected}, got {value:?}")]
    InvalidArgument {
        /// The command.
        command: &'static str,
        /// The argument's name.
        argument: &'static str,
        /// The token that arrived.
        value: String,
        /// What the argument must be.
        expected: &'static str,
    },
    /// More arguments than the command takes (only `requestnodes` ignores extras).
    #[error("`{command} takes {expected} argument(s), got {got}")]
    TooManyArguments {
        /// The command.
        command: &'static str,
        /// How many arguments it takes.
        expected: usize,
        /// How many arrived.
        got: usize,
    },
}

/// A Lumina message was malformed, refused, or could not be answered.
///
/// When the failing message wanted a reply, the error travels back as
/// `{"success": false, "result": [`[`error_name`](Self::error_name)`, `message`]}`.
///
/// # Examples
///
/// ```
/// use components::registry::LuminaError;
/// use components::registry::lumina::{ColorState, Message};
/// let error = "BLUE".parse::<ColorState>().unwrap_err();
/// assert!(matches!(error, LuminaError::UnknownColorState(ref name) if name == "BLUE"));
/// assert_eq!(error.error_name(), "NodeException");
///
/// let reply = Message::new("status").with_seq(1).error_reply(&error);
/// assert_eq!(reply.result[0], "NodeException");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LuminaError {
    /// The line is not UTF-8.
    #[error("message is not valid UTF-8")]
    InvalidUtf8,
    /// The line is not a JSON message object; the text says what serde_json found.
    #[error("malformed message: {0}")]
    MalformedJson(String),
    /// The `register` payload is missing or has the wrong shape.
    #[error("invalid register payload: {0}")]
    InvalidRegistration(String),
    /// The `status` arguments are missing or have the wrong shape.
    #[error("invalid status arguments: {0}")]
    InvalidStatus(String),
    /// A state name other than OFF, YELLOW, RED or GREEN.
    #[error("unknown state {0:?}: expected OFF, YELLOW, RED or GREEN")]
    UnknownColorState(String),
    /// A request names no built-in, no declared event and no declared command.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// A message without `seq` names nothing known; it is ignored.
    #[error("undeclared event {0:?} ignored")]
    UndeclaredEvent(String),
    /// A reply whose `seq` matches no pending request (late, duplicate or unasked).
    #[error("reply with seq {seq:?} matches no pending request")]
    UnexpectedReply {
        /// The reply's `seq`, if it had one.
        seq: Option<i64>,
    },
    /// A forwarded command got no reply in time.
    #[error("command {name:?} got no reply within the timeout")]
    Timeout {
        /// The command's full name.
        name: String,
    },
    /// The connection a command was forwarded over closed before the reply.
    #[error("connection lost before command {name:?} was answered")]
    NoConnection {
        /// The command's full name.
        name: String,
    },
    /// A message arrived for a connection the dispatcher does not know.
    #[error("unknown connection {0}")]
    UnknownConnection(ConnectionId),
    /// A size limit was exceeded; `what` says what and how big, `setting` names the limit.
    #[error("{what}; the limit is {limit} (`{setting}`)")]
    LimitExceeded {
        /// What was too big, with its size, e.g. "`hostname` is 61440 bytes long".
        what: String,
        /// The limit.
        limit: usize,
        /// The name of the setting that holds the limit.
        setting: &'static str,
    },
    /// A connection fired an event declared by a node registered on another connection.
    #[error(
        "event {event:?} belongs to the node on connection {owner}; only that connection may fire it"
    )]
    ForeignEvent {
        /// The event's full name.
        event: String,
        /// The connection that registered the node.
        owner: ConnectionId,
    },
    /// A node's connection is not reading: its queue of forwarded commands is full.
    #[error("node connection {conn} is not reading its commands; {name:?} was not sent")]
    NodeBusy {
        /// The node's connection.
        conn: ConnectionId,
        /// The command.
        name: String,
    },
    /// Keyword arguments cannot be carried to a node speaking the 2018 wire form.
    #[error(
        "command {name:?} has keyword arguments, which the node's wire form (2018) cannot carry"
    )]
    KeywordsUnsupported {
        /// The command.
        name: String,
    },
    /// The node table refused the operation.
    #[error(transparent)]
    Table(#[from] TableError),
}

impl LuminaError {
    /// The error name sent as the first element of a failure reply's `result`.
    ///
    /// The names are the Lumina exception class names, so existing clients recognise them.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::LuminaError;
    ///
    /// let error = LuminaError::UnknownCommand("lamp/dim".into());
    /// assert_eq!(error.error_name(), "UnknownCommandException");
    /// ```
    pub fn error_name(&self) -> &'static str {
        match self {
            Self::UnknownCommand(_) | Self::UndeclaredEvent(_) => "UnknownCommandException",
            Self::Timeout { .. } => "TimeoutException",
            Self::NoConnection { .. } | Self::UnknownConnection(_) => "NoConnectionException",
            Self::InvalidRegistration(_) | Self::Table(_) | Self::LimitExceeded { .. } => {
                "NodeConfigException"
            }
            Self::ForeignEvent { .. } => "NodeConfigException",
            Self::NodeBusy { .. } => "NoConnectionException",
            Self::KeywordsUnsupported { .. } => "NodeException",
            Self::InvalidUtf8
            | Self::MalformedJson(_)
            | Self::InvalidStatus(_)
            | Self::UnknownColorState(_)
            | Self::UnexpectedReply { .. } => "NodeException",
        }
    }
}

/// Why a registry protocol handler (one connection's component) ended with a failure.
///
/// # Examples
///
/// ```
/// use components::registry::HandlerError;
///
/// let error = HandlerError::RegistryGone { service: "datahub".into() };
/// assert_eq!(error.to_string(), "the node registry service \"datahub\" has gone");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The [`NodeRegistry`](super::NodeRegistry) the handler talks to has ended (or
    /// dropped the request without answering).
    #[error("the node registry service {service:?} has gone")]
    RegistryGone {
        /// The service name the handler was given.
        service: String,
    },
    /// The registry did not answer within [`REGISTRY_TIMEOUT`](super::REGISTRY_TIMEOUT)
    /// (it answers at once unless something downstream of it stalls).
    #[error("the node registry service {service:?} did not answer within {waited:?}")]
    RegistryStalled {
        /// The service name the handler was given.
        service: String,
        /// How long the handler waited.
        waited: std::time::Duration,
    },
}

impl HandlerError {
    /// Why asking the registry of `service` failed: it has gone (nothing linked, or it
    /// ended or dropped the request), or it did not answer in time.
    pub(crate) fn asking<Q>(error: axon::AskError<Q>, service: &str) -> Self {
        match error {
            axon::AskError::Timeout(waited) => HandlerError::RegistryStalled {
                service: service.to_owned(),
                waited,
            },
            axon::AskError::NoDestination(_) | axon::AskError::NoReply => {
                HandlerError::RegistryGone {
                    service: service.to_owned(),
                }
            }
        }
    }
}
