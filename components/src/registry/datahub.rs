//! SmartGet datahub protocol: request parsing and byte-exact replies.
//!
//! TCP, default port [`DEFAULT_PORT`]; one request per connection. A request is one
//! backtick command, with or without a trailing `\r\n` / `\n` (the original client sends
//! none); the server should read at most [`MAX_REQUEST`] bytes and answer what arrived.
//!
//! | request | reply |
//! | --- | --- |
//! | `` `register <port>`` | `200 OK\r\n<id>` (no line end); duplicate: `400 BAD REQUEST\r\nNode already exists!` |
//! | `` `deregister <port>`` | `200 OK\r\n`; unknown (peer IP, port): `404 NOT FOUND\r\n` |
//! | `` `requestnodes <n> [ignored…]`` | `200 OK\r\n` then `<ip> <port>\r\n` per node; none: `404 NOT FOUND\r\n` |
//! | `` `setstatus <id> <status>`` | `200 OK\r\n`; unknown id: `400 BAD REQUEST\r\n` |
//! | anything malformed | `400 BAD REQUEST\r\n`, and nothing changes |
//!
//! Decisions where the original said nothing:
//!
//! - Malformed input (no backtick, unknown command, missing, extra or non-numeric
//!   arguments, port 0, negative count, status below -1, invalid UTF-8, empty request)
//!   is answered `400 BAD REQUEST\r\n`; the original stayed silent. Only `requestnodes`
//!   ignores extra tokens, as the protocol document's own example `` `requestnodes 5 1``
//!   needs.
//! - An ownership refusal ([`Ownership::Strict`](super::Ownership::Strict)) on
//!   `setstatus` is answered `400 BAD REQUEST\r\n`, not `403`: 400 is the only failure
//!   the document defines for `setstatus`, so existing clients handle it, and it reads
//!   the same as an unknown id, so other hosts cannot probe which ids exist. A
//!   `deregister` names its node by the requester's own IP, so it cannot hit another
//!   host's node; if the table refuses it anyway it is answered `404 NOT FOUND\r\n`.
//! - `requestnodes 0` hands out no node and so is answered `404 NOT FOUND\r\n`, like a
//!   request that finds no free node.
//! - A `register` the table refuses because it is full
//!   ([`TableError::Full`]) is answered `400 BAD REQUEST\r\n`
//!   (and logged at warn), not "Node already exists!".
//!
//! # Examples
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Duration;
//! use components::registry::{NodeTable, datahub};
//!
//! let mut table = NodeTable::default();
//! let peer = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1));
//! let mut rng = rand::rng();
//! let now = Duration::ZERO;
//!
//! let (reply, _) = datahub::handle(&mut table, b"`register 1234", peer, now, &mut rng);
//! assert_eq!(reply, b"200 OK\r\n1");
//! let (reply, _) = datahub::handle(&mut table, b"`setstatus 1 2\r\n", peer, now, &mut rng);
//! assert_eq!(reply, b"200 OK\r\n");
//! let (reply, _) = datahub::handle(&mut table, b"`requestnodes 5 1", peer, now, &mut rng);
//! assert_eq!(reply, b"200 OK\r\n192.168.0.1 1234\r\n");
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;

use super::error::{RequestError, TableError};
use super::table::{NodeId, NodeTable, RegistryChange};

/// The datahub's usual TCP port.
///
/// # Examples
///
/// ```
/// use chassis::tcp::ServerConfig;
/// use components::registry::datahub;
/// assert_eq!(datahub::DEFAULT_PORT, 20110);
/// let config = ServerConfig::new(([0, 0, 0, 0], datahub::DEFAULT_PORT).into());
/// assert_eq!(config.listen.port(), 20110);
/// ```
pub const DEFAULT_PORT: u16 = 20110;

/// The most a request may hold: the original server read once, up to this many bytes.
///
/// # Examples
///
/// ```
/// use components::registry::datahub;
/// // A server reads at most this much, then answers what arrived.
/// let buffer = vec![0u8; datahub::MAX_REQUEST];
/// assert_eq!(buffer.len(), 1024);
/// ```
pub const MAX_REQUEST: usize = 1024;

/// A parsed datahub request.
///
/// # Examples
///
/// ```
/// use components::registry::NodeId;
/// use components::registry::datahub::Request;
/// assert_eq!(
///     Request::parse(b"`setstatus 3 -1"),
///     Ok(Request::SetStatus { id: NodeId::new(3), status: -1 })
/// );
/// assert_eq!(Request::parse(b"`requestnodes 5 1"), Ok(Request::RequestNodes { count: 5 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `` `register <port>``: register the peer's node listening on `port`.
    Register {
        /// The port the node listens on (1–65535).
        port: u16,
    },
    /// `` `deregister <port>``: remove the peer's node listening on `port`.
    Deregister {
        /// The port the node listens on (1–65535).
        port: u16,
    },
    /// `` `requestnodes <n>``: ask for up to `count` free nodes.
    RequestNodes {
        /// How many nodes are wanted.
        count: u64,
    },
    /// `` `setstatus <id> <status>``: set a node's free-connection count.
    SetStatus {
        /// The node.
        id: NodeId,
        /// The new status, -1 or more.
        status: i64,
    },
}

impl Request {
    /// Parses the bytes of one request.
    ///
    /// # Errors
    ///
    /// A [`RequestError`] saying what is wrong; the server answers it `400 BAD REQUEST\r\n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::datahub::Request;
    ///
    /// assert_eq!(Request::parse(b"`register 1234\n"), Ok(Request::Register { port: 1234 }));
    /// assert!(Request::parse(b"register 1234").is_err());
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Self, RequestError> {
        let text = std::str::from_utf8(bytes).map_err(|_| RequestError::InvalidUtf8)?;
        let mut tokens = text.split_ascii_whitespace();
        let first = tokens.next().ok_or(RequestError::Empty)?;
        let command = first
            .strip_prefix('`')
            .ok_or(RequestError::MissingBacktick)?;
        let args: Vec<&str> = tokens.collect();
        match command {
            "register" => {
                let port = port("register", &args)?;
                Ok(Self::Register { port })
            }
            "deregister" => {
                let port = port("deregister", &args)?;
                Ok(Self::Deregister { port })
            }
            "requestnodes" => {
                let count = number("requestnodes", "n", args.first(), "a count of 0 or more")?;
                Ok(Self::RequestNodes { count })
            }
            "setstatus" => {
                arity("setstatus", &args, 2)?;
                let id = number("setstatus", "id", args.first(), "a node id")?;
                let status: i64 = number("setstatus", "status", args.get(1), "-1 or more")?;
                if status < -1 {
                    return Err(invalid("setstatus", "status", args.get(1), "-1 or more"));
                }
                Ok(Self::SetStatus {
                    id: NodeId::new(id),
                    status,
                })
            }
            other => Err(RequestError::UnknownCommand(other.to_owned())),
        }
    }
}

/// The wire form a client sends, without a line end.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Register { port } => write!(f, "`register {port}"),
            Self::Deregister { port } => write!(f, "`deregister {port}"),
            Self::RequestNodes { count } => write!(f, "`requestnodes {count}"),
            Self::SetStatus { id, status } => write!(f, "`setstatus {id} {status}"),
        }
    }
}

fn arity(command: &'static str, args: &[&str], expected: usize) -> Result<(), RequestError> {
    if args.len() > expected {
        return Err(RequestError::TooManyArguments {
            command,
            expected,
            got: args.len(),
        });
    }
    Ok(())
}

fn port(command: &'static str, args: &[&str]) -> Result<u16, RequestError> {
    const EXPECTED: &str = "a port from 1 to 65535";
    arity(command, args, 1)?;
    match number(command, "port", args.first(), EXPECTED)? {
        0 => Err(invalid(command, "port", args.first(), EXPECTED)),
        port => Ok(port),
    }
}

fn number<T: FromStr>(
    command: &'static str,
    argument: &'static str,
    token: Option<&&str>,
    expected: &'static str,
) -> Result<T, RequestError> {
    let token = token.ok_or(RequestError::MissingArgument { command, argument })?;
    token
        .parse()
        .map_err(|_| invalid(command, argument, Some(token), expected))
}

fn invalid(
    command: &'static str,
    argument: &'static str,
    token: Option<&&str>,
    expected: &'static str,
) -> RequestError {
    RequestError::InvalidArgument {
        command,
        argument,
        value: token.map(|token| (*token).to_owned()).unwrap_or_default(),
        expected,
    }
}

/// A datahub reply; [`to_bytes`](Self::to_bytes) gives its exact wire form.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use components::registry::datahub::Reply;
/// let nodes = Reply::Nodes(vec![(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 8000)]);
/// assert_eq!(nodes.to_bytes(), b"200 OK\r\n10.0.0.2 8000\r\n");
/// assert_eq!(Reply::NotFound.to_bytes(), b"404 NOT FOUND\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `200 OK\r\n<id>`, with no line end after the id.
    Registered(NodeId),
    /// `400 BAD REQUEST\r\nNode already exists!`
    AlreadyExists,
    /// `200 OK\r\n`
    Ok,
    /// `404 NOT FOUND\r\n`
    NotFound,
    /// `200 OK\r\n` then `<ip> <port>\r\n` per node.
    Nodes(Vec<(IpAddr, u16)>),
    /// `400 BAD REQUEST\r\n`
    BadRequest,
}

impl Reply {
    /// The exact bytes to write.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::NodeId;
    /// use components::registry::datahub::Reply;
    ///
    /// assert_eq!(Reply::Registered(NodeId::new(3)).to_bytes(), b"200 OK\r\n3");
    /// assert_eq!(Reply::AlreadyExists.to_bytes(), b"400 BAD REQUEST\r\nNode already exists!");
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Registered(id) => format!("200 OK\r\n{id}").into_bytes(),
            Self::AlreadyExists => b"400 BAD REQUEST\r\nNode already exists!".to_vec(),
            Self::Ok => b"200 OK\r\n".to_vec(),
            Self::NotFound => b"404 NOT FOUND\r\n".to_vec(),
            Self::Nodes(nodes) => {
                let mut reply = String::from("200 OK\r\n");
                for (ip, port) in nodes {
                    reply.push_str(&format!("{ip} {port}\r\n"));
                }
                reply.into_bytes()
            }
            Self::BadRequest => b"400 BAD REQUEST\r\n".to_vec(),
        }
    }
}

/// Applies a parsed request from `peer` to `table`.
///
/// Returns the reply and what changed (`None` when nothing did).
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::{NodeId, NodeTable, RegistryChange};
/// use components::registry::datahub::{self, Reply, Request};
/// let mut table = NodeTable::default();
/// let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
/// let mut rng = rand::rng();
/// let register = Request::Register { port: 8000 };
///
/// let (reply, change) = datahub::respond(&mut table, register, peer, Duration::ZERO, &mut rng);
/// assert_eq!(reply, Reply::Registered(NodeId::new(1)));
/// assert!(matches!(change, Some(RegistryChange::Registered { .. })));
/// let (reply, change) = datahub::respond(&mut table, register, peer, Duration::ZERO, &mut rng);
/// assert_eq!((reply, change), (Reply::AlreadyExists, None));
/// ```
pub fn respond<R: Rng + ?Sized>(
    table: &mut NodeTable,
    request: Request,
    peer: IpAddr,
    now: Duration,
    rng: &mut R,
) -> (Reply, Option<RegistryChange>) {
    match request {
        Request::Register { port } => match table.register(peer, port, now) {
            Ok((id, change)) => (Reply::Registered(id), Some(change)),
            Err(error @ TableError::Full { .. }) => {
                tracing::warn!(%peer, port, "register refused: {error}");
                (Reply::BadRequest, None)
            }
            Err(_) => (Reply::AlreadyExists, None),
        },
        Request::Deregister { port } => match table.deregister(peer, port, peer) {
            Ok(change) => (Reply::Ok, Some(change)),
            Err(_) => (Reply::NotFound, None),
        },
        Request::RequestNodes { count } => {
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            match table.request_nodes(count, rng) {
                (nodes, Some(change)) => (Reply::Nodes(nodes), Some(change)),
                (_, None) => (Reply::NotFound, None),
            }
        }
        // Unknown id, foreign owner and bad status all read 400 (see the module docs).
        Request::SetStatus { id, status } => match table.set_status(id, status, peer, now) {
            Ok(change) => (Reply::Ok, Some(change)),
            Err(_) => (Reply::BadRequest, None),
        },
    }
}

/// Handles one raw request from `peer`: parse, apply, encode.
///
/// The server around it only reads the request, writes the returned bytes, closes the
/// connection and publishes the change. Malformed input is answered
/// `400 BAD REQUEST\r\n` and leaves `table` untouched.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use components::registry::{NodeTable, datahub};
/// let mut table = NodeTable::default();
/// let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
/// let mut rng = rand::rng();
/// let (reply, change) = datahub::handle(&mut table, b"`register 0", peer, Duration::ZERO, &mut rng);
/// assert_eq!((reply.as_slice(), change), (&b"400 BAD REQUEST\r\n"[..], None));
/// let (reply, _) = datahub::handle(&mut table, b"`requestnodes 1", peer, Duration::ZERO, &mut rng);
/// assert_eq!(reply, b"404 NOT FOUND\r\n");
/// assert!(table.is_empty());
/// ```
pub fn handle<R: Rng + ?Sized>(
    table: &mut NodeTable,
    request: &[u8],
    peer: IpAddr,
    now: Duration,
    rng: &mut R,
) -> (Vec<u8>, Option<RegistryChange>) {
    let (reply, change) = match Request::parse(request) {
        Ok(request) => respond(table, request, peer, now, rng),
        Err(_) => (Reply::BadRequest, None),
    };
    (reply.to_bytes(), change)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::registry::Ownership;

    const T0: Duration = Duration::ZERO;
    const BAD: &[u8] = b"400 BAD REQUEST\r\n";
    const OK: &[u8] = b"200 OK\r\n";
    const NOT_FOUND: &[u8] = b"404 NOT FOUND\r\n";

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, 0, last))
    }

    struct Hub {
        table: NodeTable,
        rng: StdRng,
    }

    impl Hub {
        fn new(ownership: Ownership) -> Self {
            Self {
                table: NodeTable::new(ownership),
                rng: StdRng::seed_from_u64(2010),
            }
        }

        fn send(&mut self, peer: IpAddr, request: &[u8]) -> Vec<u8> {
            handle(&mut self.table, request, peer, T0, &mut self.rng).0
        }

        fn snapshot(&self) -> Vec<(NodeId, IpAddr, u16, i64)> {
            self.table
                .iter()
                .map(|n| (n.id, n.ip, n.port, n.status))
                .collect()
        }
    }

    #[test]
    fn register_replies_id_without_line_end() {
        let mut hub = Hub::new(Ownership::Strict);
        assert_eq!(hub.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        assert_eq!(hub.send(ip(2), b"`register 1234\r\n"), b"200 OK\r\n2");
        assert_eq!(hub.send(ip(1), b"`register 1235\n"), b"200 OK\r\n3");
        assert_eq!(hub.send(ip(1), b"`register 65535"), b"200 OK\r\n4");
    }

    #[test]
    fn duplicate_register_is_refused_with_message() {
        let mut hub = Hub::new(Ownership::Strict);
        assert_eq!(hub.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        let before = hub.snapshot();
        assert_eq!(
            hub.send(ip(1), b"`register 1234\r\n"),
            b"400 BAD REQUEST\r\nNode already exists!"
        );
        assert_eq!(hub.snapshot(), before);
        assert_eq!(hub.send(ip(1), b"`register 99"), b"200 OK\r\n2");
    }

    #[test]
    fn deregister_replies_ok_then_not_found() {
        let mut hub = Hub::new(Ownership::Strict);
        assert_eq!(hub.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        assert_eq!(hub.send(ip(2), b"`deregister 1234"), NOT_FOUND);
        assert_eq!(hub.table.len(), 1);
        assert_eq!(hub.send(ip(1), b"`deregister 1234\n"), OK);
        assert!(hub.table.is_empty());
        assert_eq!(hub.send(ip(1), b"`deregister 1234"), NOT_FOUND);
    }

    #[test]
    fn requestnodes_lists_free_nodes_and_reserves_them() {
        let mut hub = Hub::new(Ownership::Strict);
        assert_eq!(hub.send(ip(1), b"`requestnodes 5"), NOT_FOUND);
        assert_eq!(hub.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        assert_eq!(hub.send(ip(2), b"`register 1234"), b"200 OK\r\n2");
        assert_eq!(
            hub.send(ip(1), b"`requestnodes 5"),
            NOT_FOUND,
            "new nodes are not free"
        );
        assert_eq!(hub.send(ip(1), b"`setstatus 1 1"), OK);
        assert_eq!(
            hub.send(ip(1), b"`requestnodes 5 1"),
            b"200 OK\r\n192.168.0.1 1234\r\n"
        );
        assert_eq!(
            hub.send(ip(1), b"`requestnodes 5"),
            NOT_FOUND,
            "its one slot is taken"
        );

        assert_eq!(hub.send(ip(1), b"`setstatus 1 1"), OK);
        assert_eq!(hub.send(ip(2), b"`setstatus 2 1"), OK);
        let reply = hub.send(ip(3), b"`requestnodes 5\r\n");
        let both = [
            &b"200 OK\r\n192.168.0.1 1234\r\n192.168.0.2 1234\r\n"[..],
            b"200 OK\r\n192.168.0.2 1234\r\n192.168.0.1 1234\r\n",
        ];
        assert!(
            both.contains(&&reply[..]),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }

    #[test]
    fn requestnodes_gives_at_most_n() {
        let mut hub = Hub::new(Ownership::Strict);
        for port in 1..=4u16 {
            assert_eq!(
                hub.send(ip(1), format!("`register {port}").as_bytes()),
                format!("200 OK\r\n{port}").as_bytes()
            );
            assert_eq!(
                hub.send(ip(1), format!("`setstatus {port} 3").as_bytes()),
                OK
            );
        }
        let reply = String::from_utf8(hub.send(ip(9), b"`requestnodes 2")).unwrap_or_default();
        let lines: Vec<&str> = reply.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3, "{reply:?}");
        assert_eq!(lines[0], "200 OK");
        assert!(
            lines[1..]
                .iter()
                .all(|line| line.starts_with("192.168.0.1 "))
        );
        let statuses: i64 = hub.table.iter().map(|n| n.status).sum();
        assert_eq!(statuses, 4 * 3 - 2);
        assert_eq!(hub.send(ip(9), b"`requestnodes 0"), NOT_FOUND);
    }

    #[test]
    fn requestnodes_prints_ipv6_peers_plainly() {
        let mut hub = Hub::new(Ownership::Strict);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(hub.send(v6, b"`register 80"), b"200 OK\r\n1");
        assert_eq!(hub.send(v6, b"`setstatus 1 1"), OK);
        assert_eq!(hub.send(ip(1), b"`requestnodes 1"), b"200 OK\r\n::1 80\r\n");
    }

    #[test]
    fn setstatus_replies() {
        let mut hub = Hub::new(Ownership::Strict);
        assert_eq!(hub.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        assert_eq!(hub.send(ip(1), b"`setstatus 1 2"), OK);
        assert_eq!(hub.send(ip(1), b"`setstatus 1 -1\r\n"), OK);
        assert_eq!(hub.send(ip(1), b"`setstatus 1 0\n"), OK);
        assert_eq!(hub.send(ip(1), b"`setstatus 2 1"), BAD, "unknown id");
        assert_eq!(
            hub.send(ip(1), b"`setstatus 0 1"),
            BAD,
            "the hub is not a node"
        );
    }

    #[test]
    fn ownership_strict_answers_bad_request_and_open_allows() {
        let mut strict = Hub::new(Ownership::Strict);
        assert_eq!(strict.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        assert_eq!(strict.send(ip(2), b"`setstatus 1 5"), BAD);
        assert_eq!(strict.table.get(NodeId::new(1)).map(|n| n.status), Some(0));

        let mut open = Hub::new(Ownership::Open);
        assert_eq!(open.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        assert_eq!(open.send(ip(2), b"`setstatus 1 5"), OK);
        assert_eq!(open.table.get(NodeId::new(1)).map(|n| n.status), Some(5));
    }

    #[test]
    fn malformed_requests_get_400_and_change_nothing() {
        let mut hub = Hub::new(Ownership::Open);
        assert_eq!(hub.send(ip(1), b"`register 1234"), b"200 OK\r\n1");
        assert_eq!(hub.send(ip(1), b"`setstatus 1 3"), OK);
        let before = hub.snapshot();
        let malformed: &[&[u8]] = &[
            b"",
            b"\r\n",
            b"   ",
            b"register 1234",
            b"hello",
            b"`",
            b"`Register 1",
            b"`unknown 1",
            b"`register",
            b"`register 0",
            b"`register 65536",
            b"`register -1",
            b"`register abc",
            b"`register 12 34",
            b"`register 1.5",
            b"`deregister",
            b"`deregister 0",
            b"`deregister 1234 x",
            b"`requestnodes",
            b"`requestnodes -1",
            b"`requestnodes x 1",
            b"`requestnodes 99999999999999999999999",
            b"`setstatus",
            b"`setstatus 1",
            b"`setstatus 1 -2",
            b"`setstatus x 1",
            b"`setstatus 1 y",
            b"`setstatus -1 1",
            b"`setstatus 1 1 1",
            b"`register \xff\xfe",
            b"\xff`register 1",
        ];
        for request in malformed {
            assert_eq!(
                hub.send(ip(1), request),
                BAD,
                "{:?}",
                String::from_utf8_lossy(request)
            );
            assert_eq!(
                hub.snapshot(),
                before,
                "{:?}",
                String::from_utf8_lossy(request)
            );
        }
        assert_eq!(
            hub.send(ip(1), b"`register 1235"),
            b"200 OK\r\n2",
            "no id was used up"
        );
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let cases: &[(&[u8], RequestError)] = &[
            (b"  \n", RequestError::Empty),
            (b"\xff", RequestError::InvalidUtf8),
            (b"register 1", RequestError::MissingBacktick),
            (b"`hello", RequestError::UnknownCommand("hello".into())),
            (
                b"`register",
                RequestError::MissingArgument {
                    command: "register",
                    argument: "port",
                },
            ),
            (
                b"`setstatus 1 -5",
                RequestError::InvalidArgument {
                    command: "setstatus",
                    argument: "status",
                    value: "-5".into(),
                    expected: "-1 or more",
                },
            ),
            (
                b"`deregister 1 2",
                RequestError::TooManyArguments {
                    command: "deregister",
                    expected: 1,
                    got: 2,
                },
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(&Request::parse(request), &Err(expected.clone()));
        }
        let message = Request::parse(b"`register 0")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "`register: <port> must be a port from 1 to 65535, got \"0\""
        );
    }

    #[test]
    fn requests_print_their_wire_form() {
        for wire in [
            "`register 80",
            "`deregister 80",
            "`requestnodes 3",
            "`setstatus 4 -1",
        ] {
            assert_eq!(
                Request::parse(wire.as_bytes()).map(|r| r.to_string()),
                Ok(wire.to_owned())
            );
        }
    }

    #[test]
    fn handle_reports_changes() {
        let mut hub = Hub::new(Ownership::Strict);
        let mut send = |request: &[u8]| handle(&mut hub.table, request, ip(1), T0, &mut hub.rng).1;
        let id = NodeId::new(1);
        assert_eq!(
            send(b"`register 7"),
            Some(RegistryChange::Registered {
                id,
                ip: ip(1),
                port: 7,
                name: None
            })
        );
        assert_eq!(send(b"`register 7"), None);
        assert_eq!(
            send(b"`setstatus 1 2"),
            Some(RegistryChange::StatusChanged { id, status: 2 })
        );
        assert_eq!(
            send(b"`requestnodes 1"),
            Some(RegistryChange::Reserved {
                nodes: vec![(id, 1)]
            })
        );
        assert_eq!(
            send(b"`deregister 7"),
            Some(RegistryChange::Deregistered { id })
        );
        assert_eq!(send(b"`bogus"), None);
    }
}
